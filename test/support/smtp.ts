import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerError } from 'smtp-server';
import { simpleParser } from 'mailparser';
import { generate } from 'selfsigned';
import { waitForMessage } from './wait.ts';

export interface ReceivedMail {
  envelopeTo: string[];
  /** MAIL FROM address */
  envelopeFrom: string;
  /** From header as text, e.g. `"Panic" <no-reply@example.com>` */
  from: string;
  subject: string;
  text: string;
  html: string;
  raw: string;
  /** true when the session was TLS (i.e. STARTTLS happened) */
  secure: boolean;
  /** user name the session authenticated as */
  user: string;
}

export interface SmtpFixture {
  host: '127.0.0.1';
  port: number;
  username: string;
  password: string;
  messages: ReceivedMail[];
  /** number of rejected AUTH attempts */
  readonly authFailures: number;
  /** number of messages whose data arrived (accepted or not) */
  readonly dataReceived: number;
  /** number of connections clients opened */
  readonly connections: number;
  waitFor(to: string, opts?: { timeoutMs?: number; count?: number }): Promise<ReceivedMail>;
  close(): Promise<void>;
}

export interface SmtpOptions {
  username?: string;
  password?: string;
  rejectRecipients?: RegExp;
  tempFailRecipients?: RegExp;
  /** Listen on this port (0, the default, picks a free one). */
  port?: number;
  /** Awaited after a message's data arrived and before it is accepted: holds a send in flight. */
  beforeAccept?: () => Promise<void>;
}

function smtpError(code: number, message: string): SMTPServerError {
  return Object.assign(new Error(message), { responseCode: code });
}

export async function startSmtpServer(opts: SmtpOptions = {}): Promise<SmtpFixture> {
  const { username = 'mailer', password = 'mail-secret', rejectRecipients, tempFailRecipients, beforeAccept } = opts;
  // EC keys keep certificate generation fast enough to do per fixture.
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  });
  const messages: ReceivedMail[] = [];
  let authFailures = 0;
  let dataReceived = 0;
  let connections = 0;

  const server = new SMTPServer({
    key: pems.private,
    cert: pems.cert,
    secure: false, // plain connection, upgraded by STARTTLS
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: false,
    allowInsecureAuth: false, // AUTH is only offered after STARTTLS
    closeTimeout: 200,
    logger: false,
    onConnect(_session, cb) {
      connections++;
      cb();
    },
    onAuth(auth, _session, cb) {
      if (auth.username === username && auth.password === password) return cb(null, { user: username });
      authFailures++;
      cb(smtpError(535, 'Error: Authentication credentials invalid'));
    },
    onRcptTo(address, _session, cb) {
      if (rejectRecipients?.test(address.address)) return cb(smtpError(550, `Mailbox unavailable: ${address.address}`));
      if (tempFailRecipients?.test(address.address)) return cb(smtpError(451, `Try again later: ${address.address}`));
      cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', cb);
      stream.on('end', async () => {
        const raw = Buffer.concat(chunks);
        dataReceived++;
        await beforeAccept?.();
        simpleParser(raw).then(
          (parsed) => {
            messages.push({
              envelopeTo: session.envelope.rcptTo.map((a) => a.address),
              envelopeFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              from: parsed.from?.text ?? '',
              subject: parsed.subject ?? '',
              text: parsed.text ?? '',
              html: parsed.html || '',
              raw: raw.toString('utf8'),
              secure: session.secure,
              user: String(session.user ?? ''),
            });
            cb();
          },
          (err: Error) => cb(smtpError(554, `Unparseable message: ${err.message}`)),
        );
      });
    },
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.server.address() as AddressInfo;

  return {
    host: '127.0.0.1',
    port,
    username,
    password,
    messages,
    get authFailures() {
      return authFailures;
    },
    get dataReceived() {
      return dataReceived;
    },
    get connections() {
      return connections;
    },
    waitFor(to, o) {
      const want = to.toLowerCase();
      return waitForMessage(messages, (m) => m.envelopeTo.some((a) => a.toLowerCase() === want), `mail to ${to}`, o);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Holds the answer to each message's data until released: pass its `beforeAccept` to startSmtpServer. */
export function holdingSmtp() {
  const held: Array<() => void> = [];
  let holding = true;
  return {
    beforeAccept: () => (holding ? new Promise<void>((resolve) => held.push(resolve)) : Promise.resolve()),
    release() {
      holding = false;
      for (const resolve of held.splice(0)) resolve();
    },
  };
}
