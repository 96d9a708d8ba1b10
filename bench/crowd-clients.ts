/**
 * The phones of bench/crowd.ts, in a process of their own so that the service's process does only
 * the service's work (the 2 cores are still shared). Sends the requests of the job in argv[2] all at
 * once, each on a connection of its own from a loopback address of its own (host h of network n is
 * 127.<1 + n/256>.<n%256>.h, as test/support/clients.ts's onNetwork numbers them), and prints their
 * answers, the wall time until the last and this process's CPU, as JSON.
 */
import http from 'node:http';

export interface Job {
  base: string;
  kind: 'sign-up' | 'login' | 'health';
  count: number;
  /** The first network; a sign-up or a health check takes a network of its own, logins 250 to a network. */
  network: number;
  /** Makes the emails of this job unlike any other's. */
  tag: string;
}

export interface Answer {
  status: number;
  retryAfter: string | null;
  /** From sending to the answer's end. */
  ms: number;
  /** From the connection being accepted (by the kernel) to the answer's end. */
  connectedMs: number;
}

export interface Sent {
  answers: Answer[];
  wallMs: number;
  cpuMs: number;
}

const job = JSON.parse(process.argv[2]) as Job;
const port = new URL(job.base).port;

function send(address: string, path: string, body?: unknown): Promise<Answer> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const started = performance.now();
  let connected = started;
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: payload === undefined ? 'GET' : 'POST',
        localAddress: address,
        agent: false,
        headers:
          payload === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          const end = performance.now();
          const retryAfter = res.headers['retry-after'] ?? null;
          resolve({ status: res.statusCode ?? 0, retryAfter, ms: end - started, connectedMs: end - connected });
        });
      },
    );
    req.on('socket', (socket) => socket.on('connect', () => (connected = performance.now())));
    req.on('error', (err) => resolve({ status: 0, retryAfter: err.message, ms: 0, connectedMs: 0 }));
    req.end(payload);
  });
}

const address = (n: number, h = 1) => `127.${1 + Math.floor(n / 256)}.${n % 256}.${h}`;

function request(i: number): Promise<Answer> {
  const email = `${job.kind}.${job.tag}.${i}@example.test`;
  if (job.kind === 'health') return send(address(job.network + i), '/health');
  if (job.kind === 'login') {
    const n = job.network + Math.floor(i / 250);
    return send(address(n, 1 + (i % 250)), '/api/v1/auth/login', { email, password: 'whatever it is' });
  }
  return send(address(job.network + i), '/api/v1/auth/register', {
    email,
    phone: '+27825550123',
    first_name: 'Thandi',
    last_name: 'Crowd',
    password: `a password of ${job.tag} ${i}`,
  });
}

const cpu = process.cpuUsage();
const started = performance.now();
const answers = await Promise.all(Array.from({ length: job.count }, (_, i) => request(i)));
const wallMs = performance.now() - started;
const spent = process.cpuUsage(cpu);
const sent: Sent = { answers, wallMs, cpuMs: (spent.user + spent.system) / 1000 };
process.stdout.write(JSON.stringify(sent));
