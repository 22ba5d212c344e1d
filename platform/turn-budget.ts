/**
 * Runs queued synchronous jobs a few milliseconds per turn of the event loop. Ingest parses a
 * ward gateway's 500-sample backfill batch in about a millisecond; 200 gateways' batches arriving
 * together were parsed back to back in one poll phase and held the loop (and /healthz) for over a
 * second in issue 11's growth run. Through this queue they take turns with timers, health checks
 * and live traffic instead. Order is first in, first out; a job's result or error reaches its caller.
 */
export class TurnBudget {
  private readonly queue: Array<() => void> = [];
  private scheduled = false;

  /** @param budgetMs - time jobs may run per turn before the rest wait for the next one (at least one job runs per turn) */
  constructor(private readonly budgetMs: number) {}

  /** Jobs waiting for a turn. */
  get waiting(): number {
    return this.queue.length;
  }

  run<T>(job: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push(() => {
        try {
          resolve(job());
        } catch (e) {
          reject(e);
        }
      });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.drain);
      }
    });
  }

  private readonly drain = (): void => {
    const end = performance.now() + this.budgetMs;
    do (this.queue.shift() as () => void)();
    while (this.queue.length > 0 && performance.now() < end);
    if (this.queue.length > 0) setImmediate(this.drain);
    else this.scheduled = false;
  };
}
