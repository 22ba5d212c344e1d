import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runNews2Cli } from './news2-cli.js';

async function cli(text: string): Promise<{ code: number; lines: unknown[]; errors: string[] }> {
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks: Buffer[] = [];
  const errChunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  err.on('data', (c: Buffer) => errChunks.push(c));
  const code = await runNews2Cli(Readable.from([text]), out, err);
  out.end();
  err.end();
  const lines = Buffer.concat(chunks).toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as unknown);
  const errors = Buffer.concat(errChunks).toString('utf8').split('\n').filter(Boolean);
  return { code, lines, errors };
}

describe('vitals news2', () => {
  it('scores the example line from the brief', async () => {
    const r = await cli('{"rr":18,"spo2":95,"scale":1,"o2":false,"sbp":118,"hr":88,"acvpu":"A","temp":37.2}\n');
    expect(r).toEqual({ code: 0, lines: [{ score: 1, risk: 'low', components: { rr: 0, spo2: 1, o2: 0, sbp: 0, hr: 0, acvpu: 0, temp: 0 } }], errors: [] });
  });

  it('reports bad lines with their number, keeps going, skips blanks, exits 1', async () => {
    const r = await cli(
      [
        '{"rr":25,"spo2":91,"o2":true,"sbp":90,"hr":131,"acvpu":"U","temp":35}',
        '',
        '{"rr":18,',
        '{"spo2":150,"rr":18,"sbp":118,"hr":88,"acvpu":"A","temp":37.2,"o2":false}',
        '{"acvpu":"X","rr":"18"}',
        '{"o2":"on air","rr":16}',
        '{"bp":120}',
        '[1,2]',
        '{}',
        '{"temp":38.05,"hr":90.5}',
        '   ',
      ].join('\r\n'),
    );
    expect(r.code).toBe(1);
    expect(r.errors).toEqual([
      expect.stringMatching(/^vitals news2: line 3: invalid JSON/),
      'vitals news2: line 4: spo2: 150 is outside the possible range 0..100',
      'vitals news2: line 5: rr: must be a finite number; acvpu: must be one of A, C, V, P, U',
      'vitals news2: line 6: o2: must be true or false',
      'vitals news2: line 7: bp: unknown field',
      'vitals news2: line 8: expected a JSON object',
      'vitals news2: line 9: no NEWS2 parameter in the line',
    ]);
    expect(r.lines).toEqual([
      { score: 20, risk: 'high', components: { rr: 3, spo2: 3, o2: 2, sbp: 3, hr: 3, acvpu: 3, temp: 3 } },
      { score: 2, risk: 'low', components: { rr: 0, spo2: 0, o2: 0, sbp: 0, hr: 1, acvpu: 0, temp: 1 }, complete: false, missing: ['rr', 'spo2', 'o2', 'sbp', 'acvpu'], maxScore: 16 },
    ]);
  });

  it('exits 0 on empty input', async () => {
    expect(await cli('')).toEqual({ code: 0, lines: [], errors: [] });
  });

  it('respects backpressure on large inputs', async () => {
    const line = '{"rr":18,"spo2":95,"o2":false,"sbp":118,"hr":88,"acvpu":"A","temp":37.2}\n';
    const out = new PassThrough({ highWaterMark: 64 });
    let n = 0;
    out.on('data', (c: Buffer) => (n += c.toString().split('\n').length - 1));
    expect(await runNews2Cli(Readable.from([line.repeat(5000)]), out, new PassThrough())).toBe(0);
    out.end();
    await new Promise((r) => setImmediate(r));
    expect(n).toBe(5000);
  });
});
