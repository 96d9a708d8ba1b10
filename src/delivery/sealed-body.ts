import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { Message } from '../platform/db/schema.ts';

/** Marks a sealed value; anything without it is a row written before sealing (plain text), read as is. */
const PREFIX = 'sealed:v1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** The columns that hold a code while a message waits; `code`: a phone code's own row (otp_codes.sealed_code). */
export type SealedColumn = 'body_text' | 'body_html' | 'otp' | 'code';
const COLUMNS: SealedColumn[] = ['body_text', 'body_html', 'otp'];

/** What a sealed value is bound to: moved to another column or another recipient, it no longer opens. */
type Binding = Pick<Message, 'recipient' | 'purpose'> & { channel: string };

/** A code's own binding: its destination and purpose, on no channel (the road sends it on any). */
const codeBinding = (destination: string, purpose: Message['purpose']): Binding => ({
  channel: '',
  recipient: destination,
  purpose,
});

/** A value that does not open: sealed under another OTP_SECRET, or altered. */
export class UnsealError extends Error {
  constructor(column: SealedColumn) {
    super(`the message's ${column} was sealed under another OTP_SECRET, or altered: its code cannot be read`);
    this.name = 'UnsealError';
  }
}

export interface MessageSeal {
  /** The code-bearing columns of a new message, encrypted for the row. */
  seal<T extends Binding & { body_text: string; body_html: string | null; otp: string | null }>(row: T): T;
  /** The same columns readable again (plain legacy values pass through); throws UnsealError. */
  open<T extends Binding & Partial<Record<SealedColumn, string | null>>>(row: T): T;
  /** A phone code sealed for its otp_codes row, bound to its destination and purpose. */
  sealCode(code: string, destination: string, purpose: Message['purpose']): string;
  /** The code again; throws UnsealError. */
  openCode(sealed: string, destination: string, purpose: Message['purpose']): string;
}

/**
 * AES-256-GCM under a key derived from OTP_SECRET with HKDF (its own label, so it is never the key
 * that hashes codes): a database dump without the secret shows no code of a waiting message.
 */
export function createMessageSeal(otpSecret: string): MessageSeal {
  const key = Buffer.from(hkdfSync('sha256', otpSecret, '', 'panic-api message body v1', 32));
  const aad = (column: SealedColumn, row: Binding) =>
    Buffer.from([column, row.channel, row.recipient, row.purpose].join('\0'));

  const sealValue = (plain: string, column: SealedColumn, row: Binding): string => {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(aad(column, row));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
  };

  const openValue = (stored: string, column: SealedColumn, row: Binding): string => {
    if (!stored.startsWith(PREFIX)) return stored;
    const raw = Buffer.from(stored.slice(PREFIX.length), 'base64url');
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES)).setAAD(aad(column, row));
      decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new UnsealError(column);
    }
  };

  const each = <T extends Binding & Partial<Record<SealedColumn, string | null>>>(row: T, fn: typeof sealValue): T => {
    const out = { ...row };
    for (const column of COLUMNS) {
      const value = row[column];
      if (typeof value === 'string') out[column] = fn(value, column, row) as T[SealedColumn];
    }
    return out;
  };

  return {
    seal: (row) => each(row, sealValue),
    open: (row) => each(row, openValue),
    sealCode: (code, destination, purpose) => sealValue(code, 'code', codeBinding(destination, purpose)),
    openCode: (sealed, destination, purpose) => openValue(sealed, 'code', codeBinding(destination, purpose)),
  };
}
