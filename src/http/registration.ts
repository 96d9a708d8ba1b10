import { Type } from 'typebox';
import { localeOf, LOCALE_CODES, LOCALES, preferredLocale, type Locale } from '../shared/locales.ts';
import { AppError } from '../shared/errors.ts';
import { body, Email, errors, LocaleTag, Name, Password, Phone, WRITES } from './schemas.ts';

/** Registration's request and answer sentence, shared by /auth/register and its older alias /users/register. */
export const RegisterBody = (passwordRequired: boolean) =>
  body({
    email: Email,
    phone: Phone,
    first_name: Name,
    last_name: Name,
    password: passwordRequired ? Password : Type.Optional(Password),
    locale: Type.Optional({
      ...LocaleTag,
      description: `The language of the account's messages: ${LOCALE_CODES.join(', ')}. Unset: from Accept-Language, else the service's default.`,
    }),
  });

/** A language tag sent in a body as one of our locales; locale_not_supported when its language is not one messages are written in. */
/** The refusals of both registration routes: a phone or locale refused, an address verified on an account. */
export const REGISTER_REFUSALS = errors(
  ...WRITES,
  'invalid_phone',
  'phone_not_allowed',
  'locale_not_supported',
  'email_taken',
);

export function requireLocale(tag: string): Locale {
  const locale = localeOf(tag);
  if (!locale) {
    const offered = LOCALE_CODES.map((l) => `${l} (${LOCALES[l]})`).join(', ');
    throw new AppError('locale_not_supported', `Messages are not written in "${tag}": use one of ${offered}.`);
  }
  return locale;
}

/** A new account's locale: the body's, else the best of Accept-Language, else DEFAULT_LOCALE. */
export const registrationLocale = (
  tag: string | undefined,
  acceptLanguage: string | undefined,
  fallback: Locale,
): Locale => (tag === undefined ? preferredLocale(acceptLanguage, fallback) : requireLocale(tag));

export const registeredMessage = (email: string, sent: boolean) =>
  sent
    ? `Account created. A verification code was sent to ${email}: POST it to /api/v1/auth/verify-account.`
    : `Account saved. ${email} was already sent all the codes an hour allows, so no new one was sent: use the code in the newest email there (its long code works for an hour), with POST /api/v1/auth/verify-account.`;
