/** What an attacker with a stopwatch uses: one kept-alive connection, and medians. */
import { Agent, request as httpRequest } from 'node:http';

/** POSTs over one kept-alive connection; answers the status and the body's text. */
export function keptAliveClient(baseUrl: string) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const { hostname, port } = new URL(baseUrl);
  return {
    post: (path: string, body: unknown) =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        const data = JSON.stringify(body);
        const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) };
        const req = httpRequest({ host: hostname, port, path, method: 'POST', agent, headers }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        });
        req.on('error', reject);
        req.end(data);
      }),
    close: () => agent.destroy(),
  };
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
