import { hash, verify } from '@node-rs/argon2';
import type { Config } from '../config/settings.ts';
import { AppError } from '../shared/errors.ts';
import { createGate } from '../shared/gate.ts';

/** argon2id hashing, with at most `concurrency` hashes at once so a flood cannot starve the process. */
export interface Passwords {
  hash(password: string): Promise<string>;
  /** Verifies password against hash, or spends the same work on a decoy when there is no hash. */
  verify(hashed: string | null | undefined, password: string): Promise<boolean>;
  /**
   * A sign-up's two operations in one turn of the gate: password's hash (null without one), and
   * verify(stored, password ?? ''). One turn, so a sign-up let in is never refused halfway, its
   * first hash spent, and waits in line once.
   */
  hashAndCompare(
    password: string | undefined,
    stored: string | null | undefined,
  ): Promise<{ hashed: string | null; same: boolean }>;
  /**
   * Before a flow spends queries: throws the 503 its hash would get (it would wait too long), or else
   * counts that hash in line while the flow runs its queries, so that a burst is judged whole.
   */
  assertCapacity(): void;
}

const busy = (retryAfterSeconds: number) =>
  new AppError(
    'service_unavailable',
    `The service is busy checking other passwords. Retry in ${retryAfterSeconds} s.`,
    retryAfterSeconds,
  );

/**
 * Hashes that may wait per slot whatever the time allows: a bound on memory (a waiting request holds
 * about 10 KB, 40 KB before garbage collection), past 16 s of argon2 at 16 ms a hash.
 */
const QUEUED_PER_SLOT = 1000;

/**
 * The share of REQUEST_TIMEOUT_SECONDS a hash may be expected to wait in line. Node's request timeout
 * stops counting once the body is in, so nothing in the HTTP layer cuts a request that waits here: this
 * is the bound. Each request passes the gate once (a sign-up's two hashes are one turn); the last
 * quarter is for its own hashes and queries, and for a rate measured before the crowd slowed it.
 */
const WAIT_SHARE = 0.75;

export function createPasswords(
  config: Pick<Config, 'PASSWORD_HASH_CONCURRENCY' | 'REQUEST_TIMEOUT_SECONDS'>,
): Passwords {
  const concurrency = config.PASSWORD_HASH_CONCURRENCY;
  const gate = createGate({
    concurrency,
    maxWaitMs: config.REQUEST_TIMEOUT_SECONDS * 1000 * WAIT_SHARE,
    maxQueued: QUEUED_PER_SLOT * concurrency,
    // A flow's queries before its hash take milliseconds; a crowd's, queued for the pool, well under this.
    announcedMs: 2000,
    // argon2id at these parameters takes 15-30 ms on a core; until one is measured, a slow one's.
    firstGuessMs: 50,
    now: () => performance.now(),
  });
  // A real hash, made once, so a login for an unknown email costs what a wrong password costs.
  let decoy: Promise<string> | undefined;
  const compare = async (hashed: string | null | undefined, password: string) => {
    if (!hashed) {
      decoy ??= hash('decoy-password-that-matches-nothing');
      await verify(await decoy, password).catch(() => false);
      return false;
    }
    return verify(hashed, password).catch(() => false);
  };
  return {
    assertCapacity() {
      const retryAfter = gate.announce();
      if (retryAfter !== null) throw busy(retryAfter);
    },
    // @node-rs/argon2 defaults to argon2id (OWASP's second configuration: 19 MiB, 2 passes).
    hash: (password) => gate.run(() => hash(password), busy),
    verify: (hashed, password) => gate.run(() => compare(hashed, password), busy),
    hashAndCompare: (password, stored) =>
      gate.run(
        async () => ({
          hashed: password === undefined ? null : await hash(password),
          same: await compare(stored, password ?? ''),
        }),
        busy,
      ),
  };
}
