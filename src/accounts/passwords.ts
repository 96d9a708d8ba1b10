import { hash, verify } from '@node-rs/argon2';

// @node-rs/argon2 defaults to argon2id (OWASP's second configuration: 19 MiB, 2 passes).
export const hashPassword = (password: string): Promise<string> => hash(password);

// A real hash, made once, so a login for an unknown email costs what a wrong password costs.
let decoy: Promise<string> | undefined;

/** Verifies password against hash, or spends the same work on a decoy when there is no hash. */
export async function verifyPassword(hashed: string | null | undefined, password: string): Promise<boolean> {
  if (!hashed) {
    decoy ??= hash('decoy-password-that-matches-nothing');
    await verify(await decoy, password).catch(() => false);
    return false;
  }
  return verify(hashed, password).catch(() => false);
}
