import { done, parseCommand } from './common.ts';
import { authedRequest } from './session.ts';

/** `verify-phone-otp OTP`: the phone is verified with the code from the SMS. */
export async function verifyPhoneOtpCommand(argv: string[]): Promise<number> {
  const { args: [otp], json } = parseCommand(argv, { positionals: ['OTP'] });
  const { body } = await authedRequest<{ user: { phone: string } }>(json, 'POST', '/api/v1/users/verify-otp', () => ({ otp }));
  return done(json, body, [`Phone number ${body.user.phone} verified.`, 'See your account with: panic-api me']);
}
