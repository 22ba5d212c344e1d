/**
 * The clinician dashboard in a real browser (headless Chromium driven by playwright-core)
 * against the whole product in one process on embedded adapters, with simulated patients
 * over real MQTT. What a nurse would see: tiles fill, a deterioration raises an alert that
 * is listed and moves the patient to the top, an acknowledgement in one browser shows in
 * another, the patient view draws trends and takes an observation, another ward's nurse
 * sees none of it, and a server restart is shown as stale until the page has resumed.
 * Screenshots go to test-results/dashboard/.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import nodeHttp from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MqttClient } from 'mqtt';
import pino from 'pino';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTarget, type Running } from '../../cli/runtime.js';
import { loadConfig, type Config } from '../../platform/config.js';
import { createLogger } from '../../platform/log.js';
import { connectDevice, http, tempDir, tokenFor, waitFor } from './helpers.js';
import { freePort } from '../../platform/free-port.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const shots = path.join(root, 'test-results', 'dashboard');
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Debian's Chromium; installed here when missing and running as root, else a clear failure. */
function ensureChromium(): void {
  if (existsSync(CHROMIUM)) return;
  if (process.getuid?.() !== 0) throw new Error(`${CHROMIUM} is missing: install Debian's Chromium ("apt-get install -y chromium" as root) and run again`);
  // Wait for a dpkg lock held by another apt run (tests run in parallel) instead of failing at once.
  const lock = ['-o', 'DPkg::Lock::Timeout=300'];
  execFileSync('apt-get', [...lock, 'update', '-qq'], { stdio: 'inherit' });
  execFileSync('apt-get', [...lock, 'install', '-y', '-qq', 'chromium', 'fonts-dejavu-core'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (!existsSync(CHROMIUM)) throw new Error(`apt-get installed chromium but ${CHROMIUM} is still missing`);
}


// The callbacks given to page.evaluate run in the browser; this file is checked without the DOM lib.
declare const sessionStorage: { getItem(key: string): string | null };
declare function getComputedStyle(el: unknown): { animationName: string; outlineStyle: string };
interface CanvasLike {
  width: number;
  height: number;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null;
}

const DET = { deviceId: 'wb-det-1', patientId: 'MRN-DET-1', ward: '4B', bed: '9' };
const LONE = { deviceId: 'wb-lone-1', patientId: 'MRN-LONE-1', ward: '4B', bed: '10' };
const WARD_4B = ['SIM-0001', 'SIM-0003', 'SIM-0005'];
const WARD_5A = ['SIM-0002', 'SIM-0004', 'SIM-0006'];

describe('dashboard in a real browser', () => {
  let running: Running | null = null;
  let config: Config;
  let dataDir: string;
  let base: string;
  let browser: Browser;
  let device: MqttClient | null = null;
  const contexts: BrowserContext[] = [];
  const problems: string[] = [];
  let nurseA: Page;
  let nurseB: Page;
  let ackedId = '';

  const start = async (): Promise<void> => {
    const log = createLogger({ level: 'warn', destination: pino.destination({ write: () => true } as never) as never });
    running = await runTarget('all', config, log);
  };

  /** A fresh browser context (own storage), with page errors and CSP violations collected. */
  const newPage = async (name: string, viewport: { width: number; height: number }, opts: { reducedMotion?: 'reduce' | 'no-preference' } = {}): Promise<Page> => {
    const ctx = await browser.newContext({ viewport, reducedMotion: opts.reducedMotion ?? 'no-preference' });
    contexts.push(ctx);
    const page = await ctx.newPage();
    page.on('pageerror', (e) => problems.push(`${name}: page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/Failed to load resource.*(403|404)|WebSocket connection to .* failed|ERR_CONNECTION_REFUSED/.test(m.text())) problems.push(`${name}: console: ${m.text()}`);
    });
    return page;
  };

  const signIn = async (page: Page, token: string): Promise<void> => {
    await page.goto(base);
    await page.locator('#token-input').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#app').waitFor({ state: 'visible' });
    await page.locator('#conn[data-state="live"]').waitFor({ timeout: 20_000 });
  };

  /** The gateway's listening HTTP server in this process (test-only reach-in; see its use). */
  const findHttpServer = (port: number): nodeHttp.Server | null => {
    const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
    for (const h of handles) if (h instanceof nodeHttp.Server && (h.address() as net.AddressInfo | null)?.port === port) return h;
    return null;
  };

  const tileOrder = (page: Page): Promise<string[]> => page.locator('#tiles .tile:not([hidden])').evaluateAll((els) => els.map((e) => e.getAttribute('data-patient') ?? ''));

  beforeAll(async () => {
    ensureChromium();
    execFileSync(process.execPath, [path.join(root, 'dashboard-gateway/web/build.mjs')], { stdio: 'pipe' });
    await mkdir(shots, { recursive: true });
    dataDir = await tempDir('e2e-dashboard');
    const [httpPort, mqttPort] = [await freePort(), await freePort()];
    const cfg = loadConfig({ VITALS_DATA_DIR: dataDir, VITALS_HTTP_PORT: String(httpPort), VITALS_MQTT_PORT: String(mqttPort), VITALS_SIM_PATIENTS: '6' });
    if (!cfg.ok) throw new Error(cfg.errors.join('; '));
    config = cfg.config;
    await start();
    base = `http://127.0.0.1:${httpPort}`;
    // playwright's launch() gives Chromium a fresh, empty --user-data-dir of its own (removed on close);
    // each context below is isolated storage within it.
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  }, 600_000);

  afterAll(async () => {
    await device?.endAsync().catch(() => undefined);
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await running?.stop();
  });

  it('serves the page with a self-only CSP and no inline code', async () => {
    const res = await fetch(base);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    const html = await res.text();
    expect(html).not.toMatch(/<script>|<script(?![^>]*\bsrc=)[^>]*>|<style|\sstyle=|\son[a-z]+=/i);
    expect((await fetch(`${base}/assets/app.js`)).status).toBe(200);
    expect((await fetch(`${base}/assets/style.css`)).status).toBe(200);
    expect((await fetch(`${base}/assets/..%2Fpackage.json`)).status).toBe(404);
  });

  it('signs a nurse in and fills one tile per patient of her ward', async () => {
    nurseA = await newPage('nurse A', { width: 1280, height: 800 });
    // The sign-in page says where a token comes from.
    await nurseA.goto(base);
    expect(await nurseA.locator('#token-help').textContent()).toContain('npx vitals token --role nurse --ward 4B');
    await signIn(nurseA, await tokenFor(dataDir, 'nurse', ['4B'], 'nurse.amira'));
    for (const id of WARD_4B) await expect.poll(() => nurseA.locator(`.tile[data-patient="${id}"] [data-m="hr"] .v-val`).textContent(), { timeout: 20_000 }).toMatch(/^\d+$/);
    expect(await nurseA.locator('.tile').count()).toBe(3);
    for (const id of WARD_5A) expect(await nurseA.locator(`.tile[data-patient="${id}"]`).count()).toBe(0);
    // The simulator's nurse rounds chart ACVPU and air/O2: complete scores, nothing "missing".
    for (const id of WARD_4B) {
      const tile = nurseA.locator(`.tile[data-patient="${id}"]`);
      await expect.poll(() => tile.locator('.news-num').textContent(), { timeout: 60_000 }).toMatch(/^\d+$/);
      expect(await tile.locator('.news-missing').isVisible()).toBe(false);
    }
    await expect.poll(() => nurseA.locator('#conn-text').textContent()).toMatch(/^Live/);
    // Token kept for this tab only.
    expect(await nurseA.evaluate(() => sessionStorage.getItem('vitals.token'))).toBeTruthy();
    await nurseA.screenshot({ path: path.join(shots, '1-ward-calm-1280x800.png') });
  });

  it('a deterioration raises alerts that are listed, top the tiles and sound the banner', async () => {
    nurseB = await newPage('nurse B', { width: 1920, height: 1080 });
    await signIn(nurseB, await tokenFor(dataDir, 'nurse', ['4B'], 'nurse.ben'));
    const calm = await tileOrder(nurseA);
    expect(calm).toHaveLength(3);

    const admin = await tokenFor(dataDir, 'admin', ['*']);
    const created = await http(base, admin, 'POST', '/api/devices', DET);
    expect(created.status).toBe(201);
    device = await waitFor('device connect', () => connectDevice(config.mqttPort, DET.deviceId, created.json.token as string).catch(() => null));
    // Two and a half minutes of a clearly deteriorating patient, in event time, at 5 s intervals:
    // long enough for every delayed rule (2 min) and NEWS2 >= 7 (emergency response).
    const now = Date.now();
    const samples = Array.from({ length: 31 }, (_, i) => ({ ts: now - (30 - i) * 5000, hr: 130, spo2: 84, rr: 28, temp: 39.2, sbp: 88, dbp: 52 }));
    await device.publishAsync(`devices/${DET.deviceId}/vitals`, JSON.stringify({ samples }), { qos: 1 });

    const rows = nurseA.locator(`.alert-row:has(.ar-patient:text-is("${DET.patientId}"))`);
    await expect.poll(() => rows.count(), { timeout: 20_000 }).toBeGreaterThan(0);
    await expect.poll(() => nurseA.locator(`.alert-row[data-priority="high"]:has(.ar-patient:text-is("${DET.patientId}"))`).count(), { timeout: 20_000 }).toBeGreaterThan(0);
    await expect.poll(() => tileOrder(nurseA)).toEqual([DET.patientId, ...calm]);
    // Issue 14 item 7, as the nurse sees it: an alert whose message says NEWS2 emergency response is
    // shown high, and one shown high for NEWS2 says so (message and priority agree in the page).
    const news2Rows = async (): Promise<Array<{ msg: string; priority: string }>> =>
      rows.evaluateAll((els) => els.map((e) => ({ msg: e.querySelector('.ar-msg')?.textContent ?? '', priority: e.getAttribute('data-priority') ?? '' })).filter((r) => r.msg.startsWith('NEWS2')));
    await expect.poll(async () => (await news2Rows()).some((r) => /emergency response/.test(r.msg)), { timeout: 20_000 }).toBe(true);
    for (const r of await news2Rows()) expect(r.priority === 'high', `"${r.msg}" shown ${r.priority}`).toBe(/emergency response/.test(r.msg));
    const tile = nurseA.locator(`.tile[data-patient="${DET.patientId}"]`);
    expect(await tile.getAttribute('data-alert')).toBe('high');
    expect(await tile.getAttribute('data-unacked')).toBe('high');
    expect(await tile.locator('.tile-flag').textContent()).toContain('!!!');
    // The flag counts alerts per priority as the list shows them: "High alert ×2" only for two high ones.
    const perPriority = async (): Promise<Record<string, number>> => {
      const ps = await nurseA.locator(`.alert-row:has(.ar-patient:text-is("${DET.patientId}"))`).evaluateAll((els) => els.map((e) => e.getAttribute('data-priority') ?? ''));
      return { high: ps.filter((p) => p === 'high').length, medium: ps.filter((p) => p === 'medium').length, low: ps.filter((p) => p === 'low').length };
    };
    await expect
      .poll(async () => {
        const n = await perPriority();
        const flag = (await tile.locator('.flag-text').textContent()) ?? '';
        const high = /^High alert(?: ×(\d+))?/.exec(flag);
        const lower = (p: string): number => Number(new RegExp(`\\+ (\\d+) ${p}`).exec(flag)?.[1] ?? 0);
        return { high: high ? Number(high[1] ?? 1) : 0, medium: lower('medium'), low: lower('low'), list: n };
      })
      .toSatisfy((x: { high: number; medium: number; low: number; list: Record<string, number> }) => x.high === x.list.high && x.medium === x.list.medium && x.low === x.list.low);
    // NEWS2 shown as a lower bound with what is missing (no ACVPU, no air/O2 reading yet).
    await expect.poll(() => tile.locator('.news-num').textContent()).toMatch(/^≥\d+$/);
    expect(await tile.locator('.news-missing').textContent()).toMatch(/ACVPU/);
    expect(await tile.locator('.news-band').textContent()).toContain('High');
    const banner = nurseA.locator('#high-banner');
    await banner.waitFor({ state: 'visible' });
    expect(await banner.textContent()).toContain(DET.patientId);
    expect(await banner.evaluate((el) => getComputedStyle(el).animationName)).toBe('banner-pulse');
    await expect.poll(() => nurseA.title()).toMatch(/High alert/);
    // The second nurse sees the same.
    await expect.poll(() => nurseB.locator(`.alert-row:has(.ar-patient:text-is("${DET.patientId}"))`).count()).toBe(await rows.count());
    // The batch's newest sample (stamped now) arrives last: the tile is current again.
    await expect.poll(() => tile.locator('.age').textContent()).toMatch(/^Updated/);
    await nurseA.screenshot({ path: path.join(shots, '2-ward-alert-1280x800.png') });
    await nurseB.screenshot({ path: path.join(shots, '2-ward-alert-1920x1080.png') });

    // Reduced motion: the same urgency without animation.
    const still = await newPage('reduced motion', { width: 1280, height: 800 }, { reducedMotion: 'reduce' });
    await signIn(still, await tokenFor(dataDir, 'nurse', ['4B'], 'nurse.cleo'));
    await still.locator('#high-banner').waitFor({ state: 'visible' });
    expect(await still.locator('#high-banner').evaluate((el) => getComputedStyle(el).animationName)).toBe('none');
    const stillTile = still.locator(`.tile[data-patient="${DET.patientId}"]`);
    await expect.poll(() => stillTile.getAttribute('data-unacked')).toBe('high');
    expect(await stillTile.evaluate((el) => [getComputedStyle(el).animationName, getComputedStyle(el).outlineStyle])).toEqual(['none', 'double']);
  }, 120_000);

  it('an acknowledgement in one browser shows in the other, with who and when', async () => {
    const rowA = nurseA.locator(`.alert-row[data-state="open"]:has(.ar-patient:text-is("${DET.patientId}"))`).first();
    ackedId = (await rowA.getAttribute('data-alert-id')) ?? '';
    expect(ackedId).not.toBe('');
    await rowA.getByRole('button', { name: /Acknowledge/ }).click();
    const rowB = nurseB.locator(`.alert-row[data-alert-id="${ackedId}"]`);
    await expect.poll(() => rowB.getAttribute('data-state'), { timeout: 15_000 }).toBe('acknowledged');
    expect(await rowB.locator('.ar-state').textContent()).toMatch(/^Acknowledged by nurse\.amira at \d\d:\d\d/);
    expect(await rowB.locator('button.ack').isVisible()).toBe(false);
    await expect.poll(() => nurseA.locator(`.alert-row[data-alert-id="${ackedId}"]`).getAttribute('data-state')).toBe('acknowledged');
    await nurseB.screenshot({ path: path.join(shots, '3-acknowledged-1920x1080.png') });
  });

  it('the patient view opens from the keyboard, draws trends and records an observation', async () => {
    const nurse = await tokenFor(dataDir, 'nurse', ['4B']);
    await waitFor('history in the store', async () => {
      const r = await http(base, nurse, 'GET', `/api/patients/${DET.patientId}/vitals?metric=hr&step=raw`);
      return r.status === 200 && r.json.points.length > 0;
    }, 30_000);
    await nurseA.locator(`.tile[data-patient="${DET.patientId}"]`).focus();
    await nurseA.keyboard.press('Enter');
    await nurseA.locator('#patient-view').waitFor({ state: 'visible' });
    expect(await nurseA.locator('.pv-title').textContent()).toBe(DET.patientId);
    for (const key of ['hr', 'spo2', 'rr', 'temp', 'bp']) {
      const chart = nurseA.locator(`.chart[data-chart="${key}"]`);
      await expect.poll(async () => Number(await chart.getAttribute('data-count')), { timeout: 15_000 }).toBeGreaterThan(0);
      // The canvas has drawn pixels of the series colour, not just an empty frame.
      const painted = await chart.locator('canvas').evaluate((el) => {
        const c = el as unknown as CanvasLike;
        const d = c.getContext('2d')?.getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        if (d) for (let i = 0; i < d.length; i += 4) if ((d[i + 3] ?? 0) > 0) n++;
        return { n, w: c.width, h: c.height };
      });
      expect(painted.w).toBeGreaterThan(200);
      expect(painted.n).toBeGreaterThan(200);
    }
    await nurseA.screenshot({ path: path.join(shots, '4-patient-1280x800.png'), fullPage: true });

    await nurseA.getByLabel('A · Alert').check();
    await nurseA.getByLabel('Air').check();
    await nurseA.getByRole('spinbutton', { name: /^Systolic/ }).fill('120');
    await nurseA.getByRole('spinbutton', { name: /^Diastolic/ }).fill('80');
    await nurseA.getByRole('button', { name: 'Record observation' }).click();
    await expect.poll(() => nurseA.locator('.obs-status').textContent()).toMatch(/^Recorded at/);
    await expect.poll(() => nurseA.locator('.pv-current-line').textContent(), { timeout: 15_000 }).toContain('BP 120/80');
    // With ACVPU and air/O2 recorded the score is complete: no lower bound any more.
    await expect.poll(() => nurseA.locator('.pv-news').textContent(), { timeout: 15_000 }).toMatch(/NEWS2 \d+ ·/);
    await nurseA.keyboard.press('Escape');
    await nurseA.locator('#ward-view').waitFor({ state: 'visible' });
    await expect.poll(() => nurseA.locator(`.tile[data-patient="${DET.patientId}"] [data-m="bp"] .v-val`).textContent()).toBe('120/80');
  });

  it('patient view charts fill the screen, label the y axis and draw a single reading visibly (1920x1080, 800x1280)', async () => {
    const admin = await tokenFor(dataDir, 'admin', ['*']);
    const created = await http(base, admin, 'POST', '/api/devices', LONE);
    expect(created.status).toBe(201);
    const lone = await waitFor('lone device connect', () => connectDevice(config.mqttPort, LONE.deviceId, created.json.token as string).catch(() => null));
    await lone.publishAsync(`devices/${LONE.deviceId}/vitals`, JSON.stringify({ ts: Date.now() - 60_000, hr: 84, spo2: 96, rr: 17, temp: 37.4, sbp: 128, dbp: 79 }), { qos: 1 });
    await lone.endAsync();
    const nurse = await tokenFor(dataDir, 'nurse', ['4B']);
    await waitFor('lone reading in the store', async () => (await http(base, nurse, 'GET', `/api/patients/${LONE.patientId}/vitals?metric=temp&step=raw`)).json?.points?.length > 0, 30_000);

    const views: Array<[number, number]> = [[1920, 1080], [800, 1280]];
    for (const [width, height] of views) {
      const page = await newPage(`patient ${width}x${height}`, { width, height });
      await signIn(page, await tokenFor(dataDir, 'nurse', ['4B'], `nurse.${width}`));
      for (const [id, shot] of [[DET.patientId, 'deteriorating'], [LONE.patientId, 'single-reading']] as const) {
        await page.goto(`${base}/#/patient/${encodeURIComponent(id)}`);
        await page.locator('#patient-view').waitFor({ state: 'visible' });
        await expect.poll(() => page.locator('.pv-title').textContent()).toBe(id);
        // The previous patient's charts stay until this one's history arrives.
        if (id === LONE.patientId) await expect.poll(() => page.locator('.chart[data-chart="temp"]').getAttribute('data-count'), { timeout: 15_000 }).toBe('1');
        for (const key of ['hr', 'spo2', 'rr', 'temp', 'bp']) await expect.poll(async () => Number(await page.locator(`.chart[data-chart="${key}"]`).getAttribute('data-count')), { timeout: 15_000 }).toBeGreaterThan(0);
        // Laid out after the data: wait until the plots stopped resizing.
        await page.waitForTimeout(300);
        await page.screenshot({ path: path.join(shots, `7-patient-${shot}-${width}x${height}.png`), fullPage: width <= 1000 });
        const geo = await page.locator('.chart').evaluateAll((els) =>
          els.map((el) => {
            const c = el.querySelector('canvas') as unknown as { getBoundingClientRect(): { height: number } } | null;
            const r = (el as unknown as { getBoundingClientRect(): { top: number; bottom: number } }).getBoundingClientRect();
            return { top: r.top, bottom: r.bottom, canvas: c?.getBoundingClientRect().height ?? 0, yticks: Number(el.getAttribute('data-yticks') ?? 0) };
          }),
        );
        expect(geo).toHaveLength(5);
        for (const g of geo) {
          // Was 150 px; now at least 200 px of plot, with a round label about every 40 px (never fewer than 4).
          expect(g.canvas, `${width}x${height} ${id}`).toBeGreaterThanOrEqual(200);
          expect(g.yticks, `${width}x${height} ${id}`).toBeGreaterThanOrEqual(4);
          expect(g.yticks).toBeGreaterThanOrEqual(Math.floor(g.canvas / 60));
        }
        const bottom = Math.max(...geo.map((g) => g.bottom));
        const top = Math.min(...geo.map((g) => g.top));
        // The charts take the room below the header: on the desktop they end near the bottom edge without
        // overflowing it; on the portrait tablet they fill at least the rest of the screen (the page scrolls).
        if (width > 1000) {
          expect(bottom).toBeLessThanOrEqual(height);
          expect(bottom).toBeGreaterThan(height * 0.9);
        } else expect(bottom - top).toBeGreaterThanOrEqual((height - top) * 0.9);
        if (id === LONE.patientId) {
          // One temperature reading: a ringed dot (r 6 px) with its value; uPlot's 5 px point was under 20 px of the colour.
          const temp = page.locator('.chart[data-chart="temp"]');
          expect(await temp.getAttribute('data-count')).toBe('1');
          const painted = await temp.locator('canvas').evaluate((el) => {
            const c = el as unknown as CanvasLike;
            const d = c.getContext('2d')?.getImageData(0, 0, c.width, c.height).data;
            let n = 0;
            // #ffa6d1, the temperature series colour.
            if (d) for (let i = 0; i < d.length; i += 4) if (Math.abs((d[i] ?? 0) - 0xff) < 8 && Math.abs((d[i + 1] ?? 0) - 0xa6) < 8 && Math.abs((d[i + 2] ?? 0) - 0xd1) < 8) n++;
            return n;
          });
          expect(painted).toBeGreaterThan(45);
        }
      }
    }
  });

  it('a nurse of another ward sees none of it', async () => {
    const other = await newPage('nurse 5A', { width: 800, height: 1280 });
    await signIn(other, await tokenFor(dataDir, 'nurse', ['5A'], 'nurse.dora'));
    await expect.poll(() => other.locator('.tile').count(), { timeout: 20_000 }).toBe(3);
    expect((await tileOrder(other)).sort()).toEqual(WARD_5A);
    expect(await other.locator(`.tile[data-patient="${DET.patientId}"]`).count()).toBe(0);
    expect(await other.locator(`.alert-row:has(.ar-patient:text-is("${DET.patientId}"))`).count()).toBe(0);
    expect(await other.locator('#high-banner').isVisible()).toBe(false);
    expect(await other.locator('body').textContent()).not.toContain(DET.patientId);
    await other.screenshot({ path: path.join(shots, '5-other-ward-800x1280.png') });
    // Even by address: the patient view shows nothing of that patient.
    await other.goto(`${base}/#/patient/${DET.patientId}`);
    await other.locator('#patient-view').waitFor({ state: 'visible' });
    await other.locator('#toast').waitFor({ state: 'visible' });
    for (const key of ['hr', 'spo2', 'rr', 'temp', 'bp']) expect(await other.locator(`.chart[data-chart="${key}"]`).getAttribute('data-count')).toBe('0');
    expect(await other.locator('.pv-alerts li').count()).toBe(0);
  });

  it('says the view is stale while the server is away, then reconnects, re-subscribes and resumes', async () => {
    const sent: string[] = [];
    nurseB.on('websocket', (ws) => ws.on('framesent', (f) => sent.push(typeof f.payload === 'string' ? f.payload : f.payload.toString())));
    await device?.endAsync().catch(() => undefined);
    device = null;
    const t0 = Date.now();
    const gatewayServer = findHttpServer(config.httpPort);
    const stopping = running?.stop();
    // Chromium keeps pre-opened sockets that never send a request; the gateway's HTTP server waits
    // for them on close (up to headersTimeout, 60 s). Until the gateway force-closes connections
    // on stop, cut them here so the restart is quick.
    const cut = setInterval(() => gatewayServer?.closeAllConnections(), 200);
    await stopping;
    clearInterval(cut);
    running = null;
    const stopMs = Date.now() - t0;
    await nurseB.locator('#conn[data-state="down"]').waitFor({ timeout: 15_000 });
    await nurseB.locator('#stale-banner').waitFor({ state: 'visible' });
    expect(await nurseB.locator('#stale-text').textContent()).toMatch(/Connection lost at \d\d:\d\d:\d\d\. Values on screen are from/);
    expect(await nurseB.locator('#app').getAttribute('data-stale')).toBe('true');
    await nurseB.screenshot({ path: path.join(shots, '6-disconnected-1920x1080.png') });

    await start();
    await nurseB.locator('#conn[data-state="live"]').waitFor({ timeout: 60_000 });
    expect(stopMs).toBeLessThan(15_000);
    expect(await nurseB.locator('#stale-banner').isVisible()).toBe(false);
    const ops = sent.map((s) => JSON.parse(s) as { op: string; since?: number; wards?: string[] });
    expect(ops.map((o) => o.op)).toEqual(expect.arrayContaining(['auth', 'subscribe', 'resume']));
    expect(ops.find((o) => o.op === 'subscribe')?.wards).toEqual(['4B']);
    expect(ops.find((o) => o.op === 'resume')?.since).toBeGreaterThan(0);
    // The acknowledged alert is still shown as acknowledged after the resume.
    await expect.poll(() => nurseB.locator(`.alert-row[data-alert-id="${ackedId}"]`).getAttribute('data-state')).toBe('acknowledged');
  }, 180_000);

  it('logs out and forgets the token', async () => {
    await nurseB.getByRole('button', { name: 'Log out' }).click();
    await nurseB.locator('#login').waitFor({ state: 'visible' });
    expect(await nurseB.evaluate(() => sessionStorage.getItem('vitals.token'))).toBeNull();
    expect(await nurseB.locator('.tile').count()).toBe(0);
  });

  it('had no page errors and no CSP violations', () => {
    expect(problems).toEqual([]);
  });
});
