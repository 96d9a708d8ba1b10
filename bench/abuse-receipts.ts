/**
 * Issue 18, item 6: forged Twilio receipts made to cost the service. Run in the process that serves
 * `base` (bench/abuse.ts), whose service has SMS_PROVIDER=twilio and PUBLIC_URL set (without them every
 * receipt is refused before its body is looked at) and TRUST_PROXY=127.0.0.1 (each forgery below comes
 * from its own X-Forwarded-For address, so no per-IP budget hides the work a signature costs).
 */
import { spawn } from 'node:child_process';

const PATH = '/api/v1/webhooks/twilio/status';
/** Not the signature of anything. */
const FORGED = 'Zm9yZ2VkIGJ5IGFuIGF0dGFja2VyIQ==';
/** The sizes of the issue: a StatusCallback as Twilio posts it; 32,000 one-letter fields in 64 KB; 64 fields filling 8 KiB. */
const bodies = {
  small: new URLSearchParams({
    MessageSid: `SM${'0'.repeat(32)}`,
    MessageStatus: 'delivered',
    AccountSid: `AC${'0'.repeat(32)}`,
  }).toString(),
  huge: Array.from({ length: 32_000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join('&'),
  full: Array.from({ length: 64 }, (_, i) => `F${String(i).padStart(2, '0')}=${'x'.repeat(122)}`).join('&'),
};

const forge = (base: string, body: string, from: string) =>
  fetch(base + PATH, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': FORGED,
      'x-forwarded-for': from,
    },
    body,
  });

/** This process's CPU (user + system, ms) per forged receipt of each kind: medians of n, the kinds taken in turn. */
async function cpuPerReceipt(base: string, n: number) {
  const kinds = Object.keys(bodies) as Array<keyof typeof bodies>;
  const ms = new Map(kinds.map((k) => [k, [] as number[]]));
  const statuses = new Map(kinds.map((k) => [k, new Map<number, number>()]));
  for (let i = 0; i < n; i++) {
    for (const [k, kind] of kinds.entries()) {
      const start = process.cpuUsage();
      const res = await forge(base, bodies[kind], `198.18.${k}.${i % 250}`);
      await res.arrayBuffer();
      const used = process.cpuUsage(start);
      ms.get(kind)!.push((used.user + used.system) / 1000);
      statuses.get(kind)!.set(res.status, (statuses.get(kind)!.get(res.status) ?? 0) + 1);
    }
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const show = (kind: keyof typeof bodies) =>
    `${median(ms.get(kind)!).toFixed(2)} ms (${[...statuses.get(kind)!].map(([s, c]) => `${c}×${s}`).join(', ')})`;
  const ratio = (kind: keyof typeof bodies) => (median(ms.get(kind)!) / median(ms.get('small')!)).toFixed(1);
  return `forged Twilio receipts, CPU of the serving process per receipt (median of ${n}, client included): a StatusCallback's size ${show('small')}, 32,000 fields in 64 KB ${show('huge')} = ${ratio('huge')}×, 64 fields in 8 KiB ${show('full')} = ${ratio('full')}×`;
}

/** /health's median over sequential requests, until `until` says stop (at most 50). */
async function healthP50(base: string, until: () => boolean = () => false): Promise<{ ms: number; n: number }> {
  const times: number[] = [];
  while (times.length < 50 && !until()) {
    const t = performance.now();
    await (await fetch(`${base}/health`)).arrayBuffer();
    times.push(performance.now() - t);
  }
  return { ms: times.sort((a, b) => a - b)[Math.floor(times.length / 2)], n: times.length };
}

// 30 connections, each from its own address, posting one kind of forged receipt back to back; prints the answers by status.
const FLOOD = `
  const [base, body, seconds] = process.argv.slice(1);
  const end = Date.now() + Number(seconds) * 1000;
  const counts = {};
  await Promise.all(Array.from({ length: 30 }, async (_, k) => {
    while (Date.now() < end) {
      const res = await fetch(base + '${PATH}', { method: 'POST', body,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': '${FORGED}', 'x-forwarded-for': '198.19.0.' + k } });
      await res.arrayBuffer();
      counts[res.status] = (counts[res.status] ?? 0) + 1;
    }
  }));
  console.log(JSON.stringify(counts));`;

/** /health's median beside a flood of one kind, from another process (only the server's work is measured). */
async function healthBesideFlood(base: string, kind: keyof typeof bodies, seconds: number): Promise<string> {
  const flooder = spawn(process.execPath, ['--input-type=module', '-e', FLOOD, base, bodies[kind], String(seconds)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  let ended = false;
  flooder.stdout.on('data', (d) => (out += d));
  const done = new Promise((resolve) =>
    flooder.on('close', () => {
      ended = true;
      resolve(true);
    }),
  );
  await new Promise((r) => setTimeout(r, 500));
  const loaded = await healthP50(base, () => ended);
  await done;
  return `${loaded.ms.toFixed(2)} ms (of ${loaded.n}; receipts by status: ${out.trim()})`;
}

/** The lines to print: CPU per forged receipt, and /health alone vs beside 30 connections of forgeries. */
export async function receiptAttack(base: string): Promise<string[]> {
  const probe = await forge(base, bodies.small, '198.18.255.1');
  const text = await probe.text();
  if (probe.status === 403 && text.includes('not both set'))
    return ['forged Twilio receipts: not measured (the service needs SMS_PROVIDER=twilio and PUBLIC_URL)'];
  const lines = [await cpuPerReceipt(base, 41)];
  const idle = await healthP50(base);
  lines.push(
    `/health p50 idle ${idle.ms.toFixed(2)} ms; beside 30 connections of forged receipts from 30 addresses: ` +
      `32,000 fields ${await healthBesideFlood(base, 'huge', 4)}; 64 fields in 8 KiB ${await healthBesideFlood(base, 'full', 4)}`,
  );
  return lines;
}
