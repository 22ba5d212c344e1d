/** The `news2` rule's schema: which NEWS2 risk bands alert, at what priority. */
import type { AlertPriority } from '../alerts-model.js';
import { isObject, type Reader, type RuleBase } from './reader.js';

/** NEWS2 risks that can raise an alert (low never does: it is routine monitoring). */
export type News2AlertBand = 'low-medium' | 'medium' | 'high';

export interface News2Rule extends RuleBase {
  type: 'news2';
  /** Risk band → alert priority; a band that is absent raises nothing. */
  bands: Partial<Record<News2AlertBand, AlertPriority>>;
}

const BANDS: readonly string[] = ['low-medium', 'medium', 'high'];
export const NEWS2_KEYS: readonly string[] = ['bands'];

export function readNews2(raw: Record<string, unknown>, path: string, base: RuleBase, r: Reader): News2Rule {
  const bands: News2Rule['bands'] = {};
  const b = raw['bands'];
  if (!isObject(b) || Object.keys(b).length === 0) r.errors.push(`${path}.bands: expected e.g. { medium: medium, high: high }`);
  else {
    for (const [k, v] of Object.entries(b)) {
      if (!BANDS.includes(k)) r.errors.push(`${path}.bands.${k}: unknown band (allowed: ${BANDS.join(', ')})`);
      else bands[k as News2AlertBand] = r.priority(v, `${path}.bands.${k}`, null);
    }
  }
  return { ...base, type: 'news2', bands };
}
