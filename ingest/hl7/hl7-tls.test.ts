/**
 * MLLP over TLS with gateway identity from the client certificate (mutual TLS), over real
 * sockets: the CN names the gateway, the chain must verify against VITALS_HL7_TLS_CA.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MllpClient, ackCodeOf } from '../../device-sim/mllp-client.js';
import { metricValue, selfSignedCert } from '../../test/e2e/ingest-helpers.js';
import { GW, oru, rig, type Rig } from '../../test/support/hl7-rig.js';

const openssl = (args: string[]): void => void execFileSync('openssl', args, { stdio: 'pipe' });

/** A CA and a client certificate with this CN signed by it (EC P-256, one day). */
function clientCert(dir: string, name: string, cn: string): { ca: string; cert: string; key: string } {
  const f = (s: string): string => path.join(dir, `${name}-${s}`);
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', `/CN=${name} test CA`, '-keyout', f('ca-key.pem'), '-out', f('ca.pem')]);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${cn}`, '-keyout', f('key.pem'), '-out', f('csr.pem')]);
  openssl(['x509', '-req', '-in', f('csr.pem'), '-CA', f('ca.pem'), '-CAkey', f('ca-key.pem'), '-CAcreateserial', '-days', '1', '-out', f('cert.pem')]);
  return { ca: f('ca.pem'), cert: f('cert.pem'), key: f('key.pem') };
}

describe('HL7 MLLP over TLS with client certificates', () => {
  let dir: string;
  let server: { cert: string; key: string };
  let good: { ca: string; cert: string; key: string };
  let rogue: { ca: string; cert: string; key: string };
  let r: Rig | null = null;
  const clients: MllpClient[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'vitals-hl7-tls-'));
    server = selfSignedCert(dir);
    good = clientCert(dir, 'good', GW);
    rogue = clientCert(dir, 'rogue', GW);
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.socket.destroy();
    await r?.stop();
    r = null;
  });

  async function tlsRig(): Promise<Rig> {
    // The gateway's allow-list names an address we never connect from: only the certificate can admit it.
    const rr = await rig({ VITALS_HL7_PORT: undefined, VITALS_HL7_TLS_PORT: '0', VITALS_HL7_TLS_CERT: server.cert, VITALS_HL7_TLS_KEY: server.key, VITALS_HL7_TLS_CA: good.ca });
    await rr.register({ deviceId: GW, kind: 'hl7-gateway', allowFrom: ['10.0.0.9'], ward: null });
    return rr;
  }

  async function connect(port: number, creds: { cert: string; key: string } | null): Promise<MllpClient> {
    const ca = await readFile(server.cert);
    const c = await MllpClient.connect({ host: '127.0.0.1', port, tls: { ca, servername: 'localhost', ...(creds ? { cert: await readFile(creds.cert), key: await readFile(creds.key) } : {}) } });
    clients.push(c);
    return c;
  }

  it('admits a gateway by a certificate from the configured CA, whose CN is its id', async () => {
    r = await tlsRig();
    expect(r.ingest.hl7Port).toBeNull();
    const c = await connect(r.ingest.hl7TlsPort as number, good);
    expect(ackCodeOf(await c.send(oru())).code).toBe('AA');
  });

  it('refuses a certificate from another CA, even with the right CN', async () => {
    r = await tlsRig();
    const c = await connect(r.ingest.hl7TlsPort as number, rogue);
    await c.closed;
    expect(await metricValue(r.metrics, 'vitals_hl7_connections_refused_total', { reason: 'bad_certificate' })).toBe(1);
  });

  it('without a certificate falls back to the allow-list, which does not hold this address', async () => {
    r = await tlsRig();
    const c = await connect(r.ingest.hl7TlsPort as number, null);
    await c.closed;
    expect(await metricValue(r.metrics, 'vitals_hl7_connections_refused_total', { reason: 'address_not_allowed' })).toBe(1);
  });

  it('refuses a valid certificate whose CN is not a registered gateway', async () => {
    r = await tlsRig();
    await r.register({ deviceId: GW, kind: 'device', ward: null });
    const c = await connect(r.ingest.hl7TlsPort as number, good);
    await c.closed;
    expect(await metricValue(r.metrics, 'vitals_hl7_connections_refused_total', { reason: 'unknown_gateway' })).toBe(1);
  });
});
