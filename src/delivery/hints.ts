import type { Channel, MessageStatus } from '../shared/vocabulary.ts';

/** The states of a code's message a person waiting for it is shown (GET /api/v1/users/verify-phone/status, `why`). */
export const PUBLIC_STATES = ['queued', 'sent', 'delivered', 'undelivered', 'failed', 'expired'] as const;
export type PublicState = (typeof PUBLIC_STATES)[number];

/** A message's state as the person sees it: the outbox's inner steps fold into the nearest of the six. */
const PUBLIC_STATE: Partial<Record<MessageStatus, PublicState>> = {
  queued: 'queued',
  sending: 'queued',
  sent: 'sent',
  delivered: 'delivered',
  undelivered: 'undelivered',
  bounced: 'undelivered',
  failed: 'failed',
  suppressed: 'failed',
  captured: 'failed',
  expired: 'expired',
  // its code was replaced: the newer message is the one the person waits for
  superseded: 'expired',
};

/** What a person can do, by channel and state: short, in their words, never the operator's. */
const HINTS: Record<Channel, Record<PublicState, string>> = {
  sms: {
    queued: 'Your code is on its way. It usually arrives within a minute.',
    sent: 'Your code was handed to the mobile network. If it has not arrived in a few minutes, check the number and ask for a new code.',
    delivered: 'Your phone received the code. Look in your messages, including any filtered or blocked-senders folder.',
    undelivered: 'Your carrier did not accept the message. Check the number, or try another one.',
    failed: 'We could not send the message. Check the number, or try another one.',
    expired: 'The code expired before it could be sent. Ask for a new code.',
  },
  email: {
    queued: 'Your code is on its way. It usually arrives within a minute.',
    sent: 'Your code was handed to your mail provider. If it has not arrived in a few minutes, look in your spam or junk folder.',
    delivered: 'Your mail server accepted the code. Look in your spam, junk or promotions folder.',
    undelivered: 'Your mail server refused the message. Check the address, or use another one.',
    failed: 'We could not send the message. Check the address, or use another one.',
    expired: 'The code expired before it could be sent. Ask for a new code.',
  },
};

/** The person's view of a message: its state and what to do. */
export function personView(
  channel: Channel,
  status: MessageStatus,
  isDevelopment: boolean,
): { state: PublicState; hint: string } {
  const state = PUBLIC_STATE[status] ?? 'expired';
  if (status === 'captured' && isDevelopment) {
    return {
      state,
      hint: 'Not sent: this server runs in development and keeps codes in its dev inbox (panic-api inbox).',
    };
  }
  return { state, hint: HINTS[channel][state] };
}
