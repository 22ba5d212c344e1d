/**
 * The PROXY protocol header (HAProxy's spec, versions 1 and 2) that a TCP load balancer puts in
 * front of a connection to say who the client really is. Behind `lb` every device would otherwise
 * come from the balancer's address and share one per-address budget (docs/decisions/0019).
 * Pure: bytes in, a decision out.
 */

/** [PROXY v2 §2.2] The 12-byte signature that starts a binary header. */
const V2_SIGNATURE = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];
/** [PROXY v1 §2.1] A text header is at most 107 bytes including CRLF. */
const V1_MAX = 107;
/** Largest v2 header accepted: addresses plus room for a few TLVs (HAProxy sends none unless asked). */
export const PROXY_V2_MAX = 16 + 536;

export type ProxyHeader =
  | { status: 'incomplete' }
  | { status: 'invalid'; reason: string }
  /** `address` null: a LOCAL or UNKNOWN connection (the balancer's own, e.g. a health check): use the socket's. */
  | { status: 'ok'; address: string | null; length: number };

function startsWith(buf: Uint8Array, prefix: readonly number[]): boolean | 'partial' {
  const n = Math.min(buf.length, prefix.length);
  for (let i = 0; i < n; i++) if (buf[i] !== prefix[i]) return false;
  return buf.length < prefix.length ? 'partial' : true;
}

function ipv6(bytes: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  return groups.join(':');
}

function parseV2(buf: Uint8Array): ProxyHeader {
  if (buf.length < 16) return { status: 'incomplete' };
  const verCmd = buf[12] ?? 0;
  if (verCmd >> 4 !== 2) return { status: 'invalid', reason: 'PROXY v2: unknown version' };
  const length = 16 + (((buf[14] ?? 0) << 8) | (buf[15] ?? 0));
  if (length > PROXY_V2_MAX) return { status: 'invalid', reason: 'PROXY v2: header too long' };
  if (buf.length < length) return { status: 'incomplete' };
  const cmd = verCmd & 0x0f;
  if (cmd === 0x0) return { status: 'ok', address: null, length }; // LOCAL
  if (cmd !== 0x1) return { status: 'invalid', reason: 'PROXY v2: unknown command' };
  const family = (buf[13] ?? 0) >> 4;
  const body = buf.subarray(16, length);
  // [§2.2] AF_INET: 4+4 address bytes, AF_INET6: 16+16, then two ports.
  if (family === 0x1 && body.length >= 12) return { status: 'ok', address: Array.from(body.subarray(0, 4)).join('.'), length };
  if (family === 0x2 && body.length >= 36) return { status: 'ok', address: ipv6(body.subarray(0, 16)), length };
  if (family === 0x0) return { status: 'ok', address: null, length }; // AF_UNSPEC
  return { status: 'invalid', reason: 'PROXY v2: unsupported address family' };
}

function parseV1(buf: Uint8Array): ProxyHeader {
  const end = buf.indexOf(0x0a);
  if (end < 0) return buf.length >= V1_MAX ? { status: 'invalid', reason: 'PROXY v1: no end of line' } : { status: 'incomplete' };
  if (end + 1 > V1_MAX || buf[end - 1] !== 0x0d) return { status: 'invalid', reason: 'PROXY v1: malformed line' };
  const line = new TextDecoder().decode(buf.subarray(0, end - 1));
  const parts = line.split(' ');
  if (parts[1] === 'UNKNOWN') return { status: 'ok', address: null, length: end + 1 };
  const [, proto, src] = parts;
  if (parts.length !== 6 || (proto !== 'TCP4' && proto !== 'TCP6') || !src) return { status: 'invalid', reason: 'PROXY v1: malformed line' };
  const ok = proto === 'TCP4' ? /^\d{1,3}(\.\d{1,3}){3}$/.test(src) : /^[0-9a-fA-F:.]+$/.test(src);
  return ok ? { status: 'ok', address: src, length: end + 1 } : { status: 'invalid', reason: 'PROXY v1: bad source address' };
}

/** Read the header at the start of a connection's first bytes. */
export function parseProxyHeader(buf: Uint8Array): ProxyHeader {
  const v2 = startsWith(buf, V2_SIGNATURE);
  if (v2 === true) return parseV2(buf);
  const v1 = startsWith(buf, [0x50, 0x52, 0x4f, 0x58, 0x59, 0x20]); // "PROXY "
  if (v1 === true) return parseV1(buf);
  if (v2 === 'partial' || v1 === 'partial') return { status: 'incomplete' };
  return { status: 'invalid', reason: 'no PROXY header' };
}
