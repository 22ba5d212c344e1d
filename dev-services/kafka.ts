// Local single-node Kafka 3.9 (KRaft, combined broker + controller) on 127.0.0.1:29092, run
// straight from the Maven Central jars (no tarball, no Docker). State lives in
// <root>/.cache/services/kafka; jars in <root>/.cache/kafka-libs. Recipe and pitfalls:
// docs/decisions/0002-local-services.md.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import type { Admin } from 'kafkajs';
import type { Progress } from './process-control.js';
import {
  assertPortsFree,
  findExecutable,
  runCommand,
  renderTemplate,
  runningPid,
  seconds,
  sleep,
  spawnDetached,
  stopProcess,
  stopService,
  tailFile,
} from './process-control.js';

/** Client bootstrap address of the local broker. */
export const KAFKA_BROKERS = '127.0.0.1:29092';
const KAFKA_PORTS = [29092, 29093] as const;
/** Pinned in infra/kafka/pom.xml; used to check that the jar cache is complete. */
const KAFKA_VERSION = '3.9.1';
/** Any 16-byte base64url id works; a fixed one saves a JVM start (`StorageTool random-uuid`). */
const CLUSTER_ID = 'MkU3OEVBNTcwNTJENDM2Qk';
const STARTED_LINE = 'Kafka Server started';
const READY_TIMEOUT_MS = 90_000;
const PROBE_INTERVAL_MS = 250;
const STOP_GRACE_MS = 30_000;
const PROBE_TOPIC = '__vitals_services_probe';
const PROBE_GROUP = '__vitals_services_probe';

/** Where the Kafka service keeps its files. */
export interface KafkaPaths {
  libs: string;
  dir: string;
  data: string;
  properties: string;
  log4j: string;
  log: string;
  pid: string;
  pom: string;
}

/** Paths for the checkout at `root`. */
export function kafkaPaths(root: string): KafkaPaths {
  const dir = path.join(root, '.cache', 'services', 'kafka');
  return {
    libs: path.join(root, '.cache', 'kafka-libs'),
    dir,
    data: path.join(dir, 'data'),
    properties: path.join(dir, 'server.properties'),
    log4j: path.join(root, 'infra', 'kafka', 'log4j.properties'),
    log: path.join(dir, 'kafka.out'),
    pid: path.join(dir, 'kafka.pid'),
    pom: path.join(root, 'infra', 'kafka', 'pom.xml'),
  };
}

/** The properties path is in the broker's command line, so it identifies our JVM among others. */
function marker(p: KafkaPaths): string {
  return p.properties;
}

/** Pid of our running broker JVM, or null. Says nothing about readiness. */
export function kafkaPid(root: string): number | null {
  const p = kafkaPaths(root);
  return runningPid(p.pid, marker(p));
}

/** True when our broker process is alive and answers a metadata request. */
export async function kafkaHealthy(root: string): Promise<boolean> {
  if (kafkaPid(root) === null) return false;
  try {
    await withAdmin(async (admin) => {
      const cluster = await admin.describeCluster();
      if (cluster.brokers.length === 0) throw new Error('no brokers');
    });
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes sure our broker runs and is ready for clients; idempotent. Downloads the jars and
 * formats storage on first use.
 */
export async function ensureKafka(root: string, progress: Progress): Promise<void> {
  const p = kafkaPaths(root);
  const existing = kafkaPid(root);
  if (existing !== null) {
    if (await kafkaHealthy(root)) {
      progress(`kafka: already running (pid ${existing}) on ${KAFKA_BROKERS}`);
      return;
    }
    // Alive but not answering: most likely still starting (a previous `up` was interrupted).
    progress(`kafka: pid ${existing} is running but not ready yet; waiting`);
    await waitUntilReady(p, existing, Date.now() + READY_TIMEOUT_MS, progress);
    progress(`kafka: ready (pid ${existing})`);
    return;
  }
  await assertPortsFree('kafka', KAFKA_PORTS);
  const java = findJava();
  await ensureKafkaJars(root, progress);
  fs.mkdirSync(p.data, { recursive: true });
  renderTemplate(path.join(root, 'infra', 'kafka', 'server.properties'), p.properties, { STATE_DIR: p.dir });
  await formatStorage(java, p, progress);
  await startBroker(java, p, progress);
}

/** Stops our broker (SIGTERM, 30 s grace, then SIGKILL); a no-op when it is not running. */
export async function stopKafka(root: string, progress: Progress): Promise<void> {
  const p = kafkaPaths(root);
  await stopService('kafka', p.pid, marker(p), STOP_GRACE_MS, progress);
}

/** `java` from JAVA_HOME or PATH, or a message saying what to install. */
function findJava(): string {
  const home = process.env['JAVA_HOME'];
  const fromHome = home !== undefined && home !== '' ? findExecutable('java', [path.join(home, 'bin')]) : null;
  const java = fromHome ?? findExecutable('java');
  if (java === null) {
    throw new Error('kafka: no `java` found (JAVA_HOME or PATH). Install a JRE 17, e.g. `apt-get install -y openjdk-17-jre-headless`.');
  }
  return java;
}

/** The jars that must be present for the broker and StorageTool to start. */
function requiredJars(): string[] {
  return [
    `kafka_2.13-${KAFKA_VERSION}.jar`,
    `kafka-clients-${KAFKA_VERSION}.jar`,
    `kafka-server-${KAFKA_VERSION}.jar`,
    `kafka-metadata-${KAFKA_VERSION}.jar`,
    `kafka-raft-${KAFKA_VERSION}.jar`,
    'slf4j-reload4j-1.7.36.jar',
    'reload4j-1.2.25.jar',
  ];
}

function missingJars(libs: string): string[] {
  return requiredJars().filter((jar) => !fs.existsSync(path.join(libs, jar)));
}

/**
 * Fetches the broker jars from Maven Central with infra/kafka/pom.xml when any is missing.
 * Maven's output is condensed to a line every few seconds (it is hundreds of lines).
 */
export async function ensureKafkaJars(root: string, progress: Progress): Promise<void> {
  const p = kafkaPaths(root);
  if (missingJars(p.libs).length === 0) return;
  const mvn = findExecutable('mvn');
  if (mvn === null) {
    throw new Error(`kafka: jars missing in ${p.libs} and no \`mvn\` on PATH. Install Maven (\`apt-get install -y maven\`) and retry.`);
  }
  progress(`kafka: downloading Kafka ${KAFKA_VERSION} jars from Maven Central into ${p.libs} (takes minutes the first time)`);
  const started = Date.now();
  let downloaded = 0;
  let lastReport = Date.now();
  const result = await runCommand(
    mvn,
    ['-B', '-Dstyle.color=never', '-f', p.pom, 'dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${p.libs}`],
    {
      cwd: root,
      onLine: (line) => {
        if (line.includes('Downloaded from') || line.includes('Copying ')) downloaded++;
        if (line.startsWith('[ERROR]')) progress(`kafka: mvn ${line}`);
        if (Date.now() - lastReport > 5_000) {
          lastReport = Date.now();
          progress(`kafka: still downloading (${seconds(started)}${downloaded > 0 ? `, ${downloaded} artifacts so far` : ''})`);
        }
      },
    },
  );
  const missing = missingJars(p.libs);
  if (result.code !== 0 || missing.length > 0) {
    throw new Error(
      `kafka: jar download failed (mvn exit ${result.code}${missing.length > 0 ? `; missing ${missing.join(', ')}` : ''}). ` +
        `Maven Central must be reachable and the local Maven repository (~/.m2) writable. Last output:\n${result.tail}`,
    );
  }
  progress(`kafka: jars ready in ${seconds(started)}`);
}

/** JVM flags shared by StorageTool and the broker. */
function commonJvmArgs(p: KafkaPaths): string[] {
  return [`-Dlog4j.configuration=${pathToFileURL(p.log4j).href}`, `-Dkafka.logs.dir=${p.dir}`, '-cp', `${p.libs}${path.sep}*`];
}

/** KRaft needs formatted storage; skipped when already formatted (saves a JVM start). */
async function formatStorage(java: string, p: KafkaPaths, progress: Progress): Promise<void> {
  if (fs.existsSync(path.join(p.data, 'meta.properties'))) return;
  progress('kafka: formatting storage');
  const result = await runCommand(
    java,
    ['-Xmx256m', ...commonJvmArgs(p), 'kafka.tools.StorageTool', 'format', '-t', CLUSTER_ID, '-c', p.properties, '--ignore-formatted'],
    { cwd: p.dir },
  );
  if (result.code !== 0) throw new Error(`kafka: formatting storage failed (exit ${result.code}):\n${result.tail}`);
}

/** Launches the broker JVM detached and waits until it serves clients. */
async function startBroker(java: string, p: KafkaPaths, progress: Progress): Promise<void> {
  // A fresh log per start: the readiness line must come from this run, not the last one.
  if (fs.existsSync(p.log)) fs.renameSync(p.log, `${p.log}.prev`);
  const started = Date.now();
  const pid = await spawnDetached({
    command: java,
    args: [
      // kafka-run-class.sh defaults, with a heap sized for a 2-core test box instead of 1G/1G.
      '-Xms256m', '-Xmx768m', '-server', '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20',
      '-XX:InitiatingHeapOccupancyPercent=35', '-XX:+ExplicitGCInvokesConcurrent', '-XX:MaxInlineLevel=15',
      '-XX:+ExitOnOutOfMemoryError', '-Djava.awt.headless=true',
      ...commonJvmArgs(p), 'kafka.Kafka', p.properties,
    ],
    cwd: p.dir,
    logFile: p.log,
    pidFile: p.pid,
  });
  progress(`kafka: started pid ${pid}, waiting for it to serve ${KAFKA_BROKERS}`);
  try {
    await waitUntilReady(p, pid, started + READY_TIMEOUT_MS, progress);
  } catch (err) {
    // Do not leave a half-started broker behind: the next `up` would find it and wait again.
    await stopProcess(pid, marker(p), 5_000);
    fs.rmSync(p.pid, { force: true });
    throw err;
  }
  progress(`kafka: ready in ${seconds(started)}`);
}

/** Waits for the "started" log line, then for a client-level probe to pass. */
async function waitUntilReady(p: KafkaPaths, pid: number, deadline: number, progress: Progress): Promise<void> {
  while (!logContains(p.log, STARTED_LINE)) {
    assertStillRunning(p, pid);
    if (Date.now() > deadline) throw timeout(p, `no "${STARTED_LINE}" line`);
    await sleep(100);
  }
  progress('kafka: broker started; probing with a client');
  let lastError: string;
  for (;;) {
    assertStillRunning(p, pid);
    try {
      await probe();
      return;
    } catch (err) {
      lastError = (err as Error).message;
    }
    if (Date.now() > deadline) throw timeout(p, `client probe still failing: ${lastError}`);
    await sleep(PROBE_INTERVAL_MS);
  }
}

/**
 * A broker that logs "started" may still lack a controller, topic leaders or the group
 * coordinator; tests need all three, so check each the way a client would use it.
 */
async function probe(): Promise<void> {
  await withAdmin(async (admin) => {
    const cluster = await admin.describeCluster();
    if (cluster.brokers.length === 0 || cluster.controller === null) throw new Error('no broker/controller in metadata');
    await admin.createTopics({
      topics: [{ topic: PROBE_TOPIC, numPartitions: 1, replicationFactor: 1 }],
      waitForLeaders: true,
      timeout: 5_000,
    });
    await admin.fetchTopicMetadata({ topics: [PROBE_TOPIC] });
    // FindCoordinator creates __consumer_offsets; fails until the coordinator is loaded.
    await admin.describeGroups([PROBE_GROUP]);
  });
}

/** Runs `fn` with a short-timeout, non-retrying, silent admin client. */
async function withAdmin(fn: (admin: Admin) => Promise<void>): Promise<void> {
  const kafka = new Kafka({
    clientId: 'vitals-services',
    brokers: [KAFKA_BROKERS],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1_000,
    requestTimeout: 5_000,
    // The caller's loop retries; kafkajs' own backoff would overshoot our deadline.
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    await fn(admin);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

function logContains(file: string, needle: string): boolean {
  try {
    return fs.readFileSync(file, 'utf8').includes(needle);
  } catch {
    return false;
  }
}

function assertStillRunning(p: KafkaPaths, pid: number): void {
  if (runningPid(p.pid, marker(p)) === pid) return;
  throw new Error(`kafka: broker (pid ${pid}) exited during startup. Last lines of ${p.log}:\n${tailFile(p.log)}`);
}

function timeout(p: KafkaPaths, why: string): Error {
  return new Error(`kafka: not ready after ${READY_TIMEOUT_MS / 1000} s (${why}). Last lines of ${p.log}:\n${tailFile(p.log)}`);
}
