import type { FastifyRequest } from 'fastify';
import type { User } from '../platform/db/schema.ts';
import { authenticate } from '../accounts/sessions.ts';
import { AppError } from '../shared/errors.ts';
import { sameSecret } from './same-secret.ts';
import type { Services } from '../runtime/services.ts';

declare module 'fastify' {
  interface FastifyRequest {
    user: User | null;
    /** The session of the request's access token (its `sid`), beside request.user. */
    sessionId: string | null;
  }
}

export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1];
}

/** A preHandler that sets request.user and request.sessionId from a live access token, or answers 401. */
export function requireUser(deps: Pick<Services, 'db' | 'config' | 'clock'>) {
  return async (request: FastifyRequest) => {
    const token = bearerToken(request);
    if (!token) throw new AppError('unauthorized', 'Sign in first: send "Authorization: Bearer <access token>".');
    const { user, sessionId } = await authenticate(deps, token);
    request.user = user;
    request.sessionId = sessionId;
  };
}

/**
 * An onRequest hook that answers 401 unless the request carries the admin token: the one check of
 * the admin endpoints and of /metrics (both listeners). onRequest runs before the body is read and
 * validated, so a caller without the token learns nothing of a route's schema.
 */
export function requireAdminToken(adminToken: string) {
  return async (request: FastifyRequest) => {
    const token = bearerToken(request);
    if (!token || !sameSecret(token, adminToken)) {
      throw new AppError('unauthorized', 'Send the admin token as "Authorization: Bearer $ADMIN_TOKEN".');
    }
  };
}
