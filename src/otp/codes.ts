import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import type { OtpPurpose } from '../vocabulary.ts';

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
