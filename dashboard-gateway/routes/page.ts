/**
 * The dashboard page and its built assets, served same-origin: `/` is web/index.html,
 * `/assets/<file>` is web/assets/<file> (built by web/build.mjs). CSP allows scripts,
 * styles and connections to this origin only; the page has no inline script or style.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync } from 'fastify';

/** web/ sits beside the sources; compiled code in dist/ reads the same folder. */
function webDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.resolve(here, '../web'), path.resolve(here, '../../../dashboard-gateway/web')];
  return candidates.find((c) => existsSync(path.join(c, 'index.html'))) ?? (candidates[0] as string);
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};
/** A plain file name: no path separators, no leading dot. */
const ASSET = /^[a-z0-9][a-z0-9._-]*\.(js|css|map|png|svg)$/;

export function pageRoutes(): FastifyPluginAsync {
  const dir = webDir();
  const assets = path.join(dir, 'assets');
  // form-action 'none': the login form never submits (the script handles it), so a token can
  // never end up in a URL even when the script failed to load.
  const headers = {
    'content-security-policy': "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    // Asset names are not content-hashed: revalidate so a rebuilt page is picked up.
    'cache-control': 'no-cache',
  };
  return async (app) => {
    app.get('/', async (_req, reply) => reply.headers(headers).type(TYPES['.html']!).send(await readFile(path.join(dir, 'index.html'))));
    app.get<{ Params: { file: string } }>('/assets/:file', async (req, reply) => {
      const f = req.params.file;
      if (!ASSET.test(f)) return reply.code(404).send({ error: { code: 'VTL_ERR_NOT_FOUND', message: 'Not found' } });
      try {
        const body = await readFile(path.join(assets, f));
        return reply.headers(headers).type(TYPES[path.extname(f)] ?? 'application/octet-stream').send(body);
      } catch {
        return reply.code(404).send({ error: { code: 'VTL_ERR_NOT_FOUND', message: 'Not found' } });
      }
    });
  };
}
