import type { FastifyRequest } from 'fastify';
import { networkOf, type Requester, USER_AGENT_MAX } from '../shared/trust-proxy.ts';

/** The requester of a request, from the address trustProxy settled on (the socket peer when no proxy is trusted). */
export const requesterOf = (request: FastifyRequest): Requester => ({
  network: networkOf(request.ip, request.socket.remoteAddress),
  userAgent: request.headers['user-agent']?.slice(0, USER_AGENT_MAX) || undefined,
});
