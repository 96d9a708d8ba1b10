import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Services } from '../../runtime/services.ts';
import { deliveryLogEntry, deliveryState, listDeliveryLog } from '../../delivery/delivery-log.ts';
import { LoggedMessage } from '../../contract/delivery-log.ts';
import { recipientKeys } from '../../delivery/recipients.ts';
import { unsuppress } from '../../delivery/suppressions.ts';
import { why } from '../../accounts/why.ts';
import { WhyReport } from '../../contract/why-report.ts';
import { AppError } from '../../shared/errors.ts';
import { requireAdminToken } from '../auth-hook.ts';
import { errors, EventFilters, eventFilter, Uuid } from '../schemas.ts';
import { ALL_STATUSES } from '../../shared/vocabulary.ts';
import { eventAccountId, listAccountEvents } from '../../accounts/events.ts';
import { AccountEventPage } from '../../contract/account-events.ts';
import { webhookEndpointStates } from '../../delivery/webhooks.ts';
import { Nullable } from '../../contract/nullable.ts';

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

/** The operator step of a why diagnosis, in this API's routes. */
const ACTION: Record<NonNullable<WhyReport['diagnosis']['action']>, (destination: string) => string> = {
  lift_suppression: (d) => `With the admin token: DELETE /api/v1/admin/suppressions/${encodeURIComponent(d)}.`,
  see_queue: () => 'GET /api/v1/admin/delivery shows its queue.',
};

/** Operations endpoints; registered only when ADMIN_TOKEN is set. */
export const adminRoutes: FastifyPluginAsyncTypebox<{
  services: Services;
  adminToken: string;
}> = async (app, { services, adminToken }) => {
  const { channels } = services;
  const tags = ['admin'];
  const security = [{ bearer: [] }];
  // Before validation: without the token, a bad body or query is 401 too, never 400 with the schema's details.
  app.addHook('onRequest', requireAdminToken(adminToken));

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
          limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$' })),
        }),
        response: { 200: Type.Object({ messages: Type.Array(LoggedMessage) }), ...errors(400, 401) },
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
        response: { 200: WhyReport, ...errors(400, 401) },
      },
    },
    async (request) => {
      const report = await why(services, request.query.to);
      const { action } = report.diagnosis;
      return action
        ? {
            ...report,
            diagnosis: { ...report.diagnosis, fix: `${report.diagnosis.fix} ${ACTION[action](report.destination)}` },
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
        response: { 200: Type.Object({ address: Type.String(), removed: Type.Literal(true) }), ...errors(401, 404) },
      },
    },
    async (request) => {
      if (!(await unsuppress(services.db, request.params.address)))
        throw new AppError('not_found', 'That address is not on the suppression list.');
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
        response: { 200: Type.Object({ message: LoggedMessage }), ...errors(400, 401, 404) },
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
          ...errors(401),
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
        response: { 200: AccountEventPage, ...errors(400, 401, 404) },
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
};
