/**
 * The patient view: trend charts of each vital (uPlot) with alert markers, the
 * patient's open alerts, and manual observation entry (ACVPU, air/O2, cuff BP, temp).
 */
import uPlot from 'uplot';
import { ApiError, type Api } from './api.js';
import { h, setHidden, setText } from './dom.js';
import { METRIC_UNIT, PARAM_LABEL, PRIORITY_MARK, RISK_LABEL, RISK_SHAPE, clock, clockShort, location, scoreText, value } from './format.js';
import type { AlertView, Metric, Model, Priority } from './model.js';

interface RawPoint {
  ts: number;
  value: number;
}
interface BucketPoint {
  ts: number;
  min: number;
  max: number;
  avg: number;
  count: number;
}
type Point = RawPoint | BucketPoint;

interface Marker {
  id: string;
  ts: number;
  priority: Priority;
}

const RANGES: Array<{ label: string; ms: number }> = [
  { label: '1 h', ms: 3600_000 },
  { label: '4 h', ms: 4 * 3600_000 },
  { label: '12 h', ms: 12 * 3600_000 },
  { label: '24 h', ms: 24 * 3600_000 },
];

interface ChartDef {
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

const CHARTS: ChartDef[] = [
  { key: 'hr', title: 'Heart rate', unit: '/min', metrics: ['hr'], colors: ['#7cc4ff'], soft: [40, 140], normal: [51, 90] },
  { key: 'spo2', title: 'SpO₂', unit: '%', metrics: ['spo2'], colors: ['#8be9c4'], soft: [85, 100], normal: [96, 100] },
  { key: 'rr', title: 'Respiration rate', unit: '/min', metrics: ['rr'], colors: ['#ffd27a'], soft: [5, 30], normal: [12, 20] },
  { key: 'temp', title: 'Temperature', unit: '°C', metrics: ['temp'], colors: ['#ffa6d1'], soft: [35, 40], normal: [36.1, 38] },
  { key: 'bp', title: 'Blood pressure (sys / dia)', unit: 'mmHg', metrics: ['sbp', 'dbp'], colors: ['#c6a7ff', '#9aa8ff'], soft: [40, 180], normal: [111, 219] },
];

const MARKER_COLOR: Record<Priority, string> = { high: '#ff6b6b', medium: '#ffb020', low: '#5bc0eb' };

/** One chart: its series as columns, so a live value is a push. */
class Chart {
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
    const opts: uPlot.Options = {
      width,
      height: 150,
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
        { ...axis, size: 46 },
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
    if (width !== this.plot.width) this.plot.setSize({ width, height: 150 });
  }

  redraw(): void {
    this.plot?.redraw(false, false);
  }

  destroy(): void {
    this.plot?.destroy();
    this.plot = null;
  }
}

export interface PatientDeps {
  api: Api;
  model: Model;
  canAct(ward: string | null): boolean;
  notify(text: string): void;
}

export class PatientView {
  private readonly charts = CHARTS.map((d) => new Chart(d));
  private readonly title: HTMLElement;
  private readonly loc: HTMLElement;
  private readonly news: HTMLElement;
  private readonly newsMissing: HTMLElement;
  private readonly current: HTMLElement;
  private readonly alertsList: HTMLElement;
  private readonly alertsEmpty: HTMLElement;
  private readonly form: HTMLFormElement;
  private readonly formStatus: HTMLElement;
  private readonly formNote: HTMLElement;
  private readonly rangeButtons: HTMLButtonElement[];
  private readonly resizeObs: ResizeObserver;
  private rangeMs = 4 * 3600_000;
  private patientId: string | null = null;
  private loadToken = 0;
  private frame = 0;
  private chartsDirty = false;
  private liveTimer: ReturnType<typeof setInterval> | null = null;
  private historyMarkers: Marker[] = [];

  constructor(
    private readonly root: HTMLElement,
    private readonly deps: PatientDeps,
  ) {
    this.title = h('h2', { class: 'pv-title', id: 'pv-title', tabindex: '-1' });
    this.loc = h('span', { class: 'pv-loc' });
    this.news = h('span', { class: 'pv-news' });
    this.newsMissing = h('span', { class: 'pv-missing' });
    this.current = h('span', { class: 'pv-current' });
    this.rangeButtons = RANGES.map((r) => {
      const b = h('button', { type: 'button', class: 'seg', 'aria-pressed': r.ms === this.rangeMs ? 'true' : 'false', text: r.label });
      b.addEventListener('click', () => {
        this.rangeMs = r.ms;
        for (const x of this.rangeButtons) x.setAttribute('aria-pressed', x === b ? 'true' : 'false');
        void this.load();
      });
      return b;
    });
    this.alertsList = h('ul', { class: 'pv-alerts' });
    this.alertsEmpty = h('p', { class: 'muted', text: 'No open alerts.' });
    this.formStatus = h('span', { class: 'obs-status', role: 'status', 'aria-live': 'polite' });
    this.formNote = h('p', { class: 'muted', hidden: true, text: 'Your role can view but not record observations.' });
    this.form = this.buildForm();
    const chartsBox = h('div', { class: 'charts' }, ...this.charts.map((c) => c.root));
    root.append(
      h(
        'div',
        { class: 'pv-head' },
        h('a', { class: 'back button', href: '#/', text: '← Ward view' }),
        h('div', { class: 'pv-id' }, this.title, this.loc),
        h('div', { class: 'pv-score' }, this.news, this.newsMissing),
        h('div', { class: 'seg-group', role: 'group', 'aria-label': 'Chart time range' }, ...this.rangeButtons),
      ),
      h('p', { class: 'pv-current-line' }, this.current),
      h(
        'div',
        { class: 'pv-body' },
        chartsBox,
        h('aside', { class: 'pv-side' }, h('section', { class: 'panel' }, h('h3', { text: 'Open alerts' }), this.alertsList, this.alertsEmpty), h('section', { class: 'panel' }, h('h3', { text: 'Record observation' }), this.formNote, this.form)),
      ),
    );
    this.resizeObs = new ResizeObserver(() => {
      for (const c of this.charts) c.resize();
    });
    this.resizeObs.observe(chartsBox);
  }

  private buildForm(): HTMLFormElement {
    const radios = (name: string, opts: Array<[string, string]>) =>
      opts.map(([v, label]) => h('label', { class: 'radio' }, h('input', { type: 'radio', name, value: v }), h('span', { text: label })));
    const num = (name: string, label: string, unit: string, min: number, max: number, step = '1') =>
      h('label', { class: 'field' }, h('span', { class: 'field-label', text: label }), h('input', { type: 'number', name, min, max, step, inputmode: step === '1' ? 'numeric' : 'decimal' }), h('span', { class: 'field-unit', text: unit }));
    const form = h(
      'form',
      { class: 'obs', novalidate: true },
      h('fieldset', {}, h('legend', { text: 'Consciousness (ACVPU)' }), h('div', { class: 'radios' }, ...radios('acvpu', [['A', 'A · Alert'], ['C', 'C · New confusion'], ['V', 'V · Voice'], ['P', 'P · Pain'], ['U', 'U · Unresponsive']]))),
      h('fieldset', {}, h('legend', { text: 'Breathing' }), h('div', { class: 'radios' }, ...radios('o2', [['false', 'Air'], ['true', 'Supplemental O₂']]))),
      h('fieldset', {}, h('legend', { text: 'Cuff blood pressure and temperature' }), h('div', { class: 'fields' }, num('sbp', 'Systolic', 'mmHg', 20, 350), num('dbp', 'Diastolic', 'mmHg', 10, 250), num('temp', 'Temperature', '°C', 20, 45, '0.1'))),
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary', text: 'Record observation' }), h('button', { type: 'reset', text: 'Clear' }), this.formStatus),
    );
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void this.submit();
    });
    form.addEventListener('reset', () => setText(this.formStatus, ''));
    return form;
  }

  private async submit(): Promise<void> {
    const id = this.patientId;
    if (!id) return;
    const fd = new FormData(this.form);
    const body: Record<string, unknown> = {};
    const acvpu = fd.get('acvpu');
    if (typeof acvpu === 'string' && acvpu) body.acvpu = acvpu;
    const o2 = fd.get('o2');
    if (o2 === 'true' || o2 === 'false') body.o2 = o2 === 'true';
    const errors: string[] = [];
    const readNum = (name: string, label: string, min: number, max: number): number | null => {
      const raw = fd.get(name);
      if (typeof raw !== 'string' || raw.trim() === '') return null;
      const v = Number(raw);
      if (!Number.isFinite(v) || v < min || v > max) {
        errors.push(`${label} must be between ${min} and ${max}`);
        return null;
      }
      return v;
    };
    const sbp = readNum('sbp', 'Systolic', 20, 350);
    const dbp = readNum('dbp', 'Diastolic', 10, 250);
    const temp = readNum('temp', 'Temperature', 20, 45);
    if (dbp !== null && sbp === null) errors.push('Enter the systolic pressure with the diastolic');
    if (sbp !== null && dbp !== null && dbp >= sbp) errors.push('Diastolic must be lower than systolic');
    if (sbp !== null) body.sbp = sbp;
    if (dbp !== null) body.dbp = dbp;
    if (temp !== null) body.temp = temp;
    if (!errors.length && Object.keys(body).length === 0) errors.push('Enter at least one observation');
    if (errors.length) {
      this.formStatus.dataset.kind = 'error';
      setText(this.formStatus, errors.join('. '));
      return;
    }
    const btn = this.form.querySelector('button[type=submit]') as HTMLButtonElement;
    btn.disabled = true;
    this.formStatus.dataset.kind = '';
    setText(this.formStatus, 'Recording…');
    try {
      await this.deps.api.post(`/api/patients/${encodeURIComponent(id)}/observations`, body);
      this.form.reset();
      this.formStatus.dataset.kind = 'ok';
      setText(this.formStatus, `Recorded at ${clock(Date.now())}`);
    } catch (e) {
      this.formStatus.dataset.kind = 'error';
      setText(this.formStatus, `Not recorded: ${e instanceof ApiError ? e.message : 'unexpected error'}`);
    } finally {
      btn.disabled = false;
    }
  }

  get openPatient(): string | null {
    return this.patientId;
  }

  open(patientId: string): void {
    this.patientId = patientId;
    setHidden(this.root, false);
    this.form.reset();
    setText(this.formStatus, '');
    this.update();
    void this.load();
    if (this.liveTimer) clearInterval(this.liveTimer);
    // Slide the window with the clock and redraw what arrived live, once a second.
    this.liveTimer = setInterval(() => {
      const now = Date.now();
      for (const c of this.charts) {
        c.from = now - this.rangeMs;
        c.to = now;
      }
      this.chartsDirty = true;
      this.schedule();
    }, 1000);
    this.title.focus({ preventScroll: true });
  }

  close(): void {
    this.patientId = null;
    this.loadToken++;
    if (this.liveTimer) clearInterval(this.liveTimer);
    this.liveTimer = null;
    setHidden(this.root, true);
    for (const c of this.charts) c.destroy();
  }

  /** Header, current values and the patient's alerts, from the live model. */
  update(): void {
    const id = this.patientId;
    if (!id) return;
    const p = this.deps.model.patients.get(id);
    setText(this.title, id);
    setText(this.loc, p ? location(p.ward, p.bed) : 'Not in your wards, or no data yet');
    const sc = p?.score;
    this.news.dataset.risk = sc?.risk ?? 'none';
    setText(this.news, sc ? `${RISK_SHAPE[sc.risk]} NEWS2 ${scoreText(sc.score, sc.complete)} · ${RISK_LABEL[sc.risk]} risk` : 'NEWS2 not scored yet');
    const gaps = sc ? [...(sc.missing ?? []).map((m) => PARAM_LABEL[m] ?? m), ...(sc.stale ?? []).map((m) => `${PARAM_LABEL[m] ?? m} (old)`)] : [];
    setText(this.newsMissing, sc && !sc.complete && gaps.length ? `Lower bound: missing ${gaps.join(', ')}` : '');
    const cur = (['hr', 'spo2', 'rr', 'temp'] as Metric[]).map((m) => `${PARAM_LABEL[m]} ${value(m, p?.latest[m]?.value)}${p?.latest[m] ? ` ${METRIC_UNIT[m]}` : ''}`);
    const sbp = p?.latest.sbp;
    const dbp = p?.latest.dbp;
    cur.push(`BP ${sbp ? `${value('sbp', sbp.value)}/${dbp ? value('dbp', dbp.value) : '—'} mmHg` : '—'}`);
    setText(this.current, `Now: ${cur.join(' · ')}`);

    const alerts = [...this.deps.model.alerts.values()].filter((a) => a.patientId === id);
    this.alertsList.replaceChildren(...alerts.map((a) => h('li', { 'data-priority': a.priority }, h('span', { class: 'ar-prio', text: `${PRIORITY_MARK[a.priority]} ${a.priority}` }), ` ${a.message || a.ruleId} — ${a.state === 'acknowledged' ? `acknowledged by ${a.ackBy ?? '?'}` : a.escalated ? 'escalated' : 'not acknowledged'}`)));
    setHidden(this.alertsEmpty, alerts.length > 0);
    const can = this.deps.canAct(p?.ward ?? null);
    setHidden(this.form, !can);
    setHidden(this.formNote, can);
    this.setMarkers(alerts);
  }

  private setMarkers(live: readonly AlertView[]): void {
    const byId = new Map<string, Marker>();
    for (const m of this.historyMarkers) byId.set(m.id, m);
    for (const a of live) byId.set(a.id, { id: a.id, ts: a.openedAt, priority: a.priority });
    const markers = [...byId.values()];
    for (const c of this.charts) c.markers = markers;
  }

  /** A live sample for the open patient: appended to the charts, drawn at the next tick. */
  onVitals(m: Record<string, unknown>): void {
    if (m.patientId !== this.patientId || typeof m.ts !== 'number' || typeof m.metrics !== 'object' || m.metrics === null) return;
    for (const c of this.charts) {
      for (const metric of c.def.metrics) {
        const v = (m.metrics as Record<string, unknown>)[metric];
        if (typeof v === 'number' && c.push(metric, m.ts, v)) this.chartsDirty = true;
      }
    }
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      if (this.chartsDirty && this.patientId) {
        this.chartsDirty = false;
        for (const c of this.charts) c.draw();
      }
    });
  }

  private async load(): Promise<void> {
    const id = this.patientId;
    if (!id) return;
    const token = ++this.loadToken;
    const to = Date.now();
    const from = to - this.rangeMs;
    const metrics: Metric[] = ['hr', 'spo2', 'rr', 'temp', 'sbp', 'dbp'];
    const results = await Promise.all(
      metrics.map((m) =>
        this.deps.api
          .get<{ points: Point[] }>(`/api/patients/${encodeURIComponent(id)}/vitals?metric=${m}&from=${from}&to=${to}`)
          .then((r) => [m, r.points] as const)
          .catch((e: unknown) => {
            if (token === this.loadToken) this.deps.notify(`Trend for ${m} could not be loaded: ${e instanceof ApiError ? e.message : 'error'}`);
            return [m, [] as Point[]] as const;
          }),
      ),
    );
    const ward = this.deps.model.patients.get(id)?.ward;
    const hist = await this.deps.api
      .get<{ alerts: Array<{ alert: { id: string; patientId: string; openedAt: number; priority: Priority } }> }>(`/api/alerts?from=${from}&to=${to}&limit=1000${ward ? `&ward=${encodeURIComponent(ward)}` : ''}`)
      .then((r) => r.alerts.filter((e) => e.alert.patientId === id).map((e) => ({ id: e.alert.id, ts: e.alert.openedAt, priority: e.alert.priority })))
      .catch(() => [] as Marker[]);
    if (token !== this.loadToken) return;
    this.historyMarkers = hist;
    this.update();
    const series = Object.fromEntries(results) as Partial<Record<Metric, Point[]>>;
    for (const c of this.charts) c.setData(series, from, to);
  }
}
