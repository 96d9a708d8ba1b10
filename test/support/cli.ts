import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = fileURLToPath(new URL('../../bin/panic-api.js', import.meta.url));

/**
 * The children run what production runs, the compiled dist/: build it as `npm run build` does (tsc -b
 * does nothing in a fraction of a second when dist/ is up to date, then the dev inbox page is copied),
 * so a test file run alone never meets stale code.
 */
function build(): void {
  const script = fileURLToPath(new URL('../../scripts/build.js', import.meta.url));
  try {
    execFileSync(process.execPath, [script], { cwd: ROOT, stdio: 'pipe' });
  } catch (err) {
    const e = err as { stdout?: Buffer; stderr?: Buffer };
    throw new Error(`npm run build failed:\n${e.stdout?.toString() ?? ''}${e.stderr?.toString() ?? ''}`);
  }
}
build();

/**
 * Where children run unless a test says otherwise: an empty folder, so a developer's own .env (read
 * from the working directory) or ./data never reaches a test.
 */
export const EMPTY_CWD = mkdtempSync(join(tmpdir(), 'panic-cli-cwd-'));
process.on('exit', () => rmSync(EMPTY_CWD, { recursive: true, force: true }));

export interface CliOptions {
  /** working directory of the child; EMPTY_CWD when absent */
  cwd?: string;
  timeoutMs?: number;
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Exit 0, and nothing on stderr. */
export const ok = (run: CliRun, what: string) => {
  assert.equal(run.code, 0, `${what}: exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  assert.equal(run.stderr, '', `${what} writes nothing on stderr when it succeeds`);
};

/** Exit 1 with exactly one sentence (one line) on stderr. */
export const failed = (run: CliRun, pattern: RegExp) => {
  assert.equal(run.code, 1, `exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  assert.match(run.stderr.trimEnd(), pattern);
  assert.equal(run.stderr.trimEnd().split('\n').length, 1, `one line on stderr: ${run.stderr}`);
};

/**
 * Runs the real `panic-api` in a child process with only PATH, HOME and the environment given, so
 * nothing of the test runner's environment (a DATABASE_URL, CI's secrets) leaks in. Stdin is closed
 * (not a terminal). A run that outlives the timeout (a number: milliseconds) is killed and rejects
 * with what it printed.
 */
export function runCli(
  args: string[],
  env: Record<string, string | undefined> = {},
  options: number | CliOptions = {},
): Promise<CliRun> {
  const { cwd = EMPTY_CWD, timeoutMs = 30_000 } = typeof options === 'number' ? { timeoutMs: options } : options;
  return new Promise((resolve, reject) => {
    const clean = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...clean },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `panic-api ${args.join(' ')} did not finish within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`,
        ),
      );
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr });
    });
  });
}

/** script(1) (util-linux), which gives a command a pseudo-terminal: without it the terminal tests are skipped. */
const SCRIPT = '/usr/bin/script';
export const noTerminal = existsSync(SCRIPT) ? false : `${SCRIPT} (util-linux) is missing`;

const shellQuoted = (arg: string) => `'${arg.replaceAll("'", "'\\''")}'`;

/**
 * Runs the real `panic-api` at a pseudo-terminal, as a person would: for each [prompt, answer] it
 * waits for the prompt to show, then types the answer and Enter. Resolves with the exit code and the
 * whole screen (what the person saw, the answers echoed or not); a prompt that never shows rejects.
 */
export async function runAtTerminal(
  args: string[],
  env: Record<string, string>,
  answers: Array<[prompt: string, answer: string]>,
  timeoutMs = 20_000,
): Promise<{ code: number | null; screen: string }> {
  const command = [process.execPath, BIN, ...args].map(shellQuoted).join(' ');
  const child = spawn(SCRIPT, ['-qfec', command, '/dev/null'], {
    env: { ...process.env, NODE_TEST_CONTEXT: undefined, ...env },
  });
  let screen = '';
  child.stdout.on('data', (d) => (screen += d));
  child.stderr.on('data', (d) => (screen += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const timer = setTimeout(() => child.kill(), timeoutMs);
  try {
    let seen = 0;
    for (const [prompt, answer] of answers) {
      const deadline = Date.now() + timeoutMs;
      while (!screen.includes(prompt, seen) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      if (!screen.includes(prompt, seen)) {
        child.kill();
        throw new Error(`panic-api ${args.join(' ')} never asked "${prompt}"; the screen:\n${screen}`);
      }
      seen = screen.indexOf(prompt, seen) + prompt.length;
      child.stdin.write(`${answer}\r`);
    }
    return { code: await exited, screen };
  } finally {
    clearTimeout(timer);
    child.stdin.end();
  }
}
