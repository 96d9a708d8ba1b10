/**
 * Log format: pretty lines for a developer at a terminal, JSON lines everywhere else. The real
 * `panic-api worker` in development is started with its stdout on a pipe and on a terminal (script(1)
 * gives it one); its first line (the development-secrets warning) comes before the database opens,
 * so each child is stopped as soon as it is written.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { wantsPrettyLogs } from '../src/platform/logger.ts';
import { BIN, EMPTY_CWD } from './support/cli.ts';
import { kill, report, startChild } from './support/child.ts';
import { waitUntil } from './support/wait.ts';

const FIRST_LINE = 'JWT_SECRET and OTP_SECRET not set: using development defaults (never do this in production)';

describe('wantsPrettyLogs', () => {
  it('only in development with stdout on a terminal', () => {
    assert.equal(wantsPrettyLogs('development', true), true);
    assert.equal(wantsPrettyLogs('development', false), false);
    assert.equal(wantsPrettyLogs('development', undefined), false, 'a pipe or a file: no isTTY');
    assert.equal(wantsPrettyLogs('production', true), false);
    assert.equal(wantsPrettyLogs('test', true), false);
  });
});

describe('panic-api worker in development', () => {
  it('writes JSON lines to a pipe', async (t) => {
    const child = startChild('worker (pipe)', 'worker', { APP_ENV: 'development', DATA_DIR: 'memory://' });
    t.after(() => kill(child));
    await waitUntil(() => child.output().includes('\n'), {
      timeoutMs: 30_000,
      intervalMs: 50,
      what: 'the first log line',
    });
    const first = child.output().split('\n')[0];
    const line = JSON.parse(first) as Record<string, unknown>;
    assert.equal(line.msg, FIRST_LINE, report(child));
    assert.equal(line.level, 40);
  });

  it('writes readable lines to a terminal', {
    skip: !existsSync('/usr/bin/script') && 'script(1) is needed for a terminal',
  }, async (t) => {
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      APP_ENV: 'development',
      DATA_DIR: 'memory://',
      LOG_LEVEL: 'info',
    };
    // script runs the command on a new pseudo-terminal and copies what it writes to our pipe.
    const proc = spawn('/usr/bin/script', ['-qefc', `exec '${process.execPath}' '${BIN}' worker`, '/dev/null'], {
      cwd: EMPTY_CWD,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const exited = new Promise((resolve) => proc.on('exit', resolve));
    t.after(async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM'); // script passes it on to the worker
        await exited;
      }
    });
    let out = '';
    proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
    await waitUntil(() => out.includes('\n'), {
      timeoutMs: 30_000,
      intervalMs: 50,
      what: 'the first log line on the terminal',
    });
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the terminal's colour codes start with ESC
    const colour = /\x1b\[[0-9;]*m/g;
    const first = out.split('\n')[0].replace(colour, '').trim();
    assert.match(first, /^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: /, first);
    assert.ok(first.endsWith(FIRST_LINE), first);
    assert.ok(!out.includes('"level"'), `no JSON on the terminal: ${out}`);
  });
});
