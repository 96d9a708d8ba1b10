import { CliError } from './api-client.ts';

interface Command {
  summary: string;
  run(args: string[]): Promise<void | number>;
}

/** Every command, in the order --help lists them; each loads its modules only when it runs. */
const COMMANDS: Record<string, Command> = {
  serve: { summary: 'run the HTTP API and the delivery worker (DELIVERY_WORKER=off: API only)', run: async () => (await import('./serve.ts')).serve('serve') },
  worker: { summary: 'run the delivery worker alone', run: async () => (await import('./serve.ts')).serve('worker') },
  migrate: { summary: 'apply pending database migrations and exit', run: async () => (await import('./serve.ts')).migrate() },
  doctor: { summary: 'check config, database, SMTP, SMS and Redis; say what to fix [--json]', run: async (args) => (await import('./doctor.ts')).doctor(args) },
  inbox: { summary: 'latest codes from the dev inbox of a running server: inbox [--to X] [--json] [--follow]', run: async (args) => (await import('./inbox.ts')).inboxCommand(args) },
  messages: { summary: 'the delivery log of a running server: messages --to X [--status S] [--json] (needs ADMIN_TOKEN)', run: async (args) => (await import('./messages.ts')).messagesCommand(args) },
};

const usage = () =>
  `panic-api <command>\n\nCommands:\n${Object.entries(COMMANDS)
    .map(([name, c]) => `  ${name.padEnd(18)}${c.summary}`)
    .join('\n')}\n\nConfiguration comes from the environment; see README.md.`;

async function run(command: string | undefined, args: string[]): Promise<void> {
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(`${usage()}\n`);
    return;
  }
  const found = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!found) {
    process.stderr.write(`Unknown command "${command}".\n\n${usage()}\n`);
    process.exit(2);
  }
  const code = await found.run(args);
  if (typeof code === 'number') process.exitCode = code;
}

run(process.argv[2], process.argv.slice(3)).catch((err) => {
  process.stderr.write(err instanceof CliError ? `${err.message}\n` : `panic-api: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
