/** The live app once signed in: the ward tiles, the alert list, the patient view and the connection. */
import { AlertListView, HighBanner, type AlertActions } from './alerts.js';
import { createApi, type Api, type Claims } from './api.js';
import { Connection, type ConnStatus } from './conn.js';
import { renderConnBanner } from './conn-banner.js';
import { $, h, setText, setHidden } from './dom.js';
import { TOKEN_KEY } from './login.js';
import { Model } from './model.js';
import { PatientView } from './patient.js';
import { loadPrefs, savePrefs } from './prefs.js';
import { Beeper } from './sound.js';
import { notify } from './toast.js';
import { WardView } from './ward.js';

export class App {
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

  private renderConn(): void {
    renderConnBanner(this.conn.status, this.model);
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
