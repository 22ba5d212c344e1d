import { describe, expect, it } from 'vitest';
import { MllpFramer, mllpFrame } from './mllp-framer.js';

const framed = (s: string): Buffer => mllpFrame(s);
const texts = (bufs: Buffer[]): string[] => bufs.map((b) => b.toString('utf8'));

describe('MLLP framing', () => {
  it('delivers whole frames, however the stream is cut', () => {
    const stream = Buffer.concat([framed('MSH|one'), Buffer.from('\r\n'), framed('MSH|two'), framed('MSH|three')]);
    for (let cut = 1; cut <= stream.length; cut++) {
      const f = new MllpFramer(1024);
      const got: Buffer[] = [];
      for (let i = 0; i < stream.length; i += cut) {
        const r = f.push(stream.subarray(i, i + cut));
        expect(r.error).toBeNull();
        got.push(...r.frames);
      }
      expect(texts(got)).toEqual(['MSH|one', 'MSH|two', 'MSH|three']);
      expect(f.partial).toBe(false);
    }
  });

  it('knows when a frame has started and not ended', () => {
    const f = new MllpFramer(1024);
    expect(f.push(Buffer.from('\x0bMSH|half')).frames).toEqual([]);
    expect(f.partial).toBe(true);
  });

  it.each([
    ['bytes before the frame start', Buffer.from('GET / HTTP/1.1\r\n\r\n')],
    ['a frame start inside a frame', Buffer.from('\x0bMSH|a\x0bMSH|b\x1c\r')],
    ['FS not followed by CR', Buffer.from('\x0bMSH|a\x1cX')],
  ])('calls %s garbage, and stays failed', (_what, bytes) => {
    const f = new MllpFramer(1024);
    expect(f.push(bytes).error).toBe('garbage');
    expect(f.push(framed('MSH|ok')).error).toBe('garbage');
  });

  it('refuses a frame larger than the bound before buffering it whole', () => {
    const f = new MllpFramer(100);
    expect(f.push(framed('M'.repeat(100))).error).toBeNull();
    const g = new MllpFramer(100);
    expect(g.push(Buffer.from(`\x0b${'M'.repeat(60)}`)).error).toBeNull();
    expect(g.push(Buffer.from('M'.repeat(41))).error).toBe('oversized');
  });
});
