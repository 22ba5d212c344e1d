/**
 * OIDC verification against a real local JWKS server: a discovery document and a JWKS
 * served over HTTP, tokens signed with the provider's private key.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { combinedVerifier, oidcVerifier, principalFromClaims, signToken, verifyToken, type Verify } from './jwt.js';

type Keys = Awaited<ReturnType<typeof generateKeyPair>>;

describe('OIDC bearer tokens (JWKS)', () => {
  let server: http.Server;
  let issuer: string;
  let good: Keys;
  let other: Keys;
  let fetches = 0;
  const audience = 'vitalstream-api';

  beforeAll(async () => {
    good = await generateKeyPair('RS256');
    other = await generateKeyPair('RS256');
    const jwk: JWK = { ...(await exportJWK(good.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    server = http.createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/.well-known/openid-configuration') return void res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }));
      if (req.url === '/jwks') {
        fetches++;
        return void res.end(JSON.stringify({ keys: [jwk] }));
      }
      res.statusCode = 404;
      res.end('{}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const sign = (claims: Record<string, unknown>, o: { key?: Keys; kid?: string; iss?: string; aud?: string; exp?: number; nbf?: number } = {}): Promise<string> => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: o.kid ?? 'k1' })
      .setSubject('user-1')
      .setIssuer(o.iss ?? issuer)
      .setAudience(o.aud ?? audience)
      .setIssuedAt(now - 10)
      .setNotBefore(o.nbf ?? now - 10)
      .setExpirationTime(o.exp ?? now + 300)
      .sign((o.key ?? good).privateKey);
  };
  const verifier = (): Verify => oidcVerifier({ issuer, audience, claims: { role: 'realm_access.roles', wards: 'wards', patient: 'patient_id' }, clockToleranceSec: 0 });

  it('accepts a valid token (JWKS found through discovery) and maps nested role and ward claims', async () => {
    const v = verifier();
    const r = await v(await sign({ realm_access: { roles: ['offline_access', 'nurse'] }, wards: '4B 5A' }));
    expect(r).toMatchObject({ ok: true, principal: { sub: 'user-1', role: 'nurse', wards: ['4B', '5A'] } });
    // The token's exp travels with the principal: sessions built on it end then.
    expect((r as { expiresAt?: number }).expiresAt).toBeGreaterThan(Date.now());
    expect(fetches).toBeGreaterThan(0);
  });
  it('refuses expired (as expired), wrong audience, wrong issuer, not-yet-valid and wrong-key tokens', async () => {
    const v = verifier();
    const now = Math.floor(Date.now() / 1000);
    const claims = { realm_access: { roles: ['nurse'] }, wards: ['4B'] };
    expect(await v(await sign(claims, { exp: now - 60 }))).toEqual({ ok: false, reason: 'expired' });
    expect(await v(await sign(claims, { aud: 'someone-else' }))).toEqual({ ok: false, reason: 'invalid' });
    expect(await v(await sign(claims, { iss: 'http://evil.example' }))).toEqual({ ok: false, reason: 'invalid' });
    expect(await v(await sign(claims, { nbf: now + 600 }))).toEqual({ ok: false, reason: 'invalid' });
    expect(await v(await sign(claims, { key: other }))).toEqual({ ok: false, reason: 'invalid' });
    expect(await v(await sign(claims, { key: other, kid: 'unknown' }))).toEqual({ ok: false, reason: 'invalid' });
    expect(await v('not.a.jwt')).toEqual({ ok: false, reason: 'invalid' });
  });
  it('refuses a token whose role claim names no known role, and a patient token without its patient id', async () => {
    const v = verifier();
    expect(await v(await sign({ realm_access: { roles: ['superuser'] } }))).toEqual({ ok: false, reason: 'invalid' });
    expect(await v(await sign({ realm_access: { roles: ['patient'] } }))).toEqual({ ok: false, reason: 'invalid' });
    expect(await v(await sign({ realm_access: { roles: ['patient'] }, patient_id: 'MRN-1', wards: ['*'] }))).toMatchObject({
      ok: true,
      principal: { sub: 'user-1', role: 'patient', wards: [], patientId: 'MRN-1' },
    });
  });
  it('uses VITALS_OIDC_JWKS_URL when given, without discovery', async () => {
    const v = oidcVerifier({ issuer: 'urn:test-issuer', audience, jwksUrl: `${issuer}/jwks` });
    expect((await v(await sign({ role: 'viewer', wards: ['4B'] }, { iss: 'urn:test-issuer' }))).ok).toBe(true);
  });
  it('an HS256 token signed with the published key material can never pass as the provider\'s', async () => {
    const key = new TextEncoder().encode('0123456789abcdef0123456789abcdef');
    const forged = await new SignJWT({ role: 'admin', wards: ['*'] }).setProtectedHeader({ alg: 'HS256' }).setSubject('x').setIssuer(issuer).setAudience(audience).setExpirationTime('5m').sign(key);
    expect(await verifier()(forged)).toEqual({ ok: false, reason: 'invalid' });
  });
  it('routes local (HS256) tokens to the data-dir key and the rest to OIDC', async () => {
    const key = new Uint8Array(32).fill(7);
    const v = combinedVerifier((t) => verifyToken(key, t), verifier());
    const local = await signToken(key, { sub: 'cli', role: 'admin', wards: ['*'] }, 60);
    expect(await v(local)).toMatchObject({ ok: true, principal: { sub: 'cli', role: 'admin' } });
    expect(await v(await sign({ realm_access: { roles: ['viewer'] }, wards: ['4B'] }))).toMatchObject({ ok: true, principal: { role: 'viewer' } });
    const wrongLocal = await signToken(new Uint8Array(32).fill(8), { sub: 'cli', role: 'admin', wards: ['*'] }, 60);
    expect(await v(wrongLocal)).toEqual({ ok: false, reason: 'invalid' });
  });
});

describe('claims to principal', () => {
  it('takes the first known role in ROLES order and reads ward lists or strings', () => {
    expect(principalFromClaims({ sub: 's', role: ['viewer', 'admin'], wards: '4B,5A' })).toEqual({ sub: 's', role: 'admin', wards: ['4B', '5A'] });
    expect(principalFromClaims({ sub: 's', role: 'nurse' })).toEqual({ sub: 's', role: 'nurse', wards: [] });
    expect(principalFromClaims({ sub: 's', role: 'nurse', wards: [1, 2] })).toBeNull();
    expect(principalFromClaims({ role: 'nurse', wards: ['4B'] })).toBeNull();
  });
});
