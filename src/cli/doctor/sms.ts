import type { Config } from '../../config/settings.ts';
import { createChannels } from '../../delivery/channels/index.ts';
import { twilioAuthorization } from '../../delivery/channels/twilio.ts';
import { type ProviderReply, readProvider, twilioRefused, unreachable } from './provider-read.ts';
import { fail, missingSeverity, ok, warn, type Check } from './types.ts';

const NAME = 'sms';
const TIMEOUT_MS = 8000;

/** What Twilio's account resource says about sending: its `status` (active, suspended, closed) and `type` (Trial, Full). */
function judgeAccount(status: string | undefined, type: string | undefined): Check {
  const accepted = 'Twilio accepted the credentials (SMS_ACCOUNT_SID / SMS_API_KEY)';
  if (status === 'suspended') {
    return fail(
      NAME,
      `${accepted}, but the account is suspended: Twilio sends no SMS for it`,
      'Open the Twilio console (Billing, and the email Twilio sent about the suspension), settle what it asks, and have the account reactivated.',
    );
  }
  if (status === 'closed') {
    return fail(
      NAME,
      `${accepted}, but the account is closed: Twilio sends no SMS for it, and a closed account cannot be reopened`,
      'Use an active Twilio account: put its Account SID in SMS_ACCOUNT_SID and SMS_API_URL and its Auth Token in SMS_API_KEY.',
    );
  }
  if (status && status !== 'active') {
    return fail(
      NAME,
      `${accepted}, but the account is ${status}`,
      'Open the Twilio console and make the account active.',
    );
  }
  if (type === 'Trial') {
    return warn(
      NAME,
      `${accepted} and the account is active, but it is a Trial account: a Trial account texts only numbers verified in the Twilio console`,
      'Upgrade the account in the Twilio console (Billing, Upgrade) so it texts any number; until then add each test number under Verified Caller IDs.',
    );
  }
  return ok(NAME, `${accepted} and the account is active${type ? ` (${type})` : ''}; nothing was sent`);
}

/**
 * Twilio: GET of the account resource (…/Accounts/{SID}.json) derived from SMS_API_URL, with the
 * same Basic auth the Messages POST uses. It proves the credentials and sends nothing.
 */
async function checkTwilio(config: Config): Promise<Check> {
  const messagesUrl = config.SMS_API_URL!;
  let accountUrl: URL;
  try {
    accountUrl = new URL(messagesUrl.replace(/\/Messages\.json$/, '.json'));
  } catch {
    return fail(
      NAME,
      'SMS_API_URL is not a URL',
      'Set SMS_API_URL to https://api.twilio.com/2010-04-01/Accounts/<Account SID>/Messages.json.',
    );
  }
  if (!/\/Accounts\/[^/]+\/Messages\.json$/.test(messagesUrl)) {
    return fail(
      NAME,
      'SMS_API_URL is not a Twilio Messages URL (it should end in /Accounts/<Account SID>/Messages.json)',
      'Set SMS_API_URL to https://api.twilio.com/2010-04-01/Accounts/<Account SID>/Messages.json, or SMS_PROVIDER=http for another gateway.',
    );
  }
  let reply: ProviderReply;
  try {
    reply = await readProvider(accountUrl, twilioAuthorization(config));
  } catch (err) {
    return unreachable(
      NAME,
      err,
      'Twilio API',
      accountUrl.origin,
      'Check the host in SMS_API_URL and that this host may make outbound HTTPS requests (firewall, proxy).',
    );
  }
  if (reply.status !== 200)
    return twilioRefused(NAME, reply, { account: 'SMS_API_URL', key: 'SMS_API_KEY', resource: 'Messages.json' });
  const body = reply.body as { status?: string; type?: string } | undefined;
  return judgeAccount(body?.status, body?.type);
}

/** A generic gateway cannot be asked about credentials without sending; its origin can be asked whether it answers. */
async function checkHttpGateway(config: Config): Promise<Check> {
  let origin: string;
  try {
    origin = new URL(config.SMS_API_URL!).origin;
  } catch {
    return fail(NAME, 'SMS_API_URL is not a URL', 'Set SMS_API_URL to the full URL your SMS gateway takes POSTs on.');
  }
  try {
    const res = await fetch(origin, { method: 'HEAD', signal: AbortSignal.timeout(TIMEOUT_MS) });
    await res.body?.cancel();
  } catch (err) {
    return unreachable(
      NAME,
      err,
      'SMS gateway',
      origin,
      'Check the host and port in SMS_API_URL and that this host may reach it (firewall, proxy).',
    );
  }
  return warn(
    NAME,
    `SMS_PROVIDER=http: settings present and the gateway answers at ${origin}, but SMS_API_KEY cannot be checked without sending an SMS`,
    'Send yourself a code (POST /api/v1/users/verify-phone) and read its status and reason in the delivery log (GET /api/v1/admin/messages).',
  );
}

/** SMS provider chosen, credentials not placeholders, and (Twilio) accepted. */
export async function checkSms(config: Config): Promise<Check> {
  if (!config.SMS_PROVIDER) {
    return missingSeverity(config.APP_ENV) === 'warn'
      ? warn(
          NAME,
          'SMS provider not configured (SMS_PROVIDER not set): SMS codes go to the dev inbox and the log',
          'Fine for development (open /dev/inbox). To send real SMS set SMS_PROVIDER=twilio with SMS_API_URL, SMS_ACCOUNT_SID, SMS_API_KEY and SMS_FROM.',
        )
      : fail(
          NAME,
          'SMS provider not configured (SMS_PROVIDER not set): no SMS code can be sent',
          'Set SMS_PROVIDER=twilio with SMS_API_URL, SMS_ACCOUNT_SID, SMS_API_KEY and SMS_FROM (or SMS_PROVIDER=http with SMS_API_URL and SMS_API_KEY).',
        );
  }
  const state = createChannels(config).sms.status();
  if (!state.configured) {
    const { placeholders, missing } = state;
    if (placeholders.length) {
      return fail(
        NAME,
        `SMS credentials are placeholder values (${placeholders.join(', ')})`,
        `Replace ${placeholders.join(', ')} with the real values from your ${config.SMS_PROVIDER === 'twilio' ? 'Twilio console' : 'SMS gateway'}.`,
      );
    }
    const what = `SMS provider ${config.SMS_PROVIDER} not fully configured (${missing.join(', ')} not set)`;
    return missingSeverity(config.APP_ENV) === 'warn'
      ? warn(NAME, `${what}: SMS codes go to the dev inbox and the log`, `Set ${missing.join(', ')}.`)
      : fail(NAME, `${what}: no SMS code can be sent`, `Set ${missing.join(', ')}.`);
  }
  return config.SMS_PROVIDER === 'twilio' ? checkTwilio(config) : checkHttpGateway(config);
}
