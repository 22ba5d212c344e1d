/**
 * The ingest role: an Aedes MQTT broker that authenticates devices, enforces the
 * topic ACL, validates and normalises payloads, and hands samples to the bus.
 *
 * QoS 1 PUBACK waits for the bus: aedes writes PUBACK right after `authorizePublish`
 * calls back, so the durable bus publish happens inside that hook (see
 * docs/decisions/0006-ingest-ack-after-durable.md). Aedes reads a client's next socket
 * chunk only after every packet of the current chunk is handled, so a slow bus
 * stops reading from device sockets instead of buffering without bound. The same lever
 * carries flow control (consumers behind: flow-gate.ts) and the device rate limit (over
 * rate: the QoS 1 packet waits for its token); neither ever acknowledges and drops.
 */
import { randomUUID } from 'node:crypto';
import { Aedes, type AuthenticateError, type Client, type PublishPacket, type Subscription } from 'aedes';
import { deviceLimits, normaliseVitalsPayload, type PayloadLimits, type RejectReason, type Rejection } from '../core/payload.js';
import { TOPICS, type OutgoingRecord } from '../core/ports.js';
import { TokenBuckets } from '../core/rate-limit.js';
import { sampleKey } from '../core/vitals.js';
import type { Context, Service } from '../platform/context.js';
import { counter, gauge } from '../platform/metrics.js';
import type { RegistryView } from '../platform/registry-view.js';
import { TurnBudget } from '../platform/turn-budget.js';
import { ConnectionGuard, guardLimits } from './conn-guard.js';
import { DeviceAuth } from './device-auth.js';
import { certificateDeviceId } from './device-cert.js';
import { hl7Enabled, startHl7, type Hl7Listeners } from './hl7/server.js';
import { startListeners } from './listeners.js';
import { FlowGate } from './flow-gate.js';
import { hasSemiSpaceFlag, SEMI_SPACE_ADVICE } from './node-flags.js';
import { PublishBatcher } from './publish-batcher.js';
import { dlqRecord, keptPayloads, statusRecord } from './records.js';
import { sampleJson } from './sample-json.js';

export interface IngestService extends Service {
  /** The bound MQTT port (useful when configured as 0). */
  port: number;
  /** The bound MQTT-over-TLS port; null when TLS is off. */
  tlsPort: number | null;
  /** The bound MQTT-over-WebSocket port; null when off. */
  wsPort: number | null;
  /** The bound HL7 MLLP ports (ingest/hl7/); null when off. */
  hl7Port: number | null;
  hl7TlsPort: number | null;
}

interface Session {
  deviceId: string;
  /** The registry token hash this session was authenticated against: a new one ends it. */
  tokenHash: string;
  /** The two topics this device may publish to, built once per connection (compared per message). */
  vitalsTopic: string;
  statusTopic: string;
}

/**
 * A device whose QoS 1 traffic is this far ahead of its rate is disconnected (no PUBACK: it keeps
 * the message and resends). Below it, the message just waits. Well under the 1.5 x keepalive
 * after which aedes drops a socket it has not read from.
 */
const MAX_RATE_DEBT_MS = 10_000;

/**
 * Vitals payloads this big or bigger (about a hundred samples) are parsed in turns (platform/turn-budget.ts),
 * 10 ms of them per turn of the event loop; smaller ones, a live device's, at once.
 */
const TAKES_TURNS_BYTES = 8 * 1024;
const PARSE_BUDGET_MS = 10;

interface PreparedVitals {
  r: ReturnType<typeof normaliseVitalsPayload>;
  live: OutgoingRecord[] | null;
  backlog: OutgoingRecord[] | null;
  now: number;
  base: string;
}

/** The flow gate's lane lists, built once (admit() runs per message). */
const LIVE: readonly ['live'] = ['live'];
const BACKLOG: readonly ['backlog'] = ['backlog'];
const BOTH: readonly ['live', 'backlog'] = ['live', 'backlog'];

type Route = (packet: PublishPacket, client: Client | null | ((e?: Error) => void), done?: (e?: Error) => void) => void;

/**
 * Device telemetry goes to the bus, never to MQTT subscribers: authorizeSubscribe lets a device
 * subscribe to its own commands topic only, so nobody can receive another device's vitals or
 * status. aedes would still route every accepted publish after its PUBACK (a Packet copy, a
 * lookup of offline subscriptions, the emitter's topic match, a 'publish' event): per-message
 * work with no receiver, skipped here for a device's own telemetry topics (ADR 0020). Everything
 * else (wills on other topics, $SYS, future commands) is routed as before.
 */
function skipTelemetryRouting(broker: Aedes, isTelemetry: (client: Client, topic: string) => boolean): void {
  const b = broker as unknown as { publish: Route };
  const route = b.publish.bind(broker);
  b.publish = (packet, client, done) => {
    if (client && typeof client !== 'function' && isTelemetry(client, packet.topic)) return done?.();
    route(packet, client, done);
  };
}

function authError(message: string, returnCode: number): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

export async function startIngest(ctx: Context, registry: RegistryView): Promise<IngestService> {
  const { config, log, bus, clock, metrics } = ctx;
  const ingestLog = log.child({ role: 'ingest' });
  const samplesTotal = counter(metrics, 'vitals_ingest_samples_total', 'Samples accepted onto the bus');
  const rejectedTotal = counter(metrics, 'vitals_ingest_rejected_total', 'Samples or messages rejected, by reason', ['reason']);
  const authFailures = counter(metrics, 'vitals_ingest_auth_failures_total', 'Refused MQTT connections, by reason', ['reason']);
  const connections = gauge(metrics, 'vitals_ingest_connections', 'Connected, authenticated devices');
  const qos0Dropped = counter(metrics, 'vitals_ingest_qos0_dropped_total', 'QoS 0 messages dropped because the bus did not accept them (best effort: no resend)');
  const rateLimited = counter(metrics, 'vitals_ingest_rate_limited_total', 'Messages over the device rate, by what happened: delayed (QoS 1, acknowledged late), dropped_qos0, disconnected (no PUBACK)', ['action']);
  const gate = new FlowGate(bus, { maxLag: config.flowMaxLag, pollMs: bus.kind === 'memory' ? 20 : 1000 }, metrics, ingestLog);
  const parseTurns = new TurnBudget(PARSE_BUDGET_MS);
  gate.start();

  const limits: PayloadLimits = deviceLimits(config);
  // Bus publishes joined across devices (see publish-batcher.ts); on Kafka one in flight per producer lane.
  const out = new PublishBatcher(bus, undefined, undefined, bus.kind === 'kafka' ? config.kafkaProducers : 1);
  const buckets = new TokenBuckets(config.deviceRatePerSec, config.deviceRatePerSec);
  const sessions = new WeakMap<Client, Session>();
  const clientsByDevice = new Map<string, Set<Client>>();
  const auth = new DeviceAuth(registry, clock);
  const guard = new ConnectionGuard(guardLimits(config.maxPayloadBytes, config.mqttConnRatePerAddress), clock, metrics);
  /** The client id as sent (aedes replaces an empty one with a random id before authenticate runs). */
  const sentClientIds = new WeakMap<Client, string>();

  const countRejections = (rejs: Rejection[]): void => {
    for (const r of rejs) rejectedTotal.inc({ reason: r.reason });
  };

  const preConnect = (client: Client, packet: { clientId: string }, cb: (e: Error | null, ok: boolean) => void): void => {
    sentClientIds.set(client, packet.clientId);
    cb(null, true);
  };

  const authenticate = (client: Client, username: string | undefined, password: Buffer | undefined, done: (e: AuthenticateError | null, ok: boolean | null) => void): void => {
    const certDeviceId = certificateDeviceId(client.conn);
    const deviceId = username || certDeviceId || '';
    const clientId = sentClientIds.get(client) ?? client.id;
    auth.check(deviceId, clientId, password, guard.addressOf(client.conn), certDeviceId).then(
      (outcome) => {
        if (!outcome.ok) {
          authFailures.inc({ reason: outcome.reason });
          // Device ids are not patient data, but an unknown one may be anything (even an MRN typed by mistake).
          ingestLog.warn({ reason: outcome.reason, deviceId: registry.get(deviceId) ? deviceId : undefined }, 'mqtt connect refused');
          return done(authError('connection refused', outcome.code), null);
        }
        // One session per device: the client id is the device id (an empty one becomes it).
        client.id = deviceId;
        sessions.set(client, { deviceId, tokenHash: outcome.rec.tokenHash, vitalsTopic: `devices/${deviceId}/vitals`, statusTopic: `devices/${deviceId}/status` });
        let set = clientsByDevice.get(deviceId);
        if (!set) clientsByDevice.set(deviceId, (set = new Set()));
        set.add(client);
        guard.authenticated(client.conn);
        done(null, true);
      },
      () => done(authError('connection refused', 4), null),
    );
  };

  async function acceptVitals(deviceId: string, payload: Buffer): Promise<void> {
    // Batches (a gateway's backfill) take turns on the loop; a live sample is handled at once.
    const { r, live, backlog, now, base } = payload.length >= TAKES_TURNS_BYTES ? await parseTurns.run(() => prepareVitals(deviceId, payload)) : prepareVitals(deviceId, payload);
    const held = gate.admit(backlog === null ? LIVE : live === null ? BACKLOG : BOTH);
    if (held) await held;
    if (live !== null && backlog === null && r.rejected.length === 0) {
      await out.publish(TOPICS.samples, live); // the common case: no arrays of promises
    } else {
      const jobs: Promise<void>[] = [];
      if (live !== null) jobs.push(out.publish(TOPICS.samples, live));
      if (backlog !== null) jobs.push(out.publish(TOPICS.backlog, backlog));
      if (r.rejected.length > 0) {
        const kept = keptPayloads(payload, r.rejected, config.maxPayloadBytes);
        jobs.push(out.publish(TOPICS.dlq, r.rejected.map((rej, i) => dlqRecord(deviceId, 'vitals', rej, kept[i] ?? null, payload.length, now, base))));
      }
      await Promise.all(jobs);
    }
    samplesTotal.inc(r.accepted.length);
    countRejections(r.rejected);
    if (r.rejected.length > 0) ingestLog.info({ deviceId, traceId: base, rejected: r.rejected.map((x) => x.reason), accepted: r.accepted.length }, 'samples rejected');
  }

  /** Parse, validate and serialise a vitals payload, split into the live and backfill lanes (synchronous: the costly part). */
  function prepareVitals(deviceId: string, payload: Buffer): PreparedVitals {
    const rec = registry.get(deviceId);
    const now = clock.now();
    const base = randomUUID();
    const dev = { deviceId, patientId: rec?.patientId ?? null, ward: rec?.ward ?? null, bed: rec?.bed ?? null };
    // Decoded here with Buffer#toString (cheaper than a TextDecoder per message); an oversized
    // payload stays a Buffer so the byte-size check still applies before any decoding.
    const text = payload.length > limits.maxPayloadBytes ? payload : payload.toString('utf8');
    const r = normaliseVitalsPayload(text, dev, now, limits, (i) => `${base}-${i}`);
    // Lanes: backfill (older than the live window) travels apart, so it never queues ahead of live samples.
    const liveFrom = now - config.liveWindowMs;
    let live: OutgoingRecord[] | null = null;
    let backlog: OutgoingRecord[] | null = null;
    // Serialised once for the log (by hand: sample-json.ts); in-process readers get the object itself (core/bus-messages.ts).
    for (const s of r.accepted) {
      const rec: OutgoingRecord = { key: sampleKey(s), value: sampleJson(s), timestamp: s.recvTs, decoded: s };
      if (s.ts >= liveFrom) (live ??= []).push(rec);
      else (backlog ??= []).push(rec);
    }
    return { r, live, backlog, now, base };
  }

  async function acceptStatus(deviceId: string, payload: Buffer): Promise<void> {
    const now = clock.now();
    const rec = registry.get(deviceId);
    const st = statusRecord(deviceId, rec ?? null, payload, now);
    if ('rejection' in st) {
      const traceId = randomUUID();
      const [kept] = keptPayloads(payload, [st.rejection], config.maxPayloadBytes);
      await out.publish(TOPICS.dlq, [dlqRecord(deviceId, 'status', st.rejection, kept ?? null, payload.length, now, traceId)]);
      countRejections([st.rejection]);
      return;
    }
    await out.publish(TOPICS.deviceStatus, [st.record]);
  }

  /** A payload-less DLQ entry: records that something was refused, by whom and how big it was. */
  async function deadLetter(deviceId: string, channel: string, reason: RejectReason, size: number): Promise<void> {
    await out.publish(TOPICS.dlq, [dlqRecord(deviceId, channel, { index: -1, reason }, null, size, clock.now(), randomUUID())]);
  }


  const authorizePublish = (client: Client | null, packet: PublishPacket, cb: (e?: Error | null) => void): void => {
    if (!client) return cb(null); // broker-internal publishes
    const sess = sessions.get(client);
    // A device may publish only to its own devices/{id}/vitals and devices/{id}/status: two string compares.
    const channel = !sess ? null : packet.topic === sess.vitalsTopic ? 'vitals' : packet.topic === sess.statusTopic ? 'status' : null;
    if (!sess || !channel) {
      const reason: RejectReason = 'topic_not_allowed';
      rejectedTotal.inc({ reason });
      ingestLog.warn({ deviceId: sess?.deviceId, reason }, 'publish refused; disconnecting');
      // Dead-lettered without the payload (it was addressed elsewhere), then the connection closes.
      const closeIt = (): void => cb(new Error('topic not allowed'));
      if (!sess) return closeIt();
      deadLetter(sess.deviceId, 'publish', reason, packet.payload.length).then(closeIt, closeIt);
      return;
    }
    // Retained vitals would park patient data in broker memory for any later subscriber.
    packet.retain = false;
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    // Over the rate: QoS 0 may be dropped (counted); QoS 1 waits for its token, its PUBACK late
    // and this socket unread meanwhile, and is refused (connection closed, no PUBACK) only far past the rate.
    let delayMs = 0;
    if (packet.qos === 0) {
      if (!buckets.take(sess.deviceId, clock.now())) {
        rateLimited.inc({ action: 'dropped_qos0' });
        rejectedTotal.inc({ reason: 'rate_limited' });
        return cb(null);
      }
    } else {
      const res = buckets.reserve(sess.deviceId, clock.now(), MAX_RATE_DEBT_MS);
      if (!res.ok) {
        rateLimited.inc({ action: 'disconnected' });
        ingestLog.warn({ deviceId: sess.deviceId, reason: 'flooding' }, 'device far over its rate; disconnected without PUBACK');
        return cb(new Error('rate limit exceeded'));
      }
      delayMs = res.delayMs;
      if (delayMs > 0) rateLimited.inc({ action: 'delayed' });
    }
    const accept = (): Promise<void> => (channel === 'vitals' ? acceptVitals(sess.deviceId, payload) : acceptStatus(sess.deviceId, payload));
    const work = delayMs > 0 ? new Promise<void>((res) => setTimeout(res, delayMs)).then(accept) : accept();
    work.then(
      () => cb(null),
      (e: unknown) => {
        if (packet.qos === 0) {
          // QoS 0 is best effort: nothing to withhold and nothing will be resent, so count the
          // loss and keep the connection (closing it would only add a reconnect to the loss).
          qos0Dropped.inc();
          ingestLog.warn({ deviceId: sess.deviceId, err: (e as Error).message }, 'bus did not accept a QoS 0 message; dropped');
          return cb(null);
        }
        // No PUBACK: the device keeps the message and resends it after reconnecting.
        ingestLog.error({ deviceId: sess.deviceId, err: (e as Error).message }, 'bus did not accept; closing so the device resends');
        cb(e as Error);
      },
    );
  };

  const authorizeSubscribe = (client: Client, sub: Subscription, cb: (e: Error | null, s?: Subscription | null) => void): void => {
    const sess = sessions.get(client);
    const prefix = sess ? `devices/${sess.deviceId}/commands` : null;
    if (prefix && (sub.topic === prefix || sub.topic.startsWith(`${prefix}/`))) return cb(null, sub);
    rejectedTotal.inc({ reason: 'topic_not_allowed' });
    ingestLog.warn({ deviceId: sess?.deviceId, reason: 'topic_not_allowed' }, 'subscribe refused');
    // The SUBACK does not wait for the bus: a refused filter is not data a device expects kept.
    if (sess) void deadLetter(sess.deviceId, 'subscribe', 'topic_not_allowed', 0).catch(() => undefined);
    cb(null, null); // SUBACK 0x80 for this filter; the connection stays up
  };

  // createBroker also starts aedes' persistence and emitter (`listen()`); without it CONNECT is never answered.
  const broker = await Aedes.createBroker({
    preConnect,
    authenticate,
    authorizePublish,
    authorizeSubscribe,
    maxClientsIdLength: 128,
    connectTimeout: 10_000,
  });
  skipTelemetryRouting(broker, (client, topic) => {
    const sess = sessions.get(client);
    return sess !== undefined && (topic === sess.vitalsTopic || topic === sess.statusTopic);
  });

  const publishOnline = (deviceId: string, online: boolean): void => {
    const rec = registry.get(deviceId);
    const payload = Buffer.from(JSON.stringify({ online }));
    const st = statusRecord(deviceId, rec ?? null, payload, clock.now());
    if ('record' in st) bus.publish(TOPICS.deviceStatus, [st.record]).catch((e: unknown) => ingestLog.warn({ err: (e as Error).message }, 'status publish failed'));
  };

  broker.on('clientReady', (client) => {
    const sess = sessions.get(client);
    if (!sess) return;
    connections.inc();
    publishOnline(sess.deviceId, true);
  });
  broker.on('clientDisconnect', (client) => {
    const sess = sessions.get(client);
    if (!sess) return;
    connections.dec();
    const set = clientsByDevice.get(sess.deviceId);
    set?.delete(client);
    if (!set || set.size === 0) {
      clientsByDevice.delete(sess.deviceId);
      buckets.forget(sess.deviceId);
      publishOnline(sess.deviceId, false);
    }
  });
  broker.on('clientError', (client, err) => {
    ingestLog.debug({ deviceId: sessions.get(client)?.deviceId, err: err.message }, 'client error');
  });

  // Revocation or a new token disconnects the device's live sessions at once.
  // A CONNECT still being verified is refused by DeviceAuth's re-check after the hash.
  registry.onChange((deviceId, rec) => {
    auth.forget(deviceId, rec);
    const live = [...(clientsByDevice.get(deviceId) ?? [])].filter((c) => rec?.tokenHash !== sessions.get(c)?.tokenHash);
    for (const c of live) {
      ingestLog.info({ deviceId }, rec ? 'token changed; disconnecting' : 'device revoked; disconnecting');
      c.close();
    }
  });

  let listeners;
  try {
    listeners = await startListeners(broker, config, ingestLog, guard);
  } catch (e) {
    guard.stop();
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    throw e;
  }
  const { mqttPort: port, tlsPort, wsPort } = listeners;
  ingestLog.info({ port, tlsPort, wsPort, host: config.host }, 'mqtt listening');
  if (bus.kind === 'kafka' && !hasSemiSpaceFlag(process.execArgv, process.env['NODE_OPTIONS'])) {
    ingestLog.info({ nodeOptions: SEMI_SPACE_ADVICE }, 'ingest into Kafka costs ~40% more CPU per sample without a larger young generation: start node with NODE_OPTIONS=--max-semi-space-size=64 (docs/configuration.md)');
  }
  // HL7 v2 over MLLP shares the registry, validation limits and this batcher (ack after durable).
  let hl7: Hl7Listeners | null = null;
  try {
    if (hl7Enabled(config)) hl7 = await startHl7(ctx, registry, out, limits, ingestLog);
  } catch (e) {
    await Promise.all([listeners.close(), new Promise<void>((resolve) => broker.close(() => resolve()))]);
    throw e;
  }

  return {
    name: 'ingest',
    port,
    tlsPort,
    wsPort,
    hl7Port: hl7?.port ?? null,
    hl7TlsPort: hl7?.tlsPort ?? null,
    async ready() {
      const ok = await bus.healthy();
      return ok ? { ok } : { ok, detail: 'bus unreachable' };
    },
    async stop() {
      // Stop accepting first, then let in-flight publishes finish, then drop clients.
      guard.stop();
      gate.stop();
      await Promise.all([listeners.close(), hl7?.close(), new Promise<void>((resolve) => broker.close(() => resolve()))]);
    },
  };
}

