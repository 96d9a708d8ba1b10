/**
 * The real `panic-api` (bin/panic-api.js) as a child process: started with only the environment a
 * test gives it, waited for, asked over HTTP, and killed when the test file ends.
 */
import { after, type TestContext } from 'node:test';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { BIN, EMPTY_CWD } from './cli.ts';
import { freePort } from './net.ts';
import { waitUntil } from './wait.ts';

// Generous: a fresh PGlite folder alone takes 10-15 s to initialise on a 2-core machine.
export const START_TIMEOUT_MS = 90_000;

export interface Child {
  name: string;
  proc: ChildProcess;
  port?: number;
  /** everything the child wrote, stdout and stderr interleaved */
  output(): string;
  /** JSON log lines of stdout that parse */
  logLines(): Array<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly running: boolean;
}

const children = new Set<Child>();

/** Only what node needs: an inherited DATABASE_URL or NODE_TEST_CONTEXT must not leak into the service. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'SystemRoot']) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  return { ...env, APP_ENV: 'test', HOST: '127.0.0.1', LOG_LEVEL: 'info' };
}

export function startChild(name: string, command: 'serve' | 'worker' | 'migrate', env: Record<string, string>): Child {
  const proc = spawn(process.execPath, [BIN, command], {
    cwd: EMPTY_CWD,
    env: { ...baseEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let stdout = '';
  proc.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
    stdout += c.toString();
  });
  proc.stderr!.on('data', (c: Buffer) => {
    out += c.toString();
  });
  let running = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.on('exit', (code, signal) => {
      running = false;
      resolve({ code, signal });
    });
  });
  const child: Child = {
    name,
    proc,
    port: env.PORT ? Number(env.PORT) : undefined,
    output: () => out,
    logLines: () =>
      stdout
        .split('\n')
        .filter(Boolean)
        .flatMap((line) => {
          try {
            return [JSON.parse(line) as Record<string, unknown>];
          } catch {
            return [];
          }
        }),
    exited,
    get running() {
      return running;
    },
  };
  children.add(child);
  void exited.then(() => children.delete(child));
  return child;
}

/** The child's output for an assertion message (the tail: enough to see why it failed). */
export function report(...cs: Child[]): string {
  return cs
    .map((c) => {
      const text = c.output();
      const tail = text.length > 6000 ? `…${text.slice(-6000)}` : text;
      return `\n----- ${c.name} (${c.running ? 'running' : `exited ${c.proc.exitCode ?? c.proc.signalCode}`}) -----\n${tail}`;
    })
    .join('');
}

export async function kill(child: Child, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (!child.running) return;
  child.proc.kill(signal);
  await child.exited;
}

after(async () => {
  await Promise.all([...children].map((c) => kill(c)));
});

/** Resolves when the child's exit, or rejects with its output after `timeoutMs`. */
export async function exitOf(
  child: Child,
  timeoutMs: number,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${child.name} did not exit within ${timeoutMs} ms${report(child)}`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([child.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether a fresh TCP connection to the port is accepted. */
export function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export async function waitForHealth(child: Child): Promise<void> {
  try {
    await waitUntil(
      async () => {
        if (!child.running) throw new Error(`${child.name} exited before answering /health`);
        try {
          const res = await fetch(`http://127.0.0.1:${child.port}/health`);
          await res.text();
          return res.status === 200;
        } catch {
          return false;
        }
      },
      { timeoutMs: START_TIMEOUT_MS, intervalMs: 50, what: `${child.name} /health` },
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}${report(child)}`);
  }
}

export async function waitForLog(child: Child, msg: string): Promise<void> {
  try {
    await waitUntil(
      () => {
        if (!child.running) throw new Error(`${child.name} exited before logging "${msg}"`);
        return child.logLines().some((l) => l.msg === msg);
      },
      { timeoutMs: START_TIMEOUT_MS, intervalMs: 100, what: `${child.name} to log "${msg}"` },
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}${report(child)}`);
  }
}

export async function api(
  child: Child,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://127.0.0.1:${child.port}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, text: await res.text() };
}

export async function startServe(name: string, env: Record<string, string>): Promise<Child> {
  const child = startChild(name, 'serve', { ...env, PORT: String(await freePort()) });
  await waitForHealth(child);
  return child;
}

/** Kills (SIGKILL) whatever of `list` still runs when the test ends, pass or fail. */
export function stopChildrenAfter(t: TestContext, list: Child[]): void {
  t.after(async () => {
    await Promise.all(list.map((c) => kill(c)));
  });
}
