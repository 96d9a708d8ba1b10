import { alignColumns } from './columns.ts';
import { CliError, UsageError } from './api-client.ts';
import { EnvFileError, loadEnvFile, type EnvFile } from '../env-file.ts';

interface Command {
  /** Where --help lists it. */
  group: 'service' | 'client' | 'operations';
  summary: string;
  /** Arguments and options after the command's name, e.g. 'login EMAIL [--password P] [--json]'. */
  usage: string;
  /** Each option and what it does, for --help. */
  options?: Array<[flag: string, meaning: string]>;
  /** One command line a user can copy. */
  example: string;
  run(args: string[]): Promise<void | number>;
}

/** The .env read from the working directory before a command runs (doctor reports it). */
let envFile: EnvFile | undefined;

const JSON_OPTION: [string, string] = ['--json', "print the API's JSON answer instead of sentences"];
const PASSWORD_NOTE = 'omit it to be asked without echo (a password on the command line is visible in the process list)';

/** Every command, in the order --help lists them; each loads its modules only when it runs. */
const COMMANDS: Record<string, Command> = {
  serve: {
    group: 'service',
    summary: 'Run the HTTP API and the delivery worker (DELIVERY_WORKER=off: the API only).',
    usage: 'serve',
    example: 'PORT=8000 panic-api serve',
    run: async () => (await import('./serve.ts')).serve('serve'),
  },
  worker: {
    group: 'service',
    summary: 'Run the delivery worker alone.',
    usage: 'worker',
    example: 'DATABASE_URL=postgres://postgres@127.0.0.1:5432/panic panic-api worker',
    run: async () => (await import('./serve.ts')).serve('worker'),
  },
  migrate: {
    group: 'service',
    summary: 'Apply pending database migrations and exit.',
    usage: 'migrate',
    example: 'DATABASE_URL=postgres://postgres@127.0.0.1:5432/panic panic-api migrate',
    run: async () => (await import('./serve.ts')).migrate(),
  },
  register: {
    group: 'client',
    summary: 'Create an account; a verification code is emailed.',
    usage: 'register EMAIL PHONE FIRST LAST [--password P] [--json]',
    options: [
      ['--password P', 'the account password (8+ characters); without it the account has none until a password reset'],
      JSON_OPTION,
    ],
    example: "panic-api register thandi@example.com '082 555 0123' Thandi Mokoena --password 'correct horse battery'",
    run: async (args) => (await import('./client/register.ts')).registerCommand(args),
  },
  send: {
    group: 'client',
    summary: 'Send a new email verification code.',
    usage: 'send EMAIL [--json]',
    options: [JSON_OPTION],
    example: 'panic-api send thandi@example.com',
    run: async (args) => (await import('./client/send.ts')).sendCommand(args),
  },
  verify: {
    group: 'client',
    summary: 'Verify the email address with its code.',
    usage: 'verify EMAIL OTP [--json]',
    options: [JSON_OPTION],
    example: 'panic-api verify thandi@example.com 482913',
    run: async (args) => (await import('./client/verify.ts')).verifyCommand(args),
  },
  login: {
    group: 'client',
    summary: 'Log in and save the session in ~/.config/panic-api/session.json (PANIC_API_SESSION_FILE).',
    usage: 'login EMAIL [--password P] [--json]',
    options: [['--password P', `the password; ${PASSWORD_NOTE}`], ['--json', "print the API's JSON answer (it holds the tokens)"]],
    example: 'panic-api login thandi@example.com',
    run: async (args) => (await import('./client/login.ts')).loginCommand(args),
  },
  me: {
    group: 'client',
    summary: 'Show the logged-in account and what is verified.',
    usage: 'me [--json]',
    options: [JSON_OPTION],
    example: 'panic-api me',
    run: async (args) => (await import('./client/me.ts')).meCommand(args),
  },
  'verify-phone': {
    group: 'client',
    summary: "Text a code to the account's phone, or to a new number.",
    usage: 'verify-phone [--phone P] [--json]',
    options: [['--phone P', 'a new number to verify instead (it replaces the old one once verified)'], JSON_OPTION],
    example: 'panic-api verify-phone',
    run: async (args) => (await import('./client/verify-phone.ts')).verifyPhoneCommand(args),
  },
  'verify-phone-otp': {
    group: 'client',
    summary: 'Verify the phone with the code from the SMS.',
    usage: 'verify-phone-otp OTP [--json]',
    options: [JSON_OPTION],
    example: 'panic-api verify-phone-otp 551204',
    run: async (args) => (await import('./client/verify-phone-otp.ts')).verifyPhoneOtpCommand(args),
  },
  'forgot-password': {
    group: 'client',
    summary: 'Email a password reset code.',
    usage: 'forgot-password EMAIL [--json]',
    options: [JSON_OPTION],
    example: 'panic-api forgot-password thandi@example.com',
    run: async (args) => (await import('./client/forgot-password.ts')).forgotPasswordCommand(args),
  },
  'reset-password': {
    group: 'client',
    summary: 'Set a new password with the reset code; every session is signed out.',
    usage: 'reset-password EMAIL OTP [--password NEW] [--json]',
    options: [['--password NEW', `the new password (8+ characters); ${PASSWORD_NOTE}`], JSON_OPTION],
    example: 'panic-api reset-password thandi@example.com 730158',
    run: async (args) => (await import('./client/reset-password.ts')).resetPasswordCommand(args),
  },
  logout: {
    group: 'client',
    summary: 'Revoke the session on the server and delete the session file.',
    usage: 'logout [--json]',
    options: [JSON_OPTION],
    example: 'panic-api logout',
    run: async (args) => (await import('./client/logout.ts')).logoutCommand(args),
  },
  doctor: {
    group: 'operations',
    summary: 'Check config, secrets, database, SMTP, SMS and Redis without sending anything; say what to fix.',
    usage: 'doctor [--json]',
    options: [['--json', 'print {"ok", "checks": [{name, status, finding, fix}]}']],
    example: 'panic-api doctor',
    run: async (args) => (await import('./doctor.ts')).doctor(args, process.env, envFile),
  },
  prune: {
    group: 'operations',
    summary: 'Remove what is past its keeping time (old messages, dead tokens and codes, unverified accounts) now; the worker does it every 10 minutes.',
    usage: 'prune [--dry-run] [--json]',
    options: [
      ['--dry-run', 'count what would be removed, remove nothing'],
      ['--json', 'print {"dry_run", "removed": {table: rows}}'],
    ],
    example: 'DATABASE_URL=postgres://postgres@127.0.0.1:5432/panic panic-api prune --dry-run',
    run: async (args) => (await import('./prune.ts')).pruneCommand(args),
  },
  inbox: {
    group: 'operations',
    summary: 'Development: the latest codes from the dev inbox of a running server.',
    usage: 'inbox [--to X] [--json] [--follow] [--limit N]',
    options: [
      ['-t, --to X', 'only messages to this email or phone (case-insensitive; "082 555 0123" finds +27825550123)'],
      ['--json', 'print the messages as JSON (with --follow: one JSON object per line)'],
      ['-f, --follow', 'keep watching: print new messages every 2 s until Ctrl-C'],
      ['--limit N', 'rows in the table (default 20, at most 100)'],
    ],
    example: 'panic-api inbox --to thandi@example.com',
    run: async (args) => (await import('./inbox.ts')).inboxCommand(args),
  },
  messages: {
    group: 'operations',
    summary: 'The delivery log of a running server, with the reason of each failure (needs ADMIN_TOKEN).',
    usage: 'messages [--to X] [--status S] [--limit N] [--json]',
    options: [
      ['--to X', 'only messages to this email or phone'],
      ['--status S', 'only this status: queued, sending, sent, failed or captured'],
      ['--limit N', 'at most N messages'],
      ['--json', 'print the messages as JSON'],
    ],
    example: 'ADMIN_TOKEN=… panic-api messages --to thandi@example.com',
    run: async (args) => (await import('./messages.ts')).messagesCommand(args),
  },
};

const GROUPS: Record<Command['group'], string> = {
  service: 'Run the service',
  client: 'Use a running API (API_BASE_URL, default http://localhost:8000)',
  operations: 'Operations',
};

const optionLines = (options: Array<[string, string]>, indent: string): string[] => alignColumns(options, { indent }).lines;

function usage(): string {
  const lines = ['Usage: panic-api <command> [arguments] [options]', ''];
  for (const [group, title] of Object.entries(GROUPS)) {
    lines.push(`${title}:`);
    for (const c of Object.values(COMMANDS)) {
      if (c.group !== group) continue;
      lines.push(`  ${c.usage}`, `      ${c.summary}`);
      if (c.options) lines.push(...optionLines(c.options, '      '));
      lines.push(`      example: ${c.example}`);
    }
    lines.push('');
  }
  lines.push(
    'Every command also takes -h, --help. Configuration comes from the environment and from .env in the working directory (see .env.example and README.md).',
    'Exit codes: 0 success, 1 failure (one sentence on stderr), 2 wrong arguments.',
  );
  return lines.join('\n');
}

function commandHelp(c: Command): string {
  const lines = [`Usage: panic-api ${c.usage}`, '', c.summary];
  if (c.group === 'client') lines.push('Talks to the API at API_BASE_URL (default http://localhost:8000).');
  lines.push('', 'Options:', ...optionLines([...(c.options ?? []), ['-h, --help', 'show this help']], '  '));
  lines.push('', 'Example:', `  ${c.example}`);
  return lines.join('\n');
}

/** `--help`/`-h` anywhere before a `--`. */
const wantsHelp = (args: string[]): boolean => {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
};

/** node:util parseArgs' refusals (an unknown option, a missing value, an extra argument): usage errors, exit 2. */
const isParseArgsError = (err: unknown): err is Error => err instanceof Error && String((err as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS_');

async function run(command: string | undefined, args: string[]): Promise<void> {
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    const about = command === 'help' && args[0] !== undefined && Object.hasOwn(COMMANDS, args[0]) ? args[0] : undefined;
    process.stdout.write(`${about ? commandHelp(COMMANDS[about]) : usage()}\n`);
    return;
  }
  const found = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!found) {
    process.stderr.write(`Unknown command "${command}".\n\n${usage()}\n`);
    process.exit(2);
  }
  if (wantsHelp(args)) {
    process.stdout.write(`${commandHelp(found)}\n`);
    return;
  }
  try {
    envFile = loadEnvFile();
  } catch (err) {
    if (!(err instanceof EnvFileError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  try {
    const code = await found.run(args);
    if (typeof code === 'number') process.exitCode = code;
  } catch (err) {
    if (!(err instanceof UsageError) && !isParseArgsError(err)) throw err;
    process.stderr.write(`${err.message}\nUsage: panic-api ${found.usage}\n(panic-api ${command} --help shows the options and an example.)\n`);
    process.exit(2);
  }
}

run(process.argv[2], process.argv.slice(3)).catch((err) => {
  process.stderr.write(err instanceof CliError ? `${err.message}\n` : `panic-api: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
