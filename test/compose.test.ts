/**
 * There is no Docker engine here, and no compose plugin (`docker compose config` is not a command
 * of this docker CLI): the compose file is validated by Debian's docker-compose (1.29, the Compose
 * schema without an engine), the file and Dockerfile are checked statically, and the Prometheus
 * config and the dashboard's queries with Prometheus's own promtool.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { ROLE_COMMANDS } from '../cli/main.js';
import { CONFIG_DEFAULTS, CONFIG_FIELDS, OPS_PORT_DEFAULTS } from '../platform/config.js';
import { findHaproxy, haproxyCheck } from './haproxy.js';
import { findPromtool, promtool } from './promtool.js';

const root = new URL('../', import.meta.url);
// merge: the roles share one `<<: *vitals` block, as compose itself reads it.
const compose = parse(readFileSync(new URL('docker-compose.yml', root), 'utf8'), { merge: true }) as {
  services: Record<
    string,
    { image?: string; build?: string; command?: string[]; environment?: Record<string, unknown>; volumes?: string[]; ports?: string[]; expose?: string[]; container_name?: string; healthcheck?: { test: string[] }; depends_on?: unknown }
  >;
  volumes: Record<string, unknown>;
};

/** The roles `docker compose up --scale` may run several of. */
const SCALED = ['ingest', 'rules', 'sink', 'gateway'];
/** Where a role serves /healthz, /readyz and /metrics: its ops port, the gateway's HTTP port. */
const opsPortOf = (role: string): number => OPS_PORT_DEFAULTS[role] ?? CONFIG_DEFAULTS.httpPort;

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
    // The product's settings, and Node's own options (docs/configuration.md).
    const known = new Set([...CONFIG_FIELDS.map((f) => f.env), 'NODE_OPTIONS']);
    for (const [name, s] of Object.entries(compose.services)) {
      if (!s.build) continue;
      for (const k of Object.keys(s.environment ?? {})) expect(known.has(k), `${name}: ${k}`).toBe(true);
    }
  });
});

const haproxyFile = 'infra/haproxy/haproxy.cfg';
const haproxyCfg = readFileSync(new URL(haproxyFile, root), 'utf8');
const haproxyBin = findHaproxy();

describe('docker compose up --scale rules=3 --scale ingest=2 --scale gateway=2', () => {
  it('scaled roles publish no host port and take no fixed container name', () => {
    for (const name of SCALED) {
      const s = compose.services[name];
      expect(s, name).toBeDefined();
      expect(s?.ports, `${name}: a host port binds once, so a second instance cannot start`).toBeUndefined();
      expect(s?.container_name, `${name}: a fixed name allows one container`).toBeUndefined();
    }
  });
  it('every role exposes its ops port and its healthcheck probes /readyz there', () => {
    for (const name of SCALED) {
      const port = opsPortOf(name);
      expect(compose.services[name]?.expose, name).toContain(String(port));
      expect(compose.services[name]?.healthcheck?.test.join(' '), name).toContain(`http://127.0.0.1:${port}/readyz`);
    }
    // The compose environment does not override the ops ports the scrape and checks expect.
    for (const [name, s] of Object.entries(compose.services)) expect(s.environment?.VITALS_OPS_PORT, name).toBeUndefined();
  });
  it('lb runs the official HAProxy image with infra/haproxy/haproxy.cfg and is the only way in to ingest and the gateways', () => {
    const lb = compose.services.lb;
    expect(lb?.image).toMatch(/^haproxy:\d+\.\d+(\.\d+)?$/);
    expect(lb?.volumes).toContain(`./${haproxyFile}:/usr/local/etc/haproxy/haproxy.cfg:ro`);
    expect(lb?.ports?.sort()).toEqual([`${CONFIG_DEFAULTS.httpPort}:${CONFIG_DEFAULTS.httpPort}`, `${CONFIG_DEFAULTS.mqttPort}:${CONFIG_DEFAULTS.mqttPort}`].sort());
    expect(compose.services.sim?.environment?.VITALS_SIM_MQTT_URL).toBe(`mqtt://lb:${CONFIG_DEFAULTS.mqttPort}`);
    expect(compose.services.sim?.environment?.VITALS_SIM_API_URL).toBe(`http://lb:${CONFIG_DEFAULTS.httpPort}`);
  });
  it('haproxy.cfg finds each role through Docker DNS on the ports the roles listen on, checking /readyz', () => {
    const binds = [...haproxyCfg.matchAll(/^\s+bind :(\d+)$/gm)].map((m) => m[1]);
    expect(binds.sort()).toEqual((compose.services.lb?.ports ?? []).map((p) => p.split(':')[1]).sort());
    expect(haproxyCfg).toMatch(/^\s+parse-resolv-conf$/m);
    const templates = [...haproxyCfg.matchAll(/^\s+server-template (\S+) (\d+) ([a-z]+):(\d+)(.*)$/gm)].map((m) => ({ service: m[3] ?? '', port: Number(m[4]), rest: m[5] ?? '', slots: Number(m[2]) }));
    expect(templates.map((t) => t.service).sort()).toEqual(['gateway', 'ingest']);
    const listens: Record<string, number> = { ingest: CONFIG_DEFAULTS.mqttPort, gateway: CONFIG_DEFAULTS.httpPort };
    for (const t of templates) {
      expect(compose.services[t.service]?.expose, t.service).toContain(String(t.port));
      expect(t.port, t.service).toBe(listens[t.service]);
      expect(t.slots, `${t.service}: room to scale`).toBeGreaterThanOrEqual(4);
      // Checks hit /readyz (option httpchk in each backend) on the role's ops port.
      const checkPort = /check port (\d+)/.exec(t.rest)?.[1];
      expect(Number(checkPort ?? t.port), t.service).toBe(opsPortOf(t.service));
    }
    expect([...haproxyCfg.matchAll(/^\s+option httpchk GET \/readyz$/gm)]).toHaveLength(2);
    // lb tells ingest each device's address (PROXY protocol), and only ingest expects the header.
    expect(templates.find((t) => t.service === 'ingest')?.rest).toContain('send-proxy-v2');
    expect(templates.find((t) => t.service === 'gateway')?.rest).not.toContain('send-proxy');
    expect(compose.services.ingest?.environment?.VITALS_MQTT_PROXY_PROTOCOL).toBe('on');
    expect(haproxyCfg).toMatch(/default-server [^\n]*resolvers docker/);
  });
  it.runIf(haproxyBin)('haproxy -c accepts the config', () => {
    const r = haproxyCheck(haproxyBin!, new URL(haproxyFile, root).pathname);
    expect(r.ok, r.output).toBe(true);
    expect(r.output).toContain('Configuration file is valid');
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
  it('Prometheus finds every instance of each role by DNS and scrapes it on its ops port', () => {
    const file = bind('prometheus', '/etc/prometheus/prometheus.yml');
    const prom = parse(readFileSync(new URL(file, root), 'utf8')) as {
      scrape_configs: Array<{ metrics_path?: string; static_configs?: unknown; dns_sd_configs?: Array<{ names: string[]; type: string; port: number }> }>;
    };
    const targets = prom.scrape_configs.flatMap((c) => {
      expect(c.static_configs, 'a fixed target would miss scaled instances').toBeUndefined();
      return (c.dns_sd_configs ?? []).flatMap((d) => d.names.map((name) => ({ name, type: d.type, port: d.port, path: c.metrics_path ?? '/metrics' })));
    });
    expect(targets.map((t) => t.name).sort()).toEqual([...SCALED].sort());
    for (const t of targets) {
      expect(t, t.name).toEqual({ name: t.name, type: 'A', port: opsPortOf(t.name), path: '/metrics' });
      expect(compose.services[t.name]?.expose, `${t.name} exposes ${t.port}`).toContain(String(t.port));
    }
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

describe('docker-compose config', () => {
  // Debian's docker-compose 1.29 (.ci/run installs it) validates against the Compose schema offline. It
  // predates the top-level `name` key of the Compose Specification, so that one line is left out of its copy.
  const hasV1 = spawnSync('docker-compose', ['version', '--short'], { encoding: 'utf8' }).status === 0;
  it.skipIf(!hasV1)('the file is valid and defines every role, the balancer, Prometheus and Grafana', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'vitals-compose-'));
    const text = readFileSync(new URL('docker-compose.yml', root), 'utf8');
    expect(text).toMatch(/^name: vitalstream$/m);
    const file = path.join(dir, 'docker-compose.yml');
    await writeFile(file, text.replace(/^name: .*$/m, ''));
    // Relative paths (build context, mounted configs) resolve against the real checkout.
    const r = spawnSync('docker-compose', ['-f', file, '--project-directory', new URL('.', root).pathname, 'config', '--services'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const services = r.stdout.split('\n').filter(Boolean);
    for (const s of ['kafka', 'clickhouse', 'ingest', 'rules', 'sink', 'gateway', 'lb', 'prometheus', 'grafana']) expect(services).toContain(s);
    // And an invalid file is refused (the check can fail).
    await writeFile(file, text.replace(/^name: .*$/m, '').replace(/^services:$/m, 'services:\n  broken:\n    ports: 7'));
    expect(spawnSync('docker-compose', ['-f', file, 'config', '-q'], { encoding: 'utf8' }).status).not.toBe(0);
  });
});

describe('Dockerfile', () => {
  const df = readFileSync(new URL('Dockerfile', root), 'utf8');
  it('builds one image whose entrypoint is the vitals CLI', () => {
    expect(df).toMatch(/ENTRYPOINT \["node", "--max-semi-space-size=64", "--heap-growing-percent=50", "dist\/cli\/main\.js"\]/);
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
