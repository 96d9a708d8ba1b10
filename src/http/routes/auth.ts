import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Services } from '../../runtime/services.ts';
import { register, resendVerification, verifyAccount } from '../../accounts/registration.ts';
import { login } from '../../accounts/login.ts';
import { forgotPassword, resetPassword } from '../../accounts/password-reset.ts';
import { requestUnlock, verifyUnlock } from '../../accounts/unlock.ts';
import { requestLoginCode, verifyLoginCode } from '../../accounts/code-login.ts';
import { PHONE_CHANNELS } from '../../shared/vocabulary.ts';
import { revokeSessionOf, rotateRefreshToken } from '../../accounts/sessions.ts';
import { toPublicUser } from '../../accounts/users.ts';
import { requireUser } from '../auth-hook.ts';
import { requesterOf } from '../requester.ts';
import { REGISTER_REFUSALS, RegisterBody, registeredMessage, registrationLocale } from '../registration.ts';
import { CodeSentReply, RegisterReply } from '../../contract/code-sent.ts';
import { PublicUser } from '../../contract/public-user.ts';
import { TokenPair } from '../../contract/token-pair.ts';
import { ChannelField } from '../../contract/channel.ts';
import {
  body,
  Email,
  errors,
  GONE_MEANWHILE,
  LoginPassword,
  Message,
  Otp,
  Password,
  Phone,
  READS,
  SIGNED_IN,
  Token,
  WRITES,
} from '../schemas.ts';

const SAME_ANSWER = 'If an account needs it, a code has been sent. It expires at the time given.';

export const authRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const tags = ['auth'];
  const auth = requireUser(services);

  const expensive = { limit: { expensive: true } };

  app.post(
    '/register',
    {
      config: expensive,
      schema: {
        tags,
        summary: 'Create an account and email a verification code',
        body: RegisterBody(true),
        response: { 201: RegisterReply, ...REGISTER_REFUSALS },
      },
    },
    async (request, reply) => {
      const { locale, ...fields } = request.body;
      const { sent, ...result } = await register(
        services,
        {
          ...fields,
          locale: registrationLocale(locale, request.headers['accept-language'], services.config.DEFAULT_LOCALE),
        },
        requesterOf(request),
      );
      return reply.status(201).send({ message: registeredMessage(result.user.email, sent), ...result });
    },
  );

  app.post(
    '/resend-verification',
    {
      schema: {
        tags,
        summary: 'Send a new email verification code (same answer for every address)',
        body: body({ email: Email }),
        response: { 200: CodeSentReply, ...errors(...WRITES, ...GONE_MEANWHILE) },
      },
    },
    async (request) => ({
      message: SAME_ANSWER,
      ...(await resendVerification(services, request.body.email, requesterOf(request))),
    }),
  );

  app.post(
    '/verify-account',
    {
      // it may hash a password: the budget of the routes that do
      config: expensive,
      schema: {
        tags,
        summary:
          'Verify the email address with its code (optionally choosing the password: the code proves the inbox, as a reset code does)',
        body: body({ email: Email, otp: Otp, password: Type.Optional(Password) }),
        response: {
          200: Type.Object({ message: Type.String(), is_verified: Type.Literal(true), user: PublicUser }),
          ...errors(...WRITES, 'otp_invalid'),
        },
      },
    },
    async (request) => {
      const { user, passwordCleared } = await verifyAccount(
        services,
        request.body.email,
        request.body.otp,
        requesterOf(request),
        request.body.password,
      );
      const message = passwordCleared
        ? 'Email address verified. Two different passwords were registered for this address before it was verified, so neither was kept: choose yours with POST /api/v1/auth/forgot-password, or send it as "password" with the code.'
        : 'Email address verified. You can log in now.';
      return { message, is_verified: true as const, user };
    },
  );

  app.post(
    '/login',
    {
      config: expensive,
      schema: {
        tags,
        summary: 'Log in with email and password',
        body: body({ email: Email, password: LoginPassword }),
        response: {
          200: TokenPair,
          ...errors(...WRITES, 'invalid_credentials', 'email_not_verified', ...GONE_MEANWHILE),
        },
      },
    },
    async (request) => login(services, request.body.email, request.body.password, requesterOf(request)),
  );

  const CodeLoginName = {
    email: Type.Optional(Email),
    phone: Type.Optional({ ...Phone, description: "The account's verified phone (any spelling the API accepts)." }),
  };
  app.post(
    '/otp',
    {
      schema: {
        tags,
        summary:
          'Sign in with a code, step 1: a code to the verified email or verified phone of a verified account (same answer for every address)',
        body: body({
          ...CodeLoginName,
          channel: Type.Optional(
            Type.Enum([...PHONE_CHANNELS], {
              description: 'With "phone": sms, whatsapp or voice (default: the first channel of the number\'s road).',
            }),
          ),
        }),
        response: {
          200: CodeSentReply,
          ...errors(...WRITES, 'invalid_phone', 'code_login_disabled', ...GONE_MEANWHILE),
        },
      },
    },
    async (request) => ({
      message: SAME_ANSWER,
      ...(await requestLoginCode(services, request.body, requesterOf(request))),
    }),
  );

  app.post(
    '/otp/verify',
    {
      schema: {
        tags,
        summary:
          'Sign in with a code, step 2: the code for a token pair, as /auth/login answers (every refusal: otp_invalid)',
        body: body({ ...CodeLoginName, otp: Otp }),
        response: {
          200: TokenPair,
          ...errors(...WRITES, 'otp_invalid', 'invalid_phone', 'code_login_disabled', ...GONE_MEANWHILE),
        },
      },
    },
    async (request) => {
      const { otp, ...name } = request.body;
      return verifyLoginCode(services, name, otp, requesterOf(request));
    },
  );

  app.post(
    '/refresh',
    {
      schema: {
        tags,
        summary: 'Trade a refresh token for a new pair (the old one dies)',
        body: body({ refresh_token: Token }),
        response: { 200: TokenPair, ...errors(...WRITES, 'invalid_refresh_token', ...GONE_MEANWHILE) },
      },
    },
    async (request) => rotateRefreshToken(services, request.body.refresh_token, requesterOf(request)),
  );

  app.post(
    '/logout',
    {
      preHandler: auth,
      schema: {
        tags,
        summary: 'Revoke the session of a refresh token',
        security: [{ bearer: [] }],
        body: body({ refresh_token: Token }),
        response: { 200: Message, ...errors(...WRITES, ...SIGNED_IN, 'invalid_refresh_token') },
      },
    },
    async (request) => {
      await revokeSessionOf(services, request.user!.id, request.body.refresh_token, requesterOf(request));
      return { message: 'Logged out: this session is revoked.' };
    },
  );

  app.get(
    '/me',
    {
      preHandler: auth,
      schema: {
        tags,
        summary: 'The signed-in user',
        security: [{ bearer: [] }],
        response: { 200: PublicUser, ...errors(...READS, ...SIGNED_IN) },
      },
    },
    async (request) => toPublicUser(request.user!),
  );

  app.post(
    '/forgot-password',
    {
      schema: {
        tags,
        summary: 'Email a password reset code (same answer for every address)',
        body: body({ email: Email }),
        response: { 200: CodeSentReply, ...errors(...WRITES, ...GONE_MEANWHILE) },
      },
    },
    async (request) => ({
      message: SAME_ANSWER,
      ...(await forgotPassword(services, request.body.email, requesterOf(request))),
    }),
  );

  app.post(
    '/reset-password',
    {
      config: expensive,
      schema: {
        tags,
        summary:
          'Set a new password with a reset code; every other session ends, and this answer signs in (a token pair)',
        body: body({ email: Email, otp: Otp, new_password: Password }),
        response: {
          200: Type.Object({ message: Type.String(), ...TokenPair.properties }),
          ...errors(...WRITES, 'otp_invalid', ...GONE_MEANWHILE),
        },
      },
    },
    async (request) => {
      const pair = await resetPassword(
        services,
        request.body.email,
        request.body.otp,
        request.body.new_password,
        requesterOf(request),
      );
      return { message: 'Password changed. Every other session was signed out; this answer signs you in.', ...pair };
    },
  );

  const Identifier = Type.String({
    minLength: 3,
    maxLength: 254,
    description: 'The account email or its verified phone.',
  });
  app.post(
    '/request-unlock-otp',
    {
      schema: {
        tags,
        summary: 'Send a code that lifts the login throttle (same answer for every identifier)',
        body: body({
          identifier: Identifier,
          delivery_method: Type.Optional(ChannelField({ default: 'email' })),
        }),
        response: { 200: CodeSentReply, ...errors(...WRITES, ...GONE_MEANWHILE) },
      },
    },
    async (request) => ({
      message: SAME_ANSWER,
      ...(await requestUnlock(
        services,
        request.body.identifier,
        request.body.delivery_method ?? 'email',
        requesterOf(request),
      )),
    }),
  );

  app.post(
    '/verify-unlock-otp',
    {
      config: expensive,
      schema: {
        tags,
        summary: 'Lift the login throttle with an unlock code; with the password too, sign in at once (a token pair)',
        body: body({ identifier: Identifier, otp: Otp, password: Type.Optional(LoginPassword) }),
        response: {
          200: Type.Object({
            message: Type.String(),
            unlocked: Type.Literal(true),
            ...Type.Partial(TokenPair).properties,
          }),
          ...errors(...WRITES, 'otp_invalid', 'invalid_credentials', 'email_not_verified', ...GONE_MEANWHILE),
        },
      },
    },
    async (request) => {
      const pair = await verifyUnlock(
        services,
        request.body.identifier,
        request.body.otp,
        request.body.password,
        requesterOf(request),
      );
      return pair
        ? { message: 'Unlocked and signed in.', unlocked: true as const, ...pair }
        : { message: 'Unlocked: you can log in again now.', unlocked: true as const };
    },
  );
};
