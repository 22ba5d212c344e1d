/**
 * HL7's FHIR validator (HAPI FHIR 8.8.1, R4, no terminology server) for the integration
 * suite. The first use builds test/fhir-validator with Maven into .cache/ (Maven repository
 * .cache/m2); later runs reuse the build and work offline. Java 17 and Maven must be on PATH.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const project = path.join(root, 'test/fhir-validator');
const out = path.join(root, '.cache/fhir-validator');
const repo = path.join(root, '.cache/m2');

export interface Issue {
  severity: 'fatal' | 'error' | 'warning';
  location: string;
  message: string;
}

async function newest(files: string[]): Promise<number> {
  let t = 0;
  for (const f of files) t = Math.max(t, (await stat(f)).mtimeMs);
  return t;
}

/** Build the validator unless an up-to-date build is cached; offline first, online when something is missing. */
export async function buildValidator(): Promise<void> {
  const sources = [path.join(project, 'pom.xml'), path.join(project, 'src/main/java/vitalstream/Validate.java')];
  const marker = path.join(out, 'classes/vitalstream/Validate.class');
  if (existsSync(marker) && existsSync(path.join(out, 'lib')) && (await stat(marker)).mtimeMs >= (await newest(sources))) return;
  const mvn = (offline: boolean) => run('mvn', ['-q', '-B', ...(offline ? ['-o'] : []), `-Dmaven.repo.local=${repo}`, '-f', path.join(project, 'pom.xml'), 'package'], { maxBuffer: 16 << 20 });
  try {
    await mvn(true);
  } catch (offline) {
    if ((offline as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('the HL7 FHIR validator test needs Java 17 and Maven on PATH (Debian: apt-get install openjdk-17-jdk-headless maven)', { cause: offline });
    await mvn(false);
  }
}

/** Validate resources (one HAPI run for all); returns the warnings, errors and fatals of each, by name. */
export async function validateWithHapi(resources: Record<string, unknown>): Promise<Record<string, Issue[]>> {
  await buildValidator();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'vitals-fhir-'));
  try {
    const names = Object.keys(resources);
    const files = names.map((_, i) => path.join(dir, `${i}.json`));
    await Promise.all(names.map((n, i) => writeFile(files[i] as string, JSON.stringify(resources[n]))));
    const cp = `${path.join(out, 'classes')}${path.delimiter}${path.join(out, 'lib', '*')}`;
    const { stdout } = await run('java', ['-Xss4m', '-cp', cp, 'vitalstream.Validate', ...files], { maxBuffer: 64 << 20 });
    const result: Record<string, Issue[]> = {};
    const done = new Set<string>();
    for (const line of stdout.split('\n')) {
      if (!line) continue;
      const [file, severity, location, message] = line.split('\t') as [string, string, string, string];
      const name = names[Number(path.basename(file, '.json'))] as string;
      if (severity === 'done') done.add(name);
      else (result[name] ??= []).push({ severity: severity as Issue['severity'], location, message });
    }
    // Every resource must have been validated: a crash half-way must not read as "no errors".
    const missed = names.filter((n) => !done.has(n));
    if (missed.length) throw new Error(`the validator did not report on: ${missed.join(', ')}`);
    for (const n of names) result[n] ??= [];
    return result;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
