/**
 * There is no Docker engine here, and no compose plugin (`docker compose config` is not a command
 * of this docker CLI): the compose file and Dockerfile are checked statically instead, and the
 * Prometheus config and the dashboard's queries with Prometheus's own promtool.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { ROLE_COMMANDS } from '../cli/main.js';
import { CONFIG_DEFAULTS, CONFIG_FIELDS } from '../platform/config.js';
import { findPromtool, promtool } from './promtool.js';

const root = new URL('../', import.meta.url);
// merge: the roles share one `<<: *vitals` block, as compose itself reads it.
const compose = parse(readFileSync(new URL('docker-compose.yml', root), 'utf8'), { merge: true }) as {
  services: Record<string, { image?: string; build?: string; command?: string[]; environment?: Record<string, unknown>; volumes?: string[]; ports?: string[]; depends_on?: unknown }>;
  volumes: Record<string, unknown>;
};

describe('docker-compose.yml', () => {
  it('runs Kafka in KRaft mode and a current ClickHouse', () => {
    const kafka = compose.services.kafka;
    expect(kafka?.image).toMatch(/^apache\/kafka:3\.9/);
    expect(kafka?.environment?.KAFKA_PROCESS_ROLES).toBe('broker,controller');
    const ch = compose.services.clickhouse?.image ?? '';
    const major = Number(/clickhouse-server:(\d+)/.exec(ch)?.[1]);
    expect(major).toBeGreaterThanOrEqual(24);
  });
  it('runs every role as its own service, each command a real vitals subcommand', () => {
    const roles = Object.entries(compose.services).filter(([, s]) => s.build);
    expect(roles.map(([n]) => n).sort()).toEqual(['gateway', 'ingest', 'rules', 'sim', 'sink']);
    for (const [name, s] of roles) {
      const cmd = s.command?.[0];
      expect(cmd, name).toBeDefined();
      expect(Object.keys(ROLE_COMMANDS), name).toContain(cmd);
    }
  });
  it('sets only configuration variables the product knows', () => {
    const known = new Set(CONFIG_FIELDS.map((f) => f.env));
    for (const [name, s] of Object.entries(compose.services)) {
      if (!s.build) continue;
      for (const k of Object.keys(s.environment ?? {})) expect(known.has(k), `${name}: ${k}`).toBe(true);
    }
  });
});

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: Array<{ expr: string; datasource: { uid: string } }>;
}
const dashboardFile = 'infra/grafana/dashboards/vitalstream.json';
const dashboard = JSON.parse(readFileSync(new URL(dashboardFile, root), 'utf8')) as { uid: string; panels: Panel[] };
const queries = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
const promtoolBin = findPromtool();

describe('observability in docker-compose.yml', () => {
  const bind = (service: string, target: string): string => {
    const v = compose.services[service]?.volumes?.find((x) => x.split(':')[1] === target);
    expect(v, `${service} mounts ${target}`).toBeDefined();
    const src = (v ?? '').split(':')[0] ?? '';
    expect(existsSync(new URL(src, root)), `${src} exists`).toBe(true);
    return src;
  };
  it('runs Prometheus and Grafana from pinned images, with their named volumes declared', () => {
    expect(compose.services.prometheus?.image).toMatch(/^prom\/prometheus:v\d+\.\d+\.\d+$/);
    expect(compose.services.grafana?.image).toMatch(/^grafana\/grafana:\d+\.\d+\.\d+$/);
    for (const s of ['prometheus', 'grafana']) {
      for (const v of compose.services[s]?.volumes ?? []) {
        const src = v.split(':')[0] ?? '';
        if (!src.startsWith('.')) expect(Object.keys(compose.volumes), `${s}: volume ${src}`).toContain(src);
      }
    }
  });
  it("Prometheus scrapes the gateway's /metrics at the port the gateway listens on", () => {
    const file = bind('prometheus', '/etc/prometheus/prometheus.yml');
    const prom = parse(readFileSync(new URL(file, root), 'utf8')) as { scrape_configs: Array<{ metrics_path?: string; static_configs: Array<{ targets: string[] }> }> };
    const targets = prom.scrape_configs.flatMap((c) => c.static_configs.flatMap((sc) => sc.targets.map((t) => ({ t, path: c.metrics_path ?? '/metrics' }))));
    expect(targets).toContainEqual({ t: `gateway:${CONFIG_DEFAULTS.httpPort}`, path: '/metrics' });
    for (const { t } of targets) expect(Object.keys(compose.services), t).toContain(t.split(':')[0]);
    expect(compose.services.prometheus?.command).toContain('--config.file=/etc/prometheus/prometheus.yml');
  });
  it('Grafana provisions the Prometheus datasource and the dashboard from the mounted folders', () => {
    const prov = bind('grafana', '/etc/grafana/provisioning');
    const dashDir = bind('grafana', '/var/lib/grafana/dashboards');
    const ds = parse(readFileSync(new URL(`${prov}/datasources/prometheus.yml`, root), 'utf8')) as { datasources: Array<{ uid: string; type: string; url: string }> };
    expect(ds.datasources).toEqual([expect.objectContaining({ type: 'prometheus', url: 'http://prometheus:9090' })]);
    const providers = parse(readFileSync(new URL(`${prov}/dashboards/vitalstream.yml`, root), 'utf8')) as { providers: Array<{ options: { path: string } }> };
    expect(providers.providers[0]?.options.path).toBe('/var/lib/grafana/dashboards');
    expect(path.join(dashDir, 'vitalstream.json')).toBe(dashboardFile);
    const home = String(compose.services.grafana?.environment?.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH);
    expect(home).toBe('/var/lib/grafana/dashboards/vitalstream.json');
    // Every query goes to the provisioned datasource.
    const uid = ds.datasources[0]?.uid;
    for (const p of dashboard.panels.filter((x) => x.type !== 'row')) {
      expect(p.datasource?.uid, p.title).toBe(uid);
      for (const t of p.targets ?? []) expect(t.datasource.uid, p.title).toBe(uid);
    }
  });
  it('the dashboard shows ingest rate and rejections, consumer lag, alert latency, WebSocket clients and store insert latency', () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const metric of [
      'vitals_ingest_samples_total',
      'vitals_ingest_rejected_total',
      'vitals_bus_consumer_lag',
      'vitals_alert_latency_seconds_bucket',
      'vitals_gateway_ws_clients',
      'vitals_sink_insert_seconds_bucket',
    ])
      expect(queries.some((q) => q.includes(metric)), metric).toBe(true);
    // Panels never overlap on the 24-column grid.
    const cells = new Set<string>();
    for (const p of dashboard.panels)
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++)
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          expect(cells.has(`${x},${y}`), `${p.title} overlaps at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
  });
  it.runIf(promtoolBin)('promtool accepts the scrape config and every dashboard query', async () => {
    const bin = promtoolBin ?? '';
    const cfg = promtool(bin, ['check', 'config', '--syntax-only', new URL('infra/prometheus/prometheus.yml', root).pathname]);
    expect(cfg.ok, cfg.output).toBe(true);
    // The queries as recording rules: promtool parses each one as PromQL.
    const dir = await mkdtemp(path.join(os.tmpdir(), 'vitals-promql-'));
    const rules = { groups: [{ name: 'dashboard', rules: queries.map((expr, i) => ({ record: `dashboard:query_${i}`, expr })) }] };
    await writeFile(path.join(dir, 'rules.yml'), stringify(rules));
    const r = promtool(bin, ['check', 'rules', path.join(dir, 'rules.yml')]);
    expect(r.ok, r.output).toBe(true);
    expect(r.output).toContain(`${queries.length} rules found`);
  });
});

describe('Dockerfile', () => {
  const df = readFileSync(new URL('Dockerfile', root), 'utf8');
  it('builds one image whose entrypoint is the vitals CLI', () => {
    expect(df).toMatch(/ENTRYPOINT \["node", "dist\/cli\/main\.js"\]/);
  });
  it('runs on Node 24, the LTS the project targets (package.json engines, .nvmrc, .ci/run)', () => {
    expect([...df.matchAll(/^FROM (\S+)/gm)].map((m) => m[1])).toEqual(['node:24-bookworm-slim', 'node:24-bookworm-slim']);
    const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { engines: { node: string } };
    expect(pkg.engines.node).toBe('^22.18.0 || >=24.2.0');
    expect(readFileSync(new URL('.nvmrc', root), 'utf8').trim()).toBe('24');
    const ci = readFileSync(new URL('.ci/run', root), 'utf8');
    expect(ci).toMatch(/^npm test$/m);
    expect(ci).toMatch(/^PATH="\$PWD\/\$node24_dir\/node_modules\/\.bin:\$PATH" npm test$/m);
    expect(ci).toContain('@24"');
  });
  it('ships what the roles read at run time', () => {
    for (const p of ['adapters/store/schema', 'stream-rules/default-rules.yaml', 'dashboard-gateway/web']) expect(df).toContain(p);
  });
});
