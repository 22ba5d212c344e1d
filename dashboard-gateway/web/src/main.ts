/**
 * Vitalstream clinician dashboard: login, live ward view, alert list, patient view.
 * Plain TypeScript and the DOM; speaks only the documented WebSocket and REST API.
 */
import { readClaims, type Claims } from './api.js';
import { App } from './app.js';
import { $ } from './dom.js';
import { setupLogin, showLogin, TOKEN_KEY } from './login.js';

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
