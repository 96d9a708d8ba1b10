/** doctor's reads of a provider's API (SMS, WhatsApp, calls): GETs only, so nothing is ever sent. */
import type { Config } from '../../config/settings.ts';
import { createChannels } from '../../delivery/channels/index.ts';
import type { PhoneChannel } from '../../shared/vocabulary.ts';
import { errorCode, explainCode, fail, missingSeverity, warn, type Check } from './types.ts';

const TIMEOUT_MS = 8000;

/** A provider's answer to a GET: its HTTP status and its JSON (undefined when it sent none). */
export interface ProviderReply {
  status: number;
  body: unknown;
}

/** One GET with doctor's timeout; throws when the provider cannot be reached (see `unreachable`). */
export async function readProvider(url: string | URL, authorization: string): Promise<ProviderReply> {
  const res = await fetch(url, {
    headers: { authorization, accept: 'application/json' },
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  return { status: res.status, body: await res.json().catch(() => undefined) };
}

/** The line for a provider that could not be reached at all. */
export function unreachable(name: string, err: unknown, what: string, origin: string, fix: string): Check {
  const timedOut = (err as Error).name === 'TimeoutError';
  const code = timedOut ? 'ETIMEDOUT' : errorCode(err);
  return fail(name, `${what} not reachable at ${origin} (${explainCode(code)})`, fix);
}

const PROVIDER_SETTING = { whatsapp: 'WHATSAPP_PROVIDER', voice: 'VOICE_PROVIDER' } as const;
const WORDS = { whatsapp: 'WhatsApp', voice: 'Voice' } as const;
type NewChannel = Exclude<PhoneChannel, 'sms'>;

/** Whether a road (PHONE_CHANNELS, or a country's in PHONE_CHANNELS_BY_COUNTRY) names the channel. */
export const namedInRoads = (config: Config, channel: PhoneChannel): boolean =>
  config.PHONE_CHANNELS.includes(channel) ||
  [...config.PHONE_CHANNELS_BY_COUNTRY.values()].some((road) => road.includes(channel));

/** doctor has a line for a phone channel whose provider is set, or that a road names. */
export const hasDoctorLine = (config: Config, channel: NewChannel): boolean =>
  config[PROVIDER_SETTING[channel]] !== undefined || namedInRoads(config, channel);

/**
 * The line when the settings alone decide it, before any request: no provider although a road
 * names the channel, placeholder values, or settings not set. Undefined: ask the provider.
 */
export function settingsCheck(config: Config, channel: NewChannel): Check | undefined {
  const setting = PROVIDER_SETTING[channel];
  if (config[setting] === undefined) {
    return warn(
      channel,
      `PHONE_CHANNELS names ${channel}, but ${setting} is not set: no code reaches a phone by ${WORDS[channel]}`,
      channel === 'whatsapp'
        ? 'Set WHATSAPP_PROVIDER=twilio (with WHATSAPP_FROM and WHATSAPP_TEMPLATE) or meta (with WHATSAPP_PHONE_NUMBER_ID, WHATSAPP_API_KEY and WHATSAPP_TEMPLATE), or take whatsapp out of PHONE_CHANNELS.'
        : 'Set VOICE_PROVIDER=twilio with VOICE_FROM, or take voice out of PHONE_CHANNELS.',
    );
  }
  const state = createChannels(config)[channel].status();
  if (state.configured) return undefined;
  if (state.placeholders.length) {
    return fail(
      channel,
      `${WORDS[channel]} settings are placeholder values (${state.placeholders.join(', ')})`,
      `Replace ${state.placeholders.join(', ')} with the real values from your ${config[setting] === 'meta' ? 'WhatsApp Manager' : 'Twilio console'}.`,
    );
  }
  const what = `${WORDS[channel]} provider ${config[setting]} not fully configured (${state.missing.join(', ')} not set)`;
  return missingSeverity(config.APP_ENV) === 'warn'
    ? warn(channel, `${what}: ${channel} codes go to the dev inbox and the log`, `Set ${state.missing.join(', ')}.`)
    : fail(channel, `${what}: no code goes by ${WORDS[channel]}`, `Set ${state.missing.join(', ')}.`);
}

/**
 * A Twilio read that did not answer 200, in words: the credentials refused, no such account, or
 * Twilio not able to answer. `account` names the setting that holds the account's URL (or SID),
 * `key` the one that holds the auth token.
 */
export function twilioRefused(
  name: string,
  reply: ProviderReply,
  settings: { account: string; key: string; resource: string },
): Check {
  if (reply.status === 401 || reply.status === 403) {
    return fail(
      name,
      `Twilio rejected the credentials (SMS_ACCOUNT_SID / ${settings.key})`,
      `Copy the Account SID into SMS_ACCOUNT_SID and the Auth Token into ${settings.key} from the Twilio console (an API key needs its SK… SID as SMS_ACCOUNT_SID).`,
    );
  }
  if (reply.status === 404) {
    return fail(
      name,
      `Twilio has no such account: the Account SID in ${settings.account} is wrong (HTTP 404)`,
      `Put your Account SID in ${settings.account}${settings.account.endsWith('_URL') ? `: https://api.twilio.com/2010-04-01/Accounts/<Account SID>/${settings.resource}` : ''}.`,
    );
  }
  const message = (reply.body as { message?: unknown } | undefined)?.message;
  return warn(
    name,
    `Twilio answered HTTP ${reply.status}${typeof message === 'string' ? ` (${message})` : ''}: the credentials could not be checked`,
    'Try again in a minute; see https://status.twilio.com if it persists.',
  );
}
