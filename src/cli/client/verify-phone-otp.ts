import { done, parseCommand } from './common.ts';
import { authedRequest } from './session.ts';
import type { PublicUser } from '../../contract/public-user.ts';

/** `verify-phone-otp OTP`: the phone is verified with the code from the SMS. */
export async function verifyPhoneOtpCommand(argv: string[]): Promise<number> {
  const { args: [otp], json } = parseCommand(argv, { positionals: ['OTP'] });
  const { body } = await authedRequest<{ user: PublicUser }>(json, 'POST', '/api/v1/users/verify-otp', () => ({ otp }));
  return done(json, body, [`Phone number ${body.user.phone} verified.`, 'See your account with: panic-api me']);
}
