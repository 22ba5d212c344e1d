/**
 * The dashboard WebSocket at /ws: auth, subscribe by ward or patient, a snapshot
 * first, then deltas; alert events carry `seq` and a reconnecting client resumes
 * with `{"op":"resume","since":N}`. Vitals are coalesced per patient (latest wins,
 * at most one message per patient per `vitalsIntervalMs`); a slow client gets
 * coalesced vitals but every alert; past a hard limit it is closed and can resume.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { buildPolicy, type AccessPolicy, type Principal } from '../core/access.js';
import type { CanonicalSample } from '../core/vitals.js';
import type { Logger } from '../platform/log.js';
import type { Hub, ScoreMessage, DeviceStatusMessage } from './hub.js';
import type { SequencedAlert } from './live-state.js';

export interface WsDeps {
  hub: Hub;
  log: Logger;
  verify(token: string): Promise<{ ok: true; principal: Principal } | { ok: false; reason: string }>;
  ack(policy: AccessPolicy, alertId: string, address: string): Promise<{ ok: true } | { ok: false; code: 'FORBIDDEN' | 'BAD_REQUEST'; message: string }>;
  audit(policy: AccessPolicy, action: string, resource: string, address: string): void;
  /** Bytes buffered before vitals are coalesced, and before the client is dropped. */
  softLimit?: number;
  hardLimit?: number;
  heartbeatMs?: number;
  /** Least time between two vitals messages for one patient on one socket (default 250 ms: at most 4/s). */
  vitalsIntervalMs?: number;
}

/** What the socket attaches to: an http or https server (both emit 'upgrade'). */
export interface UpgradeSource {
  on(event: 'upgrade', cb: (req: IncomingMessage, socket: Duplex, head: Buffer) => void): unknown;
  off(event: 'upgrade', cb: (req: IncomingMessage, socket: Duplex, head: Buffer) => void): unknown;
}

interface VitalsMsg {
  type: 'vitals';
  patientId: string;
  ward: string | null;
  bed: string | null;
  ts: number;
  metrics: CanonicalSample['metrics'];
  source: CanonicalSample['source'];
}

/** Close codes (4000-4999 are the application's). */
export const CLOSE = { unauthorized: 4401, tooSlow: 4008, shutdown: 1001 } as const;

interface Conn {
  ws: WebSocket;
  policy: AccessPolicy | null;
  address: string;
  wards: Set<string>;
  patients: Set<string>;
  /** Vitals held back (congested socket, or sent too recently): merged per patient, latest value wins. */
  pendingVitals: Map<string, VitalsMsg>;
  /** When vitals of each patient were last sent (wall ms); entries expire after the interval. */
  lastVitals: Map<string, number>;
  alive: boolean;
  /** Closed for being too slow: send nothing more. */
  dropped: boolean;
  /** Highest alert seq sent: live events at or below it are duplicates of the resume. */
  lastSeq: number;
  /** The seq of the last snapshot: live events after it were sent as they came; null before any. */
  liveAfter: number | null;
  /** A resume is paging through the log: live alert events wait for it (it sends them itself, in order). */
  resuming: boolean;
}

const send = (c: Conn, msg: unknown): void => {
  if (c.ws.readyState === c.ws.OPEN) c.ws.send(JSON.stringify(msg));
};

const errorMsg = (code: string, message: string) => ({ type: 'error', code, message });

export function attachWebSocket(server: UpgradeSource, deps: WsDeps): { close(): Promise<void>; clients(): number } {
  const soft = deps.softLimit ?? 256 * 1024;
  const hard = deps.hardLimit ?? 8 * 1024 * 1024;
  const interval = deps.vitalsIntervalMs ?? 250;
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const conns = new Set<Conn>();
  const log = deps.log.child({ role: 'gateway.ws' });

  const subscribed = (c: Conn, ward: string | null, patientId: string | null): boolean =>
    (ward !== null && c.wards.has(ward)) || (patientId !== null && c.patients.has(patientId));
  /** Vitals, scores, device status: the patient's own data. */
  const inScope = (c: Conn, ward: string | null, patientId: string | null): boolean =>
    c.policy !== null && patientId !== null && c.policy.canReadPatient(patientId, ward) && subscribed(c, ward, patientId);
  /** Alert events: staff of the ward only (the patient role never gets them). */
  const alertInScope = (c: Conn, ward: string | null, patientId: string | null): boolean =>
    c.policy !== null && c.policy.canReadAlerts(ward) && subscribed(c, ward, patientId);

  /** Past the hard limit the client is dropped; it reconnects and resumes from its last seq. */
  const tooSlow = (c: Conn): boolean => {
    if (c.dropped) return true;
    const buffered = c.ws.bufferedAmount;
    if (buffered <= hard) return false;
    c.dropped = true;
    c.pendingVitals.clear();
    log.warn({ buffered }, 'client too slow; closing');
    c.ws.close(CLOSE.tooSlow, 'too slow: reconnect and resume');
    return true;
  };

  /** Alerts, scores, device status: never coalesced, never dropped short of the hard limit. */
  const guarded = (c: Conn, payload: string): void => {
    if (tooSlow(c)) return;
    if (c.ws.readyState === c.ws.OPEN) c.ws.send(payload);
  };

  const sendVitals = (c: Conn, m: VitalsMsg, now: number): void => {
    c.lastVitals.set(m.patientId, now);
    c.ws.send(JSON.stringify(m));
  };

  const flushPending = (): void => {
    const now = Date.now();
    for (const c of conns) {
      if (c.dropped || c.ws.readyState !== c.ws.OPEN) continue;
      // Forget send times older than the interval: an idle socket holds no per-patient state.
      for (const [p, t] of c.lastVitals) if (now - t >= interval && !c.pendingVitals.has(p)) c.lastVitals.delete(p);
      if (c.pendingVitals.size === 0 || c.ws.bufferedAmount > soft) continue;
      for (const [p, m] of c.pendingVitals) {
        const last = c.lastVitals.get(p);
        if (last !== undefined && now - last < interval) continue;
        c.pendingVitals.delete(p);
        sendVitals(c, m, now);
      }
    }
  };

  const onVitals = (s: CanonicalSample): void => {
    if (s.patientId === null) return;
    const now = Date.now();
    let msg: VitalsMsg | null = null;
    let payload: string | null = null;
    for (const c of conns) {
      if (!inScope(c, s.ward, s.patientId) || tooSlow(c)) continue;
      msg ??= { type: 'vitals', patientId: s.patientId, ward: s.ward, bed: s.bed ?? null, ts: s.ts, metrics: s.metrics, source: s.source };
      const pending = c.pendingVitals.get(s.patientId);
      const last = c.lastVitals.get(s.patientId);
      if (pending || c.ws.bufferedAmount > soft || (last !== undefined && now - last < interval)) {
        // Latest wins per metric; a late (backfilled) sample only fills metrics the pending one lacks.
        const newer = !pending || msg.ts >= pending.ts;
        c.pendingVitals.set(
          s.patientId,
          pending
            ? { ...(newer ? msg : pending), ts: Math.max(msg.ts, pending.ts), metrics: newer ? { ...pending.metrics, ...msg.metrics } : { ...msg.metrics, ...pending.metrics } }
            : msg,
        );
        continue;
      }
      payload ??= JSON.stringify(msg);
      c.lastVitals.set(s.patientId, now);
      if (c.ws.readyState === c.ws.OPEN) c.ws.send(payload);
    }
  };
  const onAlert = (a: SequencedAlert): void => {
    let payload: string | null = null;
    for (const c of conns) {
      if (c.resuming || !alertInScope(c, a.event.alert.ward, a.event.alert.patientId) || a.seq <= c.lastSeq) continue;
      payload ??= JSON.stringify(alertMessage(a));
      c.lastSeq = a.seq;
      guarded(c, payload);
    }
  };
  const onScore = (sc: ScoreMessage): void => {
    let payload: string | null = null;
    for (const c of conns) {
      if (!inScope(c, sc.ward, sc.patientId)) continue;
      payload ??= JSON.stringify({ ...sc, type: 'score' });
      guarded(c, payload);
    }
  };
  const onDevice = (d: DeviceStatusMessage): void => {
    let payload: string | null = null;
    for (const c of conns) {
      if (!inScope(c, d.ward, d.patientId)) continue;
      payload ??= JSON.stringify({ type: 'device', deviceId: d.deviceId, patientId: d.patientId, ward: d.ward, ts: d.ts, online: d.online, battery: d.battery });
      guarded(c, payload);
    }
  };
  deps.hub.on('vitals', onVitals);
  deps.hub.on('alert', onAlert);
  deps.hub.on('score', onScore);
  deps.hub.on('device', onDevice);

  const flushTimer = setInterval(flushPending, Math.max(20, Math.min(interval, 250)));
  const heartbeat = setInterval(() => {
    for (const c of conns) {
      if (!c.alive) {
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }, deps.heartbeatMs ?? 15_000);

  const snapshot = (c: Conn): void => {
    const st = deps.hub.state;
    const patients = [...st.patients.values()]
      .filter((p) => inScope(c, p.ward, p.patientId))
      .map((p) => ({ patientId: p.patientId, ward: p.ward, bed: p.bed, latest: p.latest, lastTs: p.lastTs, score: p.score, device: p.device }));
    const alerts = [...st.openAlerts.values()].filter((a) => alertInScope(c, a.ward, a.patientId)).map((a) => st.alertView(a));
    send(c, { type: 'snapshot', seq: st.latestSeq(), patients, alerts });
    c.lastSeq = Math.max(c.lastSeq, st.latestSeq());
    c.liveAfter = c.lastSeq;
  };

  const authenticate = async (c: Conn, token: string): Promise<boolean> => {
    const v = await deps.verify(token);
    if (!v.ok) {
      send(c, errorMsg('UNAUTHORIZED', v.reason === 'expired' ? 'token expired' : 'invalid token'));
      c.ws.close(CLOSE.unauthorized, 'unauthorized');
      return false;
    }
    c.policy = buildPolicy(v.principal);
    send(c, { type: 'ready', role: v.principal.role, wards: c.policy.principal.wards, ...(v.principal.role === 'patient' ? { patientId: v.principal.patientId } : {}) });
    return true;
  };

  const onMessage = async (c: Conn, raw: string): Promise<void> => {
    let msg: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(raw);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      msg = parsed as Record<string, unknown>;
    } catch {
      return send(c, errorMsg('BAD_REQUEST', 'messages are JSON objects with an "op"'));
    }
    if (msg.op === 'auth') {
      if (typeof msg.token !== 'string') return send(c, errorMsg('BAD_REQUEST', 'auth needs a token'));
      await authenticate(c, msg.token);
      return;
    }
    const policy = c.policy;
    if (!policy) return send(c, errorMsg('UNAUTHORIZED', 'send {"op":"auth","token":"..."} first'));
    switch (msg.op) {
      case 'subscribe': {
        const wards = msg.wards ?? [];
        const patients = msg.patients ?? [];
        if (!isStringArray(wards) || !isStringArray(patients)) return send(c, errorMsg('BAD_REQUEST', 'wards and patients are arrays of strings'));
        const denied = wards.filter((w) => !policy.canReadWard(w));
        if (denied.length) {
          deps.audit(policy, 'ward.subscribe', `ward:${denied.join(',')}`, c.address);
          return send(c, errorMsg('FORBIDDEN', `not in scope: ward ${denied.join(', ')}`));
        }
        // Staff may name patients ahead of their data (the fan-out filter checks the ward); a patient only themself.
        if (policy.principal.role === 'patient' && patients.some((p) => !policy.canReadPatient(p, null))) {
          deps.audit(policy, 'patient.subscribe', 'patients', c.address);
          return send(c, errorMsg('FORBIDDEN', 'not in scope: another patient'));
        }
        for (const w of wards) c.wards.add(w);
        for (const p of patients) c.patients.add(p);
        deps.audit(policy, 'live.subscribe', `wards:${wards.join(',')};patients:${patients.length}`, c.address);
        send(c, { type: 'subscribed', wards: [...c.wards], patients: [...c.patients] });
        snapshot(c);
        return;
      }
      case 'resume': {
        const since = msg.since;
        if (typeof since !== 'number' || !Number.isInteger(since) || since < 0) return send(c, errorMsg('BAD_REQUEST', 'resume needs "since": a non-negative integer'));
        const st = deps.hub.state;
        const oldest = st.oldestSeq();
        if (oldest !== null && since + 1 < oldest) send(c, errorMsg('BAD_REQUEST', `events before seq ${oldest} are no longer held; reload the snapshot`));
        if (c.resuming) return send(c, errorMsg('BAD_REQUEST', 'a resume is already running'));
        // Events in (snapshot seq, lastSeq] were already sent live: skip them. Events arriving while
        // the resume pages through the log are held from live delivery and sent by the resume, so
        // order holds. Paced by the socket: a large backlog waits for the client to drain.
        const sentFrom = c.liveAfter ?? Number.POSITIVE_INFINITY;
        const sentTo = c.lastSeq;
        let cursor = since;
        c.resuming = true;
        try {
          for (;;) {
            const page = st.eventsAfter(cursor, 256);
            if (page.length === 0) break;
            for (const a of page) {
              cursor = a.seq;
              if ((a.seq > sentFrom && a.seq <= sentTo) || !alertInScope(c, a.event.alert.ward, a.event.alert.patientId)) continue;
              while (c.ws.readyState === c.ws.OPEN && c.ws.bufferedAmount > soft) await new Promise((r) => setTimeout(r, 10));
              if (c.ws.readyState !== c.ws.OPEN) return;
              guarded(c, JSON.stringify(alertMessage(a)));
            }
          }
          // Caught up with the log (no await since the last page): live delivery takes over after `cursor`.
          c.lastSeq = Math.max(c.lastSeq, cursor);
          if (c.liveAfter === null) c.liveAfter = c.lastSeq;
        } finally {
          c.resuming = false;
        }
        send(c, { type: 'resumed', seq: c.lastSeq });
        return;
      }
      case 'ack': {
        if (typeof msg.alertId !== 'string') return send(c, errorMsg('BAD_REQUEST', 'ack needs an alertId'));
        const r = await deps.ack(policy, msg.alertId, c.address);
        if (!r.ok) send(c, errorMsg(r.code, r.message));
        return;
      }
      default:
        send(c, errorMsg('BAD_REQUEST', `unknown op`));
    }
  };

  const onConnection = (ws: WebSocket, req: IncomingMessage): void => {
    const c: Conn = {
      ws,
      policy: null,
      address: req.socket.remoteAddress ?? '',
      wards: new Set(),
      patients: new Set(),
      pendingVitals: new Map(),
      lastVitals: new Map(),
      alive: true,
      dropped: false,
      lastSeq: 0,
      liveAfter: null,
      resuming: false,
    };
    conns.add(c);
    ws.on('pong', () => (c.alive = true));
    ws.on('close', () => conns.delete(c));
    ws.on('error', () => conns.delete(c));
    // One message at a time per connection, in order.
    let chain = Promise.resolve();
    ws.on('message', (data) => {
      chain = chain.then(() => onMessage(c, data.toString())).catch((e: unknown) => log.warn({ err: (e as Error).message }, 'ws message failed'));
    });
    const header = req.headers.authorization;
    if (header?.startsWith('Bearer ')) chain = chain.then(() => authenticate(c, header.slice(7)).then(() => undefined));
    else {
      // Browsers cannot set headers on a WebSocket: they send {"op":"auth"} first, within 10 s.
      setTimeout(() => {
        if (!c.policy && ws.readyState === ws.OPEN) {
          send(c, errorMsg('UNAUTHORIZED', 'no credentials'));
          ws.close(CLOSE.unauthorized, 'unauthorized');
        }
      }, 10_000).unref();
    }
  };

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const url = req.url ?? '';
    if (url !== '/ws' && !url.startsWith('/ws?')) {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, req));
  };
  server.on('upgrade', onUpgrade);

  return {
    clients: () => conns.size,
    async close() {
      clearInterval(flushTimer);
      clearInterval(heartbeat);
      server.off('upgrade', onUpgrade);
      deps.hub.off('vitals', onVitals);
      deps.hub.off('alert', onAlert);
      deps.hub.off('score', onScore);
      deps.hub.off('device', onDevice);
      for (const c of conns) c.ws.close(CLOSE.shutdown, 'server shutting down');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

function alertMessage(a: SequencedAlert): Record<string, unknown> {
  return { type: 'alert', event: a.event.event, seq: a.seq, ts: a.event.ts, alert: a.event.alert };
}

function isStringArray(x: unknown): x is string[] {
  return Array.isArray(x) && x.length <= 1000 && x.every((s) => typeof s === 'string' && s.length <= 128);
}
