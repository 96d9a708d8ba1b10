import type { Config } from '../../config/settings.ts';
import { twilioAccountUrl, twilioAuthorization } from '../../delivery/channels/twilio.ts';
import { type ProviderReply, readProvider, settingsCheck, twilioRefused, unreachable } from './provider-read.ts';
import { fail, ok, type Check } from './types.ts';

const NAME = 'voice';

/**
 * Twilio: the credentials and VOICE_FROM as a voice number of the account (IncomingPhoneNumbers),
 * or else one of its verified caller IDs (OutgoingCallerIds): Twilio calls only from those. No call is made.
 */
export async function checkVoice(config: Config): Promise<Check> {
  const settled = settingsCheck(config, 'voice');
  if (settled) return settled;
  const api = twilioAccountUrl(config, { setting: 'VOICE_API_URL', value: config.VOICE_API_URL }, 'Calls.json');
  if (!URL.canParse(api.url!) || !/\/Accounts\/[^/]+\/Calls\.json$/.test(api.url!)) {
    return fail(
      NAME,
      `${api.setting} is not a Twilio Calls URL (it should end in /Accounts/<Account SID>/Calls.json)`,
      `Set ${api.setting} to https://api.twilio.com/2010-04-01/Accounts/<Account SID>/Calls.json.`,
    );
  }
  const from = config.VOICE_FROM!;
  const listOf = async (resource: string): Promise<ProviderReply | Check> => {
    const url = new URL(api.url!.replace(/Calls\.json$/, resource));
    url.searchParams.set('PhoneNumber', from);
    try {
      return await readProvider(url, twilioAuthorization(config));
    } catch (err) {
      return unreachable(
        NAME,
        err,
        'Twilio API',
        url.origin,
        `Check the host in ${api.setting} and that this host may make outbound HTTPS requests (firewall, proxy).`,
      );
    }
  };
  const isCheck = (r: ProviderReply | Check): r is Check => 'finding' in r;

  const numbers = await listOf('IncomingPhoneNumbers.json');
  if (isCheck(numbers)) return numbers;
  if (numbers.status !== 200)
    return twilioRefused(NAME, numbers, { account: api.setting, key: 'SMS_API_KEY', resource: 'Calls.json' });
  const accepted = 'Twilio accepted the credentials (SMS_ACCOUNT_SID / SMS_API_KEY)';
  const owned = (
    numbers.body as { incoming_phone_numbers?: { phone_number?: string; capabilities?: { voice?: boolean } }[] }
  ).incoming_phone_numbers?.find((n) => n.phone_number === from);
  if (owned?.capabilities?.voice) {
    return ok(NAME, `${accepted} and VOICE_FROM ${from} is a voice number of the account; no call was made`);
  }
  if (owned) {
    return fail(
      NAME,
      `${accepted}, but VOICE_FROM ${from} is a number of the account that cannot make calls (no voice capability)`,
      'Set VOICE_FROM to a voice-capable number of the account (Twilio console, Phone Numbers > Active numbers).',
    );
  }
  const callerIds = await listOf('OutgoingCallerIds.json');
  const verified =
    !isCheck(callerIds) &&
    callerIds.status === 200 &&
    (callerIds.body as { outgoing_caller_ids?: { phone_number?: string }[] }).outgoing_caller_ids?.some(
      (c) => c.phone_number === from,
    );
  if (verified) {
    return ok(NAME, `${accepted} and VOICE_FROM ${from} is a verified caller ID of the account; no call was made`);
  }
  return fail(
    NAME,
    `${accepted}, but VOICE_FROM ${from} is neither a number of the account nor one of its verified caller IDs: Twilio refuses calls from it (21210)`,
    'Set VOICE_FROM to a voice-capable number of the account (Twilio console, Phone Numbers > Active numbers), in E.164 (+27…), or verify it as a caller ID.',
  );
}
