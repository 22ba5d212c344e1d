/** One dashboard socket's state, and the message shapes it sends. */
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { AccessPolicy } from '../core/access.js';
import type { CanonicalSample } from '../core/vitals.js';
import type { SequencedAlert } from './live-state.js';

export interface VitalsMsg {
  type: 'vitals';
  patientId: string;
  ward: string | null;
  bed: string | null;
  ts: number;
  metrics: CanonicalSample['metrics'];
  source: CanonicalSample['source'];
}

export interface Conn {
  ws: WebSocket;
  /** The socket under `ws`: held (corked) while vitals wait for a batched write. */
  socket: Duplex;
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
  /** The session ends when its token does: closed at this time unless an `auth` op renews it. */
  expiry: NodeJS.Timeout | null;
  /** Op budget (token bucket) and refusals so far. */
  ops: { tokens: number; at: number; refused: number };
}

export const errorMsg = (code: string, message: string) => ({ type: 'error', code, message });

export function alertMessage(a: SequencedAlert): Record<string, unknown> {
  return { type: 'alert', event: a.event.event, seq: a.seq, ts: a.event.ts, alert: a.event.alert };
}

export function isStringArray(x: unknown): x is string[] {
  return Array.isArray(x) && x.length <= 1000 && x.every((s) => typeof s === 'string' && s.length <= 128);
}
