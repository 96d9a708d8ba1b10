import { alignColumns } from './columns.ts';
import { apiBaseUrl } from './api-client.ts';
import type { EnvFile } from '../config/env-file.ts';
import { checkConfig, checkSecrets } from './doctor/config.ts';
import { checkDatabase } from './doctor/database.ts';
import { checkEmailDns, emailDnsDomain } from './doctor/email-dns.ts';
import { checkRedis } from './doctor/redis.ts';
import { hasDoctorLine } from './doctor/provider-read.ts';
import { checkSms } from './doctor/sms.ts';
import { checkSmtp } from './doctor/smtp.ts';
import { checkTemplateFiles } from './doctor/templates.ts';
import { checkTestDestinations } from './doctor/test-destinations.ts';
import { CHECK_TIMEOUT_MS, errorText, fail, warn, type Check } from './doctor/types.ts';
import { checkVoice } from './doctor/voice.ts';
import { checkWhatsApp } from './doctor/whatsapp.ts';

const ICON: Record<Check['status'], string> = { ok: '✅', warn: '⚠️ ', fail: '❌' };
/** The checks that need a parsed configuration, in the order they are printed (email-dns, a line only when mail is sent from a real domain, comes after smtp; templates, a line only when there is something to say, last). */
const NEEDS_CONFIG = ['secrets', 'database', 'smtp', 'sms', 'redis'] as const;

/** Runs one check with a deadline; a check that throws or hangs becomes a failed row, not a crash. */
async function guarded(name: string, run: () => Promise<Check>): Promise<Check> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<Check>((resolve) => {
    timer = setTimeout(
      () =>
        resolve(
          fail(
            name,
            `The ${name} check did not finish within ${CHECK_TIMEOUT_MS / 1000} s`,
            'Something on the way does not answer: check the host and port settings and firewalls.',
          ),
        ),
      CHECK_TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([
      run().catch((err: unknown) =>
        fail(
          name,
          `The ${name} check failed unexpectedly: ${errorText(err)}`,
          'Run doctor again; if it persists, report it with this line.',
        ),
      ),
      deadline,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Every check, independent ones in parallel; the printed order is fixed. */
export async function runChecks(env: NodeJS.ProcessEnv = process.env): Promise<Check[]> {
  const { check: configCheck, config } = checkConfig(env);
  if (!config) {
    return [
      configCheck,
      ...NEEDS_CONFIG.map((name) =>
        warn(name, 'Not checked: the configuration is invalid', 'Fix the configuration first (see the config line).'),
      ),
    ];
  }
  // a line only for a domain mail is really sent from (see emailDnsDomain)
  const fromDomain = emailDnsDomain(config);
  // a line only when TEMPLATES_DIR is set or the built-in templates have a problem (see checkTemplateFiles)
  const templates = checkTemplateFiles(config);
  // a line only when TEST_OTP_DESTINATIONS is set
  const testDestinations = checkTestDestinations(config);
  const rest = await Promise.all([
    guarded('secrets', async () => checkSecrets(env, config)),
    ...(testDestinations ? [testDestinations] : []),
    guarded('database', () => checkDatabase(config, apiBaseUrl(env))),
    guarded('smtp', () => checkSmtp(config)),
    ...(fromDomain ? [guarded('email-dns', () => checkEmailDns(config, fromDomain))] : []),
    guarded('sms', () => checkSms(config)),
    // a line each when its provider is set or a road of PHONE_CHANNELS names it
    ...(hasDoctorLine(config, 'whatsapp') ? [guarded('whatsapp', () => checkWhatsApp(config))] : []),
    ...(hasDoctorLine(config, 'voice') ? [guarded('voice', () => checkVoice(config))] : []),
    guarded('redis', () => checkRedis(config)),
    ...(templates ? [templates] : []),
  ]);
  return [configCheck, ...rest];
}

export function formatTable(checks: Check[]): string {
  const { lines: rows, widths } = alignColumns(checks.map((c) => [c.name, c.finding]));
  const lines: string[] = [];
  checks.forEach((c, i) => {
    lines.push(`${ICON[c.status]} ${rows[i]}`);
    if (c.status !== 'ok' && c.fix) lines.push(`${' '.repeat(widths[0] + 5)}fix: ${c.fix}`);
  });
  const count = (s: Check['status']) => checks.filter((c) => c.status === s).length;
  const [failed, warned, passed] = [count('fail'), count('warn'), count('ok')];
  const tally = `${passed} ok, ${warned} warning${warned === 1 ? '' : 's'}, ${failed} failed`;
  lines.push(
    '',
    failed
      ? `${tally}: codes will not be delivered until the ❌ lines are fixed.`
      : warned
        ? `${tally}: nothing stops delivery; read the ⚠️ lines.`
        : `${tally}: everything needed to deliver codes works.`,
  );
  return lines.join('\n');
}

/** Which settings file the checks below judged, for the first line of the report. */
export function envFileLine(envFile: EnvFile | undefined, cwd: string = process.cwd()): string {
  return envFile
    ? `Settings: the environment, and ${envFile.path} (${envFile.names.length} variable${envFile.names.length === 1 ? '' : 's'}; the environment's own values win).`
    : `Settings: the environment only (no .env in ${cwd}).`;
}

/** `panic-api doctor [--json]`: 1 when any check fails, else 0. */
export async function doctor(
  opts: { json?: boolean },
  env: NodeJS.ProcessEnv = process.env,
  envFile?: EnvFile,
): Promise<number> {
  const checks = await runChecks(env);
  const ok = !checks.some((c) => c.status === 'fail');
  process.stdout.write(
    opts.json ? `${JSON.stringify({ ok, checks }, null, 2)}\n` : `${envFileLine(envFile)}\n\n${formatTable(checks)}\n`,
  );
  // Every check closes what it opened; should a driver still hold a handle, do not hang the shell.
  setTimeout(() => process.exit(ok ? 0 : 1), 2000).unref();
  return ok ? 0 : 1;
}
