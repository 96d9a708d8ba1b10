/** Accounts written straight into the database for the attacks on sign-in codes (test/attack-code-login*.test.ts). */
import { randomBytes } from 'node:crypto';
import { randomMobile, type Stack } from './stack.ts';

export const tag = (): string => randomBytes(4).toString('hex');
/** An address no account has. */
export const ghostEmail = (): string => `ghost.${tag()}@example.test`;

export interface Owner {
  id: string;
  email: string;
  phone: string;
  password: string;
}

/**
 * An account written straight into the database, so that no registration mail or SMS spends the
 * hour's sends of its inbox or number: its email verified unless `emailVerified: false`, its phone
 * verified when `phoneVerified`; with no password when not `withPassword` (a hash takes a while).
 */
export async function account(
  s: Stack,
  { emailVerified = true, phoneVerified = false, phone = randomMobile(), withPassword = true } = {},
): Promise<Owner> {
  const p = { email: `owner.${tag()}@example.test`, phone, password: 'correct horse battery' };
  const now = s.runtime.services.clock();
  const { id } = await s.runtime.services.db
    .insertInto('users')
    .values({
      email: p.email,
      phone: p.phone,
      first_name: 'Lindiwe',
      last_name: 'Zulu',
      password_hash: withPassword ? await s.runtime.services.passwords.hash(p.password) : null,
      email_verified_at: emailVerified ? now : null,
      phone_verified_at: phoneVerified ? now : null,
      created_at: now,
      updated_at: now,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { id, ...p };
}
