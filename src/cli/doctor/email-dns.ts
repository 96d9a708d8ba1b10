import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import addressparser from 'nodemailer/lib/addressparser';
import { dnsServerList, type Config } from '../../config/settings.ts';
import { createSmtpChannel } from '../../delivery/channels/smtp.ts';
import { errorCode, ok, warn, type Check } from './types.ts';

const NAME = 'email-dns';
/** One DNS question's wait for each server: the three questions are asked at once, so with one server the check takes about this long at worst. */
export const DNS_TIMEOUT_MS = 2000;

/** Names no one can publish records for: RFC 2606 and 6761 (test, example, invalid, localhost), 6762 (local), 8375 (home.arpa) and ICANN's internal. */
const RESERVED = /(^|\.)(test|example|invalid|localhost|local|internal|home\.arpa|example\.(com|net|org))$/;

/** The domain of FROM_EMAIL's address, parsed as nodemailer parses it when it sends. */
export function senderDomain(from: string | undefined): string | undefined {
  const [first] = from ? addressparser(from, { flatten: true }) : [];
  const at = first?.address?.lastIndexOf('@') ?? -1;
  if (!first?.address || at < 0) return undefined;
  return (
    first.address
      .slice(at + 1)
      .toLowerCase()
      .replace(/\.$/, '') || undefined
  );
}

/**
 * The domain whose records doctor asks about, or undefined for no email-dns line: mail must really be
 * sent (SMTP configured), and a name reserved for tests and examples is asked about nowhere; only
 * production hears about it, since there it means mail no mailbox will trust.
 */
export function emailDnsDomain(config: Config): string | undefined {
  if (!createSmtpChannel(config).status().configured) return undefined;
  const domain = senderDomain(config.FROM_EMAIL);
  if (!domain || (RESERVED.test(domain) && config.APP_ENV !== 'production')) return undefined;
  return domain;
}

/** The TXT records of a name, each one's strings joined; [] when it has none; a string when DNS could not be asked. */
async function txt(resolver: Resolver, name: string): Promise<string[] | string> {
  try {
    return (await resolver.resolveTxt(name)).map((chunks) => chunks.join(''));
  } catch (err) {
    const code = errorCode(err);
    if (code === 'ENODATA' || code === 'ENOTFOUND') return [];
    if (code === 'ETIMEOUT') return `ETIMEOUT: no answer within ${DNS_TIMEOUT_MS / 1000} s`;
    if (code === 'ESERVFAIL') return 'SERVFAIL: the DNS server failed to answer';
    if (code === 'ECONNREFUSED' || code === 'EREFUSED') return `${code}: the DNS server refused`;
    return code ?? String(err);
  }
}

/** One record's verdict: its part of the line's finding, and a fix when something is wrong. */
interface Part {
  finding: string;
  fix?: string;
}

const ASK_AGAIN = "Check that this host reaches its DNS servers (DNS_SERVERS, or the system's), then run doctor again.";
const unasked = (what: string, why: string): Part => ({
  finding: `${what}: DNS could not be asked (${why})`,
  fix: ASK_AGAIN,
});
const starts = (prefix: string) => (record: string) => record.trim().toLowerCase().startsWith(prefix);

/** The mechanism that names the SMTP server in SPF: ip4:/ip6: for an address, a: for a host name. */
function spfMechanism(server: string): string {
  const family = isIP(server);
  return family ? `ip${family}:${server}` : `a:${server}`;
}

/** `config` has SMTP_SERVER: emailDnsDomain asks only about a domain mail is sent from. */
function judgeSpf(records: string[] | string, domain: string, config: Config): Part {
  if (typeof records === 'string') return unasked('SPF', records);
  const spf = records.filter(starts('v=spf1'));
  if (spf.length === 0) {
    return {
      finding: `no SPF record on ${domain}`,
      fix: `Publish a TXT record on ${domain}: "v=spf1 ${spfMechanism(config.SMTP_SERVER!)} ~all" (or the include: your mail provider documents, e.g. include:_spf.google.com).`,
    };
  }
  if (spf.length > 1) {
    return {
      finding: `${spf.length} SPF records on ${domain} (receivers treat more than one as an error)`,
      fix: `Merge the SPF records of ${domain} into one TXT record starting v=spf1.`,
    };
  }
  if (/\s\+all\b/i.test(spf[0])) {
    return {
      finding: `SPF "${spf[0]}" lets every server on the internet send as ${domain} (+all)`,
      fix: `End the SPF record of ${domain} in ~all or -all.`,
    };
  }
  return { finding: `SPF "${spf[0]}"` };
}

function judgeDmarc(records: string[] | string, domain: string): Part {
  if (typeof records === 'string') return unasked('DMARC', records);
  const dmarc = records.filter(starts('v=dmarc1'));
  if (dmarc.length === 0) {
    return {
      finding: `no DMARC record at _dmarc.${domain}`,
      fix: `Publish a TXT record on _dmarc.${domain}: "v=DMARC1; p=none; rua=mailto:dmarc-reports@${domain}" (p=none only asks for reports; move to p=quarantine once they show only your own mail).`,
    };
  }
  if (dmarc.length > 1) {
    return {
      finding: `${dmarc.length} DMARC records at _dmarc.${domain} (receivers then apply none)`,
      fix: `Keep one TXT record starting v=DMARC1 at _dmarc.${domain}.`,
    };
  }
  const policy = /(?:^|;)\s*p\s*=\s*([a-z]+)/i.exec(dmarc[0])?.[1]?.toLowerCase();
  if (!policy) {
    return {
      finding: `DMARC at _dmarc.${domain} has no policy (p=)`,
      fix: `Add p=none (or quarantine, reject) to the DMARC record at _dmarc.${domain}.`,
    };
  }
  return { finding: `DMARC p=${policy}${policy === 'none' ? ' (reports only)' : ''}` };
}

function judgeDkim(records: string[] | string | undefined, domain: string, selector: string | undefined): Part {
  if (records === undefined) return { finding: 'DKIM not checked (DKIM_SELECTOR not set)' };
  const name = `${selector}._domainkey.${domain}`;
  if (typeof records === 'string') return unasked('DKIM', records);
  const key = records.find((r) => /(^|;)\s*(v\s*=\s*DKIM1|p\s*=)/i.test(r));
  if (!key) {
    return {
      finding: `no DKIM key at ${name}`,
      fix: `Publish the DKIM record your mail provider gives you as a TXT record on ${name}: "v=DKIM1; k=rsa; p=<its public key>" (or set DKIM_SELECTOR to the selector it signs with).`,
    };
  }
  if (/(^|;)\s*p\s*=\s*(;|$)/i.test(key)) {
    return {
      finding: `the DKIM key at ${name} is revoked (empty p=)`,
      fix: `Publish the current public key at ${name}, or set DKIM_SELECTOR to the selector your provider signs with now.`,
    };
  }
  return { finding: `DKIM key at ${name}` };
}

/**
 * SPF, DMARC and (with DKIM_SELECTOR) DKIM of the From domain, asked of DNS_SERVERS or the system's
 * servers: the records mailboxes use to decide whether mail from it is genuine. Reads only DNS.
 */
export async function checkEmailDns(config: Config, domain: string): Promise<Check> {
  if (RESERVED.test(domain)) {
    return warn(
      NAME,
      `FROM_EMAIL's domain ${domain} is reserved for tests and examples: it can publish no SPF or DMARC, so mailboxes refuse or bin its mail`,
      'Send from a domain you own (FROM_EMAIL) and publish its SPF, DMARC and DKIM records.',
    );
  }
  const resolver = new Resolver({ timeout: DNS_TIMEOUT_MS, tries: 1 });
  if (config.DNS_SERVERS) resolver.setServers(dnsServerList(config.DNS_SERVERS)!);
  const selector = config.DKIM_SELECTOR;
  const [spf, dmarc, dkim] = await Promise.all([
    txt(resolver, domain),
    txt(resolver, `_dmarc.${domain}`),
    selector ? txt(resolver, `${selector}._domainkey.${domain}`) : undefined,
  ]);
  const parts = [judgeSpf(spf, domain, config), judgeDmarc(dmarc, domain), judgeDkim(dkim, domain, selector)];
  const finding = `${domain}: ${parts.map((p) => p.finding).join('; ')}`;
  const fixes = [...new Set(parts.flatMap((p) => (p.fix ? [p.fix] : [])))];
  return fixes.length ? warn(NAME, finding, fixes.join(' ')) : ok(NAME, `${finding}; only DNS was asked`);
}
