// What the throughput scenarios (initial-apply, steady-state, naive) share: a configuration of
// N users, a mailops Session on it (in-process, as the CLI runs it), the requests mailops sends
// recorded at its own side, and their replay by a plain load generator (autocannon) for the ceiling.
import { createHash, randomBytes } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createRequire } from 'node:module';
import { operationOf } from '../../src/backends/http/client.ts';
import { createAdapter } from '../../src/backends/registry.ts';
import { Session } from '../../src/engine/session.ts';
import { loadConfigFromDocuments, parseYamlFile } from '../../src/load/index.ts';
import type { SecretRef } from '../../src/model/config.ts';
import { Sensitive } from '../../src/model/sensitive.ts';
import { hasChanges } from '../../src/plan/index.ts';
import { FileRecordStore, MemoryRecordStore, type RecordStore } from '../../src/state/records.ts';
import { domainFile, domainName } from '../fixtures.ts';

// autocannon ships no types; the part of its programmatic API used here.
interface AutocannonRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string | undefined;
}
interface AutocannonResult {
  requests: { total: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}
type Autocannon = (options: {
  url: string;
  connections: number;
  pipelining: number;
  amount: number;
  timeout: number;
  sampleInt: number;
  requests: Array<{ setupRequest: (request: AutocannonRequest) => AutocannonRequest; onResponse: () => void }>;
}) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

/** The MailBackend's limits.concurrency in every throughput scenario; the ceiling and the naive loop are measured against it. */
export const CONCURRENCY = 16;

export interface JamesTarget {
  url: string;
  /** The real James's WebAdmin JWT; the emulator runs without authentication. */
  token?: string;
}

export type UserShape =
  /** Only what the naive loop does too: the user and its password. */
  | 'password'
  /** The large-configuration fixture's user: display name (not applicable on James), an extra address, a message quota. */
  | 'fixture';

/** A MailBackend of the benchmark: YAML lines under `spec.credentials` and further lines under `spec`, if any. */
export interface BenchBackend {
  name: string;
  type: string;
  url: string;
  credentials?: string[];
  settings?: string[];
}

/** The James of `target` as a MailBackend named `james` (its token, when it has one, from the secret james-admin). */
export function jamesBackend(target: JamesTarget): BenchBackend {
  return { name: 'james', type: 'james', url: target.url, ...(target.token !== undefined ? { credentials: ['tokenSecretRef:', '  name: james-admin', '  key: token'] } : {}) };
}

/**
 * The MailBackends and one MailDomain `domain` served by all of them, with `users` MailUsers, in YAML as an
 * administrator writes it (the user documents of bench/fixtures.ts).
 */
export function benchManifests(backends: BenchBackend[], options: { users: number; domain: string; shape: UserShape }): string {
  const documents = backends.map((backend) =>
    [
      'apiVersion: mailops.dev/v1alpha1',
      'kind: MailBackend',
      'metadata:',
      `  name: ${backend.name}`,
      'spec:',
      `  type: ${backend.type}`,
      `  url: ${backend.url}`,
      ...(backend.credentials ? ['  credentials:', ...backend.credentials.map((line) => `    ${line}`)] : []),
      '  limits:',
      `    concurrency: ${CONCURRENCY}`,
      '    requestsPerSecond: 100000',
      ...(backend.settings ?? []).map((line) => `  ${line}`),
      '',
    ].join('\n'),
  );
  const fixture = { users: options.users, aliases: 0, domains: 1, backends: Object.fromEntries(backends.map((b) => [b.name, b])) };
  let domain = domainFile(fixture, 0).replaceAll(domainName(0), options.domain);
  if (options.shape === 'password') {
    domain = domain
      .replace(/^ {2}defaultQuota:\n {4}storage: 1Gi\n/m, '')
      .replace(/^ {2}displayName: .*\n/gm, '')
      .replace(/^ {2}extraAddresses:\n {4}- .*\n/gm, '')
      .replace(/^ {2}quota:\n {4}messages: .*\n/gm, '');
  }
  return [...documents, domain].join('---\n');
}

/** One MailBackend `james` and one MailDomain `domain` with `users` MailUsers. */
export function jamesManifests(target: JamesTarget, options: { users: number; domain: string; shape: UserShape }): string {
  return benchManifests([jamesBackend(target)], options);
}

/** The address of user `i` in jamesManifests(), and the password mailops gives it. */
export function userAddress(i: number, domain: string): string {
  return `user${i}@${domain}`;
}
export function userPassword(i: number): string {
  return benchSecret(`u${i}`);
}

/** The value of the secret `name` (a password, as varied as real ones: a shared prefix would make every secret look alike to the redactor). */
export function benchSecret(name: string): string {
  return createHash('sha256').update(`bench ${name}`).digest('base64url').slice(0, 20);
}

class BenchSecrets {
  readonly #token: string | undefined;
  constructor(token: string | undefined) {
    this.#token = token;
  }
  async resolve(ref: SecretRef): Promise<Sensitive> {
    if (ref.name === 'james-admin') {
      if (this.#token === undefined) throw new Error('no James token');
      return new Sensitive(this.#token);
    }
    return new Sensitive(benchSecret(ref.name));
  }
}

/**
 * Loads the YAML and opens a Session on it, as `mailops apply` does after reading its files: records in a
 * state directory when `stateDir` is given (as the CLI keeps them), else in memory.
 */
export async function openSession(yaml: string, target: { token?: string }, stateDir?: string, fingerprintKey: Buffer = randomBytes(32)): Promise<{ session: Session; records: RecordStore }> {
  const parsed = parseYamlFile('bench.yaml', yaml);
  const config = loadConfigFromDocuments(parsed.documents, parsed.errors);
  const records = stateDir !== undefined ? await FileRecordStore.open(stateDir) : new MemoryRecordStore();
  const session = await Session.resolveAndOpen({ config, resolver: new BenchSecrets(target.token), records, fingerprintKey, adapterFactory: createAdapter });
  return { session, records };
}

export interface ApplyRun {
  /** From the first observing request to the last answer of the apply: `session.plan()` + `session.apply()`. */
  ms: number;
  /** Requests mailops sent, observing and applying (counted by its HTTP client). */
  requests: number;
  changes: number;
  /** The changes that failed, with their errors. */
  failures: string[];
}

/** plan + apply, timed, as `mailops apply` makes them. */
export async function planAndApply(session: Session): Promise<ApplyRun> {
  const started = performance.now();
  const plan = await session.plan();
  const report = await session.apply(plan);
  const ms = performance.now() - started;
  const failures = report.results.filter((r) => r.outcome !== 'applied').map((r) => `${r.change.id}: ${r.error}`);
  const requests = plan.backends.reduce((sum, b) => sum + b.requests, 0) + [...report.requests.values()].reduce((a, b) => a + b, 0);
  return { ms, requests, changes: report.results.length, failures };
}

/** A figure of a run that did not converge is worthless: a second plan must find nothing to do. */
export async function assertInSync(session: Session): Promise<void> {
  if (hasChanges(await session.plan())) throw new Error('the plan after the apply still has changes');
}

/** How many changes a second plan finds (0 when the apply did all it said). */
export async function changesLeft(session: Session): Promise<number> {
  const plan = await session.plan();
  return plan.backends.reduce((sum, b) => sum + b.changes.length, 0);
}

/** What a James holds in one domain: its users and the Alias mappings of its addresses (GET /users, GET /mappings). */
export async function jamesContents(target: JamesTarget, domain: string): Promise<{ users: number; aliases: number }> {
  const headers = target.token !== undefined ? { authorization: `Bearer ${target.token}` } : undefined;
  const get = async (route: string) => {
    const response = await fetch(`${target.url}${route}`, headers ? { headers } : {});
    if (response.status !== 200) throw new Error(`GET ${route}: HTTP ${response.status}`);
    return response.json() as Promise<unknown>;
  };
  const suffix = `@${domain}`;
  const users = ((await get('/users')) as Array<{ username: string }>).filter((u) => u.username.endsWith(suffix)).length;
  const mappings = (await get('/mappings')) as Record<string, Array<{ type: string }>>;
  let aliases = 0;
  for (const [source, list] of Object.entries(mappings)) if (source.endsWith(suffix)) aliases += list.filter((m) => m.type === 'Alias').length;
  return { users, aliases };
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string | undefined;
}

/**
 * Records every request this process sends through undici (mailops' HTTP client) from now until stop(), from
 * undici's diagnostics channel: method, path, headers and body, as they went out. Kept in memory only (the
 * headers hold the credentials: never print them).
 */
export function recordRequests(): { stop(): RecordedRequest[] } {
  const recorded: RecordedRequest[] = [];
  const onCreate = (message: unknown) => {
    const request = (message as { request: { method: string; path: string; headers: string[] | string; body: unknown } }).request;
    const headers: Record<string, string> = {};
    if (Array.isArray(request.headers)) {
      for (let i = 0; i + 1 < request.headers.length; i += 2) headers[request.headers[i]!.toLowerCase()] = request.headers[i + 1]!;
    }
    const body = request.body;
    recorded.push({
      method: request.method,
      path: request.path,
      headers,
      body: typeof body === 'string' ? body : body instanceof Uint8Array ? Buffer.from(body).toString('utf8') : undefined,
    });
  };
  subscribe('undici:request:create', onCreate);
  return {
    stop() {
      unsubscribe('undici:request:create', onCreate);
      return recorded;
    },
  };
}

export interface ReplayRun {
  ms: number;
  requests: number;
  /** Answers outside 2xx: the replay sent the requests out of mailops' order, so some may fail. */
  non2xx: number;
  errors: number;
}

/**
 * The ceiling: `requests` sent to `url` by autocannon at `connections` requests in flight (keep-alive, no
 * pipelining), each exactly once, in the recorded order as far as the connections allow. Timed from autocannon's
 * start to the last answer.
 */
export async function replayWithAutocannon(url: string, requests: readonly RecordedRequest[], connections: number): Promise<ReplayRun> {
  let next = 0;
  let lastAnswer = 0;
  const started = performance.now();
  const result = await autocannon({
    url,
    connections: Math.min(connections, requests.length),
    pipelining: 1,
    amount: requests.length,
    timeout: 30,
    // autocannon notices that it is done only at its next sample, a second apart by default: the clock stops at the
    // last answer instead, and frequent samples end the run soon after it.
    sampleInt: 50,
    requests: [
      {
        onResponse: () => {
          lastAnswer = performance.now();
        },
        setupRequest: (request: AutocannonRequest) => {
          const recorded = requests[next++ % requests.length]!;
          const headers: Record<string, string> = { ...recorded.headers };
          delete headers['content-length'];
          delete headers.host;
          return { ...request, method: recorded.method, path: recorded.path, headers, ...(recorded.body !== undefined ? { body: recorded.body } : { body: undefined }) };
        },
      },
    ],
  });
  const ms = lastAnswer - started;
  return { ms, requests: result.requests.total, non2xx: result.non2xx, errors: result.errors + result.timeouts };
}

/** The recorded requests moved from one domain to another (so that a replay against the real James creates again). */
export function rewriteDomain(requests: readonly RecordedRequest[], from: string, to: string): RecordedRequest[] {
  const fromEncoded = encodeURIComponent(from);
  const toEncoded = encodeURIComponent(to);
  return requests.map((r) => ({
    ...r,
    path: r.path.replaceAll(from, to).replaceAll(fromEncoded, toEncoded),
    body: r.body?.replaceAll(from, to),
  }));
}

/** A domain name no run has used yet: the real James keeps what earlier runs created. */
export function freshDomain(label: string): string {
  return `${label}-${randomBytes(3).toString('hex')}.bench.example`;
}

/** Requests by route, names and ids taken out (`GET /quota/users/:name`), as mailops' metrics name them. */
export function byRoute(log: readonly { method: string; path: string }[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const entry of log) {
    const route = operationOf(entry.method, entry.path);
    counts[route] = (counts[route] ?? 0) + 1;
  }
  return counts;
}
