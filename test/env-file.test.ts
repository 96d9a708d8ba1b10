/**
 * `.env` in the working directory, read by the real `panic-api` (a child process in a folder of its
 * own): the file's settings reach the command, a variable already in the environment wins, a
 * malformed file stops the command with the line, and doctor says which file it read.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { envFileProblems } from '../src/config/env-file.ts';
import { runCli } from './support/cli.ts';
import { freePort } from './support/net.ts';

describe('envFileProblems', () => {
  it('accepts comments, blank lines, export and quoted values spanning lines', () => {
    const text =
      '# settings\n\nAPP_ENV=test\nexport PORT=8000\nEMPTY=\nKEY="-----BEGIN\nabc\n-----END"\nS=\'one # two\'\r\nT=`x`\n';
    assert.deepEqual(envFileProblems(text), []);
  });

  it('accepts .env.example, the file people copy to .env', () => {
    assert.deepEqual(envFileProblems(readFileSync(new URL('../.env.example', import.meta.url), 'utf8')), []);
  });

  it('names each line that is not NAME=value, and a quote never closed', () => {
    assert.deepEqual(envFileProblems('APP_ENV=test\nSMTP_SERVER smtp.example.com\n=x\n2FA=on\nKEY="abc\nmore\n'), [
      'line 2: "SMTP_SERVER smtp.example.com" is not NAME=value',
      'line 3: "=x" is not NAME=value',
      'line 4: "2FA=on" is not NAME=value',
      'line 5: the value opened with " is never closed',
    ]);
  });
});

describe('panic-api reads .env from its working directory', () => {
  let dir: string;
  let fileUrl: string;
  let envUrl: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'panic-env-file-'));
    // Nothing listens on either: the error names the address the command used.
    fileUrl = `http://127.0.0.1:${await freePort()}`;
    envUrl = `http://127.0.0.1:${await freePort()}`;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const writeEnv = (text: string) => writeFileSync(join(dir, '.env'), text);

  it("uses the file's settings, and a variable set in the environment wins over the file", async () => {
    writeEnv(`# the API this checkout talks to\nAPI_BASE_URL=${fileUrl}\n`);
    const fromFile = await runCli(['send', 'thandi@example.com'], {}, { cwd: dir });
    assert.equal(fromFile.code, 1, fromFile.stderr);
    assert.match(fromFile.stderr, new RegExp(`server at ${fileUrl}\\b`));

    const fromEnv = await runCli(['send', 'thandi@example.com'], { API_BASE_URL: envUrl }, { cwd: dir });
    assert.equal(fromEnv.code, 1, fromEnv.stderr);
    assert.match(fromEnv.stderr, new RegExp(`server at ${envUrl}\\b`));
    assert.ok(!fromEnv.stderr.includes(fileUrl), fromEnv.stderr);
  });

  it('a malformed file stops the command (exit 2) naming the file and the line', async () => {
    writeEnv(`API_BASE_URL=${fileUrl}\nSMTP_SERVER smtp.example.com\n`);
    const run = await runCli(['send', 'thandi@example.com'], {}, { cwd: dir });
    assert.equal(run.code, 2, run.stderr);
    assert.ok(run.stderr.startsWith(`${join(dir, '.env')} is not a valid .env file`), run.stderr);
    assert.match(run.stderr, /line 2: "SMTP_SERVER smtp\.example\.com" is not NAME=value/);
    assert.doesNotMatch(run.stderr, /server at/, 'the command did not run');
  });

  it('doctor says which file it read, and judges its settings', async () => {
    writeEnv('APP_ENV=test\nSMTP_PORT=five-eight-seven\n');
    const run = await runCli(['doctor'], {}, { cwd: dir });
    const lines = run.stdout.split('\n');
    assert.equal(
      lines[0],
      `Settings: the environment, and ${join(dir, '.env')} (2 variables; the environment's own values win).`,
    );
    assert.ok(
      lines.some((l) => /^❌ config\s+Configuration is invalid: SMTP_PORT/.test(l)),
      `the bad value came from the file:\n${run.stdout}`,
    );
  });

  it('no .env: doctor says the settings come from the environment only', async () => {
    rmSync(join(dir, '.env'), { force: true });
    const run = await runCli(['doctor'], { APP_ENV: 'test', SMTP_PORT: 'five-eight-seven' }, { cwd: dir });
    assert.equal(run.stdout.split('\n')[0], `Settings: the environment only (no .env in ${dir}).`);
  });
});
