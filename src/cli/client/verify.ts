import { done, parseCommand, request } from './common.ts';
import type { PublicUser } from '../../contract/public-user.ts';

/** `verify EMAIL OTP`: the email address is verified with its code. */
export async function verifyCommand(argv: string[]): Promise<number> {
  const { args: [email, otp], json } = parseCommand(argv, { positionals: ['EMAIL', 'OTP'] });
  const body = await request<{ user: PublicUser }>(json, 'POST', '/api/v1/auth/verify-account', { email, otp });
  return done(json, body, [`Email address ${body.user.email} verified.`, `Log in with: panic-api login ${body.user.email}`]);
}
