import { Type, type Static } from 'typebox';
import { PublicUser } from './public-user.ts';
import { ChannelField } from './channel.ts';

/** Where a code went and when it stops working: the same whether or not one was really sent. */
export const CodeSent = Type.Object({
  channel: ChannelField(),
  expires_in_minutes: Type.Integer(),
  expires_at: Type.String({ format: 'date-time' }),
});
export type CodeSent = Static<typeof CodeSent>;

/** The answer to a request for a code (resend, forgot password, unlock). */
export const CodeSentReply = Type.Object({ message: Type.String(), ...CodeSent.properties });
export type CodeSentReply = Static<typeof CodeSentReply>;

/** The answer to a request for a phone code: which number it went to. */
export const PhoneCodeSentReply = Type.Object({ message: Type.String(), phone: Type.String(), ...CodeSent.properties });
export type PhoneCodeSentReply = Static<typeof PhoneCodeSentReply>;

/** The answer to a registration: the new account, and its email verification code's expiry. */
export const RegisterReply = Type.Object({
  message: Type.String(),
  user: PublicUser,
  verification: CodeSent,
});
export type RegisterReply = Static<typeof RegisterReply>;
