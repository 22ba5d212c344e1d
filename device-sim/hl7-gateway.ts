/**
 * The simulator's monitoring gateway (`vitals sim --protocol hl7|mixed`): registers itself
 * (kind hl7-gateway, allowed from loopback) and its bedside monitors (kind hl7-monitor) through
 * the device API, then sends each observation as a PCD-01 ORU^R01 over one MLLP connection,
 * reconnecting when it drops. Like a real gateway, a message without an ACK is not retried here
 * (the simulator is a load source, not a store-and-forward queue): it is counted as lost.
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { Logger } from '../platform/log.js';
import type { SimDevice } from './cohort.js';
import { MllpClient, ackCodeOf } from './mllp-client.js';
import type { Observation } from './patient-model.js';
import { buildPcd01, observationsOf } from './pcd01-message.js';

export const SIM_GATEWAY_ID = 'sim-hl7-gw';

type Api = (method: string, p: string, body?: unknown) => Promise<Response>;

/**
 * Register (or re-register) the gateway and its monitors. Re-registration replaces any MQTT device
 * of the same id, so their saved MQTT tokens are dropped from `tokenFile`: a later MQTT run
 * registers them afresh instead of reusing a token of a record that is now a monitor.
 */
export async function provisionHl7(api: Api, monitors: SimDevice[], tokenFile: string): Promise<void> {
  const put = async (body: Record<string, unknown>): Promise<void> => {
    for (let attempt = 0; ; attempt++) {
      let res = await api('POST', '/api/devices', body);
      if (res.status === 409) {
        await (await api('DELETE', `/api/devices/${String(body.deviceId)}`)).arrayBuffer();
        res = await api('POST', '/api/devices', body);
      }
      await res.arrayBuffer();
      if (res.status === 201) return;
      // 400 right after the gateway was created: the API's registry view has not seen it yet.
      if (res.status !== 400 || attempt >= 20) throw new Error(`provisioning ${String(body.deviceId)} failed: HTTP ${res.status}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  await put({ deviceId: SIM_GATEWAY_ID, kind: 'hl7-gateway', allowFrom: ['127.0.0.1', '::1'] });
  for (const m of monitors) await put({ ...m, kind: 'hl7-monitor', gatewayId: SIM_GATEWAY_ID });
  try {
    const saved = JSON.parse(await readFile(tokenFile, 'utf8')) as Record<string, string>;
    for (const m of monitors) delete saved[m.deviceId];
    await writeFile(tokenFile, JSON.stringify(saved), { mode: 0o600 });
  } catch {
    /* no saved tokens yet */
  }
}

export class SimHl7Gateway {
  private client: MllpClient | null = null;
  private connecting = false;
  private stopped = false;
  private seq = 0;
  sent = 0;
  acked = 0;
  lost = 0;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly log: Logger,
  ) {}

  start(): void {
    void this.connect();
  }

  private async connect(): Promise<void> {
    if (this.connecting || this.stopped) return;
    this.connecting = true;
    try {
      const c = await MllpClient.connect({ host: this.host, port: this.port });
      this.client = c;
      void c.closed.then(() => {
        this.client = null;
        if (!this.stopped) setTimeout(() => void this.connect(), 2000);
      });
    } catch (e) {
      this.log.debug({ err: (e as Error).message }, 'sim mllp connect failed');
      if (!this.stopped) setTimeout(() => void this.connect(), 2000);
    } finally {
      this.connecting = false;
    }
  }

  /** One observation of one monitor; malformed-payload scenarios have no HL7 form and are skipped. */
  send(d: SimDevice, o: Observation): void {
    const c = this.client;
    if (!c || o.garbage !== undefined) return;
    // Low signal quality is what a monitor flags as a questionable measurement.
    const questionable = Object.entries(o.quality).filter(([, q]) => (q ?? 1) < 0.5).map(([k]) => k);
    const text = buildPcd01({
      controlId: `SIM-${++this.seq}`,
      gateway: { name: 'VITALSTREAM-SIM', eui64: SIM_GATEWAY_ID },
      facility: d.ward,
      time: o.ts,
      patientIds: [d.patientId],
      monitors: [{ eui64: d.deviceId, observations: observationsOf(o.metrics, { questionable }) }],
    });
    this.sent++;
    c.send(text).then(
      (ack) => {
        if (ackCodeOf(ack).code === 'AA') this.acked++;
        else this.lost++;
      },
      () => void this.lost++,
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.client?.close();
  }
}
