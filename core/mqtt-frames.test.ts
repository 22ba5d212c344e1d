import { describe, expect, it } from 'vitest';
import { FrameScanner } from './mqtt-frames.js';

const limits = { maxConnectBytes: 1000, maxPacketBytes: 5000 };
/** A fixed header: type nibble and the remaining length as a varint. */
function header(type: number, length: number): number[] {
  const out = [type << 4];
  do {
    let b = length % 128;
    length = Math.floor(length / 128);
    if (length > 0) b |= 0x80;
    out.push(b);
  } while (length > 0);
  return out;
}

describe('FrameScanner', () => {
  it('refuses a CONNECT announcing 268 MB from its length bytes, before any body', () => {
    expect(new FrameScanner(limits).feed(Uint8Array.from([0x10, 0xff, 0xff, 0xff, 0x7f]))).toEqual({ ok: false, reason: 'packet_too_large' });
  });

  it('refuses a first packet that is not CONNECT', () => {
    expect(new FrameScanner(limits).feed(Uint8Array.from(header(3, 10)))).toEqual({ ok: false, reason: 'connect_expected' });
  });

  it('follows packet boundaries across chunks, byte by byte', () => {
    const s = new FrameScanner(limits);
    const stream = [...header(1, 900), ...new Array(900).fill(0), ...header(3, 4999), ...new Array(4999).fill(1), ...header(12, 0)];
    expect(stream.map((b) => s.feed(Uint8Array.from([b]))).every((v) => v.ok)).toBe(true);
  });

  it('applies the later-packet limit after the CONNECT, and the CONNECT limit to the CONNECT', () => {
    const s = new FrameScanner(limits);
    expect(s.feed(Uint8Array.from([...header(1, 10), ...new Array(10).fill(0)]))).toEqual({ ok: true });
    expect(s.feed(Uint8Array.from(header(3, 5001)))).toEqual({ ok: false, reason: 'packet_too_large' });
    expect(new FrameScanner(limits).feed(Uint8Array.from(header(1, 1001)))).toEqual({ ok: false, reason: 'packet_too_large' });
  });

  it('refuses a length with a fifth varint byte', () => {
    const s = new FrameScanner({ maxConnectBytes: 2 ** 31, maxPacketBytes: 2 ** 31 });
    expect(s.feed(Uint8Array.from([0x10, 0x80, 0x80, 0x80, 0x80, 0x01]))).toEqual({ ok: false, reason: 'malformed_length' });
  });
});
