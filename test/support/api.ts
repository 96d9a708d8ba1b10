/**
 * The API's contract as the tests' types: a call names its method and its path as written (ids filled
 * in, a query string after it), and gets its body checked against the operation's request body and
 * its answer typed as the operation's answers, one per status. The types come from the same
 * api-types.ts the CLI's openapi-fetch client is built on (generated from /openapi.json), so a test
 * that reads a field the contract lacks, or calls a route it does not have, fails to compile.
 */
import assert from 'node:assert/strict';
import type { paths } from '../../src/cli/client/api-types.ts';

/** An answer as the tests read it: the body parsed when it is JSON, else its text. */
export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
  text: string;
  headers: Headers;
}

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A contract path as a test writes it: each `{param}` filled in. */
type Filled<K extends string> = K extends `${infer A}{${string}}${infer B}` ? `${A}${string}${Filled<B>}` : K;
/** The path without its query string. */
type Bare<P extends string> = P extends `${infer A}?${string}` ? A : P;
/** Every path of the contract that answers `M`, as a test may write it. */
export type PathFor<M extends Method> = {
  [K in keyof paths]: [NonNullable<paths[K][Lowercase<M>]>] extends [never]
    ? never
    : Filled<K> | `${Filled<K>}?${string}`;
}[keyof paths];
/** The contract's key for a path as written (each of a union), never when it has none. */
type PathKey<P extends string> = P extends string
  ? { [K in keyof paths]: Bare<P> extends Filled<K> ? K : never }[keyof paths]
  : never;

/** The operation behind a method and a path as written, never when the contract has none. */
export type Operation<M extends Method, P extends string> =
  PathKey<P> extends infer K
    ? K extends keyof paths
      ? Lowercase<M> extends keyof paths[K]
        ? NonNullable<paths[K][Lowercase<M>]>
        : never
      : never
    : never;

/** A body as the tests write it: JSON as its value, any other type as the text sent or received. */
type Content<C> = C extends { content: { 'application/json': infer B } } ? B : string;

/** The request body of an operation (undefined when it takes none). */
type BodyOf<Op> = Op extends { requestBody: infer B }
  ? Content<B>
  : Op extends { requestBody?: infer B }
    ? Content<NonNullable<B>> | undefined
    : undefined;

/** The request body of a method and path. */
export type RequestBody<M extends Method, P extends string> = BodyOf<Operation<M, P>>;

/** What every error answer carries (src/http/schemas.ts, and the error handler for any status). */
export interface ErrorBody {
  error: { code: string; message: string };
}

/** The error statuses any route may answer though its schema does not list them (the error handler words them all). */
type ErrorStatus = [400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 500, 502, 503, 504][number];

/** The answers of an operation: one per status it lists, and the statuses it does not list as ErrorBody. */
type AnswerOf<Op> = Op extends { responses: infer R }
  ?
      | { [S in keyof R]: S extends number ? ApiResponse<Content<R[S]>> & { status: S } : never }[keyof R]
      | (ApiResponse<ErrorBody> & { status: Exclude<ErrorStatus, keyof R> })
  : never;

/** The answer of a method and path, as a union by status: `assert.equal(res.status, 200)` narrows it. */
export type Answer<M extends Method, P extends string> = AnswerOf<Operation<M, P>>;

/**
 * A call of the contract: `api('POST', '/api/v1/auth/login', { email, password })`, the answer typed by its
 * status (`assert.equal(res.status, 200)` narrows it). Routes outside the contract (the dev inbox,
 * /metrics, /openapi.json) and bodies the contract refuses on purpose go through `request`.
 */
export type TypedApi = <M extends Method, P extends PathFor<M>>(
  method: M,
  path: P,
  body?: RequestBody<M, P>,
  token?: string,
  headers?: Record<string, string>,
) => Promise<Answer<M, P>>;

/** Any call, its body sent as given (a string as it is), its answer's body `T` (unknown unless said). */
export type UntypedApi = <T = unknown>(
  method: Method,
  path: string,
  body?: unknown,
  token?: string,
  headers?: Record<string, string>,
) => Promise<ApiResponse<T>>;

/** A call as it was sent: its method and its whole URL. */
export interface Sent {
  method: string;
  url: string;
}

/**
 * An answer as the tests read it: the body parsed when it is JSON, else its text (`T` as the caller
 * says). An error answer of a route of the contract is checked against it first (`checkErrorAnswer`).
 */
export async function readAnswer<T = unknown>(res: Response, sent: Sent): Promise<ApiResponse<T>> {
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  const answer = { status: res.status, body: parsed as T, text, headers: res.headers };
  if (answer.status >= 400) await checkErrorAnswer(sent, answer);
  return answer;
}

/** An OpenAPI document's error answers: per route, each status's codes (null: any code). */
interface ErrorContract {
  routes: { method: string; path: string; segments: string[]; statuses: Map<number, string[] | null> }[];
}

type OpenApiDoc = {
  paths?: Record<
    string,
    Record<string, { responses?: Record<string, { content?: Record<string, { schema?: unknown }> }> }>
  >;
};

function errorContractOf(doc: OpenApiDoc): ErrorContract {
  const routes: ErrorContract['routes'] = [];
  for (const [path, operations] of Object.entries(doc.paths ?? {}))
    for (const [method, op] of Object.entries(operations)) {
      const statuses = new Map<number, string[] | null>();
      for (const [status, response] of Object.entries(op.responses ?? {})) {
        if (Number(status) < 400) continue;
        const schema = response.content?.['application/json']?.schema as
          | { properties?: { error?: { properties?: { code?: { enum?: string[] } } } } }
          | undefined;
        statuses.set(Number(status), schema?.properties?.error?.properties?.code?.enum ?? null);
      }
      routes.push({ method: method.toUpperCase(), path, segments: path.split('/'), statuses });
    }
  return { routes };
}

/**
 * The served contract of each origin the suite calls, read once, when its first error answer comes.
 * A stack registers its own (`serveContract`): a later stack on the same port replaces it.
 */
const contracts = new Map<string, () => Promise<ErrorContract | null>>();

/** Read `load` once, at the first call. */
function once<T>(load: () => Promise<T>): () => Promise<T> {
  let loaded: Promise<T> | undefined;
  return () => {
    loaded ??= load();
    return loaded;
  };
}

/** How the contract of `origin` is read: a stack gives its app's document (what its /openapi.json serves). */
export function serveContract(origin: string, document: () => unknown): void {
  contracts.set(
    origin,
    once(async () => errorContractOf(document() as OpenApiDoc)),
  );
}

/** Any other origin (a service in a child process): its /openapi.json, none when it serves none. */
const fetchedContract = (origin: string) =>
  once(async () => {
    const res = await fetch(`${origin}/openapi.json`).catch(() => undefined);
    return res?.ok ? errorContractOf((await res.json()) as OpenApiDoc) : null;
  });

/** The route of the contract a concrete path is, the one with the most literal segments when several are. */
function routeOf(contract: ErrorContract, method: string, pathname: string) {
  const segments = pathname.split('/');
  let best: { route: ErrorContract['routes'][number]; literal: number } | undefined;
  for (const route of contract.routes) {
    if (route.method !== method || route.segments.length !== segments.length) continue;
    let literal = 0;
    const matches = route.segments.every((s, i) => {
      if (/^\{[^}]+\}$/.test(s)) return segments[i] !== '';
      literal++;
      return s === segments[i];
    });
    if (matches && (!best || literal > best.literal)) best = { route, literal };
  }
  return best?.route;
}

/** Origins whose test breaks the database on purpose: their 500 internal_error is the answer it expects. */
const breaking = new Set<string>();

/** While a test makes the service fail on purpose, its 500s are not contract failures; call the result to end it. */
export function breakingOnPurpose(baseUrl: string): () => void {
  const origin = new URL(baseUrl).origin;
  breaking.add(origin);
  return () => breaking.delete(origin);
}

/**
 * Fails the call when an error answer of a route of the contract is not in it: the route must list the
 * status, and the body's `error.code` must be one of that status's codes. Routes outside the document
 * (the dev inbox, the console, /metrics, unknown routes) are not checked.
 */
async function checkErrorAnswer(sent: Sent, answer: ApiResponse): Promise<void> {
  const url = new URL(sent.url);
  let contract = contracts.get(url.origin);
  if (!contract) {
    contract = fetchedContract(url.origin);
    contracts.set(url.origin, contract);
  }
  const route = routeOf((await contract()) ?? { routes: [] }, sent.method.toUpperCase(), url.pathname);
  if (!route) return;
  const code = errorCode(answer);
  if (answer.status === 500 && code === 'internal_error' && breaking.has(url.origin)) return;
  const where = `${route.method} ${route.path} answered ${answer.status} ${code ?? answer.text.slice(0, 80)}`;
  const codes = route.statuses.get(answer.status);
  assert.ok(codes !== undefined, `${where}: /openapi.json lists no ${answer.status} for this route`);
  assert.ok(
    codes === null || (code !== null && codes.includes(code)),
    `${where}: /openapi.json lists only ${codes?.join(', ')} for its ${answer.status}`,
  );
}

/** The error code of an answer, null when it has none. */
export const errorCode = (r: ApiResponse): string | null =>
  (r.body as { error?: { code?: string } })?.error?.code ?? null;

/** A Retry-After of a whole number of seconds, from 1 to `maxSeconds`. */
export function assertRetryAfter(r: ApiResponse, maxSeconds: number): void {
  const retry = Number(r.headers.get('retry-after'));
  assert.ok(
    Number.isInteger(retry) && retry >= 1 && retry <= maxSeconds,
    `Retry-After: ${r.headers.get('retry-after')}`,
  );
}

/** A 429 rate_limited, with a Retry-After from 1 to `maxSeconds`. */
export function assertRateLimited(r: ApiResponse, maxSeconds: number): asserts r is ApiResponse<ErrorBody> {
  assert.equal(r.status, 429, r.text);
  assert.equal(errorCode(r), 'rate_limited');
  assertRetryAfter(r, maxSeconds);
}

/** The body of an answer that must have `status` (else the test fails with the answer's text). */
export function expectStatus<A extends ApiResponse, S extends A['status']>(
  answer: A,
  status: S,
): Extract<A, { status: S }>['body'] {
  assert.equal(answer.status, status, answer.text);
  return answer.body as Extract<A, { status: S }>['body'];
}
