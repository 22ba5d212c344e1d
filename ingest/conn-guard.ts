/**
 * The MQTT front door before authentication: how many new connections a source address
 * may open, how many of its sockets may wait unauthenticated, how big a packet may be
 * announced, and how many bytes all unauthenticated sockets may hold together. A socket
 * that breaks a rule is destroyed at once (no CONNACK: it has not said who it is).
 *
 * Bytes are seen as aedes reads them: a 'data' listener added after aedes' 'readable'
 * listener observes every `read()` without switching the stream to flowing mode, so aedes'
 * own backpressure stays as it was.
 */
import type { Duplex } from 'node:stream';
import type { Registry } from 'prom-client';
import { FrameScanner } from '../core/mqtt-frames.js';
import type { Clock } from '../core/ports.js';
import { counter, gauge } from '../platform/metrics.js';

export interface GuardLimits {
  /** Largest CONNECT (remaining length): a client id, a device id, a token and a small will fit many times over. */
  maxConnectBytes: number;
  /** Largest later packet: the payload limit plus header room. */
  maxPacketBytes: number;
  /** Bytes one socket may send before its authentication completes. */
  preAuthBytesPerSocket: number;
  /** Bytes all unauthenticated sockets may hold together. */
  preAuthBytesTotal: number;
  /** New connections per second per source address (burst: 4 s worth). */
  newConnPerSecPerAddress: number;
  /** Unauthenticated sockets one source address may hold open at once. */
  preAuthPerAddress: number;
}

/** Room for a PUBLISH's topic, packet id and MQTT 5 properties on top of the payload. */
export const PACKET_HEADER_ROOM = 64 * 1024;

export function guardLimits(maxPayloadBytes: number, newConnPerSecPerAddress: number): GuardLimits {
  return {
    maxConnectBytes: 16 * 1024,
    maxPacketBytes: maxPayloadBytes + PACKET_HEADER_ROOM,
    preAuthBytesPerSocket: 64 * 1024,
    preAuthBytesTotal: 32 * 1024 * 1024,
    newConnPerSecPerAddress,
    preAuthPerAddress: 64,
  };
}

interface Watched {
  address: string;
  scanner: FrameScanner;
  /** Bytes read while unauthenticated (counted in the total until authenticated or closed). */
  held: number;
  authenticated: boolean;
}

export type RefusalReason = 'client_cert_invalid' | 'address_rate' | 'address_unauthenticated' | 'packet_too_large' | 'connect_expected' | 'malformed_length' | 'preauth_bytes' | 'preauth_memory';

export class ConnectionGuard {
  private preAuthTotal = 0;
  private readonly preAuthByAddress = new Map<string, number>();
  private readonly arrivals = new Map<string, { tokens: number; at: number }>();
  private readonly watched = new WeakMap<object, Watched>();
  private readonly refused;
  private readonly held;
  private readonly sweep: NodeJS.Timeout;

  constructor(
    private readonly limits: GuardLimits,
    private readonly clock: Clock,
    metrics: Registry,
  ) {
    this.refused = counter(metrics, 'vitals_ingest_connections_refused_total', 'MQTT connections closed before or outside authentication, by reason', ['reason']);
    this.held = gauge(metrics, 'vitals_ingest_preauth_bytes', 'Bytes held for MQTT connections not yet authenticated');
    // Full buckets carry no information: drop them so one-off addresses do not accumulate.
    this.sweep = setInterval(() => this.prune(), 60_000).unref();
  }

  /** Whether a new connection from `address` may start; counts the refusal when not. */
  admit(address: string): boolean {
    const now = this.clock.now();
    const rate = this.limits.newConnPerSecPerAddress;
    const burst = rate * 4;
    const b = this.arrivals.get(address) ?? { tokens: burst, at: now };
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * rate);
    b.at = now;
    this.arrivals.set(address, b);
    if (b.tokens < 1) return this.refuse('address_rate');
    if ((this.preAuthByAddress.get(address) ?? 0) >= this.limits.preAuthPerAddress) return this.refuse('address_unauthenticated');
    b.tokens -= 1;
    return true;
  }

  /** Watch a stream aedes is already reading (call after `broker.handle`). */
  watch(stream: Duplex, address: string): void {
    const w: Watched = { address, scanner: new FrameScanner(this.limits), held: 0, authenticated: false };
    this.watched.set(stream, w);
    this.preAuthByAddress.set(address, (this.preAuthByAddress.get(address) ?? 0) + 1);
    stream.on('data', (chunk: Buffer) => {
      if (stream.destroyed) return;
      const verdict = w.scanner.feed(chunk);
      if (!verdict.ok) return this.close(stream, verdict.reason);
      if (w.authenticated) return;
      w.held += chunk.length;
      this.preAuthTotal += chunk.length;
      this.held.set(this.preAuthTotal);
      if (w.held > this.limits.preAuthBytesPerSocket) return this.close(stream, 'preauth_bytes');
      if (this.preAuthTotal > this.limits.preAuthBytesTotal) return this.close(stream, 'preauth_memory');
    });
    stream.once('close', () => this.release(w));
  }

  /** The source address a watched stream came from ('' when not watched). */
  addressOf(stream: object): string {
    return this.watched.get(stream)?.address ?? '';
  }

  /** Authentication succeeded: the socket's bytes no longer count against the unauthenticated budget. */
  authenticated(stream: object): void {
    const w = this.watched.get(stream);
    if (w) this.release(w);
  }

  close(stream: Duplex, reason: RefusalReason): void {
    this.refuse(reason);
    stream.destroy();
  }

  stop(): void {
    clearInterval(this.sweep);
  }

  private release(w: Watched): void {
    if (w.authenticated) return;
    w.authenticated = true;
    this.preAuthTotal -= w.held;
    this.held.set(this.preAuthTotal);
    w.held = 0;
    const n = (this.preAuthByAddress.get(w.address) ?? 1) - 1;
    if (n <= 0) this.preAuthByAddress.delete(w.address);
    else this.preAuthByAddress.set(w.address, n);
  }

  private refuse(reason: RefusalReason): false {
    this.refused.inc({ reason });
    return false;
  }

  private prune(): void {
    const now = this.clock.now();
    const rate = this.limits.newConnPerSecPerAddress;
    for (const [a, b] of this.arrivals) if (b.tokens + ((now - b.at) / 1000) * rate >= rate * 4) this.arrivals.delete(a);
  }
}
