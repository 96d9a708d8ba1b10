import { Type, type Static } from 'typebox';
import { LoggedMessage } from './delivery-log.ts';
import { Nullable } from './nullable.ts';
import { ChannelField } from './channel.ts';
import { PublicUser } from './public-user.ts';

/** What GET /api/v1/admin/why answers and `panic-api why` prints: support's answer to "I am not receiving my code". */
export const WhyReport = Type.Object({
  destination: Type.String({ description: 'The address or number, normalised (lower-case email, E.164 phone).' }),
  channel: ChannelField(),
  account: Nullable(
    Type.Object({
      ...PublicUser.properties,
      live_sessions: Type.Integer({ description: 'Sessions not ended and not expired (devices signed in).' }),
    }),
  ),
  messages: Type.Array(
    Type.Object({
      ...LoggedMessage.properties,
      hint: Type.String({
        description:
          'What the person waiting for it is told in this state (as GET /api/v1/users/verify-phone/status says).',
      }),
    }),
    {
      description:
        'The recent messages to it, newest first, as the delivery log shows them, each with its events (a code the road moved has a message per channel, with one code_id).',
    },
  ),
  suppression: Nullable(
    Type.Object({
      address: Type.String(),
      kind: Type.Enum(['bounce', 'complaint']),
      reason: Type.String(),
      message_id: Nullable(Type.String()),
      created_at: Type.String(),
    }),
  ),
  blocking: Type.Array(Type.Object({ limit: Type.String(), setting: Type.String(), wait_seconds: Type.Integer() }), {
    description: 'Limits refusing new codes to it right now.',
  }),
  diagnosis: Type.Object(
    {
      cause: Type.String(),
      fix: Type.String(),
      action: Type.Optional(
        Type.Enum(['lift_suppression', 'see_queue'], {
          description:
            'The operator step the fix asks for, when the API has one: lift_suppression (DELETE /api/v1/admin/suppressions/{address}), see_queue (GET /api/v1/admin/delivery).',
        }),
      ),
    },
    { description: 'For the operator.' },
  ),
  hint: Type.String({ description: 'For the person, in their words.' }),
});
export type WhyReport = Static<typeof WhyReport>;
export type Blocking = WhyReport['blocking'][number];
