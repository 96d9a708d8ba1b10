import { Type } from 'typebox';
import { body, Email, Name, Password, Phone } from './schemas.ts';

/** Registration's request and answer sentence, shared by /auth/register and its older alias /users/register. */
export const RegisterBody = (passwordRequired: boolean) =>
  body({
    email: Email,
    phone: Phone,
    first_name: Name,
    last_name: Name,
    password: passwordRequired ? Password : Type.Optional(Password),
  });

export const registeredMessage = (email: string) =>
  `Account created. A verification code was sent to ${email}: POST it to /api/v1/auth/verify-account.`;
