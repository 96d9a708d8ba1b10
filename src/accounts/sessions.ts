import type { Config } from '../config/settings.ts';
import type { Transaction } from 'kysely';
import type { Database, User } from '../platform/db/schema.ts';
import type { Services } from '../runtime/services.ts';
import { AppError } from '../shared/errors.ts';
import { addSeconds } from '../shared/clock.ts';
import type { TokenPair } from '../contract/token-pair.ts';
import type { SessionInfo } from '../contract/session.ts';
import { findUserById } from './users.ts';
import { hashRefreshToken, newRefreshToken, signAccessToken, verifyAccessToken } from './tokens.ts';
import type { Queryable } from '../platform/db/client.ts';
import type { Actor, SessionMethod } from '../shared/vocabulary.ts';
import type { Requester } from '../shared/trust-proxy.ts';
import { knownNetwork, recordAccountEvent } from './events.ts';
import { wrongEmailOrPassword } from './login-throttle.ts';

/** How a session began and from where: what its owner is shown of it. */
export interface SessionOrigin {
  method: SessionMethod;
  requester: Requester;
  /**
   * The password hash a password sign-in verified: the session starts only while it is still the
   * account's. A change or a reset that commits while the sign-in hashes ends the sessions there are,
   * and this one would begin after it, opened by a password that no longer opens the account.
   */
  passwordHash?: string;
}

type TokenConfig = Pick<Config, 'JWT_SECRET' | 'ACCESS_TOKEN_TTL_SECONDS' | 'REFRESH_TOKEN_TTL_SECONDS'>;

/** When a refresh token issued now expires; its session lives as long as its newest one. */
const refreshExpiry = (config: TokenConfig, now: Date): Date => addSeconds(now, config.REFRESH_TOKEN_TTL_SECONDS);

async function issuePair(
  db: Queryable,
  config: TokenConfig,
  userId: string,
  sessionId: string,
  now: Date,
): Promise<TokenPair> {
  const refresh = newRefreshToken();
  await db
    .insertInto('refresh_tokens')
    .values({
      token_hash: hashRefreshToken(refresh),
      session_id: sessionId,
      expires_at: refreshExpiry(config, now),
      created_at: now,
    })
    .execute();
  return {
    access_token: await signAccessToken(config.JWT_SECRET, { userId, sessionId }, config.ACCESS_TOKEN_TTL_SECONDS, now),
    refresh_token: refresh,
    token_type: 'bearer',
    expires_in: config.ACCESS_TOKEN_TTL_SECONDS,
  };
}

/** Starts a session (its login_succeeded event with it: how, and whether from a network new to the account). */
export async function startSession(
  { db, config }: Pick<Services, 'db' | 'config'>,
  userId: string,
  { method, requester, passwordHash }: SessionOrigin,
  now: Date,
): Promise<TokenPair> {
  return db.transaction().execute(async (trx) => {
    if (passwordHash !== undefined) {
      // locked: a change waits for this session to exist (and ends it), or this sign-in sees the change
      const user = await trx
        .selectFrom('users')
        .select('password_hash')
        .where('id', '=', userId)
        .forUpdate()
        .executeTakeFirst();
      if (user?.password_hash !== passwordHash) throw wrongEmailOrPassword();
    }
    const newNetwork = !(await knownNetwork(trx, userId, requester.network));
    const session = await trx
      .insertInto('sessions')
      .values({
        user_id: userId,
        created_at: now,
        last_used_at: now,
        expires_at: refreshExpiry(config, now),
        method,
        network: requester.network,
        user_agent: requester.userAgent ?? null,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await recordAccountEvent(
      trx,
      { config },
      {
        userId,
        type: 'login_succeeded',
        actor: 'user',
        requester,
        facts: { method, session_id: session.id, new_network: newNetwork },
        at: now,
      },
    );
    return issuePair(trx, config, userId, session.id, now);
  });
}

const invalidRefresh = () =>
  new AppError('invalid_refresh_token', 'The refresh token is not valid (expired, used or revoked). Log in again.');

/**
 * Rotation: the conditional UPDATE lets exactly one of several concurrent uses of a token win. A
 * token that was already rotated and comes back means two parties hold it (one of them stole it), so
 * its whole session ends, the successor included (OAuth 2.0 Security BCP, refresh token reuse).
 */
export async function rotateRefreshToken(
  { db, config, clock }: Pick<Services, 'db' | 'config' | 'clock'>,
  token: string,
  requester: Requester,
): Promise<TokenPair> {
  const now = clock();
  const tokenHash = hashRefreshToken(token);
  const pair = await db.transaction().execute(async (trx) => {
    const used = await trx
      .updateTable('refresh_tokens')
      .set({ used_at: now })
      .where('token_hash', '=', tokenHash)
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .returning('session_id')
      .executeTakeFirst();
    if (!used) return undefined;
    const session = await trx
      .updateTable('sessions')
      .set({ expires_at: refreshExpiry(config, now), last_used_at: now })
      .where('id', '=', used.session_id)
      .where('revoked_at', 'is', null)
      .returning(['id', 'user_id'])
      .executeTakeFirst();
    return session && issuePair(trx, config, session.user_id, session.id, now);
  });
  if (pair) return pair;
  const replayed = await db
    .selectFrom('refresh_tokens')
    .select('session_id')
    .where('token_hash', '=', tokenHash)
    .where('used_at', 'is not', null)
    .executeTakeFirst();
  if (replayed) {
    await db.transaction().execute(async (trx) => {
      const ended = await trx
        .updateTable('sessions')
        .set({ revoked_at: now })
        .where('id', '=', replayed.session_id)
        .where('revoked_at', 'is', null)
        .returning(['id', 'user_id'])
        .executeTakeFirst();
      // the service ended it; the requester is whoever presented the used token
      if (ended)
        await recordAccountEvent(
          trx,
          { config },
          {
            userId: ended.user_id,
            type: 'refresh_reuse_detected',
            actor: 'system',
            requester,
            facts: { session_id: ended.id },
            at: now,
          },
        );
    });
  }
  throw invalidRefresh();
}

/** Revokes the session a refresh token belongs to, if it is the caller's. */
export async function revokeSessionOf(
  { db, config, clock }: Pick<Services, 'db' | 'config' | 'clock'>,
  userId: string,
  token: string,
  requester: Requester,
): Promise<void> {
  const now = clock();
  const row = await db
    .selectFrom('refresh_tokens')
    .innerJoin('sessions', 'sessions.id', 'refresh_tokens.session_id')
    .select('sessions.id')
    .where('refresh_tokens.token_hash', '=', hashRefreshToken(token))
    .where('sessions.user_id', '=', userId)
    .executeTakeFirst();
  if (!row) throw invalidRefresh();
  await db
    .transaction()
    .execute((trx) => endOneSession(trx, config, { userId, sessionId: row.id, requester, reason: 'logout' }, now));
}

/**
 * Ends one live session of the user, with its session_revoked event (the person ends it, `reason` says
 * how); whether it was live.
 */
async function endOneSession(
  trx: Transaction<Database>,
  config: Config,
  { userId, sessionId, requester, reason }: { userId: string; sessionId: string; requester: Requester; reason: string },
  now: Date,
): Promise<boolean> {
  const ended = await trx
    .updateTable('sessions')
    .set({ revoked_at: now })
    .where('id', '=', sessionId)
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .returning('id')
    .executeTakeFirst();
  if (ended)
    await recordAccountEvent(
      trx,
      { config },
      {
        userId,
        type: 'session_revoked',
        actor: 'user',
        requester,
        facts: { session_id: ended.id, reason },
        at: now,
      },
    );
  return ended !== undefined;
}

/**
 * Ends every live session of the user but `keep` (the caller's own, when it stays signed in), and
 * says how many ended.
 */
export async function revokeAllSessions(db: Queryable, userId: string, now: Date, keep?: string): Promise<number> {
  let ending = db
    .updateTable('sessions')
    .set({ revoked_at: now })
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now);
  if (keep) ending = ending.where('id', '<>', keep);
  const { numUpdatedRows } = await ending.executeTakeFirst();
  return Number(numUpdatedRows);
}

/** Who ends sessions, from where, and why: what their session_revoked event records. */
export interface Ending {
  actor: Actor;
  requester: Requester;
  /** `revoke_others`: the person, from the session that stays; `support`: an operator, every session. */
  reason: 'revoke_others' | 'support';
}

/**
 * Ends every live session of the user but `keep`, with one session_revoked event saying how many and
 * why (one request, one event, however many sessions it ends; none when none was live). Returns how many ended.
 */
export async function endSessions(
  { db, config, clock }: Pick<Services, 'db' | 'config' | 'clock'>,
  userId: string,
  { actor, requester, reason }: Ending,
  keep?: string,
): Promise<number> {
  const now = clock();
  return db.transaction().execute(async (trx) => {
    const sessions = await revokeAllSessions(trx, userId, now, keep);
    if (sessions > 0)
      await recordAccountEvent(
        trx,
        { config },
        { userId, type: 'session_revoked', actor, requester, facts: { sessions, reason }, at: now },
      );
    return sessions;
  });
}

/** The account's sessions still live: not revoked, their refresh token not expired. */
export async function liveSessionCount(db: Queryable, userId: string, now: Date): Promise<number> {
  const row = await db
    .selectFrom('sessions')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The user's live sessions (neither ended nor expired), the most recently used first. */
export async function listSessions(
  { db, clock }: Pick<Services, 'db' | 'clock'>,
  userId: string,
  currentSessionId: string,
): Promise<SessionInfo[]> {
  const rows = await db
    .selectFrom('sessions')
    .select(['id', 'created_at', 'last_used_at', 'method', 'network', 'user_agent'])
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', clock())
    .orderBy('last_used_at', 'desc')
    .orderBy('created_at', 'desc')
    .orderBy('id')
    .execute();
  return rows.map((row) => ({
    id: row.id,
    current: row.id === currentSessionId,
    created_at: new Date(row.created_at).toISOString(),
    last_used_at: new Date(row.last_used_at).toISOString(),
    method: row.method,
    network: row.network,
    user_agent: row.user_agent,
  }));
}

/**
 * Ends one of the user's live sessions (the one asking too: that is a logout). Another person's
 * session answers exactly as an id that does not exist, so nobody learns which ids do.
 */
export async function endSession(
  { db, config, clock }: Pick<Services, 'db' | 'config' | 'clock'>,
  userId: string,
  sessionId: string,
  requester: Requester,
): Promise<void> {
  const now = clock();
  await db.transaction().execute(async (trx) => {
    if (!(await endOneSession(trx, config, { userId, sessionId, requester, reason: 'revoked' }, now)))
      throw new AppError('session_not_found', 'None of your live sessions has this id: it may have ended already.');
  });
}

/** Who an access token speaks for: its user, and the session it was issued to. */
export interface Authenticated {
  user: User;
  sessionId: string;
}

/** The user and session behind a Bearer access token whose session is still live; throws unauthorized otherwise. */
export async function authenticate(
  { db, config, clock }: Pick<Services, 'db' | 'config' | 'clock'>,
  token: string,
): Promise<Authenticated> {
  const claims = await verifyAccessToken(config.JWT_SECRET, token, clock());
  const unauthorized = new AppError(
    'unauthorized',
    'Sign in first: send a valid access token as "Authorization: Bearer <token>".',
  );
  if (!claims) throw unauthorized;
  // Live: neither ended nor expired (an access token may be set to outlive its session's refresh).
  const session = await db
    .selectFrom('sessions')
    .select('id')
    .where('id', '=', claims.sessionId)
    .where('user_id', '=', claims.userId)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', clock())
    .executeTakeFirst();
  const user = session && (await findUserById(db, claims.userId));
  if (!user) throw unauthorized;
  return { user, sessionId: session.id };
}
