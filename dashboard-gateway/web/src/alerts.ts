/**
 * The alert list (priority, then age) and the banner for unacknowledged high-priority
 * alerts. Rows are kept per alert id and updated in place.
 */
import { h, setAttr, setHidden, setText } from './dom.js';
import { PRIORITY_LABEL, PRIORITY_MARK, age, clockShort, location } from './format.js';
import { compareAlerts, type AlertView, type Model } from './model.js';

/** An ack not confirmed by an `acknowledged` event within this time is reported. */
const ACK_CONFIRM_MS = 10_000;

export interface AlertActions {
  /** Send the ack; false when it could not be sent (offline). */
  ack(alertId: string): boolean;
  canAct(ward: string): boolean;
  notify(text: string): void;
}

function valueText(a: AlertView): string {
  return a.value === null || a.value === undefined ? '' : `Value ${Number.isInteger(a.value) ? a.value : a.value.toFixed(1)}`;
}

function stateText(a: AlertView, now: number): string {
  if (a.state === 'acknowledged') {
    const when = a.ackAt ? ` at ${clockShort(a.ackAt)} (${age(now - a.ackAt) === 'now' ? 'just now' : `${age(now - a.ackAt)} ago`})` : '';
    return `Acknowledged by ${a.ackBy ?? 'someone'}${when}`;
  }
  return a.escalated ? 'Escalated · not acknowledged' : 'Open · not acknowledged';
}

class Row {
  readonly root: HTMLLIElement;
  private readonly prio: HTMLElement;
  private readonly mark: HTMLElement;
  private readonly word: HTMLElement;
  private readonly who: HTMLAnchorElement;
  private readonly loc: HTMLElement;
  private readonly msg: HTMLElement;
  private readonly val: HTMLElement;
  private readonly ageEl: HTMLElement;
  private readonly state: HTMLElement;
  readonly button: HTMLButtonElement;
  pendingSince = 0;

  constructor(
    readonly id: string,
    onAck: (row: Row) => void,
  ) {
    this.mark = h('span', { class: 'ar-mark' });
    this.word = h('span', { class: 'ar-word' });
    this.prio = h('span', { class: 'ar-prio' }, this.mark, this.word);
    this.who = h('a', { class: 'ar-patient' });
    this.loc = h('span', { class: 'ar-loc' });
    this.msg = h('span', { class: 'ar-msg' });
    this.val = h('span', { class: 'ar-val' });
    this.ageEl = h('span', { class: 'ar-age' });
    this.state = h('span', { class: 'ar-state' });
    this.button = h('button', { type: 'button', class: 'ack', text: 'Acknowledge' });
    this.button.addEventListener('click', () => onAck(this));
    this.root = h(
      'li',
      { class: 'alert-row', 'data-alert-id': id },
      this.prio,
      h(
        'span',
        { class: 'ar-main' },
        h('span', { class: 'ar-line' }, this.who, this.loc, this.ageEl),
        h('span', { class: 'ar-line' }, this.msg, this.val),
        h('span', { class: 'ar-line ar-foot' }, this.state, this.button),
      ),
    );
  }

  update(a: AlertView, model: Model, canAct: boolean, now: number): void {
    setAttr(this.root, 'data-priority', a.priority);
    setAttr(this.root, 'data-state', a.state);
    setAttr(this.root, 'data-escalated', a.escalated ? 'true' : null);
    setText(this.mark, PRIORITY_MARK[a.priority]);
    setText(this.word, PRIORITY_LABEL[a.priority]);
    setText(this.who, a.patientId);
    setAttr(this.who, 'href', `#/patient/${encodeURIComponent(a.patientId)}`);
    const p = model.patients.get(a.patientId);
    setText(this.loc, location(p?.ward ?? a.ward, p?.bed ?? null));
    setText(this.msg, a.message || a.ruleId);
    setAttr(this.msg, 'title', `Rule ${a.ruleId} (${a.kind})`);
    setText(this.val, valueText(a));
    setText(this.state, stateText(a, now));
    this.updateAge(a, now);
    const open = a.state === 'open';
    if (!open) this.pendingSince = 0;
    setHidden(this.button, !open || !canAct);
    const pending = open && this.pendingSince > 0;
    this.button.disabled = pending;
    setText(this.button, pending ? 'Sending…' : 'Acknowledge');
    setAttr(this.button, 'aria-label', `Acknowledge ${PRIORITY_LABEL[a.priority]} alert for ${a.patientId}: ${a.message}`);
  }

  updateAge(a: AlertView, now: number): void {
    setText(this.ageEl, `${age(now - a.openedAt) === 'now' ? 'just now' : `${age(now - a.openedAt)} ago`} · ${clockShort(a.openedAt)}`);
    setAttr(this.ageEl, 'title', `Raised at ${clockShort(a.openedAt)}`);
  }

  refreshState(a: AlertView, now: number): void {
    setText(this.state, stateText(a, now));
  }
}

export class AlertListView {
  private readonly rows = new Map<string, Row>();
  private frame = 0;
  private dirty = false;
  private agesDirty = false;
  wardFilter: string | null = null;

  constructor(
    private readonly model: Model,
    private readonly list: HTMLElement,
    private readonly empty: HTMLElement,
    private readonly count: HTMLElement,
    private readonly actions: AlertActions,
    private readonly now: () => number = Date.now,
  ) {}

  changed(): void {
    this.dirty = true;
    this.schedule();
  }

  tickAges(): void {
    this.agesDirty = true;
    this.schedule();
  }

  setWardFilter(ward: string | null): void {
    this.wardFilter = ward;
    this.changed();
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  private onAck(row: Row): void {
    const a = this.model.alerts.get(row.id);
    if (!a || a.state !== 'open') return;
    if (!this.actions.ack(row.id)) {
      this.actions.notify('Not connected: the acknowledgement was not sent. Try again when the connection is back.');
      return;
    }
    row.pendingSince = this.now();
    this.changed();
    setTimeout(() => {
      if (row.pendingSince && this.now() - row.pendingSince >= ACK_CONFIRM_MS - 50) {
        row.pendingSince = 0;
        this.actions.notify(`The acknowledgement of the alert for ${a.patientId} was not confirmed. Try again.`);
        this.changed();
      }
    }, ACK_CONFIRM_MS);
  }

  /** The server refused an ack (error message): release pending buttons. */
  ackFailed(): void {
    for (const r of this.rows.values()) r.pendingSince = 0;
    this.changed();
  }

  render(): void {
    const now = this.now();
    if (this.dirty) {
      this.dirty = false;
      const list = [...this.model.alerts.values()].filter((a) => this.wardFilter === null || a.ward === this.wardFilter).sort(compareAlerts);
      const keep = new Set(list.map((a) => a.id));
      for (const [id, r] of this.rows) {
        if (!keep.has(id)) {
          r.root.remove();
          this.rows.delete(id);
        }
      }
      const focused = document.activeElement;
      let cursor: ChildNode | null = this.list.firstChild;
      for (const a of list) {
        let r = this.rows.get(a.id);
        if (!r) {
          r = new Row(a.id, (row) => this.onAck(row));
          this.rows.set(a.id, r);
        }
        r.update(a, this.model, this.actions.canAct(a.ward), now);
        if (r.root === cursor) cursor = cursor.nextSibling;
        else this.list.insertBefore(r.root, cursor);
      }
      if (focused instanceof HTMLElement && focused !== document.activeElement && this.list.contains(focused)) focused.focus({ preventScroll: true });
      setHidden(this.empty, list.length > 0);
      const open = list.filter((a) => a.state === 'open').length;
      setText(this.count, list.length ? `${open} not acknowledged · ${list.length} open` : '');
    } else if (this.agesDirty) {
      for (const [id, r] of this.rows) {
        const a = this.model.alerts.get(id);
        if (a) {
          r.updateAge(a, now);
          r.refreshState(a, now);
        }
      }
    }
    this.agesDirty = false;
  }
}

/** A banner for unacknowledged high-priority alerts: impossible to miss, with the action at hand. */
export class HighBanner {
  private readonly text: HTMLElement;
  private readonly more: HTMLElement;
  private readonly ackBtn: HTMLButtonElement;
  private readonly view: HTMLAnchorElement;
  private current: AlertView | null = null;
  private key = '';

  constructor(
    private readonly root: HTMLElement,
    private readonly model: Model,
    private readonly actions: AlertActions,
  ) {
    this.text = h('span', { class: 'hb-text' });
    this.more = h('span', { class: 'hb-more' });
    this.ackBtn = h('button', { type: 'button', class: 'ack hb-ack', text: 'Acknowledge' });
    this.view = h('a', { class: 'hb-view', text: 'Open patient' });
    this.ackBtn.addEventListener('click', () => {
      if (!this.current) return;
      if (!this.actions.ack(this.current.id)) this.actions.notify('Not connected: the acknowledgement was not sent.');
      else {
        this.ackBtn.disabled = true;
        setText(this.ackBtn, 'Sending…');
      }
    });
    root.append(h('span', { class: 'hb-icon', 'aria-hidden': 'true', text: '!!!' }), h('span', { class: 'hb-body' }, this.text, this.more), this.view, this.ackBtn);
  }

  /** Unacknowledged high alerts, in view scope; most recent first. */
  update(wardFilter: string | null): void {
    const highs = [...this.model.alerts.values()].filter((a) => a.priority === 'high' && a.state === 'open' && (wardFilter === null || a.ward === wardFilter)).sort((a, b) => b.changedAt - a.changedAt);
    const first = highs[0] ?? null;
    const key = highs.map((a) => `${a.id}:${a.escalated}`).join(',');
    if (key === this.key) return;
    this.key = key;
    this.current = first;
    setHidden(this.root, first === null);
    if (!first) return;
    const p = this.model.patients.get(first.patientId);
    setText(this.text, `HIGH PRIORITY ALERT — ${first.patientId}, ${location(p?.ward ?? first.ward, p?.bed ?? null)}: ${first.message || first.ruleId}`);
    setText(this.more, highs.length > 1 ? ` (+${highs.length - 1} more high-priority alert${highs.length > 2 ? 's' : ''})` : '');
    this.view.href = `#/patient/${encodeURIComponent(first.patientId)}`;
    const can = this.actions.canAct(first.ward);
    setHidden(this.ackBtn, !can);
    this.ackBtn.disabled = false;
    setText(this.ackBtn, 'Acknowledge');
    this.ackBtn.setAttribute('aria-label', `Acknowledge high-priority alert for ${first.patientId}`);
  }
}
