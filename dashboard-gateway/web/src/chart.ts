/**
 * One patient-view trend chart (uPlot): a vital's readings or rollup buckets, the NEWS2
 * zero-point band shaded, alert markers, round y labels, and lone readings drawn as ringed
 * dots with their value. The view sets its height so the charts fill the screen.
 */
import uPlot from 'uplot';
import { MIN_CHART_PX, isolatedPoints, niceTicks, stepDecimals, tickTarget } from './chart-layout.js';
import { h, setHidden, setText } from './dom.js';
import { PRIORITY_MARK, clock, clockShort, value } from './format.js';
import type { Metric, Priority } from './model.js';
// The history API's point shapes are the server's own (core/ is pure: safe to bundle).
import type { BucketPoint, RawPoint } from '../../../core/ports.js';

export type Point = RawPoint | BucketPoint;

export interface Marker {
  id: string;
  ts: number;
  priority: Priority;
}

export interface ChartDef {
  key: 'hr' | 'spo2' | 'rr' | 'temp' | 'bp';
  title: string;
  unit: string;
  metrics: Metric[];
  colors: string[];
  /** Always shown (so a flat normal trace does not look alarming); widened by the data. */
  soft: [number, number];
  /** NEWS2 zero-point range, shaded as "usual". */
  normal: [number, number] | null;
}

export const CHARTS: ChartDef[] = [
  { key: 'hr', title: 'Heart rate', unit: '/min', metrics: ['hr'], colors: ['#7cc4ff'], soft: [40, 140], normal: [51, 90] },
  { key: 'spo2', title: 'SpO₂', unit: '%', metrics: ['spo2'], colors: ['#8be9c4'], soft: [85, 100], normal: [96, 100] },
  { key: 'rr', title: 'Respiration rate', unit: '/min', metrics: ['rr'], colors: ['#ffd27a'], soft: [5, 30], normal: [12, 20] },
  { key: 'temp', title: 'Temperature', unit: '°C', metrics: ['temp'], colors: ['#ffa6d1'], soft: [35, 40], normal: [36.1, 38] },
  { key: 'bp', title: 'Blood pressure (sys / dia)', unit: 'mmHg', metrics: ['sbp', 'dbp'], colors: ['#c6a7ff', '#9aa8ff'], soft: [40, 180], normal: [111, 219] },
];

const MARKER_COLOR: Record<Priority, string> = { high: '#ff6b6b', medium: '#ffb020', low: '#5bc0eb' };

/** One chart: its series as columns, so a live value is a push. */
export class Chart {
  readonly root: HTMLElement;
  private readonly box: HTMLElement;
  private readonly empty: HTMLElement;
  private readonly latest: HTMLElement;
  private plot: uPlot | null = null;
  /** Per metric: x, y (avg or value), min, max. */
  private cols: Record<string, { x: number[]; y: number[]; lo: number[]; hi: number[] }> = {};
  private bucketed = false;
  markers: Marker[] = [];
  from = 0;
  to = 0;
  /** Plot height in CSS px: set by the view so the charts fill the screen. */
  height = MIN_CHART_PX;

  constructor(readonly def: ChartDef) {
    this.box = h('div', { class: 'chart-box' });
    this.empty = h('p', { class: 'chart-empty', text: 'Loading…' });
    this.latest = h('span', { class: 'chart-latest' });
    this.root = h(
      'figure',
      { class: 'chart', 'data-chart': def.key, 'data-count': '0' },
      h('figcaption', {}, h('span', { class: 'chart-title', text: def.title }), h('span', { class: 'chart-unit', text: ` (${def.unit})` }), this.latest),
      this.box,
      this.empty,
    );
  }

  setData(series: Partial<Record<Metric, Point[]>>, from: number, to: number): void {
    this.from = from;
    this.to = to;
    this.bucketed = false;
    this.cols = {};
    for (const m of this.def.metrics) {
      const pts = series[m] ?? [];
      const c = { x: [] as number[], y: [] as number[], lo: [] as number[], hi: [] as number[] };
      for (const p of pts) {
        c.x.push(p.ts);
        if ('avg' in p) {
          this.bucketed = true;
          c.y.push(p.avg);
          c.lo.push(p.min);
          c.hi.push(p.max);
        } else {
          c.y.push(p.value);
          c.lo.push(p.value);
          c.hi.push(p.value);
        }
      }
      this.cols[m] = c;
    }
    this.draw();
  }

  push(m: Metric, ts: number, v: number): boolean {
    const c = this.cols[m];
    if (!c) return false;
    const last = c.x[c.x.length - 1];
    if (last !== undefined && ts <= last) return false;
    c.x.push(ts);
    c.y.push(v);
    c.lo.push(v);
    c.hi.push(v);
    return true;
  }

  /**
   * The window drawn: the chosen range, narrowed to the data when it starts later (a patient
   * monitored for ten minutes is not drawn as a sliver at the edge of four hours).
   */
  viewFrom(): number {
    let first = Infinity;
    for (const c of Object.values(this.cols)) if (c.x.length && (c.x[0] as number) < first) first = c.x[0] as number;
    if (!Number.isFinite(first) || first <= this.from) return this.from;
    const pad = Math.max(60_000, (this.to - first) * 0.05);
    return Math.max(this.from, first - pad);
  }

  count(): number {
    return Object.values(this.cols).reduce((n, c) => n + c.x.length, 0);
  }

  /** Aligned uPlot data: one x column (union of timestamps), nulls where a series has no value. */
  private aligned(): uPlot.AlignedData {
    const xs = [...new Set(this.def.metrics.flatMap((m) => this.cols[m]?.x ?? []))].sort((a, b) => a - b);
    const index = new Map(xs.map((x, i) => [x, i]));
    const out: Array<Array<number | null>> = [xs];
    for (const m of this.def.metrics) {
      const c = this.cols[m] ?? { x: [], y: [], lo: [], hi: [] };
      const y = new Array<number | null>(xs.length).fill(null);
      const lo = new Array<number | null>(xs.length).fill(null);
      const hi = new Array<number | null>(xs.length).fill(null);
      c.x.forEach((x, i) => {
        const k = index.get(x) as number;
        y[k] = c.y[i] ?? null;
        lo[k] = c.lo[i] ?? null;
        hi[k] = c.hi[i] ?? null;
      });
      out.push(y);
      if (this.bucketed) out.push(lo, hi);
    }
    return out as uPlot.AlignedData;
  }

  draw(): void {
    const n = this.count();
    this.root.setAttribute('data-count', String(n));
    setText(this.empty, 'No readings in this period');
    setHidden(this.empty, n > 0);
    const lastVals = this.def.metrics.map((m) => {
      const c = this.cols[m];
      const v = c?.y[c.y.length - 1];
      return v === undefined ? '—' : value(m, v);
    });
    setText(this.latest, n > 0 ? `  latest ${lastVals.join('/')}` : '');
    const data = this.aligned();
    const width = Math.max(240, Math.floor(this.box.clientWidth || 480));
    if (this.plot && this.plot.series.length === data.length) {
      this.plot.batch(() => {
        this.plot?.setData(data, false);
        this.plot?.setScale('x', { min: this.viewFrom(), max: this.to });
      });
      return;
    }
    this.plot?.destroy();
    const series: uPlot.Series[] = [{}];
    const bands: uPlot.Band[] = [];
    this.def.metrics.forEach((m, i) => {
      const color = this.def.colors[i] ?? '#ddd';
      series.push({ label: m, stroke: color, width: 2, spanGaps: false, points: { show: (_u, _s, i0, i1) => i1 - i0 < 40, size: 5, fill: color } });
      if (this.bucketed) {
        const at = series.length;
        series.push({ label: `${m} min`, stroke: 'transparent', points: { show: false } }, { label: `${m} max`, stroke: 'transparent', points: { show: false } });
        bands.push({ series: [at + 1, at], fill: `${color}33` });
      }
    });
    const soft = this.def.soft;
    const normal = this.def.normal;
    const markers = (): Marker[] => this.markers;
    const axis = { stroke: '#c8d1dc', grid: { stroke: '#2b3543', width: 1 }, ticks: { stroke: '#2b3543', width: 1 }, font: '12px system-ui, "DejaVu Sans", sans-serif' };
    const root = this.root;
    const colors = this.def.colors;
    const opts: uPlot.Options = {
      width,
      height: this.height,
      ms: 1,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: true, min: this.viewFrom(), max: this.to },
        y: {
          range: (_u, min, max) => {
            const lo = Math.min(soft[0], Number.isFinite(min) ? min : soft[0]);
            const hi = Math.max(soft[1], Number.isFinite(max) ? max : soft[1]);
            const pad = (hi - lo) * 0.05;
            return [Math.floor(lo - pad), Math.ceil(hi + pad)];
          },
        },
      },
      axes: [
        {
          ...axis,
          // Seconds only when the window is short enough for ticks closer than a minute.
          values: (u, splits) => {
            const span = (u.scales.x?.max ?? 0) - (u.scales.x?.min ?? 0);
            return splits.map((v) => (span < 15 * 60_000 ? clock(v) : clockShort(v)));
          },
        },
        {
          ...axis,
          size: 50,
          // Round values about every 40 px (at least 4): a clinician reads the level, not just the shape.
          splits: (u) => {
            const t = niceTicks(u.scales.y?.min ?? 0, u.scales.y?.max ?? 1, tickTarget(u.bbox.height / (window.devicePixelRatio || 1)));
            root.setAttribute('data-yticks', String(t.length));
            return t;
          },
          values: (_u, splits) => {
            const d = stepDecimals(splits);
            return splits.map((v) => v.toFixed(d));
          },
        },
      ],
      series,
      bands,
      hooks: {
        drawClear: [
          (u) => {
            if (!normal) return;
            const ctx = u.ctx;
            const top = u.valToPos(Math.min(normal[1], u.scales.y?.max ?? normal[1]), 'y', true);
            const bot = u.valToPos(Math.max(normal[0], u.scales.y?.min ?? normal[0]), 'y', true);
            ctx.save();
            ctx.fillStyle = 'rgba(120, 200, 150, 0.09)';
            ctx.fillRect(u.bbox.left, top, u.bbox.width, bot - top);
            ctx.restore();
          },
        ],
        draw: [
          (u) => {
            // Readings without a neighbour (a single one, or between gaps) draw no line: a ringed dot and its value.
            const ctx = u.ctx;
            const dpr = window.devicePixelRatio || 1;
            const x0 = u.scales.x?.min ?? 0;
            const x1 = u.scales.x?.max ?? 0;
            const xs = u.data[0];
            const step = this.bucketed ? 3 : 1;
            ctx.save();
            ctx.font = `bold ${Math.round(12 * dpr)}px system-ui, "DejaVu Sans", sans-serif`;
            ctx.textAlign = 'center';
            ctx.textBaseline = 'bottom';
            this.def.metrics.forEach((m, k) => {
              const ys = u.data[1 + k * step] as Array<number | null>;
              const lone = isolatedPoints(ys).filter((i) => (xs[i] as number) >= x0 && (xs[i] as number) <= x1);
              for (const i of lone) {
                const x = u.valToPos(xs[i] as number, 'x', true);
                const y = u.valToPos(ys[i] as number, 'y', true);
                ctx.beginPath();
                ctx.arc(x, y, 6 * dpr, 0, 2 * Math.PI);
                ctx.fillStyle = colors[k] ?? '#ddd';
                ctx.fill();
                ctx.lineWidth = 2 * dpr;
                ctx.strokeStyle = '#e8eef5';
                ctx.stroke();
                if (lone.length <= 6) {
                  ctx.fillStyle = '#e8eef5';
                  ctx.fillText(value(m, ys[i] as number), Math.min(Math.max(x, u.bbox.left + 20 * dpr), u.bbox.left + u.bbox.width - 20 * dpr), y - 9 * dpr);
                }
              }
            });
            ctx.restore();
          },
          (u) => {
            const ctx = u.ctx;
            const dpr = window.devicePixelRatio || 1;
            ctx.save();
            ctx.font = `bold ${Math.round(11 * dpr)}px system-ui, "DejaVu Sans", sans-serif`;
            ctx.textAlign = 'center';
            ctx.textBaseline = 'top';
            // Labels of markers close together are stacked, not drawn over each other.
            let lastX = -Infinity;
            let row = 0;
            for (const mk of [...markers()].sort((a, b) => a.ts - b.ts)) {
              if (mk.ts < (u.scales.x?.min ?? 0) || mk.ts > (u.scales.x?.max ?? 0)) continue;
              const x = u.valToPos(mk.ts, 'x', true);
              row = x - lastX < 22 * dpr ? row + 1 : 0;
              lastX = x;
              ctx.strokeStyle = MARKER_COLOR[mk.priority];
              ctx.fillStyle = MARKER_COLOR[mk.priority];
              ctx.lineWidth = 2 * dpr;
              ctx.setLineDash([5 * dpr, 4 * dpr]);
              ctx.beginPath();
              ctx.moveTo(x, u.bbox.top);
              ctx.lineTo(x, u.bbox.top + u.bbox.height);
              ctx.stroke();
              // The mark on a dark chip, so stacked marks and the dashed line stay legible.
              const label = PRIORITY_MARK[mk.priority];
              const y = u.bbox.top + (1 + row * 14) * dpr;
              const w = ctx.measureText(label).width + 6 * dpr;
              ctx.setLineDash([]);
              ctx.fillStyle = '#161d27';
              ctx.fillRect(x - w / 2, y, w, 13 * dpr);
              ctx.fillStyle = MARKER_COLOR[mk.priority];
              ctx.fillText(label, x, y + 1 * dpr);
            }
            ctx.restore();
          },
        ],
      },
    };
    this.plot = new uPlot(opts, data, this.box);
  }

  resize(): void {
    if (!this.plot) return;
    const width = Math.max(240, Math.floor(this.box.clientWidth));
    if (width !== this.plot.width || this.height !== this.plot.height) this.plot.setSize({ width, height: this.height });
  }

  redraw(): void {
    this.plot?.redraw(false, false);
  }

  /** Height of the drawn plot (with its x axis) in CSS px; 0 before the first draw. */
  plotHeight(): number {
    return this.plot ? this.box.offsetHeight : 0;
  }

  destroy(): void {
    this.plot?.destroy();
    this.plot = null;
  }
}
