import { done, type JsonOption } from './common.ts';
import { authedRequest } from './session.ts';

/** `verify-phone-otp OTP`: the phone is verified with the code from the SMS. */
export async function verifyPhoneOtpCommand(otp: string, { json }: JsonOption): Promise<number> {
  const { body } = await authedRequest(json, (client) => client.POST('/api/v1/users/verify-otp', { body: { otp } }));
  return done(json, body, [`Phone number ${body.user.phone} verified.`, 'See your account with: panic-api me']);
}
