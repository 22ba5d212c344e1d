import { describe, expect, it } from 'vitest';
import { parseProxyHeader } from './proxy-protocol.js';

const SIG = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];
const v2 = (cmd: number, fam: number, body: number[]): Uint8Array => new Uint8Array([...SIG, 0x20 | cmd, fam, body.length >> 8, body.length & 0xff, ...body]);
const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('PROXY protocol header', () => {
  it('v2 PROXY over TCP4 gives the client address and the header length', () => {
    const h = v2(0x1, 0x11, [10, 1, 2, 3, 172, 18, 0, 5, 0xc3, 0x50, 0x07, 0x5b]);
    expect(parseProxyHeader(new Uint8Array([...h, 0x10, 0x20]))).toEqual({ status: 'ok', address: '10.1.2.3', length: 28 });
  });
  it('v2 over TCP6, and LOCAL (the balancer itself) has no client address', () => {
    const src = [0x20, 0x01, 0x0d, 0xb8, ...Array(11).fill(0), 1];
    expect(parseProxyHeader(v2(0x1, 0x21, [...src, ...Array(16).fill(0), 0, 1, 0, 2]))).toEqual({ status: 'ok', address: '2001:db8:0:0:0:0:0:1', length: 52 });
    expect(parseProxyHeader(v2(0x0, 0x00, []))).toEqual({ status: 'ok', address: null, length: 16 });
  });
  it('waits for a header split across reads', () => {
    const h = v2(0x1, 0x11, [10, 1, 2, 3, 172, 18, 0, 5, 0xc3, 0x50, 0x07, 0x5b]);
    for (const n of [1, 5, 12, 15, 20, 27]) expect(parseProxyHeader(h.subarray(0, n)).status, `${n} bytes`).toBe('incomplete');
    expect(parseProxyHeader(ascii('PROXY TCP4 10.0.0.7 10.0.0.1 5')).status).toBe('incomplete');
  });
  it('v1 text headers', () => {
    expect(parseProxyHeader(ascii('PROXY TCP4 192.168.1.9 10.0.0.1 56324 1883\r\n\x10'))).toEqual({ status: 'ok', address: '192.168.1.9', length: 44 });
    expect(parseProxyHeader(ascii('PROXY TCP6 fe80::1 fe80::2 1 2\r\n'))).toMatchObject({ status: 'ok', address: 'fe80::1' });
    expect(parseProxyHeader(ascii('PROXY UNKNOWN\r\n'))).toEqual({ status: 'ok', address: null, length: 15 });
  });
  it('refuses a connection without a valid header: MQTT straight to a port that expects PROXY is an error', () => {
    expect(parseProxyHeader(new Uint8Array([0x10, 0x0c, 0x00, 0x04]))).toEqual({ status: 'invalid', reason: 'no PROXY header' });
    expect(parseProxyHeader(ascii('PROXY TCP4 not-an-ip 10.0.0.1 1 2\r\n')).status).toBe('invalid');
    expect(parseProxyHeader(ascii(`PROXY TCP4 ${'1'.repeat(120)}`)).status).toBe('invalid');
    expect(parseProxyHeader(new Uint8Array([...SIG, 0x31, 0x11, 0, 0])).status).toBe('invalid');
    expect(parseProxyHeader(new Uint8Array([...SIG, 0x21, 0x11, 0xff, 0xff])).status).toBe('invalid');
  });
});
