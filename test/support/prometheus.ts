/**
 * A real Prometheus server (Debian's `prometheus` package; .ci/run installs it) scraping one target
 * every second, on a free port with a config and a storage folder of its own, and its HTTP API.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { freePort } from './net.ts';
import { waitUntil } from './wait.ts';

export const PROMETHEUS = '/usr/bin/prometheus';
const inCi = process.env.CI === 'true' || process.env.CI === '1';
const prometheusMissing = !existsSync(PROMETHEUS);

/** A suite's skip option: skipped on a machine without Prometheus, never in CI (where its absence fails the suite). */
export const skipWithoutPrometheus =
  prometheusMissing && !inCi ? `${PROMETHEUS} is not installed (apt-get install prometheus)` : false;

/** The seconds between scrapes: a short test still gets enough samples for rate(). */
export const SCRAPE_SECONDS = 1;
export const JOB = 'panic-api';

/** One series of an answer: its labels and its [seconds, value] samples (NaN and ±Inf as numbers). */
export interface Series {
  metric: Record<string, string>;
  values: Array<[number, number]>;
}

/** An answer of the query API: the series, or the error Prometheus gave the query. */
export type QueryAnswer = { series: Series[]; error?: undefined } | { series?: undefined; error: string };

export interface Window {
  /** Unix seconds. */
  start: number;
  end: number;
  step: number;
}

export interface Prometheus {
  url: string;
  /** /api/v1/query_range over the window. */
  queryRange(expr: string, window: Window): Promise<QueryAnswer>;
  /** /api/v1/query at `time` (Unix seconds). */
  query(expr: string, time: number): Promise<QueryAnswer>;
  /**
   * Waits for a successful scrape of the target that began at `ms` (Unix ms) or later: what happened
   * before it is stored. Answers when the newest scrape began (Unix seconds).
   */
  scrapedSince(ms: number, timeoutMs?: number): Promise<number>;
  close(): Promise<void>;
}

/** What /metrics answers at and how it lets Prometheus in. */
export interface ScrapeTarget {
  /** host:port */
  address: string;
  /** The bearer token /metrics asks for (ADMIN_TOKEN outside development). */
  token: string;
}

interface ApiAnswer {
  status: 'success' | 'error';
  error?: string;
  data?: {
    resultType: 'matrix' | 'vector' | 'scalar' | 'string';
    result: Array<{ metric: Record<string, string>; values?: Array<[number, string]>; value?: [number, string] }>;
  };
}

export async function startPrometheus(target: ScrapeTarget): Promise<Prometheus> {
  if (prometheusMissing)
    assert.fail(`${PROMETHEUS} is missing: CI must install Debian's prometheus package (see .ci/run)`);
  const dir = mkdtempSync(join(tmpdir(), 'panic-prometheus-'));
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    stringifyYaml({
      global: { scrape_interval: `${SCRAPE_SECONDS}s`, scrape_timeout: `${SCRAPE_SECONDS}s` },
      scrape_configs: [
        {
          job_name: JOB,
          authorization: { credentials: target.token },
          static_configs: [{ targets: [target.address] }],
        },
      ],
    }),
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    PROMETHEUS,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const alive = () => child.exitCode === null && child.signalCode === null;

  const close = async () => {
    if (alive()) {
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const api = async (path: string, params: Record<string, string>): Promise<QueryAnswer> => {
    const res = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params).toString(),
    });
    const body = (await res.json()) as ApiAnswer;
    if (body.status !== 'success') return { error: body.error ?? `HTTP ${res.status}` };
    const { resultType, result } = body.data!;
    assert.ok(resultType === 'matrix' || resultType === 'vector', `a ${resultType} answer: ${path}`);
    return {
      series: result.map((r) => ({
        metric: r.metric,
        values: (r.values ?? [r.value!]).map(([t, v]) => [t, Number(v)] as [number, number]),
      })),
    };
  };
  const query = (expr: string, time: number) => api('/api/v1/query', { query: expr, time: String(time) });

  try {
    await waitUntil(
      async () => {
        if (!alive()) throw new Error(`prometheus exited: ${stderr}`);
        return (await fetch(`${url}/-/ready`).catch(() => undefined))?.ok;
      },
      { timeoutMs: 15_000, intervalMs: 100, what: 'Prometheus to be ready' },
    );
  } catch (err) {
    await close();
    throw err;
  }

  return {
    url,
    queryRange: (expr, w) =>
      api('/api/v1/query_range', { query: expr, start: String(w.start), end: String(w.end), step: `${w.step}s` }),
    query,
    async scrapedSince(ms, timeoutMs = 15_000) {
      // Prometheus sends its first scrape up to 5 s after it starts (its discovery's update interval).
      return waitUntil(
        async () => {
          const answer = await query(`max(timestamp(up{job="${JOB}"} == 1))`, Date.now() / 1000);
          if (!answer.series) throw new Error(answer.error);
          const at = answer.series[0]?.values[0][1];
          return at !== undefined && at * 1000 >= ms ? at : undefined;
        },
        { timeoutMs, intervalMs: 200, what: `a scrape of ${target.address} since ${new Date(ms).toISOString()}` },
      ).catch(async (err) => {
        const targets = await fetch(`${url}/api/v1/targets`).then((r) => r.text());
        throw new Error(`${(err as Error).message}; the targets: ${targets}`, { cause: err });
      });
    },
    close,
  };
}
