import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import type { OtpPurpose } from '../shared/vocabulary.ts';

/** A code of `length` digits from the CSPRNG; leading zeros are kept. */
export function generateCode(length: number): string {
  return randomInt(0, 10 ** length)
    .toString()
    .padStart(length, '0');
}

/** HMAC bound to purpose and destination: a code for one use or address never matches another. */
export function hashCode(secret: string, purpose: OtpPurpose, destination: string, code: string): string {
  return createHmac('sha256', secret).update(`${purpose}\u0000${destination}\u0000${code}`).digest('hex');
}

export function hashesEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The long twin of a short code (Crockford's base32: no I, L, O or U to misread), sent in the same
 * email: 16 characters, 80 bits, shown in groups of four. Nobody guesses it, so its tries spend no
 * guess budget and strangers who spent the short code's cannot take it from the inbox's owner.
 */
const LONG_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export const LONG_CODE_LENGTH = 16;

export function generateLongCode(): string {
  const chars = Array.from({ length: LONG_CODE_LENGTH }, () => LONG_ALPHABET[randomInt(0, LONG_ALPHABET.length)]);
  return chars.join('').replace(/(.{4})(?!$)/g, '$1-');
}

/** A long code as typed (any case, spaces or dashes, O for 0, I or L for 1) in its one form; undefined when it is none. */
export function normalizeLongCode(input: string): string | undefined {
  const bare = input.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  return bare.length === LONG_CODE_LENGTH && [...bare].every((c) => LONG_ALPHABET.includes(c)) ? bare : undefined;
}
