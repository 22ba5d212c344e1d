/** DeviceAuth's decisions with a controllable token check (the hash itself is tested in platform/). */
import { describe, expect, it } from 'vitest';
import type { DeviceRecord } from '../core/registry.js';
import type { RegistryView } from '../platform/registry-view.js';
import { DEFAULT_AUTH_OPTIONS, DeviceAuth } from './device-auth.js';

function registryOf(ids: string[]): RegistryView & { recs: Map<string, DeviceRecord> } {
  const recs = new Map(ids.map((id) => [id, { v: 1, deviceId: id, tokenHash: `hash-${id}`, patientId: null, ward: '4B', bed: null, createdAt: 0, updatedAt: 0 } as DeviceRecord]));
  return { recs, get: (id) => recs.get(id), list: () => [...recs.values()], onChange: () => undefined, caughtUp: Promise.resolve(), stop: async () => undefined };
}

describe('DeviceAuth', () => {
  it('runs one token check at a time and refuses past a short queue (auth_busy), so guessing cannot take the CPU', async () => {
    const reg = registryOf(['d0', 'd1', 'd2', 'd3', 'd4']);
    let running = 0;
    let most = 0;
    const release: Array<() => void> = [];
    const verify = async (token: string): Promise<boolean> => {
      running++;
      most = Math.max(most, running);
      await new Promise<void>((r) => release.push(r));
      running--;
      return token === 'right';
    };
    const auth = new DeviceAuth(reg, { now: () => 0 }, { ...DEFAULT_AUTH_OPTIONS, concurrency: 1, maxQueued: 2 }, verify);
    const pending = [0, 1, 2].map((i) => auth.check(`d${i}`, `d${i}`, Buffer.from('wrong'), '10.0.0.1'));
    const busy = await auth.check('d3', 'd3', Buffer.from('right'), '10.0.0.1');
    expect(busy).toMatchObject({ ok: false, reason: 'auth_busy', code: 3 });
    while (release.length || running) {
      release.shift()?.();
      await new Promise((r) => setImmediate(r));
    }
    expect((await Promise.all(pending)).map((o) => (o.ok ? 'ok' : o.reason))).toEqual(['bad_token', 'bad_token', 'bad_token']);
    expect(most).toBe(1);
  });

  it('re-reads the registry after the check: revoked or re-keyed meanwhile is refused', async () => {
    const reg = registryOf(['d0']);
    const auth = new DeviceAuth(reg, { now: () => 0 }, DEFAULT_AUTH_OPTIONS, async () => {
      reg.recs.delete('d0');
      return true;
    });
    expect(await auth.check('d0', 'd0', Buffer.from('t'), 'a')).toMatchObject({ ok: false, reason: 'revoked_during_connect' });
  });

  it('a verified token is not held up by a lockout someone else caused; a wrong one is', async () => {
    const reg = registryOf(['d0']);
    let hashes = 0;
    let now = 0;
    const auth = new DeviceAuth(reg, { now: () => now }, DEFAULT_AUTH_OPTIONS, async (t) => (hashes++, t === 'right'));
    expect((await auth.check('d0', '', Buffer.from('right'), 'a')).ok).toBe(true);
    for (let i = 0; i < 20; i++) await auth.check('d0', 'd0', Buffer.from(`guess${i}`), 'b');
    expect(hashes).toBe(1);
    // A new token (re-keyed): the cache is void, and the lockout the guesses caused now applies.
    reg.recs.set('d0', { ...(reg.recs.get('d0') as DeviceRecord), tokenHash: 'hash-new' });
    auth.forget('d0', reg.recs.get('d0'));
    expect(await auth.check('d0', 'd0', Buffer.from('right'), 'c')).toMatchObject({ ok: false, reason: 'throttled' });
    now += DEFAULT_AUTH_OPTIONS.maxLockMs + 1;
    expect((await auth.check('d0', 'd0', Buffer.from('right'), 'c')).ok).toBe(true);
  });
});
