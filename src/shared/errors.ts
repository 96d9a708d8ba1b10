/**
 * Every error code the API can answer, in one place, with the HTTP status it maps to.
 * Domain code throws AppError with one of these codes; only the HTTP layer reads the status.
 */
export const ERROR_CODES = {
  validation_error: 400,
  invalid_phone: 400,
  phone_not_allowed: 400,
  locale_not_supported: 400,
  otp_invalid: 400,
  otp_expired: 400,
  otp_attempts_exceeded: 400,
  email_unchanged: 400,
  invalid_credentials: 401,
  unauthorized: 401,
  invalid_refresh_token: 401,
  email_not_verified: 403,
  code_login_disabled: 403,
  proof_required: 403,
  forbidden: 403,
  not_found: 404,
  session_not_found: 404,
  email_taken: 409,
  phone_taken: 409,
  password_not_set: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal_error: 500,
  not_ready: 503,
  service_unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * What the caller can do next, as a fact: the domain names the step, the edge that answers (HTTP)
 * words it with its own route, so no domain sentence names a route.
 */
export type NextStep = 'request_unlock' | 'verify_email' | 'reset_password';

export interface AppErrorOptions extends ErrorOptions {
  next?: NextStep;
}

export class AppError extends Error {
  /** The step that gets the caller past this refusal, when there is one. */
  readonly next?: NextStep;

  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Seconds until a retry can succeed (rate limits, throttles). */
    readonly retryAfterSeconds?: number,
    /** `cause`: the error this one words for its caller, kept for the log; `next`: the way past it. */
    options?: AppErrorOptions,
  ) {
    super(message, options);
    this.name = 'AppError';
    this.next = options?.next;
  }
}
