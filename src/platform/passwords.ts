import { hash, verify } from '@node-rs/argon2';
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

const busy = () =>
  new AppError('service_unavailable', 'The service is busy checking other passwords. Retry in a moment.', 1);

export function createPasswords(concurrency: number): Passwords {
  // A short queue (four rounds of hashes, well under a second) absorbs a burst of real sign-ups;
  // beyond it, answering 503 at once beats holding every request of a flood in memory.
  const gate = createGate(concurrency, 4 * concurrency);
  // A real hash, made once, so a login for an unknown email costs what a wrong password costs.
  let decoy: Promise<string> | undefined;
  return {
    assertCapacity() {
      if (gate.full()) throw busy();
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
