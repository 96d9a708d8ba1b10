import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
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
