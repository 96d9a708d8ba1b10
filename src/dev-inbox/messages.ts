import { sql } from 'kysely';
import type { Db } from '../platform/db/client.ts';
import type { Channel, MessagePurpose, MessageStatus } from '../shared/vocabulary.ts';
import type { Locale } from '../shared/locales.ts';
import { recipientKeys } from '../delivery/recipients.ts';
import { UnsealError, type MessageSeal } from '../delivery/sealed-body.ts';

/** One message as the dev inbox shows it: the code and body are kept in development. */
export interface InboxMessage {
  id: string;
  channel: Channel;
  recipient: string;
  purpose: MessagePurpose;
  status: MessageStatus;
  otp: string | null;
  subject: string | null;
  body_text: string;
  created_at: Date;
  expires_at: Date | null;
  sent_at: Date | null;
  last_error: string | null;
  locale: Locale | null;
  /** Whether it has an HTML part (GET /dev/inbox/messages/:id/html shows it). */
  has_html: boolean;
}

export const INBOX_LIMIT = 100;

/**
 * The latest messages of every status, newest first, optionally for one recipient (case-insensitive),
 * their code and body opened. For the development inbox only: outside development bodies are redacted
 * and there is no route to this.
 */
export async function listInbox(
  db: Db,
  seal: MessageSeal,
  opts: { to?: string; defaultRegion: string; limit?: number },
): Promise<InboxMessage[]> {
  const keys = opts.to === undefined ? [] : recipientKeys(opts.to, opts.defaultRegion);
  let query = db
    .selectFrom('messages')
    .select([
      'id',
      'channel',
      'recipient',
      'purpose',
      'status',
      'otp',
      'subject',
      'body_text',
      'created_at',
      'expires_at',
      'sent_at',
      'last_error',
      'locale',
      sql<boolean>`body_html IS NOT NULL`.as('has_html'),
    ])
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(opts.limit ?? INBOX_LIMIT);
  if (keys.length) query = query.where(sql<string>`lower(recipient)`, 'in', keys);
  return (await query.execute()).map((row) => readable(seal, row));
}

/** The HTML part of one message, opened, for the dev inbox's preview; undefined when it has none or does not open. */
export async function inboxHtml(db: Db, seal: MessageSeal, id: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('messages')
    .select(['channel', 'recipient', 'purpose', 'body_html'])
    .where('id', '=', id)
    .executeTakeFirst();
  if (!row?.body_html) return undefined;
  try {
    return seal.open(row).body_html ?? undefined;
  } catch (err) {
    if (err instanceof UnsealError) return undefined;
    throw err;
  }
}

/** A row that does not open (sealed under another OTP_SECRET) is listed with the reason, not hidden. */
function readable(seal: MessageSeal, row: InboxMessage): InboxMessage {
  try {
    return seal.open(row);
  } catch (err) {
    if (!(err instanceof UnsealError)) throw err;
    return { ...row, otp: null, body_text: `[${err.message}]` };
  }
}
