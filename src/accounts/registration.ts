import { sql } from 'kysely';
import type { Services } from '../runtime/services.ts';
import { codeExpiry, issueAndQueue } from '../otp/send-code.ts';
import type { CodeSent } from '../contract/code-sent.ts';
import { checkCode } from '../otp/check-code.ts';
import { AppError } from '../shared/errors.ts';
import type { User } from '../platform/db/schema.ts';
import { assertTextable, normalizeEmail, normalizePhone } from '../shared/addresses.ts';
import { personName } from '../shared/names.ts';
import { emailAccountCodeEvenly } from './account-code.ts';
import { findUserByEmail, isUniqueViolation, toPublicUser } from './users.ts';
import type { PublicUser } from '../contract/public-user.ts';
import type { Locale } from '../shared/locales.ts';
import type { Requester } from '../shared/trust-proxy.ts';
import { recordAccountEvent } from './events.ts';

export interface RegisterInput {
  email: string;
  phone: string;
  first_name: string;
  last_name: string;
  password?: string;
  /** The language of the account's messages (from the body, else Accept-Language, else DEFAULT_LOCALE). */
  locale: Locale;
}

const emailTaken = () =>
  new AppError('email_taken', 'An account with this email already exists. Log in, or reset the password.');

/**
 * Creates the account, or replaces a pending (unverified) one, and queues its email verification
 * code in the same transaction. Only a verified address is taken: otherwise whoever registered an
 * address first, the owner or not, could keep it. A re-registration with another password marks the
 * password contested, and verification then keeps neither (see verifyAccount).
 *
 * When the mailbox was already sent all the codes its hour allows (by whoever asked), the account is
 * still saved but no new code is sent: the code in the newest email there stays the one to use
 * (`sent: false`). Refusing instead would let strangers who registered the address keep its owner out.
 */
export async function register(
  deps: Pick<Services, 'db' | 'config' | 'clock' | 'metrics' | 'passwords' | 'sendLimits' | 'seal' | 'composer'>,
  input: RegisterInput,
  requester: Requester,
): Promise<{ user: PublicUser; verification: CodeSent; sent: boolean }> {
  const email = normalizeEmail(input.email);
  const phone = normalizePhone(input.phone, deps.config.DEFAULT_PHONE_REGION);
  assertTextable(phone, deps.config.SMS_ALLOWED_COUNTRIES);
  // Checked before anything is spent: a name that could pass for a link or a number is a 400.
  const firstName = personName('first_name', input.first_name);
  const lastName = personName('last_name', input.last_name);
  deps.passwords.assertCapacity();
  const pending = await findUserByEmail(deps.db, email);
  if (pending?.email_verified_at) throw emailTaken();
  await deps.sendLimits.takeAsked(requester, email);
  // The comparison is spent for a new address too (on a decoy), so the two take the same time.
  const { hashed: passwordHash, same: samePassword } = await deps.passwords.hashAndCompare(
    input.password,
    pending?.password_hash,
  );
  const contested =
    pending !== undefined && !(samePassword || (pending.password_hash === null && passwordHash === null));
  const now = deps.clock();
  const details = {
    phone,
    first_name: firstName,
    last_name: lastName,
    password_hash: passwordHash,
    locale: input.locale,
    created_at: now,
    updated_at: now,
  };
  const sent = await deps.sendLimits.tryTakeSent(requester, email, 'new');
  // Two first registrations of one address at once: the loser replaces the winner's pending account.
  for (let tries = 0; ; tries++) {
    try {
      const user = await deps.db.transaction().execute(async (trx) => {
        const existing = await trx
          .selectFrom('users')
          .select('id')
          .where(sql<string>`lower(email)`, '=', email)
          .executeTakeFirst();
        let saved: User | undefined;
        if (existing) {
          saved = await trx
            .updateTable('users')
            .set((eb) => ({
              ...details,
              password_contested: contested ? sql<boolean>`true` : eb.ref('password_contested'),
            }))
            .where('id', '=', existing.id)
            .where('email_verified_at', 'is', null)
            .returningAll()
            .executeTakeFirst();
          if (!saved) throw emailTaken();
        } else {
          saved = await trx
            .insertInto('users')
            .values({ email, ...details })
            .returningAll()
            .executeTakeFirstOrThrow();
        }
        await recordAccountEvent(trx, deps, {
          userId: saved.id,
          type: 'registered',
          actor: 'user',
          requester,
          // a pending registration replaced: its owner may see that someone registered the address first
          facts: { email: saved.email, phone: saved.phone, replaced: existing !== undefined },
          at: now,
        });
        if (sent) {
          await issueAndQueue(trx, deps, {
            userId: saved.id,
            firstName: saved.first_name,
            locale: saved.locale,
            purpose: 'email_verification',
            channel: 'email',
            destination: email,
            now,
          });
        }
        return saved;
      });
      if (sent) deps.metrics.codesIssued.inc({ purpose: 'email_verification', channel: 'email' });
      return { user: toPublicUser(user), verification: codeExpiry(deps, 'email', now), sent };
    } catch (err) {
      if (tries === 0 && isUniqueViolation(err, 'users_email_key')) continue;
      throw err;
    }
  }
}

/** Sends a new code if the account exists and is unverified; answers the same, at the same moment, in every case. */
export function resendVerification(
  deps: Pick<Services, 'db' | 'config' | 'clock' | 'logger' | 'metrics' | 'sendLimits' | 'seal' | 'composer'>,
  rawEmail: string,
  requester: Requester,
): Promise<CodeSent> {
  // an unverified account's email is a new destination: sentPartOf says 'new'
  return emailAccountCodeEvenly(deps, 'email_verification', rawEmail, requester, (user) => !user.email_verified_at);
}

/**
 * Verifies the address. When two different passwords were registered for it while it was pending,
 * the one stored may be a stranger's, so it is dropped: the owner, who just proved the inbox is
 * theirs, chooses one with a reset code, or here (`newPassword`), as a reset code would let them: the
 * way that needs no second email when the mailbox's hour of codes was spent. `passwordCleared` says
 * when the account is left with none.
 */
export async function verifyAccount(
  deps: Pick<Services, 'db' | 'config' | 'clock' | 'metrics' | 'passwords'>,
  rawEmail: string,
  otp: string,
  requester: Requester,
  newPassword?: string,
): Promise<{ user: PublicUser; passwordCleared: boolean }> {
  if (newPassword !== undefined) deps.passwords.assertCapacity();
  const now = deps.clock();
  const user = await findUserByEmail(deps.db, normalizeEmail(rawEmail));
  // Hashed first: a busy hasher (503) must not leave the code spent and the password unchosen.
  const chosen = newPassword === undefined ? undefined : await deps.passwords.hash(newPassword);
  await checkCode(deps, { userId: user?.id, purpose: 'email_verification', code: otp, now, revealState: false });
  const verified = await deps.db.transaction().execute(async (trx) => {
    const row = await trx
      .updateTable('users')
      .set((eb) => ({
        email_verified_at: now,
        updated_at: now,
        password_hash:
          chosen ?? eb.case().when('password_contested', '=', true).then(null).else(eb.ref('password_hash')).end(),
        password_contested: false,
      }))
      .where('id', '=', user!.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await recordAccountEvent(trx, deps, {
      userId: row.id,
      type: 'email_verified',
      actor: 'user',
      requester,
      facts: { email: row.email },
      at: now,
    });
    return row;
  });
  return { user: toPublicUser(verified), passwordCleared: chosen === undefined && user!.password_contested };
}
