/**
 * One table of error codes: stable string code, HTTP status, retriable.
 * A test pins the table; docs/errors.md documents every row.
 * Messages never contain patient data.
 */

export interface ErrorSpec {
  message: string;
  statusCode: number;
  retriable: boolean;
}

export const ERRORS = {
  VTL_ERR_CONFIG: { message: 'Invalid configuration', statusCode: 500, retriable: false },
  VTL_ERR_BAD_REQUEST: { message: 'Bad request', statusCode: 400, retriable: false },
  VTL_ERR_UNAUTHORIZED: { message: 'Missing, invalid or expired credentials', statusCode: 401, retriable: false },
  VTL_ERR_FORBIDDEN: { message: 'Not allowed for this role or ward', statusCode: 403, retriable: false },
  VTL_ERR_NOT_FOUND: { message: 'Not found', statusCode: 404, retriable: false },
  VTL_ERR_CONFLICT: { message: 'Already exists', statusCode: 409, retriable: false },
  VTL_ERR_PAYLOAD_TOO_LARGE: { message: 'Payload too large', statusCode: 413, retriable: false },
  VTL_ERR_RATE_LIMITED: { message: 'Too many requests', statusCode: 429, retriable: true },
  VTL_ERR_BUS_UNAVAILABLE: { message: 'Message bus unavailable', statusCode: 503, retriable: true },
  VTL_ERR_STORE_UNAVAILABLE: { message: 'Store unavailable', statusCode: 503, retriable: true },
  VTL_ERR_INTERNAL: { message: 'Internal error', statusCode: 500, retriable: false },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

export class VitalsError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  readonly retriable: boolean;

  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown }) {
    const spec = ERRORS[code];
    super(detail ? `${spec.message}: ${detail}` : spec.message, options);
    this.name = 'VitalsError';
    this.code = code;
    this.statusCode = spec.statusCode;
    this.retriable = spec.retriable;
  }
}

export function isVitalsError(e: unknown): e is VitalsError {
  return e instanceof VitalsError;
}
