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
import { endSession, endSessions, listSessions } from '../../accounts/sessions.ts';
import { changePassword } from '../../accounts/password-change.ts';
import { AppError, type ErrorCode } from '../../shared/errors.ts';
import { requireUser } from '../auth-hook.ts';
import { requesterOf } from '../requester.ts';
import { CodeSentReply, PhoneCodeSentReply, RegisterReply } from '../../contract/code-sent.ts';
import { PublicUser } from '../../contract/public-user.ts';
import { SessionList } from '../../contract/session.ts';
import {
  body,
  Email,
  errors,
  EventFilters,
  GONE_MEANWHILE,
  READS,
  SIGNED_IN,
  WRITES,
  eventFilter,
  LocaleTag,
  LoginPassword,
  Otp,
  Password,
  Phone,
  Uuid,
} from '../schemas.ts';
import { listAccountEvents } from '../../accounts/events.ts';
import { AccountEventPage } from '../../contract/account-events.ts';
import {
  REGISTER_REFUSALS,
  RegisterBody,
  registeredMessage,
  registrationLocale,
  requireLocale,
} from '../registration.ts';
import { confirmEmailChange, requestEmailChange } from '../../accounts/email-change.ts';
import type { Proof } from '../../accounts/proof.ts';
import { deleteOwnAccount } from '../../accounts/erasure.ts';
import { exportPersonalData } from '../../accounts/personal-data.ts';
import { PersonalData } from '../../contract/personal-data.ts';

/** What a code proven here may be refused for: this route tells its holder the code's state. */
const CODE_REFUSALS: ErrorCode[] = ['otp_invalid', 'otp_expired', 'otp_attempts_exceeded'];
/** The refusals of a proof (proof.ts): a wrong password, or a sign-in code refused. */
const PROOF: ErrorCode[] = ['invalid_credentials', ...CODE_REFUSALS];

/** "2 other sessions ended" */
const endedSessions = (n: number) =>
  n === 0 ? 'No other session was signed in' : `${n} other session${n === 1 ? '' : 's'} ended`;

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
        response: { 200: RegisterReply, ...REGISTER_REFUSALS },
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
      schema: {
        tags,
        summary: 'Alias of /auth/me',
        security,
        response: { 200: PublicUser, ...errors(...READS, ...SIGNED_IN) },
      },
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
        response: { 200: PublicUser, ...errors(...WRITES, ...SIGNED_IN, 'locale_not_supported') },
      },
    },
    async (request) => setLocale(services.db, request.user!.id, requireLocale(request.body.locale), services.clock()),
  );

  // -- The person's data in their hands (issue 22): take it, and leave. --

  app.get(
    '/me/export',
    {
      preHandler: auth,
      schema: {
        tags,
        summary:
          'Everything held about you, as one JSON document: the account, sessions, codes (never the code), account events, the messages sent to you (never a body), suppressions',
        security,
        response: { 200: PersonalData, ...errors(...READS, ...SIGNED_IN) },
      },
    },
    async (request, reply) => {
      reply.header('content-disposition', 'attachment; filename="panic-account-export.json"');
      return exportPersonalData(services, request.user!);
    },
  );

  app.delete(
    '/me',
    {
      // it hashes a password: the budget of the routes that do
      config: { limit: { expensive: true } },
      preHandler: auth,
      schema: {
        tags,
        summary:
          'Delete your account: with the password, or `otp`, a fresh sign-in code, for an account without one. Your address and phone are erased from what is kept; the address can register again at once',
        security,
        body: body({ password: Type.Optional(LoginPassword), otp: Type.Optional(Otp) }),
        response: {
          200: Type.Object({ message: Type.String(), deleted: Type.Literal(true) }),
          ...errors(...WRITES, ...SIGNED_IN, ...PROOF, ...GONE_MEANWHILE),
        },
      },
    },
    async (request) => {
      const { password, otp } = request.body;
      await deleteOwnAccount(services, request.user!, proofOf(password, otp), requesterOf(request));
      return {
        message: 'Your account was deleted, and your email address and phone number erased from what is kept.',
        deleted: true as const,
      };
    },
  );

  app.get(
    '/me/sessions',
    {
      preHandler: auth,
      schema: {
        tags,
        summary: "The account's live sessions (device, network, when used), the most recently used first",
        security,
        response: { 200: SessionList, ...errors(...READS, ...SIGNED_IN) },
      },
    },
    async (request) => ({ sessions: await listSessions(services, request.user!.id, request.sessionId!) }),
  );

  app.delete(
    '/me/sessions/:id',
    {
      preHandler: auth,
      schema: {
        tags,
        summary: 'End one of your sessions (this one too: a logout); its tokens are refused from then on',
        security,
        params: Type.Object({ id: Uuid }),
        response: {
          200: Type.Object({
            message: Type.String(),
            current: Type.Boolean({ description: 'The session ended was the one asking: it is signed out.' }),
          }),
          ...errors(...WRITES, ...SIGNED_IN, 'session_not_found'),
        },
      },
    },
    async (request) => {
      await endSession(services, request.user!.id, request.params.id, requesterOf(request));
      const current = request.params.id === request.sessionId;
      return {
        message: current ? 'Session ended: it was this one, so you are signed out.' : 'Session ended.',
        current,
      };
    },
  );

  app.post(
    '/me/sessions/revoke-others',
    {
      preHandler: auth,
      schema: {
        tags,
        summary: 'End every session of the account but this one',
        security,
        response: {
          200: Type.Object({ message: Type.String(), revoked: Type.Integer({ description: 'Sessions ended.' }) }),
          ...errors(...WRITES, ...SIGNED_IN),
        },
      },
    },
    async (request) => {
      const revoked = await endSessions(
        services,
        request.user!.id,
        { actor: 'user', requester: requesterOf(request), reason: 'revoke_others' },
        request.sessionId!,
      );
      return { message: `${endedSessions(revoked)}; this one stays signed in.`, revoked };
    },
  );

  app.post(
    '/me/password',
    {
      config: { limit: { expensive: true } },
      preHandler: auth,
      schema: {
        tags,
        summary: 'Change the password with the current one; every other session of the account ends, this one stays',
        security,
        body: body({ current_password: LoginPassword, new_password: Password }),
        response: {
          200: Type.Object({ message: Type.String(), revoked: Type.Integer({ description: 'Sessions ended.' }) }),
          ...errors(...WRITES, ...SIGNED_IN, 'invalid_credentials', 'password_not_set'),
        },
      },
    },
    async (request) => {
      const revoked = await changePassword(
        services,
        { user: request.user!, sessionId: request.sessionId! },
        request.body.current_password,
        request.body.new_password,
        requesterOf(request),
      );
      return { message: `Password changed. ${endedSessions(revoked)}; this one stays signed in.`, revoked };
    },
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
        response: { 200: AccountEventPage, ...errors(...READS, ...SIGNED_IN) },
      },
    },
    async (request) => listAccountEvents(services.db, { ...eventFilter(request.query), userId: request.user!.id }),
  );

  app.post(
    '/verify-phone',
    {
      // it may hash a password: the budget of the routes that do
      config: { limit: { expensive: true } },
      preHandler: auth,
      schema: {
        tags,
        summary:
          "Send a code to the account's phone, or to a new number, on its first channel; with `channel`, the live code on that channel. A verified phone is replaced only with the password, or `otp`, a sign-in code sent to the account's email",
        security,
        body: Type.Optional(
          body({
            phone: Type.Optional(Phone),
            channel: Type.Optional(
              Type.Enum([...PHONE_CHANNELS], {
                description: 'sms, whatsapp or voice: while a code is live it goes out on this channel unchanged',
              }),
            ),
            password: Type.Optional(LoginPassword),
            otp: Type.Optional(Otp),
          }),
        ),
        response: {
          200: PhoneCodeSentReply,
          ...errors(
            ...WRITES,
            ...SIGNED_IN,
            ...PROOF,
            'proof_required',
            'invalid_phone',
            'phone_not_allowed',
            ...GONE_MEANWHILE,
          ),
        },
      },
    },
    async (request) => {
      const { phone, channel, password, otp } = request.body ?? {};
      const proof = password === undefined && otp === undefined ? undefined : proofOf(password, otp);
      const sent = await requestPhoneCode(services, request.user!, requesterOf(request), phone, channel, proof);
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
          ...errors(...READS, ...SIGNED_IN, 'not_found'),
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
          ...errors(...WRITES, ...SIGNED_IN, ...CODE_REFUSALS, 'phone_taken'),
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

  // -- The account's email changed (issue 21): a code to the new address, then the switch with it. --

  app.post(
    '/me/email',
    {
      // it hashes a password: the budget of the routes that do
      config: { limit: { expensive: true } },
      preHandler: auth,
      schema: {
        tags,
        summary:
          'Ask to move the account to a new email address: a code is sent there (the same answer for every address); with the password, or `otp`, a sign-in code, for an account without one',
        security,
        body: body({ email: Email, password: Type.Optional(LoginPassword), otp: Type.Optional(Otp) }),
        response: {
          200: CodeSentReply,
          ...errors(...WRITES, ...SIGNED_IN, ...PROOF, 'email_unchanged', ...GONE_MEANWHILE),
        },
      },
    },
    async (request) => {
      const { email, password, otp } = request.body;
      const sent = await requestEmailChange(
        services,
        request.user!,
        email,
        proofOf(password, otp),
        requesterOf(request),
      );
      return {
        message:
          'A code was sent to the new address: POST it to /api/v1/users/me/email/verify. Until then the account keeps its current address.',
        ...sent,
      };
    },
  );

  app.post(
    '/me/email/verify',
    {
      preHandler: auth,
      schema: {
        tags,
        summary:
          'Move the account to the new address with the code sent there; the old address is sent a notice, sessions stay',
        security,
        body: body({ otp: Otp }),
        response: {
          200: Type.Object({ message: Type.String(), email_verified: Type.Literal(true), user: PublicUser }),
          ...errors(...WRITES, ...SIGNED_IN, ...CODE_REFUSALS, 'email_taken'),
        },
      },
    },
    async (request) => {
      const user = await confirmEmailChange(services, request.user!, request.body.otp, requesterOf(request));
      return {
        message: `The account's email is now ${user.email}; the old address was sent a notice and no longer signs in.`,
        email_verified: true as const,
        user,
      };
    },
  );
};

/** The password, or a sign-in code: one of them, not both. */
function proofOf(password: string | undefined, otp: string | undefined): Proof {
  if ((password === undefined) === (otp === undefined))
    throw new AppError(
      'validation_error',
      'Send "password" (the account\'s), or "otp" (a sign-in code) for an account without one: exactly one of them.',
    );
  return password === undefined ? { otp: otp! } : { password };
}
