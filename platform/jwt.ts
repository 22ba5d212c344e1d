/**
 * JWTs for clinicians and tools. Local tokens: HS256 with a random key kept in the
 * data dir (created on first start, mode 0600), signed by `vitals token`, the CLI and
 * the simulator. Production: an OIDC provider's tokens, verified against its JWKS
 * (see {@link oidcVerifier}); local tokens stay valid beside them for the tools.
 */
import { dataDirSecret, existingDataDirSecret } from './secrets.js';
import { SignJWT, createRemoteJWKSet, decodeProtectedHeader, jwtVerify, errors as joseErrors, type JWTPayload } from 'jose';

import { ROLES, type Principal, type Role } from '../core/access.js';

export { ROLES, type Principal, type Role };

const ISSUER = 'vitalstream-dev';
const AUDIENCE = 'vitalstream';

/** Load the data dir's signing key, creating it on first use. */
export async function loadSigningKey(dataDir: string): Promise<Uint8Array> {
  return decodeKey(await dataDirSecret(dataDir, SIGNING_KEY_FILE, 32));
}

/** The file in the data dir that holds the signing key. */
export const SIGNING_KEY_FILE = 'jwt-signing.key';

/**
 * The data dir's signing key if a server already created it, else null. Tools that mint tokens
 * for a running server use this: a key they created would sign tokens that server rejects.
 */
export async function existingSigningKey(dataDir: string): Promise<Uint8Array | null> {
  const text = await existingDataDirSecret(dataDir, SIGNING_KEY_FILE);
  return text === null ? null : decodeKey(text);
}

function decodeKey(text: string): Uint8Array {
  // Stored as base64url text; Node's decoder also reads keys written as plain base64 before.
  const key = Buffer.from(text, 'base64url');
  if (key.length < 32) throw new Error('the signing key in the data dir is shorter than 32 bytes');
  return new Uint8Array(key);
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
  const claims: Record<string, unknown> = { role: p.role, wards: p.wards };
  if (p.patientId) claims.patient_id = p.patientId;
  return new SignJWT(claims)
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
export type Verify = (token: string) => Promise<VerifyResult>;

/** Where the role, wards and patient id are read from in a token; dotted paths reach nested claims. */
export interface ClaimNames {
  role: string;
  wards: string;
  patient: string;
}
export const DEFAULT_CLAIMS: ClaimNames = { role: 'role', wards: 'wards', patient: 'patient_id' };

function claimAt(payload: JWTPayload, dotted: string): unknown {
  let cur: unknown = payload;
  for (const part of dotted.split('.')) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/**
 * Map verified claims to a principal, or null (deny). The role claim may be a string or a
 * list (IdPs put several roles there): the first of ROLES that it names wins, so a list
 * with no known role grants nothing. Wards: a list, or a space/comma separated string.
 */
export function principalFromClaims(payload: JWTPayload, names: ClaimNames = DEFAULT_CLAIMS): Principal | null {
  if (typeof payload.sub !== 'string' || payload.sub === '') return null;
  const rawRole = claimAt(payload, names.role);
  const roles = Array.isArray(rawRole) ? rawRole : [rawRole];
  const role = ROLES.find((r) => roles.includes(r));
  if (!role) return null;
  const rawWards = claimAt(payload, names.wards);
  let wards: string[];
  if (rawWards === undefined || rawWards === null) wards = [];
  else if (typeof rawWards === 'string') wards = rawWards.split(/[\s,]+/).filter(Boolean);
  else if (Array.isArray(rawWards) && rawWards.every((w) => typeof w === 'string')) wards = rawWards as string[];
  else return null;
  const rawPatient = claimAt(payload, names.patient);
  const patientId = typeof rawPatient === 'string' && rawPatient !== '' ? rawPatient : null;
  // A patient token without its patient id is refused outright rather than let through empty.
  if (role === 'patient' && patientId === null) return null;
  return role === 'patient' ? { sub: payload.sub, role, wards: [], patientId } : { sub: payload.sub, role, wards };
}

function failure(e: unknown): VerifyResult {
  if (e instanceof joseErrors.JWTExpired) return { ok: false, reason: 'expired' };
  return { ok: false, reason: 'invalid' };
}

/** Verify a local (data-dir key, HS256) token. */
export async function verifyToken(key: Uint8Array, token: string): Promise<VerifyResult> {
  try {
    const { payload } = await jwtVerify(token, key, { issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'] });
    const principal = principalFromClaims(payload);
    return principal ? { ok: true, principal } : { ok: false, reason: 'invalid' };
  } catch (e) {
    return failure(e);
  }
}

export interface OidcOptions {
  issuer: string;
  audience: string;
  /** JWKS location; null: read `jwks_uri` from the issuer's discovery document. */
  jwksUrl?: string | null;
  claims?: Partial<ClaimNames>;
  /** Seconds of clock skew tolerated on exp/nbf. */
  clockToleranceSec?: number;
}

/** Asymmetric algorithms only: an HS256 token can never pass as the provider's. */
const OIDC_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

/**
 * A verifier for an OIDC provider's access tokens: signature against the provider's JWKS
 * (fetched on first use, cached and refreshed by jose on unknown key ids), then issuer,
 * audience, expiry and not-before. The discovery document is fetched once, lazily, and
 * retried on the next token after a failure.
 */
export function oidcVerifier(opts: OidcOptions): Verify {
  const names: ClaimNames = { ...DEFAULT_CLAIMS, ...(opts.claims ?? {}) };
  let jwks: Promise<ReturnType<typeof createRemoteJWKSet>> | null = null;
  const keySet = (): Promise<ReturnType<typeof createRemoteJWKSet>> => {
    jwks ??= (async () => {
      let url = opts.jwksUrl ?? null;
      if (!url) {
        const res = await fetch(`${opts.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(5000) });
        if (!res.ok) throw new Error(`OIDC discovery answered ${res.status}`);
        const doc = (await res.json()) as { jwks_uri?: unknown; issuer?: unknown };
        if (typeof doc.jwks_uri !== 'string') throw new Error('OIDC discovery document has no jwks_uri');
        url = doc.jwks_uri;
      }
      return createRemoteJWKSet(new URL(url), { timeoutDuration: 5000 });
    })().catch((e: unknown) => {
      jwks = null;
      throw e;
    });
    return jwks;
  };
  return async (token) => {
    try {
      const { payload } = await jwtVerify(token, await keySet(), {
        issuer: opts.issuer,
        audience: opts.audience,
        algorithms: OIDC_ALGS,
        clockTolerance: opts.clockToleranceSec ?? 30,
        requiredClaims: ['exp', 'sub'],
      });
      const principal = principalFromClaims(payload, names);
      return principal ? { ok: true, principal } : { ok: false, reason: 'invalid' };
    } catch (e) {
      return failure(e);
    }
  };
}

/**
 * Local tokens (HS256, the data-dir key) and, when configured, OIDC tokens: routed by the
 * header's algorithm, each verified only by its own verifier.
 */
export function combinedVerifier(local: Verify, oidc: Verify | null): Verify {
  if (!oidc) return local;
  return async (token) => {
    let alg: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      return { ok: false, reason: 'invalid' };
    }
    return alg === 'HS256' ? local(token) : oidc(token);
  };
}
