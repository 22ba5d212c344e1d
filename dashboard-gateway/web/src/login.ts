/** The login form: a pasted token, checked for shape and expiry before it is kept for the tab. */
import { readClaims, type Claims } from './api.js';
import { $, setHidden, setText } from './dom.js';

/** sessionStorage key of the signed-in token. */
export const TOKEN_KEY = 'vitals.token';

export function showLogin(message = ''): void {
  setHidden($('app'), true);
  setHidden($('login'), false);
  const err = $('login-error');
  setText(err, message);
  setHidden(err, !message);
  ($('token-input') as HTMLTextAreaElement).focus();
}

export function setupLogin(onToken: (token: string, claims: Claims) => void): void {
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
