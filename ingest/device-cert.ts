/**
 * The device a TLS client certificate names: its subject CN, else its first SAN DNS name. Only
 * for a certificate that chained to the configured client CA (`authorized`); the registry then
 * decides whether that device exists (revocation is the registry's tombstone, as for tokens).
 */
import { TLSSocket } from 'node:tls';

export function certificateDeviceId(conn: unknown): string | null {
  if (!(conn instanceof TLSSocket) || !conn.authorized) return null;
  const cert = conn.getPeerCertificate();
  if (!cert?.subject) return null;
  const cn = cert.subject.CN;
  if (typeof cn === 'string' && cn !== '') return cn;
  const dns = (cert.subjectaltname ?? '').split(',').map((x) => x.trim()).find((x) => x.startsWith('DNS:'));
  return dns ? dns.slice(4) : null;
}
