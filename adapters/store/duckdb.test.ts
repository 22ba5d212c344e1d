import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { storeContract } from './contract.js';
import { createDuckDbStore } from './duckdb.js';

const dirs: string[] = [];
async function tempFile(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vitals-duckdb-'));
  dirs.push(dir);
  return join(dir, 'vitals.duckdb');
}

afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

storeContract('duckdb (file)', async () => createDuckDbStore({ path: await tempFile() }));
storeContract('duckdb (:memory:)', () => createDuckDbStore({ path: ':memory:' }));

describe('duckdb store: file persistence', () => {
  it('keeps data and the migration ledger across reopen', async () => {
    const path = await tempFile();
    const a = await createDuckDbStore({ path });
    await a.migrate();
    const ledger = await a.appliedMigrations();
    await a.insertSamples([{ v: 1, deviceId: 'd', patientId: 'p', ward: 'w', ts: 1_000, recvTs: 1_001, source: 'device', metrics: { hr: 60 }, traceId: 't' }]);
    await a.close();
    const b = await createDuckDbStore({ path });
    await b.migrate();
    expect(await b.appliedMigrations()).toEqual(ledger);
    expect(await b.history({ patientKey: 'p', metric: 'hr', from: 0, to: 10_000, step: 'raw', limit: 10 })).toEqual([{ ts: 1_000, value: 60 }]);
    await b.close();
  });
});
