/**
 * Hardening of the HTTP surface: rate limits per user and per address (429 shape), the body
 * limit (413 shape), security headers on the page and the API, CORS closed by default,
 * HTTPS and WSS with a self-signed certificate, OIDC tokens end to end, and the OpenAPI
 * document generated from the validating schemas.
 */
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BODY_LIMIT } from './app.js';
import { Client, startHarness, type Harness } from '../test/support/gateway-harness.js';

describe('gateway hardening', () => {
  let h: Harness;
  let nurse: string;
  let nurse2: string;
  beforeAll(async () => {
    h = await startHarness();
    nurse = await h.token({ sub: 'n1', role: 'nurse', wards: ['4B'] });
    nurse2 = await h.token({ sub: 'n2', role: 'nurse', wards: ['4B'] });
  });
  afterAll(async () => h?.close());
  const auth = (t: string) => ({ authorization: `Bearer ${t}` });

  it('limits each user: the request past the budget gets 429 VTL_ERR_RATE_LIMITED with retry-after; other users go on', async () => {
    const gw = await h.gateway({ VITALS_API_RATE_USER: '3', VITALS_API_RATE_ADDRESS: '1000' });
    for (let i = 0; i < 3; i++) expect((await gw.app.inject({ url: '/api/patients', headers: auth(nurse) })).statusCode).toBe(200);
    const r = await gw.app.inject({ url: '/api/patients', headers: auth(nurse) });
    expect(r.statusCode).toBe(429);
    expect(r.json().error.code).toBe('VTL_ERR_RATE_LIMITED');
    expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
    // The same user from another address is still the same budget; another user is not.
    expect((await gw.app.inject({ url: '/api/patients', headers: auth(nurse), remoteAddress: '10.0.0.9' })).statusCode).toBe(429);
    expect((await gw.app.inject({ url: '/api/patients', headers: auth(nurse2) })).statusCode).toBe(200);
    // FHIR shares the budget and answers with an OperationOutcome.
    const f = await gw.app.inject({ url: '/fhir/Observation?patient=P-1', headers: auth(nurse) });
    expect(f.statusCode).toBe(429);
    expect(f.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'throttled', details: { text: 'VTL_ERR_RATE_LIMITED' } }] });
  });

  it('limits each address, before authentication; health and metrics are never limited', async () => {
    const gw = await h.gateway({ VITALS_API_RATE_USER: '1000', VITALS_API_RATE_ADDRESS: '4' });
    const codes: number[] = [];
    for (const t of [nurse, nurse2, 'not-a-token', nurse, nurse2]) codes.push((await gw.app.inject({ url: '/api/patients', headers: auth(t) })).statusCode);
    expect(codes).toEqual([200, 200, 401, 200, 429]);
    const r = await gw.app.inject({ url: '/api/patients', headers: auth(nurse2) });
    expect(r.json().error.code).toBe('VTL_ERR_RATE_LIMITED');
    expect((await gw.app.inject({ url: '/api/patients', headers: auth(nurse2), remoteAddress: '10.0.0.2' })).statusCode).toBe(200);
    for (let i = 0; i < 6; i++) expect((await gw.app.inject({ url: '/healthz' })).statusCode).toBe(200);
    expect((await gw.app.inject({ url: '/metrics' })).statusCode).toBe(200);
  });

  it('refuses bodies over the limit with 413 VTL_ERR_PAYLOAD_TOO_LARGE', async () => {
    const gw = await h.gateway();
    const big = JSON.stringify({ hr: 70, pad: 'x'.repeat(BODY_LIMIT) });
    const r = await gw.app.inject({ method: 'POST', url: '/api/patients/P-1/observations', headers: { ...auth(nurse), 'content-type': 'application/json' }, payload: big });
    expect(r.statusCode).toBe(413);
    expect(r.json().error.code).toBe('VTL_ERR_PAYLOAD_TOO_LARGE');
  });

  it('sends security headers on the API and the page', async () => {
    const gw = await h.gateway();
    const api = await gw.app.inject({ url: '/api/patients', headers: auth(nurse) });
    expect(api.headers['x-content-type-options']).toBe('nosniff');
    expect(api.headers['content-security-policy']).toContain("default-src 'none'");
    expect(api.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(api.headers['referrer-policy']).toBe('no-referrer');
    expect(api.headers['strict-transport-security']).toBeUndefined(); // plain HTTP: no HSTS
    const page = await gw.app.inject({ url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.headers['cross-origin-opener-policy']).toBe('same-origin');
  });

  it('keeps CORS closed by default and opens it only to configured origins', async () => {
    const closed = await h.gateway();
    const r = await closed.app.inject({ url: '/api/patients', headers: { ...auth(nurse), origin: 'https://evil.example' } });
    expect(r.headers['access-control-allow-origin']).toBeUndefined();
    const pre = await closed.app.inject({ method: 'OPTIONS', url: '/api/patients', headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' } });
    expect(pre.headers['access-control-allow-origin']).toBeUndefined();
    const open = await h.gateway({ VITALS_CORS_ORIGINS: 'https://ward-display.example' });
    const ok = await open.app.inject({ url: '/api/patients', headers: { ...auth(nurse), origin: 'https://ward-display.example' } });
    expect(ok.headers['access-control-allow-origin']).toBe('https://ward-display.example');
    const evil = await open.app.inject({ url: '/api/patients', headers: { ...auth(nurse), origin: 'https://evil.example' } });
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('serves HTTPS and WSS with the configured certificate', async () => {
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
      keySize: 2048,
      algorithm: 'sha256',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }, { type: 2, value: 'localhost' }] }],
    });
    const cert = path.join(h.dataDir, 'tls.crt');
    const key = path.join(h.dataDir, 'tls.key');
    await writeFile(cert, pems.cert);
    await writeFile(key, pems.private, { mode: 0o600 });
    const gw = await h.gateway({ VITALS_HTTP_TLS_CERT: cert, VITALS_HTTP_TLS_KEY: key });
    expect(gw.url).toMatch(/^https:\/\//);
    const res = await new Promise<{ status: number; hsts: unknown; body: string }>((resolve, reject) => {
      https
        .get(`${gw.url}/api/patients`, { ca: pems.cert, headers: auth(nurse) }, (r) => {
          let body = '';
          r.on('data', (d) => (body += d));
          r.on('end', () => resolve({ status: r.statusCode ?? 0, hsts: r.headers['strict-transport-security'], body }));
        })
        .on('error', reject);
    });
    expect(res.status).toBe(200);
    expect(res.hsts).toContain('max-age=');
    // An untrusted client refuses the certificate: it really is TLS with this certificate.
    await expect(new Promise((resolve, reject) => https.get(`${gw.url}/healthz`, resolve).on('error', reject))).rejects.toThrow(/self-signed|self signed/);
    const c = await Client.open(gw.url, nurse, { ca: pems.cert });
    expect(c.ws.url).toMatch(/^wss:/);
    await c.waitFor('ready over wss', (m) => m.type === 'ready');
    c.close();
    // Plain HTTP on the TLS port gets nothing useful.
    await expect(fetch(gw.url.replace('https', 'http') + '/healthz')).rejects.toThrow();
  });

  it('accepts OIDC tokens from the configured issuer and refuses an expired one with 401', async () => {
    const kp = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(kp.publicKey)), kid: 'e1', alg: 'ES256' };
    const idp = http.createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(req.url === '/jwks' ? JSON.stringify({ keys: [jwk] }) : JSON.stringify({ issuer: 'x', jwks_uri: `http://127.0.0.1:${(idp.address() as AddressInfo).port}/jwks` }));
    });
    await new Promise<void>((r) => idp.listen(0, '127.0.0.1', r));
    const issuer = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
    try {
      const gw = await h.gateway({ VITALS_OIDC_ISSUER: issuer, VITALS_OIDC_AUDIENCE: 'vs', VITALS_OIDC_ROLE_CLAIM: 'groups', VITALS_OIDC_WARDS_CLAIM: 'ward_scope' });
      const sign = (exp: number) =>
        new SignJWT({ groups: ['clinician'], ward_scope: ['4B'] }).setProtectedHeader({ alg: 'ES256', kid: 'e1' }).setSubject('dr-who').setIssuer(issuer).setAudience('vs').setExpirationTime(exp).sign(kp.privateKey);
      const now = Math.floor(Date.now() / 1000);
      expect((await gw.app.inject({ url: '/api/patients', headers: auth(await sign(now + 60)) })).statusCode).toBe(200);
      const exp = await gw.app.inject({ url: '/api/patients', headers: auth(await sign(now - 120)) });
      expect(exp.statusCode).toBe(401);
      expect(exp.json().error).toEqual({ code: 'VTL_ERR_UNAUTHORIZED', message: 'Missing, invalid or expired credentials: token expired' });
      const c = await Client.open(gw.url, await sign(now - 120));
      expect((await c.waitClosed()).code).toBe(4401);
      // With OIDC, a token signed with the data-dir key is no credential, unless explicitly opted in.
      expect((await gw.app.inject({ url: '/api/patients', headers: auth(nurse) })).statusCode).toBe(401);
      expect(h.logLines.some((l) => l.includes('local HS256 tokens refused'))).toBe(true);
      const optIn = await h.gateway({ VITALS_OIDC_ISSUER: issuer, VITALS_OIDC_AUDIENCE: 'vs', VITALS_OIDC_ROLE_CLAIM: 'groups', VITALS_OIDC_WARDS_CLAIM: 'ward_scope', VITALS_LOCAL_TOKENS: 'on' });
      expect((await optIn.app.inject({ url: '/api/patients', headers: auth(nurse) })).statusCode).toBe(200);
      expect((await optIn.app.inject({ url: '/api/patients', headers: auth(await sign(now + 60)) })).statusCode).toBe(200);
    } finally {
      await new Promise<void>((r) => idp.close(() => r()));
    }
  });

  it('publishes an OpenAPI document built from the schemas that validate requests', async () => {
    const gw = await h.gateway();
    const doc = (await gw.app.inject({ url: '/docs/json' })).json();
    expect(doc.openapi).toMatch(/^3\./);
    for (const p of ['/api/patients', '/api/patients/{id}/vitals', '/api/patients/{id}/chart', '/api/alerts', '/api/alerts/{id}/ack', '/api/devices', '/fhir/Observation', '/fhir/metadata']) expect(Object.keys(doc.paths)).toContain(p);
    const put = doc.paths['/api/patients/{id}/chart'].put;
    expect(put.requestBody.content['application/json'].schema.properties.spo2Scale.enum).toEqual([1, 2]);
    // The same schema refuses scale 3.
    const bad = await gw.app.inject({ method: 'PUT', url: '/api/patients/P-1/chart', headers: auth(nurse), payload: { spo2Scale: 3 } });
    expect(bad.statusCode).toBe(400);
    const ui = await gw.app.inject({ url: '/docs/' });
    expect(ui.statusCode).toBe(200);
    expect(ui.headers['content-type']).toContain('text/html');
  });
});
