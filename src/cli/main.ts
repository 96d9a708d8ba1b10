import { ALL_STATUSES } from '../shared/vocabulary.ts';
import { InvalidArgumentError, type Command, type CommanderError } from 'commander';
import { CLIENT_GROUP, commandPath, commandsOf, formatHelp, PanicCommand, usageLine } from './help.ts';
import { CliError, UsageError } from './errors.ts';
import { EnvFileError, loadEnvFile, type EnvFile } from '../config/env-file.ts';
import { newSpaceHeldWhileStarting } from './start-heap.ts';

/** The .env read from the working directory before a command runs (doctor reports it). */
let envFile: EnvFile | undefined;

const JSON_OPTION = "print the API's JSON answer instead of sentences";
const PASSWORD_NOTE =
  'omit it to be asked without echo (a password on the command line is visible in the process list)';

/**
 * A command's action, loaded from its module only when it runs (startup stays fast). commander calls
 * it with the arguments, then the options; what it returns is the exit code. A UsageError it throws
 * is refused the way commander refuses arguments (see refuse below).
 */
function lazy<F extends (...args: any[]) => Promise<number | void>>(load: () => Promise<F>) {
  return async function (this: Command, ...args: Parameters<F>): Promise<void> {
    try {
      const code = await (await load())(...args);
      if (typeof code === 'number') process.exitCode = code;
    } catch (err) {
      if (err instanceof UsageError) this.error(err.message, { exitCode: 2, code: 'panic-api.usage' });
      throw err;
    }
  };
}

/** `--limit N` of inbox: a whole number of rows, 1 to 100. */
function rowCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 100)
    throw new InvalidArgumentError('It must be a whole number from 1 to 100.');
  return n;
}

const program = new PanicCommand('panic-api')
  // a command's options stop at its subcommand: `sessions revoke --json` is revoke's --json, not sessions'
  .enablePositionalOptions()
  .helpOption('-h, --help', 'show this help')
  .configureHelp({ formatHelp })
  .configureOutput({ outputError: () => {} }) // refuse() below writes the refusal with the usage line
  .hook('preAction', () => {
    try {
      envFile = loadEnvFile();
    } catch (err) {
      if (!(err instanceof EnvFileError)) throw err;
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
  });

program.commandsGroup('Run the service:');
program
  .command('serve')
  .description('Run the HTTP API and the delivery worker (DELIVERY_WORKER=off: the API only).')
  .example('PORT=8000 panic-api serve')
  .action(
    lazy(async () => {
      const started = newSpaceHeldWhileStarting();
      const { serve } = await import('./serve.ts');
      return () => serve('serve').finally(started);
    }),
  );
program
  .command('worker')
  .description('Run the delivery worker alone.')
  .example('DATABASE_URL=postgres://postgres@127.0.0.1:5432/panic panic-api worker')
  .action(
    lazy(async () => {
      const started = newSpaceHeldWhileStarting();
      const { serve } = await import('./serve.ts');
      return () => serve('worker').finally(started);
    }),
  );
program
  .command('migrate')
  .description('Apply pending database migrations and exit.')
  .example('DATABASE_URL=postgres://postgres@127.0.0.1:5432/panic panic-api migrate')
  .action(lazy(async () => (await import('./serve.ts')).migrate));

program.commandsGroup(CLIENT_GROUP);
program
  .command('register')
  .description('Create an account; a verification code is emailed.')
  .argument('<EMAIL>')
  .argument('<PHONE>')
  .argument('<FIRST>')
  .argument('<LAST>')
  .option(
    '--password <P>',
    'the account password (8+ characters); without it the account has none until a password reset',
  )
  .option('--json', JSON_OPTION)
  .example("panic-api register thandi@example.com '082 555 0123' Thandi Mokoena --password 'correct horse battery'")
  .action(lazy(async () => (await import('./client/register.ts')).registerCommand));
program
  .command('send')
  .description('Send a new email verification code.')
  .argument('<EMAIL>')
  .option('--json', JSON_OPTION)
  .example('panic-api send thandi@example.com')
  .action(lazy(async () => (await import('./client/send.ts')).sendCommand));
program
  .command('verify')
  .description('Verify the email address with its code.')
  .argument('<EMAIL>')
  .argument('<OTP>')
  .option('--json', JSON_OPTION)
  .example('panic-api verify thandi@example.com 482913')
  .action(lazy(async () => (await import('./client/verify.ts')).verifyCommand));
program
  .command('login')
  .description('Log in and save the session in ~/.config/panic-api/session.json (PANIC_API_SESSION_FILE).')
  .argument('<EMAIL|PHONE>', 'the email; or, with --code, the email or the verified phone')
  .option('--password <P>', `the password; ${PASSWORD_NOTE}`)
  .option(
    '--code [OTP]',
    'sign in with a code instead (e.g. login +27825550123 --code): alone, a code is sent and asked for; with OTP, the code sent earlier',
  )
  .option('--json', "print the API's JSON answer (it holds the tokens)")
  .example('panic-api login thandi@example.com')
  .action(lazy(async () => (await import('./client/login.ts')).loginCommand));
program
  .command('me')
  .description('Show the logged-in account and what is verified.')
  .option('--json', JSON_OPTION)
  .example('panic-api me')
  .action(lazy(async () => (await import('./client/me.ts')).meCommand));
program
  .command('verify-phone')
  .description("Text a code to the account's phone, or to a new number.")
  .option('--phone <P>', 'a new number to verify instead (it replaces the old one once verified)')
  .option('--password <P>', `the account's password, to replace a verified phone; ${PASSWORD_NOTE}`)
  .option('--otp <CODE>', "a sign-in code sent to the account's email instead of the password")
  .option('--json', JSON_OPTION)
  .example('panic-api verify-phone')
  .action(lazy(async () => (await import('./client/verify-phone.ts')).verifyPhoneCommand));
program
  .command('verify-phone-otp')
  .description('Verify the phone with the code from the SMS.')
  .argument('<OTP>')
  .option('--json', JSON_OPTION)
  .example('panic-api verify-phone-otp 551204')
  .action(lazy(async () => (await import('./client/verify-phone-otp.ts')).verifyPhoneOtpCommand));
program
  .command('change-email')
  .description(
    'Move the account to a new email address: a code goes there, then --code CODE switches (the old address is told).',
  )
  .argument('[NEW]')
  .option('--password <P>', `the account's password; ${PASSWORD_NOTE}`)
  .option('--otp <CODE>', 'a sign-in code instead of the password (an account without one)')
  .option('--code <CODE>', 'the code sent to the new address: the account moves there')
  .option('--json', JSON_OPTION)
  .example('panic-api change-email thandi@example.org')
  .action(lazy(async () => (await import('./client/change-email.ts')).changeEmailCommand));
program
  .command('forgot-password')
  .description('Email a password reset code.')
  .argument('<EMAIL>')
  .option('--json', JSON_OPTION)
  .example('panic-api forgot-password thandi@example.com')
  .action(lazy(async () => (await import('./client/forgot-password.ts')).forgotPasswordCommand));
program
  .command('reset-password')
  .description('Set a new password with the reset code; every session is signed out.')
  .argument('<EMAIL>')
  .argument('<OTP>')
  .option('--password <NEW>', `the new password (8+ characters); ${PASSWORD_NOTE}`)
  .option('--json', JSON_OPTION)
  .example('panic-api reset-password thandi@example.com 730158')
  .action(lazy(async () => (await import('./client/reset-password.ts')).resetPasswordCommand));
const sessions = program
  .command('sessions')
  .description('List your sessions: each device, its network, how and when it signed in, when it was last used.')
  .option('--json', JSON_OPTION)
  .example('panic-api sessions')
  .action(lazy(async () => (await import('./client/sessions.ts')).sessionsCommand));
sessions
  .command('revoke')
  .description('End one of your sessions by its ID (this one: a logout), or with --others every one but this.')
  .argument('[ID]')
  .option('--others', 'every session but this one')
  .option('--json', JSON_OPTION)
  .example('panic-api sessions revoke --others')
  .action(lazy(async () => (await import('./client/sessions.ts')).revokeSessionCommand));
program
  .command('password')
  .description('Change your password with the current one; every other session is signed out, this one stays.')
  .option('--current <P>', `the current password; ${PASSWORD_NOTE}`)
  .option('--password <NEW>', `the new password (8+ characters); ${PASSWORD_NOTE}`)
  .option('--json', JSON_OPTION)
  .example('panic-api password')
  .action(lazy(async () => (await import('./client/password.ts')).passwordCommand));
program
  .command('logout')
  .description('Revoke the session on the server and delete the session file.')
  .option('--json', JSON_OPTION)
  .example('panic-api logout')
  .action(lazy(async () => (await import('./client/logout.ts')).logoutCommand));
program
  .command('export')
  .description(
    'Everything the service holds about you, as one JSON document: the account, sessions, codes (never the code), events, messages (never their text).',
  )
  .option('--out <FILE>', 'write it to FILE, readable only by you, instead of printing it')
  .example('panic-api export --out my-panic-data.json')
  .action(lazy(async () => (await import('./client/export.ts')).exportCommand));
program
  .command('delete-account')
  .description(
    'Delete your account for good: your address and phone are erased from what is kept, the address can register again, and the session file goes.',
  )
  .option('--password <P>', `the account's password; ${PASSWORD_NOTE}`)
  .option('--otp <CODE>', 'a sign-in code instead of the password (an account without one)')
  .option('--yes', "delete without typing the account's email to confirm (needed without a terminal)")
  .option('--json', JSON_OPTION)
  .example('panic-api delete-account')
  .action(lazy(async () => (await import('./client/delete-account.ts')).deleteAccountCommand));

program.commandsGroup('Operations:');
program
  .command('doctor')
  .description('Check config, secrets, database, SMTP, SMS and Redis without sending anything; say what to fix.')
  .option('--json', 'print {"ok", "checks": [{name, status, finding, fix}]}')
  .example('panic-api doctor')
  .action(
    lazy(async () => {
      const { doctor } = await import('./doctor.ts');
      return (opts: { json?: boolean }) => doctor(opts, process.env, envFile);
    }),
  );
program
  .command('prune')
  .description(
    'Remove what is past its keeping time (old messages, dead tokens and codes, unverified accounts) now; the worker does it every 10 minutes.',
  )
  .option('--dry-run', 'count what would be removed, remove nothing')
  .option('--json', 'print {"dry_run", "removed": {table: rows}}')
  .example('DATABASE_URL=postgres://postgres@127.0.0.1:5432/panic panic-api prune --dry-run')
  .action(lazy(async () => (await import('./prune.ts')).pruneCommand));
program
  .command('inbox')
  .description('Development: the latest codes from the dev inbox of a running server.')
  .option('-t, --to <X>', 'only messages to this email or phone (case-insensitive; "082 555 0123" finds +27825550123)')
  .option('--json', 'print the messages as JSON (with --follow: one JSON object per line)')
  .option('-f, --follow', 'keep watching: print new messages every 2 s until Ctrl-C')
  .option('--limit <N>', 'rows in the table (default 20, at most 100)', rowCount, 20)
  .example('panic-api inbox --to thandi@example.com')
  .action(lazy(async () => (await import('./inbox.ts')).inboxCommand));
program
  .command('why')
  .description(
    'Why codes to an address or number do not arrive: its recent messages, a suppression, the limits blocking it now, the cause and the fix (needs ADMIN_TOKEN).',
  )
  .argument('<EMAIL|PHONE>')
  .option('--json', 'print the report as JSON')
  .example('ADMIN_TOKEN=… panic-api why thandi@example.com')
  .action(lazy(async () => (await import('./why.ts')).whyCommand));
program
  .command('messages')
  .description('The delivery log of a running server, with the reason of each failure (needs ADMIN_TOKEN).')
  .option('--to <X>', 'only messages to this email or phone')
  .option('--status <S>', `only this status: ${ALL_STATUSES.join(', ')}`)
  .option('--limit <N>', 'at most N messages')
  .option('--json', 'print the messages as JSON')
  .example('ADMIN_TOKEN=… panic-api messages --to thandi@example.com')
  .action(lazy(async () => (await import('./messages.ts')).messagesCommand));
program
  .command('events')
  .description(
    "An account's event log, newest first: sign-ins and from which network, failed ones, verifications, sessions ended (needs ADMIN_TOKEN).",
  )
  .argument('<EMAIL|PHONE|ID>')
  .option('--type <T>', 'only this kind of event (login_succeeded, login_failed, phone_changed, …)')
  .option('--since <TIME>', 'only events at or after this time (ISO 8601, e.g. 2025-06-01T00:00:00Z)')
  .option('--limit <N>', 'events a page (default 50, at most 500)')
  .option('--cursor <C>', 'the next (older) page, as the last one printed')
  .option('--json', 'print the page as JSON')
  .example('ADMIN_TOKEN=… panic-api events thandi@example.com --type login_succeeded')
  .action(lazy(async () => (await import('./events.ts')).eventsCommand));
program
  .command('user')
  .description(
    "Support's lookup of a person by email or phone (any spelling): the account, what is verified, its language, when it was made (needs ADMIN_TOKEN).",
  )
  .argument('<EMAIL|PHONE>')
  .option('--json', 'print {"user": …} as JSON')
  .example("ADMIN_TOKEN=… panic-api user '082 555 0123'")
  .action(lazy(async () => (await import('./users.ts')).userCommand));
program
  .command('delete-user')
  .description(
    "Delete a person's account when they ask to be forgotten: their address and phone are erased from what is kept (needs ADMIN_TOKEN).",
  )
  .argument('<ID|EMAIL|PHONE>')
  .option('--yes', 'delete without typing its email (or the id given) back to confirm (needed without a terminal)')
  .option('--json', JSON_OPTION)
  .example('ADMIN_TOKEN=… panic-api delete-user thandi@example.com')
  .action(lazy(async () => (await import('./users.ts')).deleteUserCommand));

/** The arguments a command is missing, by the names it declares: "Missing EMAIL and OTP." */
function missing(cmd: Command): string {
  const names = cmd.registeredArguments
    .slice(cmd.args.length)
    .filter((a) => a.required)
    .map((a) => a.name());
  return `Missing ${names.join(' and ')}.`;
}

/** commander's "error: unknown option '--x'" as a sentence of ours. */
const sentence = (message: string) => message.replace(/^error: (.)/, (_, first: string) => first.toUpperCase());

/**
 * Where commander stops: help shown (exit 0), or arguments refused (exit 2) with one sentence, the
 * command's usage line and where to read more.
 */
function refuse(cmd: Command, err: CommanderError): never {
  if (err.exitCode === 0) process.exit(0);
  if (err.code === 'commander.unknownCommand') {
    process.stderr.write(`Unknown command "${cmd.args[0]}".\n\n${cmd.helpInformation()}`);
  } else {
    const why = err.code === 'commander.missingArgument' ? missing(cmd) : sentence(err.message);
    const more = cmd.parent ? `\n(panic-api ${commandPath(cmd)} --help shows the options and an example.)` : '';
    process.stderr.write(`${why}\nUsage: ${usageLine(cmd)}${more}\n`);
  }
  process.exit(2);
}

for (const cmd of [program, ...commandsOf(program)]) cmd.exitOverride((err) => refuse(cmd, err));

// No command at all: the overview, as `--help` prints it.
const args = process.argv.slice(2);
program.parseAsync(args.length ? args : ['--help'], { from: 'user' }).catch((err) => {
  process.stderr.write(
    err instanceof CliError ? `${err.message}\n` : `panic-api: ${err instanceof Error ? err.message : String(err)}\n`,
  );
  process.exit(1);
});
