import { api } from '../api-client.ts';
import { done, succeeded, type JsonOption } from './common.ts';

/** `verify EMAIL OTP`: the email address is verified with its code. */
export async function verifyCommand(email: string, otp: string, { json }: JsonOption): Promise<number> {
  const body = await succeeded(json, api().POST('/api/v1/auth/verify-account', { body: { email, otp } }));
  return done(json, body, [
    `Email address ${body.user.email} verified.`,
    `Log in with: panic-api login ${body.user.email}`,
  ]);
}
