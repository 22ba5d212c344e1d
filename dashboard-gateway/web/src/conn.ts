/**
 * The live connection to /ws: auth with the token, subscribe to the wards in scope,
 * resume alert events after a reconnect, reconnect with exponential backoff.
 */

export type ConnPhase = 'connecting' | 'live' | 'reconnecting' | 'unauthorized' | 'stopped';

export interface ConnStatus {
  phase: ConnPhase;
  /** Failed attempts since the last live moment. */
  attempt: number;
  /** Wall-clock ms of the next try when reconnecting. */
  retryAt: number | null;
  /** Wall-clock ms the connection was last lost (null while it never was). */
  lostAt: number | null;
  detail: string;
}

export interface ConnHandlers {
  /** Every server message, parsed. */
  message(m: Record<string, unknown>): void;
  status(s: ConnStatus): void;
  /** Wards to subscribe to, given the `ready` message (an admin's '*' is resolved by the caller). */
  wards(ready: { role: string; wards: string[] }): Promise<string[]>;
  /** The seq to resume from (0: nothing to resume). */
  resumeFrom(): number;
}

const BASE_MS = 500;
const MAX_MS = 30_000;

/** Backoff before attempt n (1-based): 0.5 s, 1 s, 2 s … capped at 30 s, with ±20% jitter. */
export function backoff(n: number, rand: () => number = Math.random): number {
  const d = Math.min(MAX_MS, BASE_MS * 2 ** Math.max(0, n - 1));
  return Math.round(d * (0.8 + 0.4 * rand()));
}

export class Connection {
  private ws: WebSocket | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private st: ConnStatus = { phase: 'connecting', attempt: 0, retryAt: null, lostAt: null, detail: '' };
  private stopped = false;
  private subscribed: string[] = [];

  constructor(
    private readonly url: string,
    private readonly token: string,
    private readonly h: ConnHandlers,
  ) {}

  get status(): ConnStatus {
    return this.st;
  }

  start(): void {
    this.stopped = false;
    this.open();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(1000, 'logout');
    this.set({ phase: 'stopped', retryAt: null, detail: '' });
  }

  /** Send an op if the socket is open; false otherwise (the caller tells the user). */
  send(msg: Record<string, unknown>): boolean {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN || this.st.phase !== 'live') return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  /** Add wards to the live subscription (an admin's view as new wards appear). */
  subscribeMore(wards: string[]): void {
    const add = wards.filter((w) => !this.subscribed.includes(w));
    if (!add.length || !this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    this.subscribed.push(...add);
    this.ws.send(JSON.stringify({ op: 'subscribe', wards: add }));
  }

  /** Try again now (the user pressed "Reconnect now"). */
  retryNow(): void {
    if (this.stopped || this.st.phase !== 'reconnecting') return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.open();
  }

  private set(p: Partial<ConnStatus>): void {
    this.st = { ...this.st, ...p };
    this.h.status(this.st);
  }

  private open(): void {
    if (this.stopped) return;
    this.set({ phase: this.st.lostAt === null ? 'connecting' : 'reconnecting', retryAt: null, detail: 'connecting' });
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this.lost('cannot open the connection');
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      ws.send(JSON.stringify({ op: 'auth', token: this.token }));
      this.set({ detail: 'signing in' });
    };
    ws.onmessage = (ev: MessageEvent) => {
      if (this.ws !== ws) return;
      let m: unknown;
      try {
        m = JSON.parse(String(ev.data));
      } catch {
        return;
      }
      if (typeof m !== 'object' || m === null) return;
      const msg = m as Record<string, unknown>;
      if (msg.type === 'ready') void this.onReady(ws, msg);
      else if (msg.type === 'snapshot') {
        this.h.message(msg);
        this.set({ phase: 'live', attempt: 0, retryAt: null, detail: '' });
        return;
      }
      this.h.message(msg);
    };
    ws.onclose = (ev: CloseEvent) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (ev.code === 4401) {
        this.stopped = true;
        this.set({ phase: 'unauthorized', retryAt: null, lostAt: Date.now(), detail: ev.reason || 'unauthorized' });
        return;
      }
      this.lost(ev.code === 4008 ? 'the connection was too slow' : 'connection lost');
    };
    ws.onerror = () => {
      /* onclose follows and schedules the retry */
    };
  }

  private async onReady(ws: WebSocket, msg: Record<string, unknown>): Promise<void> {
    const role = typeof msg.role === 'string' ? msg.role : '';
    const wards = Array.isArray(msg.wards) ? msg.wards.filter((w): w is string => typeof w === 'string') : [];
    let list: string[];
    try {
      list = await this.h.wards({ role, wards });
    } catch {
      list = wards.filter((w) => w !== '*');
    }
    if (this.ws !== ws || ws.readyState !== WebSocket.OPEN) return;
    this.subscribed = [...list];
    ws.send(JSON.stringify({ op: 'subscribe', wards: list }));
    const since = this.h.resumeFrom();
    // After a reconnect: every alert event missed while away, in order (the snapshot has the current state).
    if (since > 0) ws.send(JSON.stringify({ op: 'resume', since }));
  }

  private lost(detail: string): void {
    if (this.stopped) return;
    const attempt = this.st.attempt + 1;
    const delay = backoff(attempt);
    const lostAt = this.st.phase === 'live' || this.st.lostAt === null ? Date.now() : this.st.lostAt;
    this.set({ phase: 'reconnecting', attempt, retryAt: Date.now() + delay, lostAt, detail });
    this.timer = setTimeout(() => {
      this.timer = null;
      this.open();
    }, delay);
  }
}
