import { request as httpRequest } from 'node:http';
import { readAnswer, type TypedApi, type UntypedApi } from './api.ts';

/**
 * A client that connects from a chosen loopback address: Linux routes all of 127.0.0.0/8 to this
 * machine, so one test is as many networks as it needs (127.0.N.x is network N's /24).
 */
export interface Client {
  address: string;
  /** A call of the contract, typed by it (test/support/api.ts). */
  api: TypedApi;
  /** Any other call: routes outside the contract, bodies it refuses on purpose. */
  request: UntypedApi;
}

export function clientFrom(baseUrl: string, address: string): Client {
  const base = new URL(baseUrl);
  const request: UntypedApi = (method, path, body, token, extra = {}) => {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const headers: Record<string, string> = { ...extra };
    if (payload !== undefined) headers['content-type'] ??= 'application/json';
    if (token) headers.authorization = `Bearer ${token}`;
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        { host: base.hostname, port: base.port, path, method, headers, localAddress: address, agent: false },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const h = new Headers();
            for (const [k, v] of Object.entries(res.headers))
              if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v);
            const raw = Buffer.concat(chunks);
            resolve(
              readAnswer(new Response(raw.length ? raw : null, { status: res.statusCode, headers: h }), {
                method,
                url: `${base.origin}${path}`,
              }),
            );
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  };
  return { address, api: request as TypedApi, request };
}

/** The client on network n (its own /24), host h in it: 127.<n/256>.<n%256>.h. */
export const onNetwork = (baseUrl: string, n: number, h = 1): Client =>
  clientFrom(baseUrl, `127.${1 + Math.floor(n / 256)}.${n % 256}.${h}`);
