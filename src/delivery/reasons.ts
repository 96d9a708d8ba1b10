import type { ProviderAnswer } from './channels/types.ts';

/** A failed send in plain words: what happened, what the operator can do, what the person can do. */
export interface Diagnosis {
  cause: string;
  /** For the operator. */
  fix: string;
  /** For the person waiting for the code. */
  hint: string;
}

const TRY_LATER = 'We could not send your code right now. Try again in a few minutes.';
const DELAYED_SMS = 'Sending text messages is slow right now: your code should arrive shortly.';
const DELAYED_EMAIL = 'Sending email is delayed: your code should arrive in a few minutes.';
const NOT_MOBILE = 'This number cannot receive text messages. Use a mobile number.';
const DELAYED_WHATSAPP = 'Sending by WhatsApp is slow right now: your code should arrive shortly.';
const WHATSAPP_ELSEWHERE =
  'We could not send the code by WhatsApp. It goes another way if one is set up, or ask for it by SMS or a call.';
const NO_CALL = 'We could not call this number. Check it, or ask for the code by SMS.';

/** Twilio's error codes (https://www.twilio.com/docs/api/errors), the ones behind most codes that never arrive. */
const TWILIO: Record<string, Diagnosis> = {
  '20003': {
    cause: 'Twilio refused the account credentials (authentication failed).',
    fix: 'Check SMS_ACCOUNT_SID and SMS_API_KEY (the auth token) against the Twilio console; a suspended or closed account answers this too.',
    hint: TRY_LATER,
  },
  '20429': {
    cause: 'Twilio is limiting this account: too many requests at once.',
    fix: "Retried automatically. If it lasts, lower DELIVERY_CONCURRENCY or ask Twilio to raise the account's limits.",
    hint: DELAYED_SMS,
  },
  '21211': {
    cause: "The 'To' number is not a valid phone number.",
    fix: 'The number stored for the account is wrong: the person must correct it. No retry helps.',
    hint: 'This phone number does not look valid. Check it, with its country code.',
  },
  '21408': {
    cause: 'Permission to send an SMS to this region is not enabled on the Twilio account (geo permissions).',
    fix: "Enable the destination country in Twilio's console, Messaging > Settings > Geo permissions.",
    hint: 'We cannot send text messages to this country right now. Use email, or another number.',
  },
  '21610': {
    cause: 'The recipient replied STOP: Twilio sends nothing more to them from this number.',
    fix: 'Only the person can undo it, by replying START to the sending number (SMS_FROM).',
    hint: 'You unsubscribed from our text messages. Reply START to our number, then ask for a new code.',
  },
  '21612': {
    cause: 'Twilio cannot route a message from this sender to this number.',
    fix: 'Check that SMS_FROM may send to this country and kind of number (a short code or a toll-free number reaches fewer), or use another sender.',
    hint: 'We cannot reach this number by text message. Try another number.',
  },
  '21614': {
    cause: "The 'To' number is not a mobile number (a landline, or a number that takes no SMS).",
    fix: 'Ask the person for a mobile number. No retry helps.',
    hint: NOT_MOBILE,
  },
  '30003': {
    cause: 'The handset is unreachable: switched off, out of coverage, or not accepting messages.',
    fix: 'Nothing to change on our side: the person checks the phone and asks for a new code.',
    hint: 'Your phone could not be reached. Check that it is on and has signal, then ask for a new code.',
  },
  '30004': {
    cause: 'The message was blocked: the recipient blocks the sender, or the carrier blocks such messages.',
    fix: 'The person checks blocked senders or asks the carrier; otherwise send from another number (SMS_FROM) or by email.',
    hint: 'Your phone or your carrier blocked our message. Check your blocked senders, or try another number.',
  },
  '30005': {
    cause: 'The number is unknown: it does not exist, or no longer does, at the carrier.',
    fix: 'The person checks the number. No retry helps.',
    hint: 'Your carrier says this number does not exist. Check it, or try another one.',
  },
  '30006': {
    cause: 'The number is a landline, or its carrier cannot take text messages.',
    fix: 'Ask the person for a mobile number.',
    hint: NOT_MOBILE,
  },
  '30007': {
    cause: 'The carrier filtered the message as spam.',
    fix: 'Register the sender (A2P 10DLC or toll-free verification in the US, a sender ID elsewhere), keep the text plain, or use another sender.',
    hint: 'Your carrier did not accept the message. Check the number, or try another one.',
  },
  '30008': {
    cause: 'The carrier reported an unknown error.',
    fix: 'Let the person try again; if it repeats for one carrier, open a case with Twilio quoting the message SID (provider id).',
    hint: 'Your code could not be delivered. Ask for a new one in a moment.',
  },
  // WhatsApp through Twilio: the codes its receipts carry
  '63003': {
    cause: 'WhatsApp could not find this number: it is not a WhatsApp user, no longer active, or badly formatted.',
    fix: 'Nothing to change for this number: the code goes on by the next channel of PHONE_CHANNELS. If every number fails so, check that WHATSAPP_FROM is a WhatsApp sender of the Twilio account.',
    hint: 'This number does not seem to use WhatsApp. Your code goes another way if one is set up, or ask for it by SMS or a call.',
  },
  '63016': {
    cause: 'WhatsApp refused a free-form message outside the 24-hour window: it was not sent as an approved template.',
    fix: 'Set WHATSAPP_TEMPLATE to an approved authentication template (its Content SID, HX…): outside the window WhatsApp takes only templates.',
    hint: 'We could not send the code by WhatsApp. Ask for it by SMS or a call.',
  },
  '63024': {
    cause:
      'Meta says the recipient is not a valid WhatsApp user (not on WhatsApp, its terms not accepted, or an old app).',
    fix: 'Nothing to change on our side: the code goes on by the next channel of PHONE_CHANNELS.',
    hint: 'WhatsApp could not reach this number. Update WhatsApp, or ask for the code by SMS or a call.',
  },
  '63032': {
    cause:
      "Meta held the message back: the person is in one of WhatsApp's marketing experiments (marketing templates only).",
    fix: 'WHATSAPP_TEMPLATE must be an authentication template, never a marketing one: create one with a copy-code button and put its Content SID (HX…) there.',
    hint: WHATSAPP_ELSEWHERE,
  },
  '63049': {
    cause: 'Meta chose not to deliver a marketing template to this person (its engagement limits).',
    fix: 'WHATSAPP_TEMPLATE must be an authentication template, never a marketing one: create one with a copy-code button and put its Content SID (HX…) there.',
    hint: WHATSAPP_ELSEWHERE,
  },
  // calls through Twilio: refusals of the Calls API
  '21210': {
    cause:
      'VOICE_FROM is not a number of the Twilio account, nor one of its verified caller IDs: Twilio makes no call from it.',
    fix: 'Set VOICE_FROM to a voice-capable number the account owns (`panic-api doctor` checks it), or verify it as a caller ID in the Twilio console.',
    hint: NO_CALL,
  },
  '21215': {
    cause:
      "Calls to this number's country (or to this kind of number) are not enabled on the Twilio account (voice geo permissions).",
    fix: "Enable the country in Twilio's console, Voice > Settings > Geo permissions, if calls there are wanted; premium and high-cost ranges are best left off.",
    hint: 'We cannot call numbers in this country. Ask for the code by SMS or WhatsApp.',
  },
  '21216': {
    cause: 'Twilio blocks calls to this number (a high-risk or fraud-prone range, or a regulatory block).',
    fix: 'Nothing to change for this number; if a genuine range is blocked, open a case with Twilio. A US number needs a Primary Customer Profile on the account.',
    hint: 'We cannot call this number. Ask for the code by SMS or WhatsApp.',
  },
  // calls through Twilio: how a call ended, as its status callback reports it
  busy: {
    cause: 'The line was busy: the call was not answered.',
    fix: 'Nothing to change on our side: the code goes on by the next channel of PHONE_CHANNELS, or the person asks for a new call.',
    hint: 'Your line was busy when we called. Ask for a new call when you can pick up, or for the code by SMS.',
  },
  'no-answer': {
    cause: 'Nobody answered the call before it stopped ringing.',
    fix: 'Nothing to change on our side: the code goes on by the next channel of PHONE_CHANNELS, or the person asks for a new call.',
    hint: 'We called but nobody answered. Ask for a new call when you can pick up, or for the code by SMS.',
  },
  failed: {
    cause: 'The call could not be connected: the number may not exist, or the network refused the call.',
    fix: 'Check the number; if every call fails, check VOICE_FROM and the voice geo permissions of the Twilio account.',
    hint: NO_CALL,
  },
  canceled: {
    cause: 'The call was canceled before it was answered.',
    fix: 'Nothing to change on our side: the person may ask for a new call, or for the code by another channel.',
    hint: 'The call was stopped before you answered. Ask for a new call, or for the code by SMS.',
  },
};

/** Meta's WhatsApp Cloud API error codes (the Graph API's error codes page), in a send's answer or a `failed` status. */
const META: Record<string, Diagnosis> = {
  '100': {
    cause:
      'The Graph API refused a parameter: an unknown id (WHATSAPP_PHONE_NUMBER_ID) or one the access token may not use.',
    fix: "Check WHATSAPP_PHONE_NUMBER_ID (or WHATSAPP_API_URL) against the WhatsApp Manager, and that the token's app has the whatsapp_business_messaging permission; `panic-api doctor` reads the number.",
    hint: TRY_LATER,
  },
  '190': {
    cause: 'Meta refused the access token: it expired or is not valid.',
    fix: "Set a new token in WHATSAPP_API_KEY: a system user's permanent token (Business settings > System users), not a temporary one that expires in a day.",
    hint: TRY_LATER,
  },
  '368': {
    cause: 'Meta restricted the WhatsApp Business Account for policy violations.',
    fix: 'Read the restriction in the WhatsApp Manager (Account quality) and appeal it there; until it is lifted the code goes by the next channel.',
    hint: WHATSAPP_ELSEWHERE,
  },
  '80007': {
    cause: "The WhatsApp Business Account reached Meta's rate limit on API calls.",
    fix: 'Retried automatically. If it lasts, lower DELIVERY_CONCURRENCY or WHATSAPP_MAX_PER_HOUR.',
    hint: DELAYED_WHATSAPP,
  },
  '130429': {
    cause: "The Cloud API's throughput for this business number was reached (too many messages per second).",
    fix: 'Retried automatically. If it lasts, lower DELIVERY_CONCURRENCY; Meta raises the throughput of numbers with a good quality rating.',
    hint: DELAYED_WHATSAPP,
  },
  '131000': {
    cause: 'Meta reported an unknown error while sending.',
    fix: "Retried automatically; check Meta's WhatsApp Business platform status if it lasts.",
    hint: DELAYED_WHATSAPP,
  },
  '131026': {
    cause:
      'WhatsApp could not deliver to this number: it is not on WhatsApp, has not accepted the terms, or runs an old app.',
    fix: 'Nothing to change for this number: the code goes on by the next channel of PHONE_CHANNELS.',
    hint: 'This number does not seem to use WhatsApp. Your code goes another way if one is set up, or ask for it by SMS or a call.',
  },
  '131030': {
    cause: "The number is not in the test number's allowed list: the business number is still Meta's test number.",
    fix: 'Register a real business phone number and put its id in WHATSAPP_PHONE_NUMBER_ID, or add this number to the allowed list while testing.',
    hint: WHATSAPP_ELSEWHERE,
  },
  '131047': {
    cause:
      'WhatsApp refused a free-form message: more than 24 hours passed since the person last wrote, so only a template may go.',
    fix: 'WHATSAPP_TEMPLATE must name an approved authentication template; the service sends only templates, so report this if it repeats.',
    hint: WHATSAPP_ELSEWHERE,
  },
  '131049': {
    cause: 'Meta chose not to deliver the message, to keep engagement healthy (its limits on marketing messages).',
    fix: 'WHATSAPP_TEMPLATE must be an authentication template, never a marketing one.',
    hint: WHATSAPP_ELSEWHERE,
  },
  '131056': {
    cause: 'Too many messages to this number in a short time (the pair rate limit of Meta).',
    fix: 'Retried automatically, later; the person asking again and again causes it.',
    hint: DELAYED_WHATSAPP,
  },
  '132000': {
    cause:
      "The template's parameters do not match: the template is not an authentication template with one code and a copy-code button.",
    fix: 'Create WHATSAPP_TEMPLATE in the Authentication category with a copy-code button: its body and its button each take the code.',
    hint: WHATSAPP_ELSEWHERE,
  },
  '132001': {
    cause: "The template does not exist in the person's language, or is not approved in it.",
    fix: 'Add the language to WHATSAPP_TEMPLATE in the WhatsApp Manager (en_US, af, zu) and wait for its approval; `panic-api doctor` lists the languages approved.',
    hint: WHATSAPP_ELSEWHERE,
  },
  '132015': {
    cause: 'Meta paused the template for its low quality rating.',
    fix: "Read the template's quality in the WhatsApp Manager; an authentication template is rarely paused, so check what the people who blocked it saw.",
    hint: WHATSAPP_ELSEWHERE,
  },
  '132016': {
    cause: 'Meta disabled the template for its low quality rating.',
    fix: 'Create a new authentication template and put its name in WHATSAPP_TEMPLATE.',
    hint: WHATSAPP_ELSEWHERE,
  },
};

/** Meta's Graph API could not be reached at all. */
const META_API_UNREACHABLE: Diagnosis = {
  cause: "Meta's Graph API could not be reached.",
  fix: 'Check WHATSAPP_API_URL (unset: graph.facebook.com) and that this host may connect out to it (DNS, firewall, proxy). Retried automatically.',
  hint: DELAYED_WHATSAPP,
};

/** What an SMS API's HTTP answer says when its own code is not in a table above. */
function smsApiStatus(status: number | undefined): Diagnosis | null {
  if (status === 401 || status === 403) {
    return {
      cause: 'The SMS provider refused our credentials.',
      fix: "Check SMS_API_KEY (and SMS_ACCOUNT_SID for Twilio) against the provider's console.",
      hint: TRY_LATER,
    };
  }
  if (status === 429)
    return {
      cause: 'The SMS provider is limiting us: too many requests.',
      fix: "Retried automatically. If it lasts, lower DELIVERY_CONCURRENCY or raise the account's limits.",
      hint: DELAYED_SMS,
    };
  if (status !== undefined && status >= 500)
    return {
      cause: 'The SMS provider had an internal error.',
      fix: "Retried automatically; check the provider's status page if it lasts.",
      hint: DELAYED_SMS,
    };
  return null;
}

/** An SMS API we could not reach at all (the network error's code). */
const SMS_API_UNREACHABLE: Diagnosis = {
  cause: "The SMS provider's API could not be reached.",
  fix: 'Check SMS_API_URL and that this host may connect out to it (DNS, firewall, proxy). Retried automatically.',
  hint: DELAYED_SMS,
};
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
]);

/** SMTP reply codes (RFC 5321). */
const SMTP_REPLIES: Record<number, Diagnosis> = {
  421: {
    cause: 'The mail server is not available now, or closed the connection (temporary).',
    fix: 'Retried automatically. If it lasts, check the SMTP server and its limits on connections and rate (SMTP_MAX_CONNECTIONS).',
    hint: DELAYED_EMAIL,
  },
  450: {
    cause: "The recipient's mailbox is not available for now (busy, greylisting, or a temporary block).",
    fix: 'Retried automatically: greylisting lets a retry through.',
    hint: DELAYED_EMAIL,
  },
  452: {
    cause: 'The mail server is short of storage, or the mailbox is full (temporary).',
    fix: "Retried automatically. If it lasts, check the sending server's queue and quota.",
    hint: 'Your mailbox may be full. Make room, then ask for a new code.',
  },
  550: {
    cause: 'The mailbox does not exist, or its server refused the message.',
    fix: "Check the address for typos. If it is right, the server refused our sender: check SPF, DKIM and DMARC for FROM_EMAIL's domain.",
    hint: 'Your email provider refused our message. Check the address, or use another one.',
  },
  552: {
    cause: "The recipient's mailbox is full, or the message is larger than it accepts.",
    fix: 'Nothing to change on our side: the person makes room.',
    hint: 'Your mailbox is full. Make room, then ask for a new code.',
  },
  553: {
    cause: "An address was refused: the recipient's is malformed, or the server does not let us send as FROM_EMAIL.",
    fix: "Check the recipient's address, and that FROM_EMAIL is an address the SMTP account may send as.",
    hint: 'This email address was refused. Check it for typos.',
  },
  554: {
    cause: 'The receiving server rejected the message, usually as spam or by policy.',
    fix: "Read the server's words in the error; set up SPF, DKIM and DMARC for FROM_EMAIL's domain and check the sending IP is on no blocklist.",
    hint: 'Your email provider rejected our message. Check your spam settings, or use another address.',
  },
};

/** nodemailer's error codes, for failures before or around the SMTP conversation. */
const SMTP_ERRORS: Record<string, Diagnosis> = {
  EAUTH: {
    cause: 'The SMTP server refused our login.',
    fix: 'Check SMTP_USERNAME and SMTP_PASSWORD (Gmail and Microsoft 365 need an app password or SMTP AUTH enabled); `panic-api doctor` tries the login.',
    hint: TRY_LATER,
  },
  ETLS: {
    cause: 'The TLS handshake with the SMTP server failed (an untrusted certificate, or TLS not spoken on that port).',
    fix: "Use port 465 for implicit TLS or 587 for STARTTLS, and check the server's certificate names SMTP_SERVER.",
    hint: TRY_LATER,
  },
  ECONNECTION: {
    cause: 'The SMTP server could not be reached (connection refused or dropped).',
    fix: 'Check SMTP_SERVER and SMTP_PORT, and that this host may connect out on that port; `panic-api doctor` connects to it. Retried automatically.',
    hint: DELAYED_EMAIL,
  },
  ETIMEDOUT: {
    cause: 'The SMTP server did not answer in time.',
    fix: 'Check SMTP_SERVER and SMTP_PORT and the network between us (a firewall that drops packets looks like this). Retried automatically.',
    hint: DELAYED_EMAIL,
  },
  ESOCKET: {
    cause: 'The SMTP server could not be reached, or the connection to it failed (refused, reset, or a TLS error).',
    fix: "Check SMTP_SERVER and SMTP_PORT, that this host may connect out on that port, and the port's TLS mode (465 implicit, 587 STARTTLS); `panic-api doctor` connects to it. Retried automatically.",
    hint: DELAYED_EMAIL,
  },
  EDNS: {
    cause: "SMTP_SERVER's name could not be resolved.",
    fix: 'Check SMTP_SERVER for typos and that this host can resolve names.',
    hint: DELAYED_EMAIL,
  },
};

/** A second provider of the same kind is `<kind>-fallback` (channels/index.ts): its codes are its kind's. */
const kindOf = (provider: string | null): string | null => provider?.replace(/-fallback$/, '') ?? null;

/**
 * The diagnosis of a failed send by `provider` ('smtp', 'twilio', 'http', 'meta'); null when no table
 * knows it. A call's ending (`busy`, `no-answer`, `failed`, `canceled`) is looked up as Twilio's code.
 */
export function diagnose(named: string | null, answer: ProviderAnswer): Diagnosis | null {
  const { status, code } = answer;
  const provider = kindOf(named);
  if (provider === 'smtp') {
    // A bounce's receipt names the reply code as its code.
    const reply = status ?? (code && /^\d{3}$/.test(code) ? Number(code) : undefined);
    return (reply !== undefined ? SMTP_REPLIES[reply] : undefined) ?? (code ? SMTP_ERRORS[code] : undefined) ?? null;
  }
  if (provider === 'meta') {
    if (code && NETWORK_CODES.has(code)) return META_API_UNREACHABLE;
    return (code ? META[code] : undefined) ?? null;
  }
  if (provider === 'twilio' || provider === 'http') {
    if (code && NETWORK_CODES.has(code)) return SMS_API_UNREACHABLE;
    return (provider === 'twilio' && code ? TWILIO[code] : undefined) ?? smsApiStatus(status);
  }
  return null;
}

/**
 * A failure's reason as a metric label: the provider's code when a table above explains it (Twilio's
 * 30007, SMTP's 550 or EAUTH, Meta's 131026), else the class of its HTTP status or SMTP reply (`4xx`,
 * `5xx`), else `other`. Whatever a provider answers, the labels are the tables' codes and a few more.
 */
export function reasonLabel(provider: string | null, answer: ProviderAnswer): string {
  const { status, code } = answer;
  const kind = kindOf(provider);
  if (code && diagnose(kind, { code })) return code;
  if (kind === 'smtp' && status !== undefined && SMTP_REPLIES[status]) return String(status);
  if (status !== undefined && status >= 100 && status < 600) return `${Math.floor(status / 100)}xx`;
  return 'other';
}
