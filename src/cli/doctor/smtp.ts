import nodemailer from 'nodemailer';
import type { Config } from '../../config/settings.ts';
import { createSmtpChannel, smtpTransportOptions } from '../../delivery/channels/smtp.ts';
import {
  errorCode,
  errorText,
  explainCode,
  fail,
  missingSeverity,
  NETWORK_CODES,
  ok,
  warn,
  type Check,
} from './types.ts';

const NAME = 'smtp';
const SETTINGS = 'SMTP_SERVER, SMTP_PORT, SMTP_USERNAME, SMTP_PASSWORD and FROM_EMAIL';

const UNTRUSTED = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);
const WRONG_PROTOCOL = new Set([
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_SSL_PACKET_LENGTH_TOO_LONG',
  'ERR_SSL_HTTP_REQUEST',
  'EPROTO',
]);

/** A nodemailer error from verify(), in words a person can act on. */
export function describeSmtpError(err: unknown, config: Pick<Config, 'SMTP_SERVER' | 'SMTP_PORT'>): Check {
  const where = `${config.SMTP_SERVER}:${config.SMTP_PORT}`;
  const implicitTls = config.SMTP_PORT === 465;
  const e = err as { code?: string; responseCode?: number; response?: string; reason?: string };
  const code = errorCode(err);
  const text = errorText(err);

  if (e.code === 'EAUTH') {
    const said = e.response ?? text.replace(/^Invalid login:\s*/, '');
    return fail(
      NAME,
      `SMTP server refused the username or password (${said})`,
      'Check SMTP_USERNAME and SMTP_PASSWORD. Many providers (Gmail, Microsoft 365) need an app password or SMTP AUTH enabled for the mailbox.',
    );
  }
  if (code && UNTRUSTED.has(code)) {
    return fail(
      NAME,
      `TLS handshake failed: the server's certificate is not trusted (${text}, ${code})`,
      "Give the mail server a certificate from a public CA (e.g. Let's Encrypt), or trust its CA with NODE_EXTRA_CA_CERTS; " +
        'SMTP_TLS_REJECT_UNAUTHORIZED=false only for a named test server, never in production.',
    );
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return fail(
      NAME,
      `TLS handshake failed: the server's certificate is out of date (${text})`,
      "Renew the mail server's certificate, and check this host's clock.",
    );
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return fail(
      NAME,
      `TLS handshake failed: the server's certificate is not valid for ${config.SMTP_SERVER} (${text})`,
      "Set SMTP_SERVER to a host name the certificate names (often the provider's smtp.… name, not an IP address or alias).",
    );
  }
  if (
    (code && WRONG_PROTOCOL.has(code)) ||
    /wrong version number|packet length too long/i.test(`${e.reason ?? ''} ${text}`)
  ) {
    return implicitTls
      ? fail(
          NAME,
          `TLS handshake failed at ${where}: port 465 means TLS from the first byte, but this server answered in plain text (it expects STARTTLS)`,
          'Use the port this server offers STARTTLS on (usually SMTP_PORT=587), or point SMTP_SERVER at the server that serves implicit TLS on 465.',
        )
      : fail(
          NAME,
          `TLS handshake failed at ${where} during STARTTLS (${e.reason ?? text})`,
          'Check SMTP_PORT: 587 is STARTTLS, 465 is implicit TLS (set SMTP_PORT=465 for it); a proxy or antivirus intercepting port 25/587 can also cause this.',
        );
  }
  if (e.code === 'ETIMEDOUT' && /greeting/i.test(text)) {
    return fail(
      NAME,
      implicitTls
        ? `SMTP server at ${where} accepted the connection but never answered the TLS handshake`
        : `Connected to ${where}, but the server sent no SMTP greeting: it probably expects TLS from the first byte (implicit TLS, as on port 465)`,
      implicitTls
        ? 'Check SMTP_PORT with your provider; a firewall or proxy may be swallowing the connection.'
        : 'If this port is implicit TLS, use SMTP_PORT=465 (doctor and the service switch to implicit TLS on 465); otherwise check for a firewall or proxy holding the connection.',
    );
  }
  if (e.code === 'EPROTOCOL') {
    return fail(
      NAME,
      `The server at ${where} does not speak SMTP (${text})`,
      'Check SMTP_SERVER and SMTP_PORT: they point at another kind of service.',
    );
  }
  if (e.code === 'ETLS') {
    return fail(
      NAME,
      `TLS handshake failed at ${where} (${text})`,
      "Check SMTP_PORT (587 STARTTLS, 465 implicit TLS) and the server's TLS setup.",
    );
  }
  if ((code && NETWORK_CODES.has(code)) || e.code === 'ECONNECTION' || e.code === 'ESOCKET' || e.code === 'EDNS') {
    return fail(
      NAME,
      `SMTP server not reachable at ${where} (${explainCode(code)})`,
      'Check SMTP_SERVER and SMTP_PORT, and that this host may connect there: firewalls, security groups and some hosting providers block outbound 25/465/587.',
    );
  }
  return fail(NAME, `SMTP check failed at ${where}: ${e.code ?? 'error'}: ${text}`, `Check ${SETTINGS}.`);
}

/** Settings present and real, then connect, TLS and AUTH with nodemailer's verify(): no mail is sent. */
export async function checkSmtp(config: Config): Promise<Check> {
  const state = createSmtpChannel(config).status();
  if (!state.configured) {
    const { placeholders, missing } = state;
    if (placeholders.length) {
      return fail(
        NAME,
        `SMTP credentials are placeholder values (${placeholders.join(', ')})`,
        `Replace ${placeholders.join(', ')} with the real values from your mail provider${config.isDevelopment ? ', or unset every SMTP_* setting to use the dev inbox' : ''}.`,
      );
    }
    const what =
      missing.length === Object.keys(state.settings).length
        ? 'SMTP not configured'
        : `SMTP not fully configured (${missing.join(', ')} not set)`;
    return missingSeverity(config.APP_ENV) === 'warn'
      ? warn(
          NAME,
          `${what}: codes go to the dev inbox and the log`,
          `Fine for development (open /dev/inbox). To send real email set ${SETTINGS}.`,
        )
      : fail(NAME, `${what}: no verification email can be sent`, `Set ${SETTINGS}.`);
  }

  let tls = config.SMTP_PORT === 465;
  let authenticated = false;
  const observe = (entry: { action?: string } | undefined, message: unknown) => {
    if (/upgraded with STARTTLS|^Secure connection/i.test(String(message))) tls = true;
    if (entry?.action === 'authenticated') authenticated = true;
  };
  const quiet = () => undefined;
  const transport = nodemailer.createTransport({
    ...smtpTransportOptions(config),
    connectionTimeout: 7000,
    greetingTimeout: 7000,
    socketTimeout: 9000,
    // only info lines are looked at (to learn whether TLS and AUTH happened); debug transcripts stay off
    logger: {
      level: quiet,
      trace: quiet,
      debug: quiet,
      info: observe,
      warn: quiet,
      error: quiet,
      fatal: quiet,
    } as never,
  });
  try {
    await transport.verify();
  } catch (err) {
    return describeSmtpError(err, config);
  } finally {
    transport.close();
  }

  const where = `${config.SMTP_SERVER}:${config.SMTP_PORT}`;
  const steps = [
    tls ? (config.SMTP_PORT === 465 ? 'TLS' : 'STARTTLS') : 'no TLS',
    authenticated ? 'login accepted' : 'no login asked',
  ];
  if (!tls) {
    return warn(
      NAME,
      `SMTP server at ${where} accepts mail, but without TLS (${steps.join(', ')}): the password and codes cross the network readable`,
      'Use a port where the server offers STARTTLS (587) or implicit TLS (465).',
    );
  }
  if (!config.SMTP_TLS_REJECT_UNAUTHORIZED) {
    return warn(
      NAME,
      `SMTP server at ${where} accepts mail (${steps.join(', ')}), but its certificate is not verified (SMTP_TLS_REJECT_UNAUTHORIZED=false)`,
      'Keep SMTP_TLS_REJECT_UNAUTHORIZED=false only for a named test server; production needs a trusted certificate and the default (true).',
    );
  }
  if (!authenticated) {
    return warn(
      NAME,
      `SMTP server at ${where} answered with ${steps[0]} but offered no AUTH, so SMTP_USERNAME and SMTP_PASSWORD were not tried`,
      'Check SMTP_SERVER and SMTP_PORT with your provider: a server that takes no login usually refuses to relay mail to outside addresses.',
    );
  }
  return ok(NAME, `SMTP server at ${where} accepts mail: ${steps.join(', ')}; nothing was sent`);
}
