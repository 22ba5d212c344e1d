/**
 * HL7 over MLLP into a real Kafka (the shared broker, a topic prefix of our own): an AA means the
 * sample is on Kafka's vitals.samples with the monitor's patient as key; a wrong patient is AR and
 * only the dead letter reaches Kafka.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createKafkaBus } from '../../adapters/bus/kafka.js';
import { prefixedBus } from '../../adapters/bus/prefixed.js';
import { TOPICS } from '../../core/ports.js';
import { MllpClient, ackCodeOf } from '../../device-sim/mllp-client.js';
import { MON, MRN, oru, rig, type Rig } from '../../test/support/hl7-rig.js';

const brokers = process.env['KAFKA_BROKERS'];

describe('HL7 MLLP ingest on Kafka', () => {
  let r: Rig;
  let c: MllpClient;

  beforeAll(async () => {
    expect(brokers, 'KAFKA_BROKERS must point at a real Kafka (test/global-setup.ts)').toBeTruthy();
    const bus = prefixedBus(await createKafkaBus({ brokers: (brokers as string).split(',') }), `it-hl7-${Date.now()}-${process.pid}.`);
    r = await rig({}, bus);
    c = await MllpClient.connect({ host: '127.0.0.1', port: r.ingest.hl7Port as number });
  });
  afterAll(async () => {
    c?.socket.destroy();
    await r?.stop();
  });

  it('AA: the sample is on Kafka, keyed by the patient', async () => {
    const ts = Math.floor(Date.now() / 1000) * 1000 - 3000;
    expect(ackCodeOf(await c.send(oru({ controlId: 'K-1', time: ts }))).code).toBe('AA');
    await vi.waitFor(() => expect(r.tap.on(TOPICS.samples)).toHaveLength(1), { timeout: 20_000 });
    const [s] = r.tap.on(TOPICS.samples);
    expect(s?.key).toBe(MRN);
    expect(s?.json).toMatchObject({ deviceId: MON, patientId: MRN, ts, metrics: { hr: 72, spo2: 97 } });
  });

  it('AR for a wrong patient: only the dead letter reaches Kafka', async () => {
    expect(ackCodeOf(await c.send(oru({ patientIds: ['MRN-OTHER'] }))).code).toBe('AR');
    await vi.waitFor(() => expect(r.tap.on(TOPICS.dlq).map((d) => d.json.reason)).toEqual(['patient_mismatch']), { timeout: 20_000 });
    expect(r.tap.on(TOPICS.samples)).toHaveLength(1);
  });
});
