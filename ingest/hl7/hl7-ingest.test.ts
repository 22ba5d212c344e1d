/**
 * The MLLP listener over real sockets against a bus we control (the memory bus behind a gate):
 * ACK codes, what reaches the bus, broken peers, gateway identity, and the ACK-after-durable
 * promise with a held or failing bus.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TOPICS } from '../../core/ports.js';
import { MllpClient, ackCodeOf } from '../../device-sim/mllp-client.js';
import { observationsOf } from '../../device-sim/pcd01-message.js';
import mqtt from 'mqtt';
import { hashDeviceToken } from '../../platform/device-tokens.js';
import { metricValue } from '../../test/e2e/ingest-helpers.js';
import { GW, MON, MRN, oru, rig, type Rig } from '../../test/support/hl7-rig.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('HL7 MLLP ingest over real sockets', () => {
  let r: Rig | null = null;
  const clients: MllpClient[] = [];
  const connect = async (): Promise<MllpClient> => {
    const c = await MllpClient.connect({ host: '127.0.0.1', port: (r as Rig).ingest.hl7Port as number });
    clients.push(c);
    return c;
  };
  afterEach(async () => {
    for (const c of clients.splice(0)) c.socket.destroy();
    await r?.stop();
    r = null;
  });

  it('is off unless a port is configured', async () => {
    r = await rig({ VITALS_HL7_PORT: undefined });
    expect(r.ingest.hl7Port).toBeNull();
  });

  it('acknowledges AA once the sample is on the bus, with the patient of the monitor', async () => {
    r = await rig();
    const c = await connect();
    const ts = Date.now() - 2000;
    const ack = ackCodeOf(await c.send(oru({ controlId: 'AA-1', time: ts })));
    expect(ack).toEqual({ code: 'AA', controlId: 'AA-1', errors: [] });
    await vi.waitFor(() => expect(r?.tap.on(TOPICS.samples)).toHaveLength(1));
    const samples = r.tap.on(TOPICS.samples);
    expect(samples[0]?.key).toBe(MRN);
    expect(samples[0]?.json).toMatchObject({ deviceId: MON, patientId: MRN, ward: '4B', bed: '3', ts: Math.floor(ts / 1000) * 1000, source: 'device', metrics: { hr: 72, spo2: 97, rr: 16, temp: 36.8, sbp: 121, dbp: 78 } });
    expect(await metricValue(r.metrics, 'vitals_hl7_messages_total', { ack: 'AA' })).toBe(1);
    expect(await metricValue(r.metrics, 'vitals_hl7_observations_ignored_total', { reason: 'unknown_code' })).toBe(1);
  });

  it('accepts the good values of a message and warns about the bad ones (AA with ERR W)', async () => {
    r = await rig();
    const c = await connect();
    const t = Date.now() - 1000;
    const text = oru({ monitors: [{ eui64: MON, observations: [...observationsOf({ hr: 72 }, { time: t }), ...observationsOf({ spo2: 140 }, { time: t - 5000 })] }] });
    const ack = await c.send(text);
    expect(ackCodeOf(ack).code).toBe('AA');
    expect(ack).toMatch(/ERR\|\|OBX\^\d\^5\|102\^Data type error\^HL70357\|W/);
    await vi.waitFor(() => expect(r?.tap.on(TOPICS.dlq).map((d) => [d.json.channel, d.json.reason, d.json.field])).toEqual([['hl7', 'impossible_value', 'spo2']]));
    expect(r.tap.on(TOPICS.samples).map((s) => s.json.metrics)).toEqual([{ hr: 72 }]);
  });

  it.each([
    ['unknown monitor', () => oru({ monitors: [{ eui64: 'FFFF0000FFFF0000', observations: observationsOf({ hr: 70 }) }] }), 'AR', '204', 'unknown_device'],
    ['wrong patient', () => oru({ patientIds: ['MRN-SOMEONE-ELSE'] }), 'AR', '204', 'patient_mismatch'],
    ['unsupported message', () => oru({ messageType: 'ADT^A01^ADT_A01' }), 'AR', '200', 'hl7_unsupported'],
    ['no PID-3', () => oru({ patientIds: [] }), 'AE', '101', 'hl7_malformed'],
    ['values that cannot be read', () => oru({ monitors: [{ eui64: MON, observations: [{ code: 147842, refId: 'MDC_ECG_HEART_RATE', value: 'fast', unit: null }] }] }), 'AE', '102', 'hl7_malformed'],
    ['not HL7 at all', () => 'hello, is this the lab?', 'AR', '100', 'hl7_malformed'],
  ])('%s: %s %s, dead-lettered, nothing stored, connection kept', async (_what, make, code, err, reason) => {
    r = await rig();
    const c = await connect();
    const ack = ackCodeOf(await c.send(make()));
    expect(ack.code).toBe(code);
    expect(ack.errors[0]).toBe(err);
    await vi.waitFor(() => expect(r?.tap.on(TOPICS.dlq).map((d) => d.json.reason)).toEqual([reason]));
    expect(r.tap.on(TOPICS.samples)).toEqual([]);
    expect(await metricValue(r.metrics, 'vitals_ingest_rejected_total', { reason })).toBe(1);
    // The gateway may go on sending on the same connection; the bus keeps order, so once this
    // one's sample is there, the refused message's would have been too.
    expect(ackCodeOf(await c.send(oru())).code).toBe('AA');
    await vi.waitFor(() => expect(r?.tap.on(TOPICS.samples)).toHaveLength(1));
  });

  it('a monitor registered to another gateway is an unknown device for this one', async () => {
    r = await rig();
    await r.register({ deviceId: 'gw-5a', kind: 'hl7-gateway', allowFrom: ['10.5.0.1'] });
    await r.register({ deviceId: 'MON-5A', kind: 'hl7-monitor', gatewayId: 'gw-5a', patientId: MRN });
    const c = await connect();
    expect(ackCodeOf(await c.send(oru({ monitors: [{ eui64: 'MON-5A', observations: observationsOf({ hr: 70 }) }] }))).code).toBe('AR');
    expect(r.tap.on(TOPICS.samples)).toEqual([]);
  });

  it.each([
    ['garbage before a frame', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), 'garbage'],
    ['an oversized frame', Buffer.concat([Buffer.from([0x0b]), Buffer.from(oru()), Buffer.alloc(70_000, 0x41)]), 'oversized'],
  ])('%s closes the connection, nothing stored', async (_what, bytes, reason) => {
    r = await rig();
    const c = await connect();
    c.writeRaw(bytes);
    await c.closed;
    await sleep(100);
    expect(r.tap.on(TOPICS.samples)).toEqual([]);
    expect(await metricValue(r.metrics, 'vitals_hl7_connections_refused_total', { reason })).toBe(1);
  });

  it('a half-framed message is dropped with its connection after the frame timeout', async () => {
    r = await rig();
    const c = await connect();
    const text = oru();
    c.writeRaw(Buffer.concat([Buffer.from([0x0b]), Buffer.from(text.slice(0, 120))]));
    const t0 = Date.now();
    await c.closed;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    await sleep(100);
    expect(r.tap.on(TOPICS.samples)).toEqual([]);
    expect(await metricValue(r.metrics, 'vitals_hl7_connections_refused_total', { reason: 'half_framed' })).toBe(1);
  });

  it('a half frame trickled in byte by byte is still dropped at the frame timeout', async () => {
    r = await rig();
    const c = await connect();
    const text = Buffer.concat([Buffer.from([0x0b]), Buffer.from(oru())]);
    let i = 0;
    const trickle = setInterval(() => c.isOpen && i < text.length && c.writeRaw(text.subarray(i, ++i)), 50);
    const t0 = Date.now();
    await c.closed;
    clearInterval(trickle);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(await metricValue(r.metrics, 'vitals_hl7_connections_refused_total', { reason: 'half_framed' })).toBe(1);
  });

  it('an idle connection between frames stays open', async () => {
    r = await rig();
    const c = await connect();
    await sleep(700);
    expect(c.isOpen).toBe(true);
    expect(ackCodeOf(await c.send(oru())).code).toBe('AA');
  });

  it('refuses a peer whose address is on no gateway allow-list', async () => {
    r = await rig();
    await r.register({ deviceId: GW, kind: 'hl7-gateway', allowFrom: ['10.0.0.9'] });
    const c = await connect();
    await c.closed;
    expect(await metricValue(r.metrics, 'vitals_hl7_connections_refused_total', { reason: 'address_not_allowed' })).toBe(1);
  });

  it('revoking the gateway closes its connections', async () => {
    r = await rig();
    const c = await connect();
    expect(ackCodeOf(await c.send(oru())).code).toBe('AA');
    await r.g.bus.publish(TOPICS.registry, [{ key: GW, value: null }]);
    await c.closed;
  });

  it('a held bus holds the ACK and stops reading the socket; release acknowledges in order', async () => {
    r = await rig();
    const c = await connect();
    r.g.hold();
    let acked = 0;
    const sends = Array.from({ length: 5 }, (_, i) => c.send(oru({ controlId: `H-${i}` })).then((a) => (acked++, ackCodeOf(a).controlId)));
    await sleep(500);
    expect(acked).toBe(0);
    expect(r.tap.on(TOPICS.samples)).toEqual([]);
    // One message at a time per connection: only the first is waiting on the bus.
    expect(r.g.pending()).toBe(1);
    r.g.release();
    expect(await Promise.all(sends)).toEqual(['H-0', 'H-1', 'H-2', 'H-3', 'H-4']);
    await vi.waitFor(() => expect(r?.tap.on(TOPICS.samples)).toHaveLength(5));
  });

  it('a failing bus gets no ACK: the connection closes so the gateway resends', async () => {
    r = await rig();
    const c = await connect();
    r.g.fail(true);
    await expect(c.send(oru())).rejects.toThrow(/closed before the ACK/);
    expect(r.tap.on(TOPICS.samples)).toEqual([]);
    expect(await metricValue(r.metrics, 'vitals_hl7_messages_total')).toBe(0);
    r.g.fail(false);
    const again = await connect();
    expect(ackCodeOf(await again.send(oru())).code).toBe('AA');
  });

  it('a monitor or gateway cannot log in over MQTT, even with a valid token', async () => {
    r = await rig();
    await r.register({ deviceId: MON, kind: 'hl7-monitor', gatewayId: GW, patientId: MRN, tokenHash: await hashDeviceToken('mon-token') });
    const err = await new Promise<Error>((resolve) => {
      const c = mqtt.connect(`mqtt://127.0.0.1:${(r as Rig).ingest.port}`, { clientId: MON, username: MON, password: 'mon-token', reconnectPeriod: 0 });
      c.once('error', (e) => {
        c.end(true);
        resolve(e);
      });
      c.once('connect', () => {
        c.end(true);
        resolve(new Error('connected'));
      });
    });
    expect(err.message).toMatch(/Bad username or password/i);
    expect(await metricValue(r.metrics, 'vitals_ingest_auth_failures_total', { reason: 'not_an_mqtt_device' })).toBe(1);
  });
});
