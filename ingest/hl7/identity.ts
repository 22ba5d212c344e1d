/**
 * Who is at the other end of an MLLP connection. MLLP has no credentials, so a gateway is
 * identified by its client certificate (mutual TLS: the certificate's CN is the gateway's id and
 * its chain verifies against VITALS_HL7_TLS_CA) or, weaker, by its source address appearing in
 * exactly one gateway's allow-list (an address can be spoofed on a flat network or shared behind NAT).
 */
import { kindOf } from '../../core/registry.js';
import type { RegistryView } from '../../platform/registry-view.js';

export interface Peer {
  address: string;
  /** Client certificate presented: its CN and whether its chain verified. null: none presented. */
  certificate: { cn: string; verified: boolean } | null;
}

export type RefusalReason = 'bad_certificate' | 'unknown_gateway' | 'address_not_allowed' | 'address_ambiguous';

export type Identity = { gatewayId: string; via: 'certificate' | 'address' } | { refused: RefusalReason };

/** IPv4-mapped IPv6 (::ffff:10.0.0.5) and plain IPv4 name the same peer. */
export function normaliseAddress(a: string): string {
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a.toLowerCase();
}

export function identifyGateway(registry: RegistryView, peer: Peer): Identity {
  if (peer.certificate) {
    if (!peer.certificate.verified) return { refused: 'bad_certificate' };
    const rec = registry.get(peer.certificate.cn);
    if (!rec || kindOf(rec) !== 'hl7-gateway') return { refused: 'unknown_gateway' };
    return { gatewayId: rec.deviceId, via: 'certificate' };
  }
  const addr = normaliseAddress(peer.address);
  const matches = registry.list().filter((r) => kindOf(r) === 'hl7-gateway' && (r.allowFrom ?? []).some((a) => normaliseAddress(a) === addr));
  if (matches.length === 0) return { refused: 'address_not_allowed' };
  if (matches.length > 1) return { refused: 'address_ambiguous' };
  return { gatewayId: (matches[0] as { deviceId: string }).deviceId, via: 'address' };
}
