/**
 * FHIR R4 searchset Bundles with paging links, and errors as OperationOutcomes. Pure.
 * Paging is by offset over a result computed per request [FHIR R4 http.html#paging: the
 * links are opaque to clients]; `_offset` is what our `next`/`previous` links carry.
 */

export interface Page {
  /** The search's own parameters (without `_count`/`_offset`), in request order; repeats allowed. */
  params: Array<[string, string]>;
  count: number;
  offset: number;
}

function pageUrl(searchUrl: string, p: Page, offset: number): string {
  const q = new URLSearchParams(p.params);
  q.set('_count', String(p.count));
  if (offset > 0) q.set('_offset', String(offset));
  return `${searchUrl}?${q.toString()}`;
}

export function searchBundle<T>(searchUrl: string, base: string, all: readonly T[], page: Page, build: (match: T) => Record<string, unknown>): Record<string, unknown> {
  const { count, offset } = page;
  const link = [
    { relation: 'self', url: pageUrl(searchUrl, page, offset) },
    { relation: 'first', url: pageUrl(searchUrl, page, 0) },
  ];
  if (offset > 0) link.push({ relation: 'previous', url: pageUrl(searchUrl, page, Math.max(0, offset - count)) });
  if (offset + count < all.length) link.push({ relation: 'next', url: pageUrl(searchUrl, page, offset + count) });
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total: all.length,
    link,
    entry: all.slice(offset, offset + count).map(build).map((r) => ({ fullUrl: `${base}/${String(r.resourceType)}/${String(r.id)}`, resource: r, search: { mode: 'match' } })),
  };
}

const ISSUE_CODE: Record<number, string> = { 400: 'invalid', 401: 'login', 403: 'forbidden', 404: 'not-found', 413: 'too-long', 429: 'throttled' };

/** An error as FHIR: the VTL_ERR code in details.text, the message in diagnostics. */
export function operationOutcome(status: number, code: string, message: string): Record<string, unknown> {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: ISSUE_CODE[status] ?? 'exception', details: { text: code }, diagnostics: message }] };
}
