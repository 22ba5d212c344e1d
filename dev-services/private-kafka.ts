/**
 * A private, throwaway single-node Kafka for tests and benchmarks that must kill or restart a
 * broker: its own ports and its own temp state dir, never the shared one `vitals services`
 * runs (that one other suites are using). Same jars and recipe as dev-services/kafka.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { ensureKafkaJars } from './kafka.js';
import { findExecutable, isPortFree, runCommand, sleep } from './process-control.js';

const CLUSTER_ID = 'UHJpdmF0ZUthZmthVGVzdA';
const STARTED_LINE = 'Kafka Server started';

export interface PrivateKafka {
  /** Client bootstrap address, `127.0.0.1:<port>`. */
  brokers: string;
  dir: string;
  pid(): number | null;
  /** Send a signal to the broker JVM (SIGKILL: a crash) and wait for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Start it again on the same ports and state; resolves when it serves clients. */
  restart(timeoutMs?: number): Promise<void>;
  /** Stop it (SIGKILL: the data is throwaway) and delete its state dir. */
  destroy(): Promise<void>;
}

export interface PrivateKafkaOptions {
  /** The checkout root (jars are cached in `<root>/.cache/kafka-libs`). */
  root: string;
  /** State dir; created (and deleted by destroy) when absent. */
  dir: string;
  /** Client port; the controller listens on port + 1. 0 or absent: a free pair is picked. */
  port?: number;
  heapMb?: number;
  progress?: (line: string) => void;
}

async function freePortPair(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = 30000 + Math.floor(Math.random() * 15000) * 2; // even, and p + 1 <= 59999
    if ((await isPortFree(p)) && (await isPortFree(p + 1))) return p;
  }
  throw new Error('private kafka: no free port pair found');
}

function properties(dir: string, port: number): string {
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${port + 1}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${port + 1}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
    'inter.broker.listener.name=PLAINTEXT',
    'controller.listener.names=CONTROLLER',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    `log.dirs=${path.join(dir, 'data')}`,
    'num.partitions=1',
    'default.replication.factor=1',
    'min.insync.replicas=1',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=1',
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=false',
    'num.network.threads=2',
    'num.io.threads=2',
    'num.recovery.threads.per.data.dir=1',
    'background.threads=2',
    'log.retention.hours=1',
    'log.segment.bytes=16777216',
    '',
  ].join('\n');
}

/** Start a private broker; resolves once it serves metadata and creates topics. */
export async function startPrivateKafka(opts: PrivateKafkaOptions): Promise<PrivateKafka> {
  const progress = opts.progress ?? (() => undefined);
  await ensureKafkaJars(opts.root, progress);
  const java = findExecutable('java', process.env['JAVA_HOME'] ? [path.join(process.env['JAVA_HOME'], 'bin')] : []);
  if (!java) throw new Error('private kafka: no `java` on PATH (install a JRE 17)');
  const port = opts.port || (await freePortPair());
  const dir = opts.dir;
  fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
  const props = path.join(dir, 'server.properties');
  fs.writeFileSync(props, properties(dir, port));
  const libs = path.join(opts.root, '.cache', 'kafka-libs');
  const log4j = path.join(opts.root, 'infra', 'kafka', 'log4j.properties');
  const jvm = [`-Dlog4j.configuration=${pathToFileURL(log4j).href}`, `-Dkafka.logs.dir=${dir}`, '-cp', `${libs}${path.sep}*`];
  if (!fs.existsSync(path.join(dir, 'data', 'meta.properties'))) {
    const r = await runCommand(java, ['-Xmx256m', ...jvm, 'kafka.tools.StorageTool', 'format', '-t', CLUSTER_ID, '-c', props, '--ignore-formatted'], { cwd: dir });
    if (r.code !== 0) throw new Error(`private kafka: format failed (exit ${r.code}):\n${r.tail}`);
  }
  const brokers = `127.0.0.1:${port}`;
  const logFile = path.join(dir, 'kafka.out');
  let child: ChildProcess | null = null;

  const launch = async (timeoutMs: number): Promise<void> => {
    const offset = fs.existsSync(logFile) ? fs.statSync(logFile).size : 0;
    const out = fs.openSync(logFile, 'a');
    const heap = `${opts.heapMb ?? 512}m`;
    child = spawn(java, [`-Xms${heap}`, `-Xmx${heap}`, '-server', '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', '-XX:+ExitOnOutOfMemoryError', '-Djava.awt.headless=true', ...jvm, 'kafka.Kafka', props], {
      cwd: dir,
      stdio: ['ignore', out, out],
    });
    fs.closeSync(out);
    const me = child;
    const deadline = Date.now() + timeoutMs;
    const logSince = (): string => {
      try {
        return fs.readFileSync(logFile, 'utf8').slice(offset);
      } catch {
        return '';
      }
    };
    while (!logSince().includes(STARTED_LINE)) {
      if (me.exitCode !== null || me.signalCode !== null) throw new Error(`private kafka exited during start:\n${logSince().split('\n').slice(-15).join('\n')}`);
      if (Date.now() > deadline) throw new Error(`private kafka not started after ${timeoutMs} ms:\n${logSince().split('\n').slice(-15).join('\n')}`);
      await sleep(200);
    }
    // "Started" may precede a usable controller and topic leaders: probe like a client.
    const kafka = new Kafka({ clientId: 'private-kafka-probe', brokers: [brokers], logLevel: logLevel.NOTHING, connectionTimeout: 1000, requestTimeout: 5000, retry: { retries: 0 } });
    for (;;) {
      const admin = kafka.admin();
      try {
        await admin.connect();
        const c = await admin.describeCluster();
        if (c.controller !== null && c.brokers.length > 0) {
          await admin.createTopics({ topics: [{ topic: '__private_probe', numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true, timeout: 5000 });
          await admin.fetchTopicMetadata({ topics: ['__private_probe'] });
          return;
        }
      } catch {
        /* not yet */
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
      if (Date.now() > deadline) throw new Error(`private kafka not serving clients after ${timeoutMs} ms`);
      await sleep(250);
    }
  };

  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    const c = child as ChildProcess | null;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill(signal);
    await exited;
  };

  progress(`private kafka: starting on ${brokers} in ${dir}`);
  try {
    await launch(120_000);
  } catch (e) {
    await kill();
    throw e;
  }
  progress(`private kafka: ready on ${brokers}`);
  return {
    brokers,
    dir,
    pid: () => (child as ChildProcess | null)?.pid ?? null,
    kill,
    restart: async (timeoutMs = 120_000) => {
      await kill();
      await launch(timeoutMs);
    },
    destroy: async () => {
      await kill();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
