/**
 * The ward view: one tile per patient, ordered by clinical urgency (or bed).
 * Messages only mark tiles dirty; one animation frame writes what changed, and the
 * order is recomputed only when alerts or scores changed.
 */
import { h, setAttr, setHidden, setText } from './dom.js';
import { PARAM_LABEL, PRIORITY_MARK, RISK_LABEL, RISK_SHAPE, age, alertFlagText, bandText, location, scoreText, value } from './format.js';
import { compareBed, compareUrgency, summarise, type AlertView, type Metric, type Model, type Patient, type Priority } from './model.js';

/** Score-driven reorders happen at most this often (alert-driven ones at once). */
export const SETTLE_MS = 15_000;
/** A tile without a new value for this long says so. */
export const TILE_STALE_MS = 60_000;
/** Continuous (wearable) values older than this are shown as old. */
const CONTINUOUS_OLD_MS = 5 * 60_000;
const CONTINUOUS: readonly Metric[] = ['hr', 'spo2', 'rr'];

const RANK_PRIORITY: Record<number, Priority> = { 3: 'high', 2: 'medium', 1: 'low' };

interface Cell {
  root: HTMLElement;
  val: HTMLElement;
  pts: HTMLElement;
}

class Tile {
  readonly root: HTMLAnchorElement;
  private readonly flag: HTMLElement;
  private readonly flagMark: HTMLElement;
  private readonly flagText: HTMLElement;
  private readonly newsShape: HTMLElement;
  private readonly newsNum: HTMLElement;
  private readonly newsBand: HTMLElement;
  private readonly newsMissing: HTMLElement;
  private readonly loc: HTMLElement;
  private readonly cells: Record<'hr' | 'spo2' | 'rr' | 'temp' | 'bp', Cell>;
  private readonly ageEl: HTMLElement;
  private readonly dev: HTMLElement;
  private label = '';

  constructor(readonly patientId: string) {
    const cell = (key: string, label: string, unit: string): Cell => {
      const val = h('span', { class: 'v-val', text: '—' });
      const pts = h('span', { class: 'v-pts', hidden: true });
      const root = h('span', { class: 'v', 'data-m': key }, h('span', { class: 'v-label', text: label }), val, h('span', { class: 'v-unit', text: unit }), pts);
      return { root, val, pts };
    };
    this.cells = {
      hr: cell('hr', 'HR', '/min'),
      spo2: cell('spo2', 'SpO₂', '%'),
      rr: cell('rr', 'RR', '/min'),
      temp: cell('temp', 'Temp', '°C'),
      bp: cell('bp', 'BP', 'mmHg'),
    };
    this.flagMark = h('span', { class: 'mark' });
    this.flagText = h('span', { class: 'flag-text' });
    this.flag = h('span', { class: 'tile-flag', hidden: true }, this.flagMark, this.flagText);
    this.newsShape = h('span', { class: 'shape', 'aria-hidden': 'true', text: '○' });
    this.newsNum = h('span', { class: 'news-num', text: '—' });
    this.newsBand = h('span', { class: 'news-band', text: 'NEWS2 pending' });
    this.newsMissing = h('span', { class: 'news-missing', hidden: true });
    this.loc = h('span', { class: 'loc' });
    this.ageEl = h('span', { class: 'age' });
    this.dev = h('span', { class: 'dev' });
    this.root = h(
      'a',
      { class: 'tile', href: `#/patient/${encodeURIComponent(patientId)}`, 'data-patient': patientId },
      h('span', { class: 'tile-head' }, h('span', { class: 'pid', text: patientId }), this.loc),
      this.flag,
      h('span', { class: 'news' }, h('span', { class: 'news-badge' }, this.newsShape, this.newsNum), this.newsBand, this.newsMissing),
      h('span', { class: 'vitals' }, this.cells.hr.root, this.cells.spo2.root, this.cells.rr.root, this.cells.temp.root, this.cells.bp.root),
      h('span', { class: 'tile-foot' }, this.ageEl, this.dev),
    );
  }

  update(p: Patient, alerts: readonly AlertView[] | undefined, now: number): void {
    setText(this.loc, location(p.ward, p.bed));
    const sum = summarise(alerts);
    const top = RANK_PRIORITY[sum.top];
    setAttr(this.root, 'data-alert', top ?? 'none');
    setAttr(this.root, 'data-unacked', sum.unacked > 0 ? RANK_PRIORITY[sum.unacked] ?? null : null);
    setHidden(this.flag, !top);
    let alertText = '';
    if (top) {
      alertText = alertFlagText(sum);
      setText(this.flagMark, PRIORITY_MARK[top]);
      setText(this.flagText, alertText);
    }

    const sc = p.score;
    const comps = sc?.components ?? {};
    if (sc) {
      setAttr(this.root, 'data-risk', sc.risk);
      setText(this.newsShape, RISK_SHAPE[sc.risk]);
      setText(this.newsNum, scoreText(sc.score, sc.complete));
      // The badge's "≥" marks a lower bound; the band stays short so the tile stays compact.
      setText(this.newsBand, `NEWS2 ${RISK_LABEL[sc.risk]}`);
      setAttr(this.newsBand, 'title', `NEWS2 ${scoreText(sc.score, sc.complete)}: ${bandText(sc.risk, sc.complete)} risk`);
      const gaps = [...(sc.missing ?? []).map((m) => PARAM_LABEL[m] ?? m), ...(sc.stale ?? []).map((m) => `${PARAM_LABEL[m] ?? m} (old)`)];
      setHidden(this.newsMissing, sc.complete || gaps.length === 0);
      setText(this.newsMissing, gaps.length ? `missing ${gaps.join(' · ')}` : '');
    } else {
      setAttr(this.root, 'data-risk', 'none');
      setText(this.newsShape, '○');
      setText(this.newsNum, '—');
      setText(this.newsBand, 'NEWS2 not scored yet');
      setHidden(this.newsMissing, true);
    }

    const put = (key: 'hr' | 'spo2' | 'rr' | 'temp', m: Metric, comp: string): void => {
      const c = this.cells[key];
      const tv = p.latest[m];
      setText(c.val, value(m, tv?.value));
      const old = tv !== undefined && CONTINUOUS.includes(m) && now - tv.ts > CONTINUOUS_OLD_MS;
      setAttr(c.root, 'data-old', old ? 'true' : null);
      const pts = comps[comp] ?? 0;
      setAttr(c.root, 'data-pts', tv && pts > 0 ? String(pts) : null);
      setHidden(c.pts, !(tv && pts > 0));
      setText(c.pts, pts > 0 ? `+${pts}` : '');
    };
    put('hr', 'hr', 'hr');
    put('spo2', 'spo2', 'spo2');
    put('rr', 'rr', 'rr');
    put('temp', 'temp', 'temp');
    const sbp = p.latest.sbp;
    const dbp = p.latest.dbp;
    setText(this.cells.bp.val, sbp ? `${value('sbp', sbp.value)}/${dbp && Math.abs(dbp.ts - sbp.ts) < 60_000 ? value('dbp', dbp.value) : '—'}` : '—');
    const bpPts = comps.sbp ?? 0;
    setAttr(this.cells.bp.root, 'data-pts', sbp && bpPts > 0 ? String(bpPts) : null);
    setHidden(this.cells.bp.pts, !(sbp && bpPts > 0));
    setText(this.cells.bp.pts, bpPts > 0 ? `+${bpPts}` : '');

    const d = p.device;
    const batt = d?.battery !== null && d?.battery !== undefined ? Math.round(d.battery * 100) : null;
    setAttr(this.root, 'data-offline', d && !d.online ? 'true' : null);
    setAttr(this.dev, 'data-low', batt !== null && batt < 20 ? 'true' : null);
    setText(this.dev, d ? `${d.online ? '● Online' : '○ Offline'}${batt !== null ? ` · Batt ${batt}%` : ''}` : '');
    setAttr(this.dev, 'title', d ? `Device ${d.online ? 'online' : 'offline'}${batt !== null ? `, battery ${batt}%` : ''}` : 'No device status yet');
    this.updateAge(p, now);

    const label = [
      `Patient ${p.patientId}, ${location(p.ward, p.bed)}`,
      sc ? `NEWS2 ${sc.complete ? sc.score : `at least ${sc.score}`}, ${RISK_LABEL[sc.risk]} risk` : 'NEWS2 not scored',
      alertText || 'no open alert',
      d && !d.online ? 'device offline' : '',
      batt !== null && batt < 20 ? `battery ${batt}%` : '',
    ]
      .filter(Boolean)
      .join('; ');
    if (label !== this.label) {
      this.label = label;
      this.root.setAttribute('aria-label', `${label}. Open patient view.`);
    }
  }

  updateAge(p: Patient, now: number): void {
    if (!p.lastTs) {
      setText(this.ageEl, 'No readings yet');
      setAttr(this.root, 'data-stale', 'true');
      return;
    }
    const a = now - p.lastTs;
    const stale = a > TILE_STALE_MS;
    setAttr(this.root, 'data-stale', stale ? 'true' : null);
    setText(this.ageEl, stale ? `No data for ${age(a)}` : `Updated ${age(a) === 'now' ? 'now' : `${age(a)} ago`}`);
  }
}

/**
 * Put `wanted` first in `container`, in that order, moving as few nodes as possible:
 * the nodes already in relative order (a longest increasing run of their current
 * positions) stay, only the others move. A moved node is re-laid out; one tile
 * climbing to the top must not re-insert the whole ward.
 */
export function moveInto(container: Element, wanted: readonly Element[]): number {
  const pos = new Map<Element, number>();
  let i = 0;
  for (let c = container.firstElementChild; c; c = c.nextElementSibling) pos.set(c, i++);
  const seq = wanted.map((el) => pos.get(el) ?? -1);
  const keep = longestIncreasing(seq);
  let moves = 0;
  // From the end: every moved element goes right before its successor (the last one to the end).
  // Hidden tiles may sit in between: they take no space.
  let anchor: Element | null = null;
  for (let k = wanted.length - 1; k >= 0; k--) {
    const el = wanted[k] as Element;
    if (!keep.has(k) || el.parentNode !== container) {
      container.insertBefore(el, anchor);
      moves++;
    }
    anchor = el;
  }
  return moves;
}

/** Indices of one longest strictly increasing subsequence of `seq` (entries < 0 never count). */
function longestIncreasing(seq: readonly number[]): Set<number> {
  const tails: number[] = [];
  const prev = new Array<number>(seq.length).fill(-1);
  for (let i = 0; i < seq.length; i++) {
    const v = seq[i] as number;
    if (v < 0) continue;
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((seq[tails[mid] as number] as number) < v) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0) prev[i] = tails[lo - 1] as number;
    tails[lo] = i;
  }
  const out = new Set<number>();
  for (let k = tails.length ? (tails[tails.length - 1] as number) : -1; k >= 0; k = prev[k] as number) out.add(k);
  return out;
}

export type SortMode = 'urgency' | 'bed';

export class WardView {
  private readonly tiles = new Map<string, Tile>();
  private readonly dirty = new Set<string>();
  private orderDirty = true;
  private agesDirty = false;
  private allDirty = false;
  private frame = 0;
  private order: string[] = [];
  private lastReorder = 0;
  private settleTimer: ReturnType<typeof setTimeout> | null = null;
  sort: SortMode = 'urgency';
  wardFilter: string | null = null;

  constructor(
    private readonly model: Model,
    private readonly container: HTMLElement,
    private readonly empty: HTMLElement,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * A patient's data changed. `reorder`: 'now' when alerts changed (the order follows at
   * once), 'settle' when a score did (at most one such reorder per SETTLE_MS, so tiles
   * of stable patients whose score flickers between 0 and 1 do not keep jumping).
   */
  touch(patientId: string, reorder: false | 'now' | 'settle' = false): void {
    this.dirty.add(patientId);
    if (reorder === 'now') this.orderDirty = true;
    else if (reorder === 'settle' && this.sort === 'urgency') {
      const wait = this.lastReorder + SETTLE_MS - this.now();
      if (wait <= 0) this.orderDirty = true;
      else if (!this.settleTimer) {
        this.settleTimer = setTimeout(() => {
          this.settleTimer = null;
          this.orderDirty = true;
          this.schedule();
        }, wait);
      }
    }
    this.schedule();
  }

  touchAll(): void {
    this.allDirty = true;
    this.orderDirty = true;
    this.schedule();
  }

  tickAges(): void {
    this.agesDirty = true;
    this.schedule();
  }

  setSort(mode: SortMode): void {
    this.sort = mode;
    this.orderDirty = true;
    this.schedule();
  }

  setWardFilter(ward: string | null): void {
    this.wardFilter = ward;
    this.touchAll();
  }

  /** Patients in display order (for the banner and tests of order). */
  currentOrder(): readonly string[] {
    return this.order;
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  /** Write every pending change in one go. */
  render(): void {
    const now = this.now();
    const byPatient = this.model.alertsByPatient();
    // Tiles of patients no longer known (a new snapshot) go away.
    for (const [id, t] of this.tiles) {
      if (!this.model.patients.has(id)) {
        t.root.remove();
        this.tiles.delete(id);
        this.orderDirty = true;
      }
    }
    const ids = this.allDirty ? [...this.model.patients.keys()] : [...this.dirty];
    for (const id of ids) {
      const p = this.model.patients.get(id);
      if (!p) continue;
      let t = this.tiles.get(id);
      if (!t) {
        t = new Tile(id);
        this.tiles.set(id, t);
        this.orderDirty = true;
      }
      t.update(p, byPatient.get(id), now);
    }
    if (this.agesDirty && !this.allDirty) {
      for (const [id, t] of this.tiles) {
        const p = this.model.patients.get(id);
        if (p && !this.dirty.has(id)) t.updateAge(p, now);
      }
    }
    this.dirty.clear();
    this.allDirty = false;
    this.agesDirty = false;
    if (this.orderDirty) {
      this.orderDirty = false;
      this.reorder(byPatient);
    }
  }

  private reorder(byPatient: Map<string, AlertView[]>): void {
    this.lastReorder = this.now();
    const visible = [...this.model.patients.values()].filter((p) => this.wardFilter === null || p.ward === this.wardFilter);
    visible.sort(this.sort === 'bed' ? compareBed : (a, b) => compareUrgency(a, b, byPatient));
    const next = visible.map((p) => p.patientId);
    const show = new Set(next);
    for (const [id, t] of this.tiles) setHidden(t.root, !show.has(id));
    setHidden(this.empty, next.length > 0);
    const same = next.length === this.order.length && next.every((id, i) => id === this.order[i]);
    this.order = next;
    if (same && this.container.childElementCount === this.tiles.size) return;
    const focused = document.activeElement;
    moveInto(this.container, next.map((id) => (this.tiles.get(id) as Tile).root));
    for (const [id, t] of this.tiles) if (!show.has(id) && t.root.parentNode !== this.container) this.container.append(t.root);
    if (focused instanceof HTMLElement && focused !== document.activeElement && this.container.contains(focused)) focused.focus({ preventScroll: true });
  }
}
