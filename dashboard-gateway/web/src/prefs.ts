/** The clinician's view choices, kept for the browser tab's session. */
import type { SortMode } from './ward.js';

const PREFS_KEY = 'vitals.prefs';

export interface Prefs {
  sort: SortMode;
  sound: boolean;
  ward: string | null;
}

export function loadPrefs(): Prefs {
  try {
    const p = JSON.parse(sessionStorage.getItem(PREFS_KEY) ?? '{}') as Partial<Prefs>;
    return { sort: p.sort === 'bed' ? 'bed' : 'urgency', sound: p.sound === true, ward: typeof p.ward === 'string' ? p.ward : null };
  } catch {
    return { sort: 'urgency', sound: false, ward: null };
  }
}

export function savePrefs(p: Prefs): void {
  sessionStorage.setItem(PREFS_KEY, JSON.stringify(p));
}
