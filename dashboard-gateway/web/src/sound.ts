/** An optional audible cue for new high-priority alerts (WebAudio; off by default). */

export class Beeper {
  private ctx: AudioContext | null = null;
  enabled = false;

  /** Call from a user gesture: browsers only allow audio after one. */
  enable(on: boolean): void {
    this.enabled = on;
    if (on && !this.ctx) {
      try {
        this.ctx = new AudioContext();
      } catch {
        this.ctx = null;
      }
    }
    if (on) void this.ctx?.resume();
  }

  /** IEC 60601-1-8-like high-priority burst: three short tones, repeated once. */
  high(): void {
    this.pattern([0, 0.18, 0.36, 0.8, 0.98], 880);
  }

  medium(): void {
    this.pattern([0, 0.25, 0.5], 660);
  }

  private pattern(starts: number[], freq: number): void {
    const ctx = this.ctx;
    if (!this.enabled || !ctx) return;
    const t0 = ctx.currentTime + 0.02;
    for (const s of starts) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = 'square';
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, t0 + s);
      gain.gain.exponentialRampToValueAtTime(0.15, t0 + s + 0.01);
      gain.gain.exponentialRampToValueAtTime(0.0001, t0 + s + 0.13);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t0 + s);
      osc.stop(t0 + s + 0.15);
    }
  }
}
