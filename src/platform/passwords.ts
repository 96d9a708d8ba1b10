import { hash, verify } from '@node-rs/argon2';
import type { Config } from '../config/settings.ts';
import { AppError } from '../shared/errors.ts';
import { createGate } from '../shared/gate.ts';

/** argon2id hashing, with at most `concurrency` hashes at once so a flood cannot starve the process. */
export interface Passwords {
  hash(password: string): Promise<string>;
  /** Verifies password against hash, or spends the same work on a decoy when there is no hash. */
  verify(hashed: string | null | undefined, password: string): Promise<boolean>;
  /** Throws the 503 hash() or verify() would throw now, before a flow spends queries on a doomed request. */
  assertCapacity(): void;
}

const busy = (retryAfterSeconds: number) =>
  new AppError(
    'service_unavailable',
    `The service is busy checking other passwords. Retry in ${retryAfterSeconds} s.`,
    retryAfterSeconds,
  );

/** Hashes that may wait per slot whatever the wait: about 20 s of argon2 on a 2025 core, a bound on memory only. */
export const QUEUED_PER_SLOT = 1000;

/**
 * The gate sheds by time. Node's request timeout stops counting once the body is in, so nothing in
 * the HTTP layer cuts a request that waits here: the bound is this one. A sign-up goes through the
 * gate twice (its hash, then the comparison with the pending account's or the decoy), so each turn
 * may wait half of REQUEST_TIMEOUT_SECONDS and the whole sign-up still answers within it.
 */
export function createPasswords(
  config: Pick<Config, 'PASSWORD_HASH_CONCURRENCY' | 'REQUEST_TIMEOUT_SECONDS'>,
): Passwords {
  const concurrency = config.PASSWORD_HASH_CONCURRENCY;
  const gate = createGate({
    concurrency,
    maxWaitMs: (config.REQUEST_TIMEOUT_SECONDS * 1000) / 2,
    maxQueued: QUEUED_PER_SLOT * concurrency,
    // argon2id at these parameters takes 15-30 ms on a core; until one is measured, a slow one's.
    firstGuessMs: 50,
    now: () => performance.now(),
  });
  // A real hash, made once, so a login for an unknown email costs what a wrong password costs.
  let decoy: Promise<string> | undefined;
  return {
    assertCapacity() {
      const retryAfter = gate.retryAfter();
      if (retryAfter !== null) throw busy(retryAfter);
    },
    // @node-rs/argon2 defaults to argon2id (OWASP's second configuration: 19 MiB, 2 passes).
    hash: (password) => gate.run(() => hash(password), busy),
    verify: (hashed, password) =>
      gate.run(async () => {
        if (!hashed) {
          decoy ??= hash('decoy-password-that-matches-nothing');
          await verify(await decoy, password).catch(() => false);
          return false;
        }
        return verify(hashed, password).catch(() => false);
      }, busy),
  };
}
