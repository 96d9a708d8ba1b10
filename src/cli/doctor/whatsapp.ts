import type { Config } from '../../config/settings.ts';
import { META_LANGUAGES, metaMessagesUrl } from '../../delivery/channels/meta-whatsapp.ts';
import { twilioWhatsAppTarget, whatsAppAddress } from '../../delivery/channels/twilio-whatsapp.ts';
import { LOCALE_CODES } from '../../shared/locales.ts';
import { type ProviderReply, readProvider, settingsCheck, twilioRefused, unreachable } from './provider-read.ts';
import { fail, ok, warn, type Check } from './types.ts';

const NAME = 'whatsapp';
/** How many pages of senders doctor reads before it gives up looking for WHATSAPP_FROM. */
const MAX_SENDER_PAGES = 10;

/** WhatsApp's provider answers, its sender and its template are what they should be; nothing is sent. */
export async function checkWhatsApp(config: Config): Promise<Check> {
  const settled = settingsCheck(config, 'whatsapp');
  if (settled) return settled;
  return config.WHATSAPP_PROVIDER === 'meta' ? checkMeta(config) : checkTwilio(config);
}

// ---------------------------------------------------------------- Twilio

/**
 * Where the account's WhatsApp senders are listed: Twilio serves its Senders API from
 * messaging.twilio.com, not from the Messages URL's host; any other host (a proxy, a test server)
 * is asked on its own origin.
 */
function sendersUrl(messagesUrl: URL): URL {
  const origin = messagesUrl.hostname.endsWith('.twilio.com') ? 'https://messaging.twilio.com' : messagesUrl.origin;
  return new URL(`${origin}/v2/Channels/Senders?Channel=whatsapp&PageSize=100`);
}

interface Sender {
  sender_id?: string;
  status?: string;
}

/** Twilio: the credentials and WHATSAPP_FROM as a sender, read from the Senders API; the template's SID only by its shape. */
async function checkTwilio(config: Config): Promise<Check> {
  const { api, key, authorization } = twilioWhatsAppTarget(config);
  if (!/^HX[0-9a-f]{32}$/i.test(config.WHATSAPP_TEMPLATE!)) {
    return fail(
      NAME,
      'WHATSAPP_TEMPLATE is not a Content SID (HX and 32 hex digits): Twilio sends a WhatsApp template by its ContentSid',
      "Create an authentication template with a copy-code button in Twilio's Content Template Builder, have WhatsApp approve it, and put its SID (HX…) in WHATSAPP_TEMPLATE.",
    );
  }
  if (!URL.canParse(api.url!) || !/\/Accounts\/[^/]+\/Messages\.json$/.test(api.url!)) {
    return fail(
      NAME,
      `${api.setting} is not a Twilio Messages URL (it should end in /Accounts/<Account SID>/Messages.json)`,
      `Set ${api.setting} to https://api.twilio.com/2010-04-01/Accounts/<Account SID>/Messages.json.`,
    );
  }
  const from = whatsAppAddress(config.WHATSAPP_FROM!);
  const senders: Sender[] = [];
  let next: URL | undefined = sendersUrl(new URL(api.url!));
  for (let page = 0; next && page < MAX_SENDER_PAGES; page++) {
    let reply: ProviderReply;
    try {
      reply = await readProvider(next, authorization);
    } catch (err) {
      return unreachable(
        NAME,
        err,
        "Twilio's Senders API",
        next.origin,
        'Check that this host may make outbound HTTPS requests to messaging.twilio.com (firewall, proxy).',
      );
    }
    if (reply.status !== 200)
      return twilioRefused(NAME, reply, { account: api.setting, key: key.setting, resource: 'Messages.json' });
    const body = reply.body as { senders?: Sender[]; meta?: { next_page_url?: string | null } } | undefined;
    senders.push(...(body?.senders ?? []));
    if (senders.some((s) => s.sender_id === from)) break;
    const nextPage = body?.meta?.next_page_url;
    next = nextPage ? new URL(nextPage) : undefined;
  }
  const accepted = `Twilio accepted the credentials (SMS_ACCOUNT_SID / ${key.setting})`;
  const sender = senders.find((s) => s.sender_id === from);
  if (!sender) {
    const known = senders.map((s) => s.sender_id).filter(Boolean);
    return fail(
      NAME,
      `${accepted}, but WHATSAPP_FROM (${config.WHATSAPP_FROM}) is not a WhatsApp sender of the account (${known.length ? `its senders: ${known.join(', ')}` : 'it has none'}): Twilio refuses WhatsApp messages from it`,
      'Register the number as a WhatsApp sender (Twilio console, Messaging > Senders > WhatsApp senders), or set WHATSAPP_FROM to one of its senders.',
    );
  }
  if (sender.status !== 'ONLINE') {
    return fail(
      NAME,
      `${accepted}, but the WhatsApp sender ${config.WHATSAPP_FROM} is ${sender.status ?? 'of unknown status'}, not ONLINE: WhatsApp sends nothing from it`,
      "Finish the sender's registration in the Twilio console (Messaging > Senders > WhatsApp senders) until it is Online.",
    );
  }
  return ok(
    NAME,
    `${accepted} and WHATSAPP_FROM ${config.WHATSAPP_FROM} is an online WhatsApp sender of the account; WHATSAPP_TEMPLATE is a Content SID (its approval shows in the Content Template Builder); nothing was sent`,
  );
}

// ---------------------------------------------------------------- Meta

interface GraphError {
  code?: number;
  message?: string;
}

const graphError = (reply: ProviderReply): GraphError | undefined =>
  (reply.body as { error?: GraphError } | undefined)?.error;

/** A Graph read that failed, in words; `what` names the object read (the phone number id, the business account). */
function graphRefused(reply: ProviderReply, what: { setting: string; value: string }): Check {
  const error = graphError(reply);
  if (reply.status === 401 || error?.code === 190) {
    return fail(
      NAME,
      'Meta refused the access token (WHATSAPP_API_KEY): it expired or is not valid (Graph error 190)',
      'Create a permanent token for a system user (Business settings > System users) with the whatsapp_business_messaging and whatsapp_business_management permissions, and put it in WHATSAPP_API_KEY.',
    );
  }
  if (error?.code === 100) {
    return fail(
      NAME,
      `Meta knows no object ${what.value} (${what.setting}), or the token may not read it (Graph error 100)`,
      `Copy the id from the WhatsApp Manager (or the app's WhatsApp > API setup) into ${what.setting}, and give the token's system user access to the WhatsApp Business Account.`,
    );
  }
  return warn(
    NAME,
    `Meta answered HTTP ${reply.status}${error?.message ? ` (${error.message})` : ''}: ${what.setting} could not be checked`,
    'Try again in a minute; see https://metastatus.com if it persists.',
  );
}

interface Template {
  name?: string;
  language?: string;
  status?: string;
  category?: string;
}

/** The template's state per language we send in: Meta's code for each of our locales, and the template found for it. */
function judgeTemplate(name: string, found: Template[]): { status: Check['status']; sentence: string; fix?: string } {
  const languages = LOCALE_CODES.map((l) => META_LANGUAGES[l]);
  const of = (code: string) => found.find((t) => t.name === name && t.language === code);
  const approved = languages.filter((code) => of(code)?.status === 'APPROVED');
  const others = languages
    .filter((code) => !approved.includes(code))
    .map((code) => `${code} ${of(code)?.status ?? 'missing'}`);
  const notAuthentication = languages.filter((code) => of(code) && of(code)?.category !== 'AUTHENTICATION');
  const addLanguages =
    'In the WhatsApp Manager (Message templates), add the missing languages to the template and wait for their approval; a language not approved is refused (132001) and the code goes on by the next channel.';
  if (!approved.length) {
    return {
      status: 'fail',
      sentence: `template ${name} is approved in none of the languages codes are sent in (${others.join(', ')}): Meta refuses every WhatsApp code (132001)`,
      fix: `Create ${name} as an Authentication template with a copy-code button, in ${languages.join(', ')}, and wait for Meta's approval.`,
    };
  }
  if (notAuthentication.length) {
    return {
      status: 'warn',
      sentence: `template ${name} is not in the Authentication category (${notAuthentication.join(', ')}): it has no copy-code button for the code, and Meta refuses its parameters (132000)`,
      fix: `Create ${name} anew as an Authentication template with a copy-code button.`,
    };
  }
  if (others.length) {
    return {
      status: 'warn',
      sentence: `template ${name} is APPROVED in ${approved.join(', ')}, but not in ${others.join(', ')}`,
      fix: addLanguages,
    };
  }
  return { status: 'ok', sentence: `template ${name} is APPROVED in ${approved.join(', ')}` };
}

/**
 * Meta: the phone number id read with the token (proves both), then, when WHATSAPP_BUSINESS_ACCOUNT_ID
 * is set, the template on the business account, per language.
 */
async function checkMeta(config: Config): Promise<Check> {
  const messagesUrl = metaMessagesUrl(config)!;
  const m = URL.canParse(messagesUrl) ? /^(.*)\/([^/]+)\/messages$/.exec(messagesUrl) : null;
  if (!m) {
    return fail(
      NAME,
      'WHATSAPP_API_URL is not a Cloud API messages URL (it should end in /<phone number id>/messages)',
      'Unset WHATSAPP_API_URL and set WHATSAPP_PHONE_NUMBER_ID, or set it to https://graph.facebook.com/v21.0/<phone number id>/messages.',
    );
  }
  const [, graph, phoneNumberId] = m;
  const authorization = `Bearer ${config.WHATSAPP_API_KEY}`;
  const read = async (url: string): Promise<ProviderReply | Check> => {
    try {
      return await readProvider(url, authorization);
    } catch (err) {
      return unreachable(
        NAME,
        err,
        "Meta's Graph API",
        new URL(url).origin,
        'Check WHATSAPP_API_URL (unset: graph.facebook.com) and that this host may make outbound HTTPS requests (firewall, proxy).',
      );
    }
  };
  const isCheck = (r: ProviderReply | Check): r is Check => 'finding' in r;

  const number = await read(`${graph}/${phoneNumberId}?fields=display_phone_number,verified_name,quality_rating`);
  if (isCheck(number)) return number;
  const idSetting = config.WHATSAPP_API_URL ? 'WHATSAPP_API_URL' : 'WHATSAPP_PHONE_NUMBER_ID';
  if (number.status !== 200) return graphRefused(number, { setting: idSetting, value: phoneNumberId });
  const phone = number.body as { display_phone_number?: string; verified_name?: string; quality_rating?: string };
  const parts: { status: Check['status']; sentence: string; fix?: string }[] = [
    {
      status: 'ok',
      sentence: `Meta accepted the token (WHATSAPP_API_KEY) and the phone number id is ${phone.display_phone_number ?? phoneNumberId} (${phone.verified_name ?? 'no verified name'}, quality ${phone.quality_rating ?? 'unknown'})`,
    },
  ];
  if (phone.quality_rating === 'RED') {
    parts.push({
      status: 'warn',
      sentence: "the number's quality rating is RED: Meta may lower how many people it may message a day",
      fix: 'Read the quality of the number in the WhatsApp Manager (Phone numbers) and what made people block or report it.',
    });
  }

  const waba = config.WHATSAPP_BUSINESS_ACCOUNT_ID;
  if (!waba) {
    parts.push({
      status: 'ok',
      sentence: 'the template was not checked (set WHATSAPP_BUSINESS_ACCOUNT_ID for doctor to check it)',
    });
  } else {
    const name = config.WHATSAPP_TEMPLATE!;
    const templates = await read(
      `${graph}/${waba}/message_templates?${new URLSearchParams({ name, fields: 'name,language,status,category', limit: '100' })}`,
    );
    if (isCheck(templates)) return templates;
    if (templates.status !== 200)
      return graphRefused(templates, { setting: 'WHATSAPP_BUSINESS_ACCOUNT_ID', value: waba });
    parts.push(judgeTemplate(name, (templates.body as { data?: Template[] } | undefined)?.data ?? []));
  }

  const finding = `${parts.map((p) => p.sentence).join('; ')}; nothing was sent`;
  const worst = parts.find((p) => p.status === 'fail') ?? parts.find((p) => p.status === 'warn');
  if (!worst) return ok(NAME, finding);
  return worst.status === 'fail' ? fail(NAME, finding, worst.fix!) : warn(NAME, finding, worst.fix!);
}
