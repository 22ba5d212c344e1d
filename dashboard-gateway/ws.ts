/**
 * The dashboard WebSocket at /ws: auth, subscribe by ward or patient, a snapshot
 * first, then deltas; alert events carry `seq` and a reconnecting client resumes
 * with `{"op":"resume","since":N}`. Vitals are coalesced per patient (latest wins,
 * at most one message per patient per `vitalsIntervalMs`); a slow client gets
 * coalesced vitals but every alert; past a hard limit it is closed and can resume. Vitals, scores
 * and device status leave in batched writes (write-batch.ts); an alert or a reply goes at once.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { buildPolicy, type AccessPolicy, type Principal } from '../core/access.js';
import type { CanonicalSample } from '../core/vitals.js';
import type { Logger } from '../platform/log.js';
import type { Hub, ScoreMessage, DeviceStatusMessage } from './hub.js';
import type { SequencedAlert } from './live-state.js';
import { alertMessage, errorMsg, isStringArray, type Conn, type VitalsMsg } from './ws-conn.js';
import { WriteBatcher } from './write-batch.js';

export interface WsDeps {
  hub: Hub;
  log: Logger;
  verify(token: string): Promise<{ ok: true; principal: Principal; expiresAt?: number | null } | { ok: false; reason: string }>;
  ack(policy: AccessPolicy, alertId: string, address: string): Promise<{ ok: true } | { ok: false; code: 'FORBIDDEN' | 'NOT_FOUND'; message: string }>;
  audit(policy: AccessPolicy, action: string, resource: string, address: string): void;
  /** Bytes buffered before vitals are coalesced, and before the client is dropped. */
  softLimit?: number;
  hardLimit?: number;
  heartbeatMs?: number;
  /** Least time between two vitals messages for one patient on one socket (default 250 ms: at most 4/s). */
  vitalsIntervalMs?: number;
  /** Ops a socket may send per second (burst: 4 s worth); past 4x the burst in refusals it is closed. */
  opsPerSec?: number;
  /** How long vitals, scores and device status may wait to leave with a socket's next write (default 100 ms; 0: at once). Alerts and replies never wait. */
  writeBatchMs?: number;
}

/** What the socket attaches to: an http or https server (both emit 'upgrade'). */
export interface UpgradeSource {
  on(event: 'upgrade', cb: (req: IncomingMessage, socket: Duplex, head: Buffer) => void): unknown;
  off(event: 'upgrade', cb: (req: IncomingMessage, socket: Duplex, head: Buffer) => void): unknown;
}

/** Close codes (4000-4999 are the application's). */
export const CLOSE = { unauthorized: 4401, tooSlow: 4008, tooManyOps: 4029, shutdown: 1001 } as const;

export function attachWebSocket(server: UpgradeSource, deps: WsDeps): { close(): Promise<void>; clients(): number } {
  const soft = deps.softLimit ?? 256 * 1024;
  const hard = deps.hardLimit ?? 8 * 1024 * 1024;
  const interval = deps.vitalsIntervalMs ?? 250;
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const conns = new Set<Conn>();
  const log = deps.log.child({ role: 'gateway.ws' });
  const batcher = new WriteBatcher<Duplex>(deps.writeBatchMs ?? 100);

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

  /** Alerts and replies: never coalesced, never dropped short of the hard limit, never held back. */
  const guarded = (c: Conn, payload: string): void => {
    if (tooSlow(c)) return;
    if (c.ws.readyState !== c.ws.OPEN) return;
    c.ws.send(payload);
    batcher.release(c.socket);
  };
  /** Scores, device status: as guarded, but they may wait for the socket's batched write. */
  const batched = (c: Conn, payload: string): void => {
    if (tooSlow(c)) return;
    if (c.ws.readyState !== c.ws.OPEN) return;
    batcher.hold(c.socket);
    c.ws.send(payload);
  };
  /** Every reply (snapshots included) honours the same limit as the fan-out. */
  const send = (c: Conn, msg: unknown): void => guarded(c, JSON.stringify(msg));

  const opsRate = deps.opsPerSec ?? 20;
  /** One op from `c` may run now; a socket that keeps going past its budget is closed. */
  const takeOp = (c: Conn): boolean => {
    const now = Date.now();
    const burst = opsRate * 4;
    c.ops.tokens = Math.min(burst, c.ops.tokens + ((now - c.ops.at) / 1000) * opsRate);
    c.ops.at = now;
    if (c.ops.tokens >= 1) {
      c.ops.tokens -= 1;
      return true;
    }
    if (++c.ops.refused > burst * 4) c.ws.close(CLOSE.tooManyOps, 'too many messages');
    else send(c, errorMsg('RATE_LIMITED', `at most ${opsRate} messages per second`));
    return false;
  };

  const sendVitals = (c: Conn, m: VitalsMsg, now: number): void => {
    c.lastVitals.set(m.patientId, now);
    batcher.hold(c.socket);
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
      if (c.ws.readyState !== c.ws.OPEN) continue;
      batcher.hold(c.socket);
      c.ws.send(payload);
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
      batched(c, payload);
    }
  };
  const onDevice = (d: DeviceStatusMessage): void => {
    let payload: string | null = null;
    for (const c of conns) {
      if (!inScope(c, d.ward, d.patientId)) continue;
      payload ??= JSON.stringify({ type: 'device', deviceId: d.deviceId, patientId: d.patientId, ward: d.ward, ts: d.ts, online: d.online, battery: d.battery });
      batched(c, payload);
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

  const endSession = (c: Conn, message: string): void => {
    send(c, errorMsg('UNAUTHORIZED', message));
    c.policy = null;
    c.ws.close(CLOSE.unauthorized, message);
  };

  const authenticate = async (c: Conn, token: string): Promise<boolean> => {
    const v = await deps.verify(token);
    if (!v.ok) {
      endSession(c, v.reason === 'expired' ? 'token expired' : 'invalid token');
      return false;
    }
    c.policy = buildPolicy(v.principal);
    // A session lives as long as its token: an `auth` op with a fresh token before then renews it.
    if (c.expiry) clearTimeout(c.expiry);
    c.expiry = null;
    if (v.expiresAt != null) c.expiry = setTimeout(() => endSession(c, 'token expired'), Math.max(0, v.expiresAt - Date.now()));
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
        if (since > st.latestSeq()) {
          // The log is behind the client (it was reset): resuming from a future seq would skip
          // every later event. Start over from a fresh snapshot instead.
          send(c, { type: 'resync', seq: st.latestSeq(), message: `seq ${since} is beyond the alert log (seq ${st.latestSeq()}): it was reset; the snapshot is the current state` });
          c.lastSeq = 0;
          snapshot(c);
          send(c, { type: 'resumed', seq: c.lastSeq });
          return;
        }
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

  const onConnection = (ws: WebSocket, req: IncomingMessage, socket: Duplex): void => {
    const c: Conn = {
      ws,
      socket,
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
      expiry: null,
      ops: { tokens: opsRate * 4, at: Date.now(), refused: 0 },
    };
    conns.add(c);
    const gone = (): void => {
      conns.delete(c);
      batcher.forget(socket);
      if (c.expiry) clearTimeout(c.expiry);
    };
    ws.on('pong', () => (c.alive = true));
    ws.on('close', gone);
    ws.on('error', gone);
    // One message at a time per connection, in order.
    let chain = Promise.resolve();
    ws.on('message', (data) => {
      if (!takeOp(c)) return;
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
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, req, socket));
  };
  server.on('upgrade', onUpgrade);

  return {
    clients: () => conns.size,
    async close() {
      clearInterval(flushTimer);
      clearInterval(heartbeat);
      batcher.releaseAll();
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

