/** The connection line and the stale-data banner: always visible, and a stale view always says so. */
import type { ConnStatus } from './conn.js';
import { $, setAttr, setHidden, setText } from './dom.js';
import { age, ago, clock } from './format.js';
import type { Model } from './model.js';

/** Live but silent this long (with patients on screen): say the view may be stale. */
const QUIET_MS = 15_000;

/**
 * Show the connection state and the age of the data on screen.
 * @param s - the connection's status
 * @param model - what the page holds (its last message time, its patients)
 */
export function renderConnBanner(s: ConnStatus, model: Model): void {
  const now = Date.now();
  const last = model.lastMessageAt;
  const lastText = last ? `last update ${ago(now - last) === 'now' ? 'just now' : ago(now - last)}` : 'no data yet';
  let state: 'live' | 'quiet' | 'down' | 'connecting';
  let text: string;
  if (s.phase === 'live') {
    const quiet = last > 0 && now - last > QUIET_MS && model.patients.size > 0;
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
