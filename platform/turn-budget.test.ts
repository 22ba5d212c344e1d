import { describe, expect, it } from 'vitest';
import { TurnBudget } from './turn-budget.js';

const busy = (ms: number): void => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('TurnBudget', () => {
  it('runs jobs in order, a budget per turn, letting other work in between', async () => {
    const b = new TurnBudget(10);
    const done: number[] = [];
    const jobs = Array.from({ length: 20 }, (_, i) => b.run(() => (busy(3), done.push(i), i)));
    let timerRanAfter = -1;
    setTimeout(() => (timerRanAfter = done.length), 0);
    await turn();
    // 3-ms jobs under a 10-ms budget: 4 per turn (the job that crosses the budget still finishes).
    expect(done.length).toBeGreaterThanOrEqual(1);
    expect(done.length).toBeLessThanOrEqual(5);
    expect(await Promise.all(jobs)).toEqual(done);
    expect(done).toEqual(Array.from({ length: 20 }, (_, i) => i));
    // The timer got in before the queue was empty.
    expect(timerRanAfter).toBeGreaterThanOrEqual(0);
    expect(timerRanAfter).toBeLessThan(20);
  });

  it('passes a job error to its caller only', async () => {
    const b = new TurnBudget(10);
    const bad = b.run(() => {
      throw new Error('bad payload');
    });
    const good = b.run(() => 7);
    await expect(bad).rejects.toThrow('bad payload');
    expect(await good).toBe(7);
    expect(b.waiting).toBe(0);
  });
});
