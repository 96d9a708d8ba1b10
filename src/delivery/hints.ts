import { TEST_DESTINATION, type Channel, type MessageStatus } from '../shared/vocabulary.ts';

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
  whatsapp: {
    queued: 'Your code is on its way by WhatsApp. It usually arrives within a minute.',
    sent: 'Your code was handed to WhatsApp. Open WhatsApp on the phone with this number; it may need a data or Wi-Fi connection.',
    delivered: 'WhatsApp delivered your code. Open WhatsApp and look for the message with your code.',
    undelivered:
      'WhatsApp could not deliver the code to this number (it may not use WhatsApp). It goes another way if one is set up, or ask for it by SMS or a call.',
    failed:
      'We could not send the code by WhatsApp. It goes another way if one is set up, or ask for it by SMS or a call.',
    expired: 'The code expired before it could be sent. Ask for a new code.',
  },
  voice: {
    queued: 'We are about to call you and read your code. Keep your phone near you.',
    sent: 'We are calling you now: answer, and the call reads your code twice.',
    delivered: 'The call was answered and your code was read out. Ask for a new call if you missed it.',
    undelivered:
      'The call was not answered (busy or no answer). Ask for a new call when you can pick up, or ask for the code by SMS.',
    failed: 'We could not call this number. Check the number, or ask for the code by SMS.',
    expired: 'The code expired before the call could be made. Ask for a new code.',
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

/** The person's view of a message (`reason`: its last_error): its state and what to do. */
export function personView(
  channel: Channel,
  status: MessageStatus,
  isDevelopment: boolean,
  reason?: string | null,
): { state: PublicState; hint: string } {
  // An app reviewer holds the code already: "we could not send" would read as a broken app.
  if (status === 'captured' && reason === TEST_DESTINATION)
    return { state: 'sent', hint: 'This is a test destination: nothing is sent to it. Use the code you were given.' };
  const state = PUBLIC_STATE[status] ?? 'expired';
  if (status === 'captured' && isDevelopment) {
    return {
      state,
      hint: 'Not sent: this server runs in development and keeps codes in its dev inbox (panic-api inbox).',
    };
  }
  return { state, hint: HINTS[channel][state] };
}
