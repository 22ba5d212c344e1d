/**
 * Configuration from environment and flags, validated at start with every
 * problem reported at once (a bad config never half-starts).
 */
import path from 'node:path';

export interface Config {
  host: string;
  mqttPort: number;
  httpPort: number;
  dataDir: string;
  /** null: embedded in-process bus. */
  kafkaBrokers: string[] | null;
  /** Namespace for topics and consumer groups on a shared Kafka ('' = none). */
  topicPrefix: string;
  /** Idempotent Kafka producers per process (records routed by key hash; ADR 0020). */
  kafkaProducers: number;
  /** null: embedded DuckDB store. */
  clickhouseUrl: string | null;
  clickhouseDatabase: string;
  simPatients: number;
  /** Sim playback speed (event time / wall time). */
  simSpeed: number;
  simScenario: string | null;
  /** Where the simulator's devices connect; null: mqtt://host:mqttPort. */
  simMqttUrl: string | null;
  /** Where the simulator provisions its devices; null: http://host:httpPort. */
  simApiUrl: string | null;
  /** Sim: seed of the virtual patients (same seed, same patients). */
  simSeed: number;
  /** Sim: HR/SpO2 messages per second per device. */
  simRate: number;
  /** Sim: how the simulated devices send: mqtt, hl7 (PCD-01 through one simulated gateway) or mixed (every other patient over HL7). */
  simProtocol: string;
  /** Sim: the MLLP listener the simulated gateway sends to; null: host:hl7Port. */
  simHl7Address: string | null;
  /** Sim: ground-truth JSON lines file; null: <dataDir>/sim-truth.jsonl. */
  simTruth: string | null;
  logLevel: string;
  /** Ingest limits. */
  maxPayloadBytes: number;
  maxBatchSamples: number;
  deviceRatePerSec: number;
  /** New MQTT connections per second a source address may open (burst: 4 s worth). */
  mqttConnRatePerAddress: number;
  /** Records a required consumer (rules, sink) may be behind before ingest stops reading devices; 0: off. */
  flowMaxLag: number;
  /** Backfill limit: samples older than this are rejected. */
  backfillMs: number;
  /** Samples further than this in the future are rejected. */
  maxFutureMs: number;
  /** Only samples newer than now - liveWindowMs raise live alerts. */
  liveWindowMs: number;
  /** Store retention in days per kind of data (0: keep forever). */
  retentionRawDays: number;
  retentionRollupDays: number;
  retentionScoresDays: number;
  retentionAlertsDays: number;
  retentionAuditDays: number;
  /** How often the sink runs retention (and once at start). */
  retentionIntervalMs: number;
  /** Dashboard sockets: how long vitals, scores and device status may wait for one batched write (0: at once). */
  wsWriteBatchMs: number;
  /** Sink insert batching: flush at this many rows, or when a batch is this old. */
  sinkBatchRows: number;
  sinkBatchWaitMs: number;
  /** Embedded DuckDB store: memory limit (MB) and worker threads. */
  duckdbMemoryMb: number;
  duckdbThreads: number;
  /** Rules file (YAML/JSON), null: shipped defaults. */
  rulesFile: string | null;
  /** MQTT over TLS: PEM certificate and key files; both set turns the TLS listener on. */
  mqttTlsCert: string | null;
  mqttTlsKey: string | null;
  mqttTlsPort: number;
  /** PEM CA bundle for device certificates on the TLS listener (mutual TLS); null: tokens only. */
  mqttTlsCa: string | null;
  /** Plain MQTT listener reads a PROXY protocol header first (behind a trusted TCP balancer); null/false: off. */
  mqttProxyProtocol: boolean | null;
  /** MQTT over WebSocket (browser-based gateways); null: off. */
  mqttWsPort: number | null;
  /** HL7 v2 over MLLP (IHE PCD-01 from monitoring gateways); null: off. */
  hl7Port: number | null;
  /** MLLP over TLS: PEM certificate and key; both set turns it on. With a CA, gateways may authenticate by client certificate. */
  hl7TlsCert: string | null;
  hl7TlsKey: string | null;
  hl7TlsCa: string | null;
  hl7TlsPort: number;
  /** Largest MLLP frame (one HL7 message) accepted; a larger one closes the connection. */
  hl7MaxFrameBytes: number;
  /** A frame started and not finished within this closes the connection. */
  hl7FrameTimeoutMs: number;
  /** OIDC: verify bearer tokens against this issuer's JWKS (with the audience); null: local tokens only. */
  oidcIssuer: string | null;
  oidcAudience: string | null;
  /** JWKS URL; null: from the issuer's discovery document. */
  oidcJwksUrl: string | null;
  /** Claim names (dotted paths reach nested claims) for role, wards and the patient role's patient id. */
  oidcRoleClaim: string;
  oidcWardsClaim: string;
  oidcPatientClaim: string;
  /** Locally signed HS256 tokens (data-dir key): null = on without OIDC, off with it; true/false: explicit. */
  localTokens: boolean | null;
  /** HTTPS/WSS for the gateway: PEM certificate and key files; both set turns TLS on. */
  httpTlsCert: string | null;
  httpTlsKey: string | null;
  /** Comma-separated origins allowed cross-origin API calls; null: none (same origin only). */
  corsOrigins: string | null;
  /** The gateway's public URL (links in FHIR bundles); null: the address a request reached. */
  publicUrl: string | null;
  /** REST/FHIR requests per minute per user, and per client address. */
  apiRatePerUser: number;
  apiRatePerAddress: number;
  /** /healthz, /readyz and /metrics of a split ingest, rules or sink process; null: the role's default (OPS_PORT_DEFAULTS), 0: ephemeral. */
  opsPort: number | null;
}

export const CONFIG_DEFAULTS: Config = {
  host: '127.0.0.1',
  mqttPort: 1883,
  httpPort: 8080,
  dataDir: './.vitals',
  kafkaBrokers: null,
  topicPrefix: '',
  kafkaProducers: 1,
  clickhouseUrl: null,
  clickhouseDatabase: 'vitals',
  simPatients: 24,
  simSpeed: 1,
  simScenario: null,
  simMqttUrl: null,
  simApiUrl: null,
  simSeed: 1,
  simRate: 1,
  simTruth: null,
  simProtocol: 'mqtt',
  simHl7Address: null,
  logLevel: 'info',
  maxPayloadBytes: 256 * 1024,
  maxBatchSamples: 500,
  deviceRatePerSec: 50,
  mqttConnRatePerAddress: 100,
  flowMaxLag: 20_000,
  backfillMs: 24 * 3600_000,
  maxFutureMs: 5 * 60_000,
  liveWindowMs: 5 * 60_000,
  retentionRawDays: 30,
  retentionRollupDays: 730,
  retentionScoresDays: 730,
  retentionAlertsDays: 2190,
  retentionAuditDays: 2190,
  retentionIntervalMs: 3600_000,
  wsWriteBatchMs: 100,
  sinkBatchRows: 20_000,
  sinkBatchWaitMs: 1000,
  duckdbMemoryMb: 512,
  duckdbThreads: 1,
  rulesFile: null,
  mqttTlsCert: null,
  mqttTlsKey: null,
  mqttTlsPort: 8883,
  mqttTlsCa: null,
  mqttProxyProtocol: null,
  mqttWsPort: null,
  hl7Port: null,
  hl7TlsCert: null,
  hl7TlsKey: null,
  hl7TlsCa: null,
  hl7TlsPort: 2576,
  hl7MaxFrameBytes: 1024 * 1024,
  hl7FrameTimeoutMs: 30_000,
  oidcIssuer: null,
  oidcAudience: null,
  oidcJwksUrl: null,
  oidcRoleClaim: 'role',
  oidcWardsClaim: 'wards',
  oidcPatientClaim: 'patient_id',
  localTokens: null,
  httpTlsCert: null,
  httpTlsKey: null,
  corsOrigins: null,
  publicUrl: null,
  apiRatePerUser: 600,
  apiRatePerAddress: 1200,
  opsPort: null,
};

/**
 * Each role's own ops port when it runs alone, so the three can share a host; the gateway serves
 * these endpoints on its HTTP port, and `vitals start` (every role in one process) on the gateway's.
 */
export const OPS_PORT_DEFAULTS: Readonly<Record<string, number>> = { ingest: 9471, rules: 9472, sink: 9473 };

/** The ops port a target binds: null when it has none of its own (gateway, sim, `vitals start`). */
export function opsPortFor(config: Config, target: string): number | null {
  const def = OPS_PORT_DEFAULTS[target];
  return def === undefined ? null : (config.opsPort ?? def);
}

type Kind = 'port' | 'int' | 'number' | 'string' | 'list' | 'url' | 'level' | 'path' | 'identifier' | 'prefix' | 'switch';

/** The roles a process can run; `vitals start` runs them all. */
export type RoleName = 'ingest' | 'rules' | 'sink' | 'gateway' | 'sim';
const EVERY_ROLE: readonly RoleName[] = ['ingest', 'rules', 'sink', 'gateway', 'sim'];
const BUS_ROLES: readonly RoleName[] = ['ingest', 'rules', 'sink', 'gateway'];
const STORE_ROLES: readonly RoleName[] = ['sink', 'gateway'];

interface Field {
  key: keyof Config;
  /** The roles whose code reads this setting: `vitals <role> --help` lists only these. */
  roles: readonly RoleName[];
  env: string;
  flag: string;
  kind: Kind;
  min?: number;
  help: string;
}

/** Every setting, its environment variable and its flag: the single source for --help and docs/configuration.md. */
export const CONFIG_FIELDS: readonly Field[] = [
  { key: 'host', roles: EVERY_ROLE, env: 'VITALS_HOST', flag: 'host', kind: 'string', help: 'address to bind MQTT, HTTP and the ops port to' },
  { key: 'mqttPort', roles: ['ingest', 'sim'], env: 'VITALS_MQTT_PORT', flag: 'mqtt-port', kind: 'port', help: 'MQTT listener port' },
  { key: 'httpPort', roles: ['gateway', 'sim'], env: 'VITALS_HTTP_PORT', flag: 'http-port', kind: 'port', help: 'HTTP/WebSocket port (dashboard, API)' },
  { key: 'dataDir', roles: EVERY_ROLE, env: 'VITALS_DATA_DIR', flag: 'data-dir', kind: 'path', help: 'data directory (embedded log, DuckDB, signing key)' },
  { key: 'kafkaBrokers', roles: BUS_ROLES, env: 'KAFKA_BROKERS', flag: 'kafka-brokers', kind: 'list', help: 'comma-separated Kafka brokers; unset: embedded bus' },
  { key: 'topicPrefix', roles: BUS_ROLES, env: 'VITALS_TOPIC_PREFIX', flag: 'topic-prefix', kind: 'prefix', help: 'prefix of every Kafka topic and consumer group (several deployments on one cluster)' },
  { key: 'kafkaProducers', roles: BUS_ROLES, env: 'VITALS_KAFKA_PRODUCERS', flag: 'kafka-producers', kind: 'int', min: 1, help: 'idempotent Kafka producers per process, one produce request in flight each (records routed by key hash)' },
  { key: 'clickhouseUrl', roles: STORE_ROLES, env: 'CLICKHOUSE_URL', flag: 'clickhouse-url', kind: 'url', help: 'ClickHouse HTTP URL; unset: embedded DuckDB store' },
  { key: 'clickhouseDatabase', roles: [...STORE_ROLES, 'ingest'], env: 'VITALS_CLICKHOUSE_DATABASE', flag: 'clickhouse-database', kind: 'identifier', help: 'ClickHouse database name' },
  { key: 'simPatients', roles: ['sim'], env: 'VITALS_SIM_PATIENTS', flag: 'sim-patients', kind: 'int', min: 0, help: 'simulated patients (0: simulator off)' },
  { key: 'simSpeed', roles: ['sim'], env: 'VITALS_SIM_SPEED', flag: 'speed', kind: 'number', min: 0.01, help: 'simulator playback speed (event time / wall time)' },
  { key: 'simScenario', roles: ['sim'], env: 'VITALS_SIM_SCENARIO', flag: 'scenario', kind: 'string', help: 'scenario name played on the first simulated patient, or a scenario file (docs/sim.md)' },
  { key: 'simMqttUrl', roles: ['sim'], env: 'VITALS_SIM_MQTT_URL', flag: 'sim-mqtt-url', kind: 'string', help: 'MQTT URL the simulator publishes to (default mqtt://host:mqtt-port)' },
  { key: 'simApiUrl', roles: ['sim'], env: 'VITALS_SIM_API_URL', flag: 'sim-api-url', kind: 'url', help: 'gateway URL the simulator provisions through (default http://host:http-port)' },
  { key: 'simSeed', roles: ['sim'], env: 'VITALS_SIM_SEED', flag: 'seed', kind: 'int', min: 0, help: 'seed of the simulated patients' },
  { key: 'simRate', roles: ['sim'], env: 'VITALS_SIM_RATE', flag: 'rate', kind: 'number', min: 0.01, help: 'simulated messages per second per device' },
  { key: 'simProtocol', roles: ['sim'], env: 'VITALS_SIM_PROTOCOL', flag: 'protocol', kind: 'string', help: 'how simulated devices send: mqtt, hl7 (PCD-01 over MLLP through a simulated gateway) or mixed' },
  { key: 'simHl7Address', roles: ['sim'], env: 'VITALS_SIM_HL7_ADDRESS', flag: 'sim-hl7-address', kind: 'string', help: 'host:port of the MLLP listener the simulated gateway sends to (default host:hl7-port)' },
  { key: 'simTruth', roles: ['sim'], env: 'VITALS_SIM_TRUTH', flag: 'truth', kind: 'path', help: 'simulator ground-truth JSON lines; unset: <data dir>/sim-truth.jsonl' },
  { key: 'logLevel', roles: EVERY_ROLE, env: 'VITALS_LOG_LEVEL', flag: 'log-level', kind: 'level', help: 'trace|debug|info|warn|error|fatal|silent' },
  { key: 'maxPayloadBytes', roles: ['ingest'], env: 'VITALS_MAX_PAYLOAD_BYTES', flag: 'max-payload-bytes', kind: 'int', min: 64, help: 'largest MQTT payload accepted' },
  { key: 'maxBatchSamples', roles: ['ingest'], env: 'VITALS_MAX_BATCH_SAMPLES', flag: 'max-batch-samples', kind: 'int', min: 1, help: 'most samples in one batch payload' },
  { key: 'deviceRatePerSec', roles: ['ingest'], env: 'VITALS_DEVICE_RATE', flag: 'device-rate', kind: 'int', min: 1, help: 'messages per second a device may publish' },
  { key: 'flowMaxLag', roles: ['ingest'], env: 'VITALS_FLOW_MAX_LAG', flag: 'flow-max-lag', kind: 'int', min: 0, help: 'records rules or sink may be behind before ingest stops reading devices (0: off)' },
  { key: 'mqttConnRatePerAddress', roles: ['ingest'], env: 'VITALS_MQTT_CONN_RATE', flag: 'mqtt-conn-rate', kind: 'int', min: 1, help: 'new MQTT connections per second per source address (burst: 4 s worth); beyond, the socket is closed' },
  { key: 'backfillMs', roles: ['ingest', 'gateway'], env: 'VITALS_BACKFILL_MS', flag: 'backfill-ms', kind: 'int', min: 0, help: 'oldest sample accepted, ms before now' },
  { key: 'maxFutureMs', roles: ['ingest', 'gateway'], env: 'VITALS_MAX_FUTURE_MS', flag: 'max-future-ms', kind: 'int', min: 0, help: 'furthest future sample accepted, ms after now' },
  { key: 'liveWindowMs', roles: ['rules', 'sim'], env: 'VITALS_LIVE_WINDOW_MS', flag: 'live-window-ms', kind: 'int', min: 0, help: 'only samples newer than this raise live alerts' },
  { key: 'retentionRawDays', roles: ['sink'], env: 'VITALS_RETENTION_RAW_DAYS', flag: 'retention-raw-days', kind: 'int', min: 0, help: 'days of raw telemetry kept (0: forever)' },
  { key: 'retentionRollupDays', roles: ['sink'], env: 'VITALS_RETENTION_ROLLUP_DAYS', flag: 'retention-rollup-days', kind: 'int', min: 0, help: 'days of 1-minute rollups kept (0: forever)' },
  { key: 'retentionScoresDays', roles: ['sink'], env: 'VITALS_RETENTION_SCORES_DAYS', flag: 'retention-scores-days', kind: 'int', min: 0, help: 'days of NEWS2 scores kept (0: forever)' },
  { key: 'retentionAlertsDays', roles: ['sink'], env: 'VITALS_RETENTION_ALERTS_DAYS', flag: 'retention-alerts-days', kind: 'int', min: 0, help: 'days of alert events kept (0: forever)' },
  { key: 'retentionAuditDays', roles: ['sink'], env: 'VITALS_RETENTION_AUDIT_DAYS', flag: 'retention-audit-days', kind: 'int', min: 0, help: 'days of audit trail kept (0: forever)' },
  { key: 'retentionIntervalMs', roles: ['sink'], env: 'VITALS_RETENTION_INTERVAL_MS', flag: 'retention-interval-ms', kind: 'int', min: 1000, help: 'how often the sink enforces retention' },
  { key: 'wsWriteBatchMs', roles: ['gateway'], env: 'VITALS_WS_WRITE_BATCH_MS', flag: 'ws-write-batch-ms', kind: 'int', min: 0, help: 'longest vitals, scores and device status wait for a batched write to a dashboard socket (alerts never wait; 0: off)' },
  { key: 'sinkBatchRows', roles: ['sink'], env: 'VITALS_SINK_BATCH_ROWS', flag: 'sink-batch-rows', kind: 'int', min: 1, help: 'sink flushes an insert at this many records' },
  { key: 'sinkBatchWaitMs', roles: ['sink'], env: 'VITALS_SINK_BATCH_WAIT_MS', flag: 'sink-batch-wait-ms', kind: 'int', min: 0, help: 'longest a record waits in the sink (and the bus fetch) before an insert' },
  { key: 'duckdbMemoryMb', roles: STORE_ROLES, env: 'VITALS_DUCKDB_MEMORY_MB', flag: 'duckdb-memory-mb', kind: 'int', min: 64, help: 'embedded DuckDB store: memory limit in MiB (beyond it the file database spills to disk)' },
  { key: 'duckdbThreads', roles: STORE_ROLES, env: 'VITALS_DUCKDB_THREADS', flag: 'duckdb-threads', kind: 'int', min: 1, help: 'embedded DuckDB store: worker threads' },
  { key: 'rulesFile', roles: ['rules'], env: 'VITALS_RULES_FILE', flag: 'rules', kind: 'path', help: 'rules file (YAML or JSON); unset: shipped defaults' },
  { key: 'mqttTlsCert', roles: ['ingest'], env: 'VITALS_MQTT_TLS_CERT', flag: 'mqtt-tls-cert', kind: 'path', help: 'PEM certificate (chain) for MQTT over TLS; with the key, turns the TLS listener on' },
  { key: 'mqttTlsKey', roles: ['ingest'], env: 'VITALS_MQTT_TLS_KEY', flag: 'mqtt-tls-key', kind: 'path', help: 'PEM private key for MQTT over TLS' },
  { key: 'mqttTlsPort', roles: ['ingest'], env: 'VITALS_MQTT_TLS_PORT', flag: 'mqtt-tls-port', kind: 'port', help: 'MQTT over TLS listener port' },
  { key: 'mqttTlsCa', roles: ['ingest'], env: 'VITALS_MQTT_TLS_CA', flag: 'mqtt-tls-ca', kind: 'path', help: 'PEM CA bundle for device client certificates on the MQTT TLS listener (CN or SAN DNS = device id); unset: tokens only' },
  { key: 'mqttProxyProtocol', roles: ['ingest'], env: 'VITALS_MQTT_PROXY_PROTOCOL', flag: 'mqtt-proxy-protocol', kind: 'switch', help: 'plain MQTT port expects a PROXY protocol v1/v2 header from a trusted load balancer (on|off); the header gives the device address' },
  { key: 'mqttWsPort', roles: ['ingest'], env: 'VITALS_MQTT_WS_PORT', flag: 'mqtt-ws-port', kind: 'port', help: 'MQTT over WebSocket listener port; unset: off' },
  { key: 'hl7Port', roles: ['ingest', 'sim'], env: 'VITALS_HL7_PORT', flag: 'hl7-port', kind: 'port', help: 'HL7 v2 MLLP listener port (IHE PCD-01 from monitoring gateways; 2575 is customary); unset: off' },
  { key: 'hl7TlsCert', roles: ['ingest'], env: 'VITALS_HL7_TLS_CERT', flag: 'hl7-tls-cert', kind: 'path', help: 'PEM certificate (chain) for MLLP over TLS; with the key, turns the TLS listener on' },
  { key: 'hl7TlsKey', roles: ['ingest'], env: 'VITALS_HL7_TLS_KEY', flag: 'hl7-tls-key', kind: 'path', help: 'PEM private key for MLLP over TLS' },
  { key: 'hl7TlsCa', roles: ['ingest'], env: 'VITALS_HL7_TLS_CA', flag: 'hl7-tls-ca', kind: 'path', help: "PEM CA that signs gateway client certificates (mutual TLS; the certificate's CN is the gateway id); unset: allow-lists only" },
  { key: 'hl7TlsPort', roles: ['ingest'], env: 'VITALS_HL7_TLS_PORT', flag: 'hl7-tls-port', kind: 'port', help: 'MLLP over TLS listener port' },
  { key: 'hl7MaxFrameBytes', roles: ['ingest'], env: 'VITALS_HL7_MAX_FRAME_BYTES', flag: 'hl7-max-frame-bytes', kind: 'int', min: 1024, help: 'largest HL7 message accepted; a larger frame closes the connection' },
  { key: 'hl7FrameTimeoutMs', roles: ['ingest'], env: 'VITALS_HL7_FRAME_TIMEOUT_MS', flag: 'hl7-frame-timeout-ms', kind: 'int', min: 100, help: 'a frame started and not finished within this closes the connection' },
  { key: 'oidcIssuer', roles: ['gateway'], env: 'VITALS_OIDC_ISSUER', flag: 'oidc-issuer', kind: 'url', help: 'OIDC issuer whose tokens the gateway accepts (with the audience); unset: local tokens only' },
  { key: 'oidcAudience', roles: ['gateway'], env: 'VITALS_OIDC_AUDIENCE', flag: 'oidc-audience', kind: 'string', help: 'audience the OIDC tokens must carry' },
  { key: 'oidcJwksUrl', roles: ['gateway'], env: 'VITALS_OIDC_JWKS_URL', flag: 'oidc-jwks-url', kind: 'url', help: "JWKS URL; unset: the issuer's discovery document" },
  { key: 'oidcRoleClaim', roles: ['gateway'], env: 'VITALS_OIDC_ROLE_CLAIM', flag: 'oidc-role-claim', kind: 'string', help: 'claim holding the role (string or list; dotted path)' },
  { key: 'oidcWardsClaim', roles: ['gateway'], env: 'VITALS_OIDC_WARDS_CLAIM', flag: 'oidc-wards-claim', kind: 'string', help: 'claim holding the wards (list or space/comma separated)' },
  { key: 'oidcPatientClaim', roles: ['gateway'], env: 'VITALS_OIDC_PATIENT_CLAIM', flag: 'oidc-patient-claim', kind: 'string', help: "claim holding the patient role's own patient id" },
  { key: 'localTokens', roles: ['gateway'], env: 'VITALS_LOCAL_TOKENS', flag: 'local-tokens', kind: 'switch', help: 'accept locally signed HS256 tokens (on|off); unset: on without OIDC, off with it' },
  { key: 'httpTlsCert', roles: ['gateway'], env: 'VITALS_HTTP_TLS_CERT', flag: 'http-tls-cert', kind: 'path', help: 'PEM certificate (chain) for HTTPS/WSS; with the key, turns TLS on' },
  { key: 'httpTlsKey', roles: ['gateway'], env: 'VITALS_HTTP_TLS_KEY', flag: 'http-tls-key', kind: 'path', help: 'PEM private key for HTTPS/WSS' },
  { key: 'corsOrigins', roles: ['gateway'], env: 'VITALS_CORS_ORIGINS', flag: 'cors-origins', kind: 'string', help: 'comma-separated origins allowed cross-origin API calls; unset: none' },
  { key: 'publicUrl', roles: ['gateway'], env: 'VITALS_PUBLIC_URL', flag: 'public-url', kind: 'url', help: 'public URL of the gateway, used in FHIR links; unset: the address a request reached (never the Host header)' },
  { key: 'apiRatePerUser', roles: ['gateway'], env: 'VITALS_API_RATE_USER', flag: 'api-rate-user', kind: 'int', min: 1, help: 'REST/FHIR requests per minute per user' },
  { key: 'opsPort', roles: ['ingest', 'rules', 'sink'], env: 'VITALS_OPS_PORT', flag: 'ops-port', kind: 'port', help: 'port of /healthz, /readyz and /metrics of a split role (default ingest 9471, rules 9472, sink 9473; 0: any free port)' },
  { key: 'apiRatePerAddress', roles: ['gateway'], env: 'VITALS_API_RATE_ADDRESS', flag: 'api-rate-address', kind: 'int', min: 1, help: 'REST/FHIR requests per minute per client address' },
];

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);

export type ConfigResult = { ok: true; config: Config } | { ok: false; errors: string[] };

function parseValue(f: Field, raw: string, source: string): { value?: unknown; error?: string } {
  const where = `${source} ${source === 'flag' ? `--${f.flag}` : f.env}`;
  const v = raw.trim();
  switch (f.kind) {
    case 'port': {
      const n = Number(v);
      if (!/^\d+$/.test(v) || n < 0 || n > 65535) return { error: `${where}: "${v}" is not a port (0-65535)` };
      return { value: n };
    }
    case 'int': {
      const n = Number(v);
      if (!/^-?\d+$/.test(v)) return { error: `${where}: "${v}" is not a whole number` };
      if (f.min !== undefined && n < f.min) return { error: `${where}: ${n} is below the minimum ${f.min}` };
      return { value: n };
    }
    case 'number': {
      const n = Number(v);
      if (v === '' || !Number.isFinite(n)) return { error: `${where}: "${v}" is not a number` };
      if (f.min !== undefined && n < f.min) return { error: `${where}: ${n} is below the minimum ${f.min}` };
      return { value: n };
    }
    case 'list': {
      const items = v.split(',').map((s) => s.trim()).filter(Boolean);
      if (items.length === 0) return { value: null };
      const bad = items.filter((s) => !/^[A-Za-z0-9.\-_[\]:]+:\d+$/.test(s));
      if (bad.length) return { error: `${where}: "${bad.join(',')}" is not host:port` };
      return { value: items };
    }
    case 'url': {
      if (v === '') return { value: null };
      try {
        const u = new URL(v);
        if (u.protocol !== 'http:' && u.protocol !== 'https:') return { error: `${where}: "${u.protocol}" must be http: or https:` };
      } catch {
        return { error: `${where}: "${v}" is not a URL` };
      }
      return { value: v };
    }
    case 'level':
      if (!LEVELS.has(v)) return { error: `${where}: "${v}" is not a log level (${[...LEVELS].join('|')})` };
      return { value: v };
    case 'identifier':
      if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(v)) return { error: `${where}: "${v}" is not a plain identifier (letters, digits, _)` };
      return { value: v };
    case 'prefix':
      if (!/^[A-Za-z0-9._-]{0,100}$/.test(v)) return { error: `${where}: "${v}" may only use letters, digits, '.', '_' and '-'` };
      return { value: v };
    case 'path':
      if (v === '') return { value: null };
      return { value: v };
    case 'switch':
      if (v === '') return { value: null };
      if (/^(on|true|1|yes)$/i.test(v)) return { value: true };
      if (/^(off|false|0|no)$/i.test(v)) return { value: false };
      return { error: `${where}: "${v}" is not on or off` };
    case 'string':
      return { value: v === '' ? null : v };
  }
}

/**
 * Build the effective config: defaults, then environment, then flags.
 * Returns every problem at once.
 */
export function loadConfig(env: Record<string, string | undefined>, flags: Record<string, string | undefined> = {}): ConfigResult {
  const config: Record<string, unknown> = { ...CONFIG_DEFAULTS };
  const errors: string[] = [];
  for (const f of CONFIG_FIELDS) {
    for (const [source, raw] of [['env', env[f.env]], ['flag', flags[f.flag]]] as const) {
      if (raw === undefined) continue;
      const r = parseValue(f, raw, source);
      if (r.error) errors.push(r.error);
      else config[f.key] = r.value ?? (f.kind === 'string' || f.kind === 'path' || f.kind === 'switch' ? null : config[f.key]);
      if (f.kind === 'list' || f.kind === 'url') if (!r.error) config[f.key] = r.value ?? null;
    }
  }
  // Half a TLS setup would silently leave devices on plain MQTT only.
  if ((config.mqttTlsCert == null) !== (config.mqttTlsKey == null)) errors.push('VITALS_MQTT_TLS_CERT and VITALS_MQTT_TLS_KEY must be set together');
  if (config.mqttTlsCa != null && config.mqttTlsCert == null) errors.push('VITALS_MQTT_TLS_CA needs the TLS listener (VITALS_MQTT_TLS_CERT and VITALS_MQTT_TLS_KEY)');
  // Half an OIDC or TLS setup would silently fall back to weaker behaviour.
  if ((config.oidcIssuer == null) !== (config.oidcAudience == null)) errors.push('VITALS_OIDC_ISSUER and VITALS_OIDC_AUDIENCE must be set together');
  if ((config.httpTlsCert == null) !== (config.httpTlsKey == null)) errors.push('VITALS_HTTP_TLS_CERT and VITALS_HTTP_TLS_KEY must be set together');
  if ((config.hl7TlsCert == null) !== (config.hl7TlsKey == null)) errors.push('VITALS_HL7_TLS_CERT and VITALS_HL7_TLS_KEY must be set together');
  if (config.hl7TlsCa != null && config.hl7TlsCert == null) errors.push('VITALS_HL7_TLS_CA needs VITALS_HL7_TLS_CERT and VITALS_HL7_TLS_KEY (mutual TLS runs on the TLS listener)');
  if (config.simProtocol == null) config.simProtocol = CONFIG_DEFAULTS.simProtocol;
  if (!['mqtt', 'hl7', 'mixed'].includes(config.simProtocol as string)) errors.push(`VITALS_SIM_PROTOCOL / --protocol: "${String(config.simProtocol)}" is not mqtt, hl7 or mixed`);
  if (errors.length) return { ok: false, errors };
  const c = config as unknown as Config;
  if (c.dataDir === null) c.dataDir = CONFIG_DEFAULTS.dataDir;
  c.dataDir = path.resolve(c.dataDir);
  return { ok: true, config: c };
}

/** The effective configuration for the start banner: no secrets (URL passwords masked). */
export function describeConfig(c: Config): Record<string, unknown> {
  const out: Record<string, unknown> = { ...c };
  if (c.clickhouseUrl) {
    const u = new URL(c.clickhouseUrl);
    if (u.password) u.password = '***';
    out.clickhouseUrl = u.toString();
  }
  return out;
}
