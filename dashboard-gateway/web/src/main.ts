/**
 * Vitalstream clinician dashboard: login, live ward view, alert list, patient view.
 * Plain TypeScript and the DOM; speaks only the documented WebSocket and REST API.
 */
import { AlertListView, HighBanner, type AlertActions } from './alerts.js';
import { createApi, readClaims, type Api, type Claims } from './api.js';
import { Connection, type ConnStatus } from './conn.js';
import { $, h, setAttr, setHidden, setText } from './dom.js';
import { age, ago, clock } from './format.js';
import { Model } from './model.js';
import { PatientView } from './patient.js';
import { Beeper } from './sound.js';
import { WardView, type SortMode } from './ward.js';

const TOKEN_KEY = 'vitals.token';
const PREFS_KEY = 'vitals.prefs';
/** Live but silent this long (with patients on screen): say the view may be stale. */
const QUIET_MS = 15_000;

interface Prefs {
  sort: SortMode;
  sound: boolean;
  ward: string | null;
}

function loadPrefs(): Prefs {
  try {
    const p = JSON.parse(sessionStorage.getItem(PREFS_KEY) ?? '{}') as Partial<Prefs>;
    return { sort: p.sort === 'bed' ? 'bed' : 'urgency', sound: p.sound === true, ward: typeof p.ward === 'string' ? p.ward : null };
  } catch {
    return { sort: 'urgency', sound: false, ward: null };
  }
}

function savePrefs(p: Prefs): void {
  sessionStorage.setItem(PREFS_KEY, JSON.stringify(p));
}

let toastTimer: ReturnType<typeof setTimeout> | null = null;
function notify(text: string): void {
  const t = $('toast');
  setText(t, text);
  setHidden(t, false);
  if (toastTimer) clearTimeout(toastTimer);
  toastTimer = setTimeout(() => setHidden(t, true), 8000);
}

// ------------------------------------------------------------------ login

function showLogin(message = ''): void {
  setHidden($('app'), true);
  setHidden($('login'), false);
  const err = $('login-error');
  setText(err, message);
  setHidden(err, !message);
  ($('token-input') as HTMLTextAreaElement).focus();
}

function setupLogin(onToken: (token: string, claims: Claims) => void): void {
  const form = $('login-form') as HTMLFormElement;
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const raw = ($('token-input') as HTMLTextAreaElement).value.trim();
    const claims = readClaims(raw);
    const err = $('login-error');
    if (!claims) {
      setText(err, 'That does not look like a Vitalstream token. Paste the whole line printed by "vitals token".');
      setHidden(err, false);
      return;
    }
    if (claims.exp !== null && claims.exp * 1000 < Date.now()) {
      setText(err, 'This token has expired. Ask for a new one.');
      setHidden(err, false);
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, raw);
    ($('token-input') as HTMLTextAreaElement).value = '';
    onToken(raw, claims);
  });
}

// ------------------------------------------------------------------ the live app

class App {
  readonly model = new Model();
  private readonly api: Api;
  private readonly conn: Connection;
  private readonly ward: WardView;
  private readonly alerts: AlertListView;
  private readonly banner: HighBanner;
  private readonly patient: PatientView;
  private readonly beeper = new Beeper();
  private readonly prefs = loadPrefs();
  private role = '';
  private wards: string[] = [];
  private allWards = false;
  private ticker: ReturnType<typeof setInterval>;
  private wardPoll: ReturnType<typeof setInterval> | null = null;
  private frame = 0;
  private patientDirty = false;
  private stopped = false;
  private readonly onHash = () => this.route();
  private readonly cleanups: Array<() => void> = [];

  constructor(
    private readonly token: string,
    private readonly claims: Claims,
    private readonly onLogout: (message: string) => void,
  ) {
    this.api = createApi(token, () => this.logout('Your session has expired or was revoked. Sign in again.'));
    const actions: AlertActions = {
      ack: (alertId) => this.conn.send({ op: 'ack', alertId }),
      canAct: (ward) => this.canAct(ward),
      notify,
    };
    this.ward = new WardView(this.model, $('tiles'), $('tiles-empty'));
    this.alerts = new AlertListView(this.model, $('alerts'), $('alerts-empty'), $('alert-count'), actions);
    const bannerEl = $('high-banner');
    bannerEl.replaceChildren();
    this.banner = new HighBanner(bannerEl, this.model, actions);
    const pv = $('patient-view');
    pv.replaceChildren();
    this.patient = new PatientView(pv, { api: this.api, model: this.model, canAct: (w) => this.canAct(w), notify });
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    this.conn = new Connection(`${proto}//${location.host}/ws`, token, {
      message: (m) => this.onMessage(m),
      status: (s) => this.onStatus(s),
      wards: (ready) => this.resolveWards(ready),
      resumeFrom: () => this.model.seq,
    });

    setText($('who'), `${claims.sub} · ${claims.role}`);
    $('who').setAttribute('title', `Signed in as ${claims.sub} (${claims.role}), wards ${claims.wards.join(', ')}`);
    this.ward.sort = this.prefs.sort;
    this.ward.wardFilter = this.prefs.ward;
    this.alerts.wardFilter = this.prefs.ward;
    this.renderSortToggle();
    this.renderSoundToggle();
    this.bind($('sort-toggle'), 'click', () => {
      this.prefs.sort = this.prefs.sort === 'urgency' ? 'bed' : 'urgency';
      savePrefs(this.prefs);
      this.ward.setSort(this.prefs.sort);
      this.renderSortToggle();
    });
    this.bind($('sound-toggle'), 'click', () => {
      this.prefs.sound = !this.prefs.sound;
      savePrefs(this.prefs);
      this.beeper.enable(this.prefs.sound);
      this.renderSoundToggle();
      if (this.prefs.sound) this.beeper.medium();
    });
    this.bind($('logout'), 'click', () => this.logout(''));
    this.bind($('retry-now'), 'click', () => this.conn.retryNow());
    window.addEventListener('hashchange', this.onHash);
    this.ticker = setInterval(() => this.tick(), 1000);

    setHidden($('login'), true);
    setHidden($('app'), false);
    this.onStatus(this.conn.status);
    this.conn.start();
    this.route();
  }

  private bind(el: HTMLElement, ev: string, fn: () => void): void {
    el.addEventListener(ev, fn);
    this.cleanups.push(() => el.removeEventListener(ev, fn));
  }

  private canAct(ward: string | null): boolean {
    if (!['nurse', 'clinician', 'admin'].includes(this.role || this.claims.role)) return false;
    return ward !== null && (this.allWards || this.wards.includes(ward));
  }

  logout(message: string): void {
    if (this.stopped) return;
    this.stopped = true;
    this.conn.stop();
    clearInterval(this.ticker);
    if (this.wardPoll) clearInterval(this.wardPoll);
    window.removeEventListener('hashchange', this.onHash);
    for (const c of this.cleanups) c();
    this.patient.close();
    this.model.clear();
    $('tiles').replaceChildren();
    $('alerts').replaceChildren();
    sessionStorage.removeItem(TOKEN_KEY);
    document.title = 'Vitalstream — ward monitor';
    if (location.hash) history.replaceState(null, '', location.pathname);
    this.onLogout(message);
  }

  private async resolveWards(ready: { role: string; wards: string[] }): Promise<string[]> {
    this.role = ready.role;
    if (ready.role === 'patient') {
      setTimeout(() => this.logout('This dashboard is for ward staff. Sign in with a staff token.'), 0);
      return [];
    }
    this.allWards = ready.wards.includes('*');
    let wards = ready.wards.filter((w) => w !== '*');
    if (this.allWards) {
      wards = await this.knownWards();
      if (!this.wardPoll) {
        // An admin sees every ward: pick up wards that appear later.
        this.wardPoll = setInterval(() => {
          void this.knownWards().then((ws) => {
            const add = ws.filter((w) => !this.wards.includes(w));
            if (add.length) {
              this.wards.push(...add);
              this.conn.subscribeMore(add);
              this.renderWardFilter();
            }
          });
        }, 30_000);
      }
    }
    this.wards = wards;
    this.renderWardFilter();
    return wards;
  }

  private async knownWards(): Promise<string[]> {
    const r = await this.api.get<{ patients: Array<{ ward: string | null }> }>('/api/patients');
    return [...new Set(r.patients.map((p) => p.ward).filter((w): w is string => typeof w === 'string'))].sort();
  }

  private renderWardFilter(): void {
    const nav = $('ward-filter');
    const options: Array<string | null> = this.wards.length > 1 ? [null, ...this.wards] : [];
    if (this.prefs.ward !== null && !this.wards.includes(this.prefs.ward)) this.setWard(null);
    nav.replaceChildren(
      ...options.map((w) => {
        const b = h('button', { type: 'button', class: 'seg', 'aria-pressed': w === this.prefs.ward ? 'true' : 'false', text: w === null ? 'All wards' : `Ward ${w}` });
        b.addEventListener('click', () => {
          this.setWard(w);
          this.renderWardFilter();
        });
        return b;
      }),
    );
    setText($('ward-title'), this.wards.length === 1 ? `Ward ${this.wards[0]}` : this.prefs.ward ? `Ward ${this.prefs.ward}` : this.wards.length ? `Wards ${this.wards.join(', ')}` : 'No ward yet');
  }

  private setWard(w: string | null): void {
    this.prefs.ward = w;
    savePrefs(this.prefs);
    this.ward.setWardFilter(w);
    this.alerts.setWardFilter(w);
    this.banner.update(w);
  }

  private renderSortToggle(): void {
    const b = $('sort-toggle');
    setText(b, this.prefs.sort === 'urgency' ? 'Order: most urgent first' : 'Order: by bed');
    b.setAttribute('aria-label', `Tile order: ${this.prefs.sort === 'urgency' ? 'most urgent first' : 'by bed'}. Press to switch.`);
  }

  private renderSoundToggle(): void {
    const b = $('sound-toggle');
    b.setAttribute('aria-pressed', this.prefs.sound ? 'true' : 'false');
    setText(b, this.prefs.sound ? '♪ Sound on' : '♪ Sound off');
  }

  private onMessage(m: Record<string, unknown>): void {
    this.model.lastMessageAt = Date.now();
    switch (m.type) {
      case 'snapshot': {
        const fresh = this.model.applySnapshot(m);
        this.ward.touchAll();
        this.alerts.changed();
        this.alertsChanged(fresh.some((c) => c.fresh && c.alert.priority === 'high'), false);
        this.patientChanged();
        break;
      }
      case 'vitals': {
        const p = this.model.applyVitals(m);
        if (p) {
          this.ward.touch(p.patientId);
          if (p.patientId === this.patient.openPatient) {
            this.patient.onVitals(m);
            this.patientChanged();
          }
        }
        break;
      }
      case 'score': {
        const p = this.model.applyScore(m);
        if (p) {
          this.ward.touch(p.patientId, 'settle');
          if (p.patientId === this.patient.openPatient) this.patientChanged();
        }
        break;
      }
      case 'device': {
        const p = this.model.applyDevice(m);
        if (p) this.ward.touch(p.patientId);
        break;
      }
      case 'alert': {
        const ch = this.model.applyAlert(m);
        if (!ch) break;
        this.ward.touch(ch.alert.patientId, 'now');
        this.alerts.changed();
        this.alertsChanged(ch.fresh && ch.alert.priority === 'high', ch.fresh && ch.alert.priority === 'medium');
        if (ch.alert.patientId === this.patient.openPatient) this.patientChanged();
        break;
      }
      case 'resync':
        // The alert log went backwards (reset): what this page held is void; the snapshot follows.
        this.model.clear();
        break;
      case 'error': {
        const code = typeof m.code === 'string' ? m.code : 'ERROR';
        const text = typeof m.message === 'string' ? m.message : '';
        if (code === 'UNAUTHORIZED') break; // the close (4401) follows and sends the user to the login
        this.alerts.ackFailed();
        notify(`${code === 'FORBIDDEN' ? 'Not allowed' : 'Request refused'}: ${text}`);
        break;
      }
      default:
        break;
    }
  }

  private alertsChanged(newHigh: boolean, newMedium: boolean): void {
    this.banner.update(this.prefs.ward);
    const highs = [...this.model.alerts.values()].filter((a) => a.priority === 'high' && a.state === 'open').length;
    document.title = highs ? `(${highs}) !!! High alert — Vitalstream` : 'Vitalstream — ward monitor';
    if (newHigh) {
      this.beeper.high();
      // Restart the attention animation for a new alert.
      const b = $('high-banner');
      b.classList.remove('flash');
      void b.offsetWidth;
      b.classList.add('flash');
    } else if (newMedium) this.beeper.medium();
  }

  private patientChanged(): void {
    if (!this.patient.openPatient) return;
    this.patientDirty = true;
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      if (this.patientDirty) {
        this.patientDirty = false;
        this.patient.update();
      }
    });
  }

  private onStatus(s: ConnStatus): void {
    if (s.phase === 'unauthorized') {
      this.logout('The server did not accept this token (expired, revoked or invalid). Sign in again.');
      return;
    }
    this.renderConn();
  }

  /** Connection state and data age: always visible; a stale view always says so. */
  private renderConn(): void {
    const s = this.conn.status;
    const now = Date.now();
    const last = this.model.lastMessageAt;
    const lastText = last ? `last update ${ago(now - last) === 'now' ? 'just now' : ago(now - last)}` : 'no data yet';
    let state: 'live' | 'quiet' | 'down' | 'connecting';
    let text: string;
    if (s.phase === 'live') {
      const quiet = last > 0 && now - last > QUIET_MS && this.model.patients.size > 0;
      state = quiet ? 'quiet' : 'live';
      text = quiet ? `Connected · no updates for ${age(now - last)}` : `Live · ${lastText}`;
    } else if (s.phase === 'reconnecting') {
      state = 'down';
      const wait = s.retryAt ? Math.max(0, Math.ceil((s.retryAt - now) / 1000)) : 0;
      text = `Disconnected · ${s.retryAt && wait > 0 ? `retrying in ${wait} s` : 'reconnecting…'}`;
    } else {
      state = 'connecting';
      text = 'Connecting…';
    }
    const conn = $('conn');
    setAttr(conn, 'data-state', state);
    setText($('conn-text'), text);
    const app = $('app');
    const stale = state === 'down' || state === 'quiet';
    setAttr(app, 'data-stale', stale ? 'true' : null);
    const banner = $('stale-banner');
    setHidden(banner, !stale);
    if (stale) {
      const since = state === 'down' && s.lostAt ? `Connection lost at ${clock(s.lostAt)}. ` : '';
      const what = last ? `Values on screen are from ${clock(last)} (${ago(now - last) === 'now' ? 'just now' : ago(now - last)}) and may be out of date.` : 'No data has been received.';
      setText($('stale-text'), `${since}${what}${state === 'down' ? ` Attempt ${s.attempt}.` : ''}`);
      setHidden($('retry-now'), state !== 'down');
    }
  }

  private tick(): void {
    this.ward.tickAges();
    this.alerts.tickAges();
    this.renderConn();
  }

  private route(): void {
    const m = /^#\/patient\/(.+)$/.exec(location.hash);
    const ward = $('ward-view');
    if (m && m[1]) {
      const id = decodeURIComponent(m[1]);
      setHidden(ward, true);
      if (this.patient.openPatient !== id) this.patient.open(id);
    } else {
      const wasOpen = this.patient.openPatient;
      this.patient.close();
      setHidden(ward, false);
      if (wasOpen) {
        const tile = document.querySelector<HTMLElement>(`.tile[data-patient="${CSS.escape(wasOpen)}"]`);
        tile?.focus({ preventScroll: false });
      }
    }
  }
}

// ------------------------------------------------------------------ boot

function boot(): void {
  $('boot').remove();
  const start = (token: string, claims: Claims): void => {
    // The app lives until it logs out (its listeners hold it), then hands back to the login.
    new App(token, claims, (message) => showLogin(message));
  };
  setupLogin(start);
  document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && location.hash.startsWith('#/patient/')) location.hash = '#/';
  });
  const saved = sessionStorage.getItem(TOKEN_KEY);
  const claims = saved ? readClaims(saved) : null;
  if (saved && claims && (claims.exp === null || claims.exp * 1000 > Date.now())) start(saved, claims);
  else {
    sessionStorage.removeItem(TOKEN_KEY);
    showLogin(saved ? 'Your session has expired. Sign in again.' : '');
  }
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
else boot();
