/** There is no Docker engine here: check the compose file and Dockerfile statically instead. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROLE_COMMANDS } from '../cli/main.js';
import { CONFIG_FIELDS } from '../platform/config.js';

const root = new URL('../', import.meta.url);
// merge: the roles share one `<<: *vitals` block, as compose itself reads it.
const compose = parse(readFileSync(new URL('docker-compose.yml', root), 'utf8'), { merge: true }) as {
  services: Record<string, { image?: string; build?: string; command?: string[]; environment?: Record<string, unknown> }>;
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

describe('Dockerfile', () => {
  const df = readFileSync(new URL('Dockerfile', root), 'utf8');
  it('builds one image whose entrypoint is the vitals CLI', () => {
    expect(df).toMatch(/ENTRYPOINT \["node", "dist\/cli\/main\.js"\]/);
  });
  it('ships what the roles read at run time', () => {
    for (const p of ['adapters/store/schema', 'stream-rules/default-rules.yaml', 'dashboard-gateway/web']) expect(df).toContain(p);
  });
});
