import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_DEFAULTS, CONFIG_FIELDS, describeConfig, loadConfig } from './config.js';

describe('loadConfig', () => {
  it('gives the documented defaults', () => {
    const r = loadConfig({});
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config).toMatchObject({ host: '127.0.0.1', mqttPort: 1883, httpPort: 8080, kafkaBrokers: null, clickhouseUrl: null, simPatients: 24 });
  });
  it('reads the environment, and flags win over it', () => {
    const r = loadConfig({ VITALS_HTTP_PORT: '9000', KAFKA_BROKERS: 'a:1, b:2', CLICKHOUSE_URL: 'http://u:secret@h:8123' }, { 'http-port': '9100' });
    expect(r.ok && r.config.httpPort).toBe(9100);
    expect(r.ok && r.config.kafkaBrokers).toEqual(['a:1', 'b:2']);
    expect(r.ok && describeConfig(r.config).clickhouseUrl).not.toContain('secret');
  });
  it('reports every problem at once', () => {
    const r = loadConfig({ VITALS_MQTT_PORT: '99999', VITALS_SIM_PATIENTS: '-3', CLICKHOUSE_URL: 'ftp://x', VITALS_LOG_LEVEL: 'loud' }, { 'http-port': 'eighty' });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toHaveLength(5);
    expect(r.errors.join('\n')).toMatch(/VITALS_MQTT_PORT.*99999/);
    expect(r.errors.join('\n')).toMatch(/--http-port.*eighty/);
  });
  it('sets the embedded DuckDB memory limit and threads, refusing values it cannot run with', () => {
    const d = loadConfig({});
    expect(d.ok && d.config).toMatchObject({ duckdbMemoryMb: 512, duckdbThreads: 1 });
    const r = loadConfig({ VITALS_DUCKDB_MEMORY_MB: '2048' }, { 'duckdb-threads': '2' });
    expect(r.ok && r.config).toMatchObject({ duckdbMemoryMb: 2048, duckdbThreads: 2 });
    const bad = loadConfig({ VITALS_DUCKDB_MEMORY_MB: '16', VITALS_DUCKDB_THREADS: '0' });
    expect(bad.ok).toBe(false);
    if (bad.ok) return;
    expect(bad.errors.join('\n')).toMatch(/VITALS_DUCKDB_MEMORY_MB/);
    expect(bad.errors.join('\n')).toMatch(/VITALS_DUCKDB_THREADS/);
  });
  it('an empty KAFKA_BROKERS means embedded', () => {
    const r = loadConfig({ KAFKA_BROKERS: '' });
    expect(r.ok && r.config.kafkaBrokers).toBeNull();
  });
  it('docs/configuration.md documents every setting', () => {
    const doc = readFileSync(new URL('../docs/configuration.md', import.meta.url), 'utf8');
    for (const f of CONFIG_FIELDS) {
      expect(doc).toContain(f.env);
      expect(doc).toContain(`--${f.flag}`);
    }
    expect(Object.keys(CONFIG_DEFAULTS).length).toBe(CONFIG_FIELDS.length);
  });
});
