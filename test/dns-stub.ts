/**
 * A DNS server on loopback answering A queries from a fixed table, standing in for Docker's
 * embedded DNS: a compose service name resolves to one address per running container. Just enough
 * of RFC 1035 for HAProxy's resolvers: one question, A records, NOERROR with no answer otherwise.
 */
import dgram from 'node:dgram';

export interface DnsStub {
  port: number;
  close(): Promise<void>;
}

/** Parse the question's name; returns it and the offset after QTYPE and QCLASS. */
function question(msg: Buffer): { name: string; qtype: number; end: number } | null {
  let off = 12;
  const labels: string[] = [];
  while (off < msg.length) {
    const len = msg[off] ?? 0;
    if (len === 0) break;
    if (len > 63) return null;
    labels.push(msg.subarray(off + 1, off + 1 + len).toString('ascii'));
    off += len + 1;
  }
  if (off + 5 > msg.length) return null;
  return { name: labels.join('.').toLowerCase(), qtype: msg.readUInt16BE(off + 1), end: off + 5 };
}

export function startDnsStub(table: Record<string, string[]>): Promise<DnsStub> {
  const sock = dgram.createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    const q = msg.length >= 12 ? question(msg) : null;
    if (!q) return;
    const addrs = q.qtype === 1 ? (table[q.name] ?? []) : [];
    const header = Buffer.alloc(12);
    header.writeUInt16BE(msg.readUInt16BE(0), 0); // id
    header.writeUInt16BE(table[q.name] ? 0x8180 : 0x8183, 2); // response, recursion available; NXDOMAIN for unknown names
    header.writeUInt16BE(1, 4); // QDCOUNT
    header.writeUInt16BE(addrs.length, 6); // ANCOUNT
    const answers = addrs.map((a) => {
      const rr = Buffer.alloc(16);
      rr.writeUInt16BE(0xc00c, 0); // name: pointer to the question
      rr.writeUInt16BE(1, 2); // A
      rr.writeUInt16BE(1, 4); // IN
      rr.writeUInt32BE(1, 6); // TTL 1 s
      rr.writeUInt16BE(4, 10);
      a.split('.').forEach((o, i) => rr.writeUInt8(Number(o), 12 + i));
      return rr;
    });
    sock.send(Buffer.concat([header, msg.subarray(12, q.end), ...answers]), rinfo.port, rinfo.address);
  });
  return new Promise((resolve) => {
    sock.bind(0, '127.0.0.1', () => resolve({ port: sock.address().port, close: () => new Promise<void>((r) => sock.close(() => r())) }));
  });
}
