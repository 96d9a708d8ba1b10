import { randomUUID } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { Database } from '../platform/db/schema.ts';
import { isPhoneChannel, TEST_DESTINATION, type Channel, type OtpPurpose } from '../shared/vocabulary.ts';
import { callingCodeOf } from '../shared/addresses.ts';
import type { Locale } from '../shared/locales.ts';
import { enqueue, recordUnsent } from '../delivery/outbox.ts';
import { testCodeFor } from '../config/test-destinations.ts';
import { addSeconds } from '../shared/clock.ts';
import type { CodeSent } from '../contract/code-sent.ts';
import type { Services } from '../runtime/services.ts';
import { otpRules } from './store.ts';
import { issueCode } from './store.ts';
import type { Requester } from '../shared/trust-proxy.ts';
import type { SentPart } from './send-limits.ts';

/** The expiry a response states: the same whether or not a code was really sent (no enumeration). */
export function codeExpiry(deps: Pick<Services, 'config'>, channel: Channel, now: Date): CodeSent {
  return {
    channel,
    expires_in_minutes: Math.ceil(deps.config.OTP_TTL_SECONDS / 60),
    expires_at: addSeconds(now, deps.config.OTP_TTL_SECONDS).toISOString(),
  };
}

/** A code to send: whose, why, where, and in which language (the account's; unset: DEFAULT_LOCALE). */
export interface CodeRequest {
  userId: string;
  firstName?: string;
  locale?: Locale;
  purpose: OtpPurpose;
  channel: Channel;
  destination: string;
  now: Date;
}

/**
 * Issues a code and queues its message in the caller's transaction. A test destination's code is its
 * fixed one, under every rule of codes, and its message is written captured instead of queued: nothing
 * is sent, so no long code is made (nobody would read it) and no road keeps the code to send it on
 * another channel.
 */
export async function issueAndQueue(
  trx: Transaction<Database>,
  deps: Pick<Services, 'config' | 'seal' | 'composer'>,
  input: CodeRequest,
): Promise<void> {
  const fixed = testCodeFor(deps.config, input.destination, input.now);
  // Every code sent by email has a long twin in the same email (see generateLongCode).
  const {
    id: codeId,
    code,
    expiresAt,
    longCode,
  } = await issueCode(trx, otpRules(deps.config), {
    ...input,
    code: fixed,
    long: input.channel === 'email' && !fixed,
    // a phone code keeps its own text, sealed, for the road to send it on the next channel
    keep:
      isPhoneChannel(input.channel) && !fixed
        ? (code) => deps.seal.sealCode(code, input.destination, input.purpose)
        : undefined,
  });
  const rendered = deps.composer.compose(input.purpose, input.channel, {
    code,
    longCode,
    expiresInMinutes: Math.ceil(deps.config.OTP_TTL_SECONDS / 60),
    firstName: input.firstName,
    locale: input.locale ?? deps.config.DEFAULT_LOCALE,
  });
  const message = {
    userId: input.userId,
    channel: input.channel,
    recipient: input.destination,
    purpose: input.purpose,
    subject: rendered.subject,
    text: rendered.text,
    html: rendered.html,
    otp: code,
    expiresAt,
    codeId,
    locale: rendered.locale,
  };
  if (fixed) {
    await recordUnsent(trx, message, input.now, deps.seal, {
      reason: TEST_DESTINATION,
      kind: 'test_destination',
      keepBody: deps.config.isDevelopment,
    });
  } else await enqueue(trx, message, input.now, deps.seal);
}

/**
 * Issues and queues a code in its own transaction (whose commit wakes the workers); `alongside`, what
 * must commit with the code or not at all (the account event of support sending it).
 */
export async function sendCode(
  deps: Pick<Services, 'db' | 'config' | 'metrics' | 'seal' | 'composer'>,
  input: CodeRequest,
  alongside?: (trx: Transaction<Database>) => Promise<void>,
): Promise<void> {
  await deps.db.transaction().execute(async (trx) => {
    await issueAndQueue(trx, deps, input);
    await alongside?.(trx);
  });
  deps.metrics.codesIssued.inc({ purpose: input.purpose, channel: input.channel });
  if (isPhoneChannel(input.channel))
    deps.metrics.phoneCodes.inc({ first_channel: input.channel, calling_code: callingCodeOf(input.destination) });
}

/**
 * sendCode when the destination's budget of codes really sent has room; else nothing, and the code
 * already sent there stays the live one. For the answers that are the same for every address: the
 * asker was answered already, and whoever asked first is no reason to refuse the owner anything.
 */
export async function sendCodeWithinBudget(
  deps: Pick<Services, 'db' | 'config' | 'logger' | 'metrics' | 'sendLimits' | 'seal' | 'composer'>,
  input: CodeRequest,
  asker: Requester,
  part: SentPart,
): Promise<void> {
  if (await deps.sendLimits.tryTakeSent(asker, input.destination, part)) await sendCode(deps, input);
  else
    deps.logger.info(
      { user_id: input.userId, purpose: input.purpose },
      'code not sent: its destination was sent all the codes its hour allows',
    );
}

const UNDONE = Symbol('rehearsal undone');

/**
 * sendCode's work for an address with no account, rolled back, so that an unknown address leaves the
 * same work behind its answer as a known one: on PGlite that work shares the thread with the requests
 * that follow, and a stopwatch on those told the two apart. Nothing stays, nothing is sent or counted.
 */
export async function rehearseSendCode(
  deps: Pick<Services, 'db' | 'config' | 'seal' | 'composer'>,
  input: { purpose: OtpPurpose; channel: Channel; destination: string; now: Date },
): Promise<void> {
  const rehearsal = deps.db.transaction().execute(async (trx) => {
    const stand_in = await trx
      .insertInto('users')
      .values({
        email: `${randomUUID()}@rehearsal.invalid`,
        phone: '',
        first_name: '',
        last_name: '',
        created_at: input.now,
        updated_at: input.now,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await issueAndQueue(trx, deps, { ...input, userId: stand_in.id });
    throw UNDONE;
  });
  await rehearsal.catch((err: unknown) => {
    if (err !== UNDONE) throw err;
  });
}
