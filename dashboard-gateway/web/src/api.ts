/** REST calls with the session's bearer token (same origin). */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface Api {
  get<T>(path: string): Promise<T>;
  post<T>(path: string, body: unknown): Promise<T>;
}

/** `onUnauthorized` runs on a 401 (expired or revoked token): the page goes back to the login. */
export function createApi(token: string, onUnauthorized: () => void): Api {
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? null : JSON.stringify(body), cache: 'no-store' });
    } catch {
      throw new ApiError(0, 'NETWORK', 'The server could not be reached.');
    }
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      /* not JSON */
    }
    if (!res.ok) {
      const err = (json as { error?: { code?: string; message?: string } } | null)?.error;
      if (res.status === 401) onUnauthorized();
      throw new ApiError(res.status, err?.code ?? `HTTP_${res.status}`, err?.message ?? `HTTP ${res.status}`);
    }
    return json as T;
  };
  return {
    get: (path) => call('GET', path),
    post: (path, body) => call('POST', path, body),
  };
}

/** The claims of a JWT, read (not verified: the server verifies) to greet the user and spot expiry. */
export interface Claims {
  sub: string;
  role: string;
  wards: string[];
  exp: number | null;
}

export function readClaims(token: string): Claims | null {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[1]) return null;
  try {
    const b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(b64.padEnd(b64.length + ((4 - (b64.length % 4)) % 4), '='));
    const json = JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)))) as Record<string, unknown>;
    return {
      sub: typeof json.sub === 'string' ? json.sub : '?',
      role: typeof json.role === 'string' ? json.role : '?',
      wards: Array.isArray(json.wards) ? json.wards.filter((w): w is string => typeof w === 'string') : [],
      exp: typeof json.exp === 'number' ? json.exp : null,
    };
  } catch {
    return null;
  }
}
