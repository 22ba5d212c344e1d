/**
 * Who a connecting device is. A device proves its id (the MQTT username) with its token
 * (the password), checked against the registry's scrypt hash. Rules:
 * - the client id is the device id (or empty, then it becomes the device id): a session
 *   belongs to one device, so no device can take over or inherit another's session;
 * - failures are throttled per device id and per source address, and a locked key is
 *   refused before any hashing; a device presenting its already verified token is not
 *   held up by a lockout someone else caused (that check costs a SHA-256, not a scrypt);
 * - at most one scrypt runs at a time, with a short queue: guessing cannot take the CPU
 *   the publish path needs;
 * - the registry is read again after the asynchronous check: a device revoked or re-keyed
 *   meanwhile is refused.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { AuthThrottle } from '../core/auth-throttle.js';
import type { Clock } from '../core/ports.js';
import { kindOf, type DeviceRecord } from '../core/registry.js';
import { verifyDeviceToken } from '../platform/device-tokens.js';
import type { RegistryView } from '../platform/registry-view.js';

/** CONNACK return codes (MQTT 3.1.1 [3.2.2.3]). */
export const CONNACK = { identifierRejected: 2, serverUnavailable: 3, badCredentials: 4 } as const;

/** The documented client id limit (docs/protocol.md); aedes only checks MQTT 3.1's 23. */
export const MAX_CLIENT_ID_LENGTH = 128;

export type AuthReason =
  | 'unknown_device'
  | 'not_an_mqtt_device'
  | 'no_password'
  | 'client_id_not_device'
  | 'client_id_too_long'
  | 'bad_token'
  | 'verify_error'
  | 'revoked_during_connect'
  | 'throttled'
  | 'auth_busy'
  | 'certificate_other_device';

export type AuthOutcome = { ok: true; rec: DeviceRecord } | { ok: false; reason: AuthReason; code: number };

export interface DeviceAuthOptions {
  /** Token checks (scrypt) running at once; the rest wait in a queue of `maxQueued`. */
  concurrency: number;
  maxQueued: number;
  /** Failures before a device id or an address is locked out, and the lockout range. */
  freeFailures: number;
  baseLockMs: number;
  maxLockMs: number;
}

export const DEFAULT_AUTH_OPTIONS: DeviceAuthOptions = { concurrency: 1, maxQueued: 256, freeFailures: 5, baseLockMs: 1000, maxLockMs: 5 * 60_000 };

const digest = (s: Buffer): Buffer => createHash('sha256').update(s).digest();

export class DeviceAuth {
  /** Per device id; per address with more room (several devices may share a gateway's address). */
  private readonly byDevice: AuthThrottle;
  private readonly byAddress: AuthThrottle;
  /** deviceId -> (stored hash, sha256 of the verified token): reconnects skip scrypt. */
  private readonly verified = new Map<string, { tokenHash: string; tokenDigest: Buffer }>();
  private running = 0;
  private readonly queue: Array<() => void> = [];
  private checks = 0;

  constructor(
    private readonly registry: RegistryView,
    private readonly clock: Clock,
    private readonly opts: DeviceAuthOptions = DEFAULT_AUTH_OPTIONS,
    /** The token check; tests pass a controllable one. */
    private readonly verify: (token: string, stored: string) => Promise<boolean> = verifyDeviceToken,
  ) {
    const t = { baseLockMs: opts.baseLockMs, maxLockMs: opts.maxLockMs, forgetAfterMs: 15 * 60_000 };
    this.byDevice = new AuthThrottle({ ...t, freeFailures: opts.freeFailures });
    this.byAddress = new AuthThrottle({ ...t, freeFailures: opts.freeFailures * 4 });
  }

  /**
   * Decide on a CONNECT. `clientId` is the one the client sent ('' when none); `address` the
   * socket's source address.
   */
  async check(deviceId: string, clientId: string, password: Buffer | undefined, address: string, certDeviceId: string | null = null): Promise<AuthOutcome> {
    const now = this.clock.now();
    // Refusals that cost no hashing are not throttled: only guesses at a token are.
    if (clientId.length > MAX_CLIENT_ID_LENGTH) return { ok: false, reason: 'client_id_too_long', code: CONNACK.identifierRejected };
    if (certDeviceId !== null) return this.byCertificate(deviceId, clientId, certDeviceId);
    const rec = this.registry.get(deviceId);
    if (!rec) return { ok: false, reason: 'unknown_device', code: CONNACK.badCredentials };
    // HL7 gateways and monitors have no MQTT identity: their observations come over MLLP only.
    if (kindOf(rec) !== 'device') return { ok: false, reason: 'not_an_mqtt_device', code: CONNACK.badCredentials };
    if (!password) return { ok: false, reason: 'no_password', code: CONNACK.badCredentials };
    if (clientId !== '' && clientId !== deviceId) return { ok: false, reason: 'client_id_not_device', code: CONNACK.identifierRejected };
    const d = digest(password);
    const cached = this.verified.get(deviceId);
    if (cached && cached.tokenHash === rec.tokenHash) {
      if (timingSafeEqual(cached.tokenDigest, d)) return this.succeed(deviceId, address, rec);
      return this.fail(deviceId, address);
    }
    if (this.byDevice.lockedFor(deviceId, now) > 0 || this.byAddress.lockedFor(address, now) > 0) {
      return { ok: false, reason: 'throttled', code: CONNACK.serverUnavailable };
    }
    if (this.running >= this.opts.concurrency && this.queue.length >= this.opts.maxQueued) return { ok: false, reason: 'auth_busy', code: CONNACK.serverUnavailable };
    let ok: boolean;
    try {
      ok = await this.limited(() => this.verify(password.toString('utf8'), rec.tokenHash));
    } catch {
      return { ok: false, reason: 'verify_error', code: CONNACK.badCredentials };
    }
    if (!ok) return this.fail(deviceId, address);
    // Revoked or re-keyed while the hash was computed: the answer is about a record that is gone.
    const current = this.registry.get(deviceId);
    if (!current || current.tokenHash !== rec.tokenHash) return { ok: false, reason: 'revoked_during_connect', code: CONNACK.badCredentials };
    this.verified.set(deviceId, { tokenHash: rec.tokenHash, tokenDigest: d });
    return this.succeed(deviceId, address, current);
  }

  /** A verified client certificate names the device: no token; the registry must still hold it. */
  private byCertificate(username: string, clientId: string, certDeviceId: string): AuthOutcome {
    if (username !== '' && username !== certDeviceId) return { ok: false, reason: 'certificate_other_device', code: CONNACK.badCredentials };
    const rec = this.registry.get(certDeviceId);
    if (!rec) return { ok: false, reason: 'unknown_device', code: CONNACK.badCredentials };
    if (kindOf(rec) !== 'device') return { ok: false, reason: 'not_an_mqtt_device', code: CONNACK.badCredentials };
    if (clientId !== '' && clientId !== certDeviceId) return { ok: false, reason: 'client_id_not_device', code: CONNACK.identifierRejected };
    return { ok: true, rec };
  }

  /** The registry changed for `deviceId`: a cached verification of another hash is void. */
  forget(deviceId: string, rec: DeviceRecord | undefined): void {
    const cached = this.verified.get(deviceId);
    if (cached && (!rec || cached.tokenHash !== rec.tokenHash)) this.verified.delete(deviceId);
  }

  /** Token hashes computed so far (tests: guessing must not cost one each). */
  get hashChecks(): number {
    return this.checks;
  }

  private succeed(deviceId: string, address: string, rec: DeviceRecord): AuthOutcome {
    this.byDevice.succeed(deviceId);
    this.byAddress.succeed(address);
    return { ok: true, rec };
  }

  /** A wrong token: counted against the device id and the address. */
  private fail(deviceId: string, address: string): AuthOutcome {
    const now = this.clock.now();
    this.byDevice.fail(deviceId, now);
    this.byAddress.fail(address, now);
    if (this.byAddress.size > 100_000) this.byAddress.prune(now);
    if (this.byDevice.size > 100_000) this.byDevice.prune(now);
    return { ok: false, reason: 'bad_token', code: CONNACK.badCredentials };
  }

  private async limited<T>(work: () => Promise<T>): Promise<T> {
    // A finishing check hands its slot straight to the next in line (no window for a newcomer).
    if (this.running >= this.opts.concurrency) await new Promise<void>((resolve) => this.queue.push(resolve));
    else this.running++;
    this.checks++;
    try {
      return await work();
    } finally {
      const next = this.queue.shift();
      if (next) next();
      else this.running--;
    }
  }
}
