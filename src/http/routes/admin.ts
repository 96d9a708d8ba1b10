import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { onRequestHookHandler } from 'fastify';
import type { Services } from '../../runtime/services.ts';
import { deliveryLogEntry, deliveryState, listDeliveryLog } from '../../delivery/delivery-log.ts';
import { LoggedMessage } from '../../contract/delivery-log.ts';
import { recipientKeys } from '../../delivery/recipients.ts';
import { why } from '../../accounts/why.ts';
import { WhyReport } from '../../contract/why-report.ts';
import { AppError } from '../../shared/errors.ts';
import {
  Email,
  errors,
  EventFilters,
  eventFilter,
  PageLimit,
  Phone,
  READS,
  SIGNED_IN,
  Uuid,
  WRITES,
} from '../schemas.ts';
import { ALL_STATUSES, PURPOSES, type OtpPurpose } from '../../shared/vocabulary.ts';
import { healthStats } from '../../delivery/health-stats.ts';
import { HEALTH_RANGES, HealthStats, type HealthRange } from '../../contract/health-stats.ts';
import { CodeSent } from '../../contract/code-sent.ts';
import { ChannelField } from '../../contract/channel.ts';
import { endSessionsOfPerson, liftSuppression, sendCodeForPerson } from '../../accounts/support.ts';
import { requesterOf } from '../requester.ts';
import { eventAccountId, listAccountEvents } from '../../accounts/events.ts';
import { AccountEventPage } from '../../contract/account-events.ts';
import { webhookEndpointStates } from '../../delivery/webhooks.ts';
import { Nullable } from '../../contract/nullable.ts';
import { PublicUser } from '../../contract/public-user.ts';
import { eraseAccount } from '../../accounts/erasure.ts';
import { lookUpPerson } from '../../accounts/lookup.ts';

const At = Type.String({ format: 'date-time' });

/** A webhook endpoint's state in the delivery state. */
const WebhookEndpointState = Type.Object({
  endpoint: Type.String({ description: 'Its host and path' }),
  configured: Type.Boolean({ description: 'In WEBHOOK_URLS now (deliveries to one taken off it wait, unsent)' }),
  last_success_at: Nullable(At),
  last_failure_at: Nullable(At),
  last_error: Nullable(Type.String()),
  backlog: Type.Integer({ description: 'Deliveries waiting (queued or being sent)' }),
  oldest_pending_at: Nullable(At),
});

const Status = Type.Union(ALL_STATUSES.map((s) => Type.Literal(s)));

/** The words of a why diagnosis's operator step, for the surface that serves it. */
export type ActionWords = Record<NonNullable<WhyReport['diagnosis']['action']>, (destination: string) => string>;

/** The operator step of a why diagnosis, in this API's routes. */
const ACTION: ActionWords = {
  lift_suppression: (d) => `With the admin token: DELETE /api/v1/admin/suppressions/${encodeURIComponent(d)}.`,
  see_queue: () => 'GET /api/v1/admin/delivery shows its queue.',
};

/**
 * Operations endpoints; registered only when ADMIN_TOKEN is set: at /api/v1/admin with the token
 * (`requireAdminToken`), and again for the support console under /console/api with its session.
 */
export const adminRoutes: FastifyPluginAsyncTypebox<{
  services: Services;
  /** Who may call them, checked before anything else. */
  authorize: onRequestHookHandler;
  /** How a diagnosis words its operator step; default: this API's routes. */
  actionWords?: ActionWords;
}> = async (app, { services, authorize, actionWords = ACTION }) => {
  const { channels } = services;
  const tags = ['admin'];
  const security = [{ bearer: [] }];
  // Before validation: without the token, a bad body or query is 401 too, never 400 with the schema's details.
  app.addHook('onRequest', authorize);

  app.get(
    '/messages',
    {
      schema: {
        tags,
        summary: 'The delivery log (no bodies or codes), newest first, each message with its events oldest first',
        security,
        querystring: Type.Object({
          to: Type.Optional(Type.String({ minLength: 1, maxLength: 254 })),
          status: Type.Optional(Status),
          limit: Type.Optional(Type.String({ pattern: PageLimit })),
        }),
        response: { 200: Type.Object({ messages: Type.Array(LoggedMessage) }), ...errors(...READS, ...SIGNED_IN) },
      },
    },
    async (request) => {
      const { to, status, limit } = request.query;
      const messages = await listDeliveryLog(services.db, {
        recipients: to ? recipientKeys(to, services.config.DEFAULT_PHONE_REGION) : undefined,
        status: status as never,
        limit: Math.min(500, Math.max(1, Number(limit ?? 50))),
      });
      return { messages };
    },
  );

  app.get(
    '/why',
    {
      schema: {
        tags,
        summary:
          "Why codes to an address or number do not arrive: recent messages, suppression, limits blocking now, the diagnosis and the person's hint",
        security,
        querystring: Type.Object({ to: Type.String({ minLength: 3, maxLength: 254 }) }),
        response: { 200: WhyReport, ...errors(...READS, ...SIGNED_IN) },
      },
    },
    async (request) => {
      const report = await why(services, request.query.to);
      const { action } = report.diagnosis;
      return action
        ? {
            ...report,
            diagnosis: {
              ...report.diagnosis,
              fix: `${report.diagnosis.fix} ${actionWords[action](report.destination)}`,
            },
          }
        : report;
    },
  );

  app.delete(
    '/suppressions/:address',
    {
      schema: {
        tags,
        summary: 'Take an address off the suppression list (the person fixed their mailbox)',
        security,
        params: Type.Object({ address: Type.String({ minLength: 3, maxLength: 254 }) }),
        response: {
          200: Type.Object({ address: Type.String(), removed: Type.Literal(true) }),
          ...errors(...WRITES, ...SIGNED_IN, 'not_found'),
        },
      },
    },
    async (request) => {
      await liftSuppression(services, request.params.address, requesterOf(request));
      return { address: request.params.address, removed: true as const };
    },
  );

  app.get(
    '/messages/:id',
    {
      schema: {
        tags,
        summary: 'One message of the delivery log, with its events oldest first',
        security,
        params: Type.Object({ id: Uuid }),
        response: { 200: Type.Object({ message: LoggedMessage }), ...errors(...READS, ...SIGNED_IN, 'not_found') },
      },
    },
    async (request) => {
      const message = await deliveryLogEntry(services.db, request.params.id);
      if (!message)
        throw new AppError(
          'not_found',
          'No message has this id: it may have been removed after MESSAGE_RETENTION_DAYS.',
        );
      return { message };
    },
  );

  app.get(
    '/delivery',
    {
      schema: {
        tags,
        summary: "Per-channel delivery state, and each webhook endpoint's",
        security,
        response: {
          200: Type.Object({ channels: Type.Array(Type.Any()), webhooks: Type.Array(WebhookEndpointState) }),
          ...errors(...READS, ...SIGNED_IN),
        },
      },
    },
    async () => {
      const [states, webhooks] = await Promise.all([
        deliveryState(services.db, channels),
        webhookEndpointStates(services.db, services.config.WEBHOOK_URLS),
      ]);
      return { channels: states, webhooks };
    },
  );

  app.get(
    '/events',
    {
      schema: {
        tags,
        summary:
          "The account event log (never a code, a password or a token): one account's, or everyone's; newest first, a page at a time",
        security,
        querystring: Type.Object({
          user: Type.Optional(
            Type.String({ minLength: 3, maxLength: 254, description: 'The account: its id, email address or phone' }),
          ),
          ...EventFilters,
        }),
        response: { 200: AccountEventPage, ...errors(...READS, ...SIGNED_IN, 'not_found') },
      },
    },
    async (request) => {
      const { user } = request.query;
      const userId = user === undefined ? undefined : await eventAccountId(services, user);
      if (user !== undefined && !userId)
        throw new AppError(
          'not_found',
          'No account has this email address or phone number (an id finds a deleted one).',
        );
      return listAccountEvents(services.db, { ...eventFilter(request.query), userId });
    },
  );

  // ---- Support: delivery health and the actions of the console (issue 23), each one domain call.
  app.get(
    '/health-stats',
    {
      schema: {
        tags,
        summary:
          'Delivery health from the database: codes queued and used per channel, provider and calling code (24 h by the hour, 7 d by the day), breakers, the queue',
        security,
        querystring: Type.Object({ range: Type.Optional(Type.Enum(Object.keys(HEALTH_RANGES) as HealthRange[])) }),
        response: { 200: HealthStats, ...errors(...READS, ...SIGNED_IN) },
      },
    },
    async (request) => healthStats(services, request.query.range ?? '24h'),
  );

  app.post(
    '/users/:id/codes',
    {
      config: { limit: { expensive: true } },
      schema: {
        tags,
        summary:
          "Send the person a new code of a purpose, by the channel they name, to their own email or phone (the account's limits apply)",
        security,
        params: Type.Object({ id: Uuid }),
        body: Type.Object(
          { purpose: Type.Enum(Object.keys(PURPOSES) as OtpPurpose[]), channel: ChannelField() },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ destination: Type.String(), ...CodeSent.properties }),
          ...errors(...WRITES, ...SIGNED_IN, 'not_found'),
        },
      },
    },
    async (request) => sendCodeForPerson(services, request.params.id, request.body, requesterOf(request)),
  );

  app.post(
    '/users/:id/sessions/revoke',
    {
      schema: {
        tags,
        summary: 'End every session of the person: each of their devices signs in again',
        security,
        params: Type.Object({ id: Uuid }),
        response: { 200: Type.Object({ revoked: Type.Integer() }), ...errors(...WRITES, ...SIGNED_IN, 'not_found') },
      },
    },
    async (request) => ({ revoked: await endSessionsOfPerson(services, request.params.id, requesterOf(request)) }),
  );

  // -- A person's data (issue 22): look them up, and erase them when they ask support to. --

  app.get(
    '/users',
    {
      schema: {
        tags,
        summary: 'Look a person up by email or phone (any spelling the API accepts): their account',
        security,
        querystring: Type.Object(
          {
            email: Type.Optional(Email),
            phone: Type.Optional(Phone),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ user: PublicUser }),
          ...errors(...READS, ...SIGNED_IN, 'invalid_phone', 'not_found'),
        },
      },
    },
    async (request) => ({ user: await lookUpPerson(services, request.query) }),
  );

  app.delete(
    '/users/:id',
    {
      schema: {
        tags,
        summary:
          "Delete the person's account and erase their address and phone from what is kept (the same erasure as DELETE /users/me, the admin as actor)",
        security,
        params: Type.Object({ id: Uuid }),
        response: {
          200: Type.Object({ id: Type.String(), deleted: Type.Literal(true) }),
          ...errors(...WRITES, ...SIGNED_IN, 'not_found'),
        },
      },
    },
    async (request) => {
      await eraseAccount(services, request.params.id, 'admin');
      return { id: request.params.id, deleted: true as const };
    },
  );
};
