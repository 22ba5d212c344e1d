/**
 * Socket writes in batches: a dashboard socket that is sent vitals, scores or device status holds
 * its writes (corked) for up to `windowMs`, then every held frame leaves in one `writev`. An alert
 * or a reply releases the socket at once, carrying whatever it held, in order.
 *
 * Why: at 1,000 patients a gateway sent ~800 frames a second to 20 dashboards, one system call
 * each, and those calls were about a seventh of the embedded server's CPU per sample
 * (BENCHMARKS.md, issue 11). A vitals tile gains nothing from arriving 100 ms sooner; an alert
 * never waits for the window.
 */

/** What is held: a socket's writable side (`net.Socket`, the Duplex `ws` wraps). */
export interface Corkable {
  cork(): void;
  uncork(): void;
}

export class WriteBatcher<K extends Corkable> {
  private readonly held = new Set<K>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly windowMs: number) {}

  /** Writes to `s` from now on wait for the window to end (or for {@link release}). */
  hold(s: K): void {
    if (this.windowMs <= 0 || this.held.has(s)) return;
    this.held.add(s);
    s.cork();
    this.timer ??= setTimeout(() => this.releaseAll(), this.windowMs);
  }

  /** Write what `s` holds now (before an alert or a reply goes out behind it). */
  release(s: K): void {
    if (!this.held.delete(s)) return;
    s.uncork();
  }

  /** The socket is gone: forget it without writing. */
  forget(s: K): void {
    this.held.delete(s);
  }

  releaseAll(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const held = [...this.held];
    this.held.clear();
    for (const s of held) s.uncork();
  }
}
