import type { Services } from '../runtime/services.ts';
import type { PublicUser } from '../contract/public-user.ts';
import { AppError } from '../shared/errors.ts';
import { isEmailAddress, normalizeEmail, normalizePhone } from '../shared/addresses.ts';
import { findUserByAddress, toPublicUser } from './users.ts';

/**
 * The account of an email address or a phone number, in any spelling the API takes ('082 555 0123'
 * in the default region): support's lookup when a person writes in. Exactly one of the two is asked.
 */
export async function lookUpPerson(
  deps: Pick<Services, 'db' | 'config'>,
  query: { email?: string; phone?: string },
): Promise<PublicUser> {
  const { email, phone } = query;
  if ((email === undefined) === (phone === undefined))
    throw new AppError('validation_error', 'Send "email" or "phone": exactly one of them.');
  if (email !== undefined && !isEmailAddress(email.trim()))
    throw new AppError('validation_error', `"${email.slice(0, 40)}" is not an email address.`);
  const destination =
    email !== undefined ? normalizeEmail(email) : normalizePhone(phone!, deps.config.DEFAULT_PHONE_REGION);
  const user = await findUserByAddress(deps.db, destination);
  if (!user) throw new AppError('not_found', `No account has ${destination}.`);
  return toPublicUser(user);
}
