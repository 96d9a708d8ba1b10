import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Services } from '../../runtime/services.ts';
import { register } from '../../accounts/registration.ts';
import { phoneCodeStatus, requestPhoneCode, verifyPhoneCode } from '../../accounts/phone-verification.ts';
import { PUBLIC_STATES } from '../../delivery/hints.ts';
import { CHANNEL_LABELS, PHONE_CHANNELS } from '../../shared/vocabulary.ts';
import { ChannelField } from '../../contract/channel.ts';
import { Nullable } from '../../contract/nullable.ts';
import { setLocale, toPublicUser } from '../../accounts/users.ts';
import { AppError } from '../../shared/errors.ts';
import { requireUser } from '../auth-hook.ts';
import { requesterOf } from '../requester.ts';
import { PhoneCodeSentReply, RegisterReply } from '../../contract/code-sent.ts';
import { PublicUser } from '../../contract/public-user.ts';
import { body, errors, EventFilters, eventFilter, LocaleTag, Otp, Phone } from '../schemas.ts';
import { listAccountEvents } from '../../accounts/events.ts';
import { AccountEventPage } from '../../contract/account-events.ts';
import { RegisterBody, registeredMessage, registrationLocale, requireLocale } from '../registration.ts';

export const userRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const tags = ['users'];
  const auth = requireUser(services);
  const security = [{ bearer: [] }];

  // The aliases spend their /auth routes' budgets: a second spelling is not a second budget.
  app.post(
    '/register',
    {
      config: { limit: { family: 'auth', expensive: true } },
      schema: {
        tags,
        summary: 'Alias of /auth/register for existing clients: password optional, answers 200',
        body: RegisterBody(false),
        response: { 200: RegisterReply, ...errors(400, 409, 429, 503) },
      },
    },
    async (request) => {
      const { locale, ...fields } = request.body;
      const { sent, ...result } = await register(
        services,
        {
          ...fields,
          locale: registrationLocale(locale, request.headers['accept-language'], services.config.DEFAULT_LOCALE),
        },
        requesterOf(request),
      );
      return { message: registeredMessage(result.user.email, sent), ...result };
    },
  );

  app.get(
    '/me',
    {
      config: { limit: { family: 'auth' } },
      preHandler: auth,
      schema: { tags, summary: 'Alias of /auth/me', security, response: { 200: PublicUser, ...errors(401) } },
    },
    async (request) => toPublicUser(request.user!),
  );

  app.patch(
    '/me',
    {
      config: { limit: { family: 'auth' } },
      preHandler: auth,
      schema: {
        tags,
        summary: "Change the account's settings: `locale`, the language of its messages from the next code on",
        security,
        // only what can be changed: a field this route would ignore is a 400, not a silent no-op
        body: Type.Object({ locale: LocaleTag }, { additionalProperties: false }),
        response: { 200: PublicUser, ...errors(400, 401) },
      },
    },
    async (request) => setLocale(services.db, request.user!.id, requireLocale(request.body.locale), services.clock()),
  );

  app.get(
    '/me/events',
    {
      preHandler: auth,
      schema: {
        tags,
        summary:
          "The account's own security events (sign-ins and from which network, failed ones, verifications, sessions ended), newest first, a page at a time",
        security,
        querystring: Type.Object(EventFilters),
        response: { 200: AccountEventPage, ...errors(400, 401) },
      },
    },
    async (request) => listAccountEvents(services.db, { ...eventFilter(request.query), userId: request.user!.id }),
  );

  app.post(
    '/verify-phone',
    {
      preHandler: auth,
      schema: {
        tags,
        summary:
          "Send a code to the account's phone, or to a new number, on its first channel; with `channel`, the live code on that channel",
        security,
        body: Type.Optional(
          body({
            phone: Type.Optional(Phone),
            channel: Type.Optional(
              Type.Enum([...PHONE_CHANNELS], {
                description: 'sms, whatsapp or voice: while a code is live it goes out on this channel unchanged',
              }),
            ),
          }),
        ),
        response: { 200: PhoneCodeSentReply, ...errors(400, 401, 409, 429, 503) },
      },
    },
    async (request) => {
      const sent = await requestPhoneCode(
        services,
        request.user!,
        requesterOf(request),
        request.body?.phone,
        request.body?.channel,
      );
      return {
        message: `A code was sent by ${CHANNEL_LABELS[sent.channel]} to ${sent.phone}: POST it to /api/v1/users/verify-otp.`,
        ...sent,
      };
    },
  );

  app.get(
    '/verify-phone/status',
    {
      preHandler: auth,
      schema: {
        tags,
        summary: "Where the account's latest phone code is, on each channel it took, with a hint the person can act on",
        security,
        response: {
          200: Type.Object({
            phone: Type.String(),
            channel: ChannelField(),
            status: Type.Enum(PUBLIC_STATES),
            hint: Type.String(),
            updated_at: Type.String({ format: 'date-time' }),
            code_expires_at: Type.String({ format: 'date-time' }),
            channels: Type.Array(
              Type.Object({
                channel: ChannelField(),
                status: Type.Enum(PUBLIC_STATES),
                hint: Type.String(),
                updated_at: Type.String({ format: 'date-time' }),
              }),
              { description: 'Every channel the code took, oldest first; the fields above are the last one.' },
            ),
            next_move_at: Nullable(
              Type.String({
                format: 'date-time',
                description: 'When the code goes on the next channel unless this one reports delivery first.',
              }),
            ),
            can_ask: Type.Array(Type.Enum([...PHONE_CHANNELS]), {
              description: 'Channels the person may ask for now (POST verify-phone with `channel`).',
            }),
          }),
          ...errors(401, 404),
        },
      },
    },
    async (request) => {
      const found = await phoneCodeStatus(services, request.user!);
      if (!found)
        throw new AppError(
          'not_found',
          'No phone code was asked for on this account: POST /api/v1/users/verify-phone first.',
        );
      return found;
    },
  );

  app.post(
    '/verify-otp',
    {
      preHandler: auth,
      schema: {
        tags,
        summary: 'Verify the phone with its SMS code',
        security,
        body: body({ otp: Type.Optional(Otp), otp_code: Type.Optional(Otp) }),
        response: {
          200: Type.Object({ message: Type.String(), phone_verified: Type.Literal(true), user: PublicUser }),
          ...errors(400, 401, 409),
        },
      },
    },
    async (request) => {
      const otp = request.body.otp ?? request.body.otp_code;
      if (!otp)
        throw new AppError('validation_error', 'Invalid body field "otp": send the code as "otp" (or "otp_code").');
      const user = await verifyPhoneCode(services, request.user!, otp, requesterOf(request));
      return { message: 'Phone number verified.', phone_verified: true as const, user };
    },
  );
};
