/**
 * JWTs for clinicians and tools. Dev/embedded: HS256 with a random key kept in the
 * data dir (created on first start, mode 0600). Production OIDC (JWKS) plugs in here.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';

import { ROLES, type Principal, type Role } from '../core/access.js';

export { ROLES, type Principal, type Role };

const ISSUER = 'vitalstream-dev';
const AUDIENCE = 'vitalstream';

/** Load the data dir's signing key, creating it on first use. */
export async function loadSigningKey(dataDir: string): Promise<Uint8Array> {
  const file = path.join(dataDir, 'jwt-signing.key');
  try {
    const b64 = (await readFile(file, 'utf8')).trim();
    const key = Buffer.from(b64, 'base64');
    if (key.length >= 32) return new Uint8Array(key);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  await mkdir(dataDir, { recursive: true });
  const key = randomBytes(32);
  // 'wx': two roles starting at once must not overwrite each other's fresh key.
  try {
    await writeFile(file, key.toString('base64'), { mode: 0o600, flag: 'wx' });
    return new Uint8Array(key);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return loadSigningKey(dataDir);
    throw e;
  }
}

/** Parse a duration like 90s, 15m, 1h, 7d into seconds. */
export function parseTtl(ttl: string): number | null {
  const m = /^(\d+)\s*([smhd])$/.exec(ttl.trim());
  if (!m) return null;
  const n = Number(m[1]);
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's' | 'm' | 'h' | 'd'];
  return n * unit;
}

export async function signToken(key: Uint8Array, p: Principal, ttlSeconds: number, nowMs = Date.now()): Promise<string> {
  const iat = Math.floor(nowMs / 1000);
  return new SignJWT({ role: p.role, wards: p.wards })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(p.sub)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(iat)
    .setNotBefore(iat)
    .setExpirationTime(iat + ttlSeconds)
    .sign(key);
}

export type VerifyResult = { ok: true; principal: Principal } | { ok: false; reason: 'expired' | 'invalid' };

export async function verifyToken(key: Uint8Array, token: string): Promise<VerifyResult> {
  try {
    const { payload } = await jwtVerify(token, key, { issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'] });
    const role = payload.role;
    const wards = payload.wards;
    if (typeof payload.sub !== 'string' || !ROLES.includes(role as Role)) return { ok: false, reason: 'invalid' };
    if (!Array.isArray(wards) || !wards.every((w) => typeof w === 'string')) return { ok: false, reason: 'invalid' };
    return { ok: true, principal: { sub: payload.sub, role: role as Role, wards: wards as string[] } };
  } catch (e) {
    if (e instanceof joseErrors.JWTExpired) return { ok: false, reason: 'expired' };
    return { ok: false, reason: 'invalid' };
  }
}
