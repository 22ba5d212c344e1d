/**
 * The patient view: trend charts of each vital (uPlot) with alert markers, the
 * patient's open alerts, and manual observation entry (ACVPU, air/O2, cuff BP, temp).
 */
import { CHARTS, Chart, type Marker, type Point } from './chart.js';
import { chartHeight } from './chart-layout.js';
import { ApiError, type Api } from './api.js';
import { h, setHidden, setText } from './dom.js';
import { METRIC_UNIT, PARAM_LABEL, PRIORITY_MARK, RISK_LABEL, RISK_SHAPE, clock, location, scoreText, value } from './format.js';
import type { AlertView, Metric, Model, Priority } from './model.js';

const RANGES: Array<{ label: string; ms: number }> = [
  { label: '1 h', ms: 3600_000 },
  { label: '4 h', ms: 4 * 3600_000 },
  { label: '12 h', ms: 12 * 3600_000 },
  { label: '24 h', ms: 24 * 3600_000 },
];

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
  private readonly chartsBox: HTMLElement;
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
    this.chartsBox = chartsBox;
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
    this.resizeObs = new ResizeObserver(() => this.layout());
    this.resizeObs.observe(chartsBox);
    window.addEventListener('resize', () => this.layout());
  }

  /** Size the charts to fill the screen below the header: rows of the grid share the height left. */
  private layout(): void {
    const box = this.chartsBox;
    const first = this.charts[0];
    if (!first || box.clientWidth === 0) return;
    const cols = Math.max(1, getComputedStyle(box).gridTemplateColumns.split(' ').filter(Boolean).length);
    const rows = Math.ceil(this.charts.length / cols);
    const gap = parseFloat(getComputedStyle(box).rowGap) || 12;
    // Caption, padding and border of one chart: its height minus the plot's.
    const chrome = first.root.offsetHeight - first.plotHeight();
    const bottomPad = parseFloat(getComputedStyle(this.root).paddingBottom) || 0;
    const available = window.innerHeight - box.getBoundingClientRect().top - bottomPad + (this.root.scrollTop || 0);
    const height = chartHeight(available, rows, gap, Math.max(0, chrome));
    for (const c of this.charts) {
      c.height = height;
      c.resize();
    }
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
    this.layout();
  }
}
