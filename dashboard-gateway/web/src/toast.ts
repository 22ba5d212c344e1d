/** A short message at the foot of the page that hides itself. */
import { $, setHidden, setText } from './dom.js';

let toastTimer: ReturnType<typeof setTimeout> | null = null;
export function notify(text: string): void {
  const t = $('toast');
  setText(t, text);
  setHidden(t, false);
  if (toastTimer) clearTimeout(toastTimer);
  toastTimer = setTimeout(() => setHidden(t, true), 8000);
}
