// The secret canary (issue 13, "Secrets — never leaked"): every secret of a run is a unique marker, and
// everything mailops writes or serves is searched for it — as it is, and in the forms a secret takes on
// the wire (base64 inside a Basic header, a JWT, a cookie; URL, JSON and XML escapes keep the marker's
// core intact). A proxy in front of each backend records what was really sent, so that a test can show
// the secret was used (the canary cannot pass because nothing was tried), and can play a hostile server
// that quotes the request back in its error answers.
import { randomBytes } from 'node:crypto';
import { request as httpRequest, createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

export interface Canary {
  /** What the secret is, e.g. `user password alice (env)`. */
  readonly kind: string;
  /** The secret itself. */
  readonly value: string;
  /** `CANARY-<kind>-<random>`: the part every escaping leaves alone. */
  readonly core: string;
}

/**
 * A marker for one secret. The tail holds characters that URL, form, JSON and XML encodings change,
 * so the encodings mailops uses are exercised; the core survives all of them.
 */
export function canary(kind: string, slug: string): Canary {
  const core = `CANARY-${slug}-${randomBytes(6).toString('hex')}`;
  return { kind, core, value: `${core}&<"+/%x` };
}

/** Base64 and base64url of `text` at each of the three byte offsets it may start at inside a longer value. */
export function base64Forms(text: string): string[] {
  const forms: string[] = [];
  for (let shift = 0; shift < 3; shift++) {
    const encoded = Buffer.from(`${'\0'.repeat(shift)}${text}`, 'utf8').toString('base64');
    // The first group mixes the prefix in (when shifted), the last one whatever follows the marker.
    const middle = encoded.slice(shift === 0 ? 0 : 4, -4);
    forms.push(middle, middle.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return forms;
}

/** The strings whose presence betrays a canary. */
export function needles(marker: Canary): Array<{ form: string; text: string }> {
  return [
    { form: 'plain or escaped', text: marker.core },
    ...base64Forms(marker.core).map((text) => ({ form: 'base64', text })),
    { form: 'hex', text: Buffer.from(marker.core).toString('hex') },
  ];
}

/** Some text mailops produced, and where it came from (`plan -o json stdout`, `state dir records.json`). */
export interface Surface {
  readonly where: string;
  readonly text: string;
}

/** Every place a canary appears: `"<kind>" (<form>) in <where>: …context…`. Empty when nothing leaked. */
export function findLeaks(markers: readonly Canary[], surfaces: readonly Surface[]): string[] {
  const found: string[] = [];
  for (const surface of surfaces) {
    for (const marker of markers) {
      for (const needle of needles(marker)) {
        const at = surface.text.indexOf(needle.text);
        if (at < 0) continue;
        const context = surface.text.slice(Math.max(0, at - 80), at + needle.text.length + 40).replace(/\s+/g, ' ');
        found.push(`${marker.kind} (${needle.form}) in ${surface.where}: …${context}…`);
        break;
      }
    }
  }
  return found;
}

/** Whether the canary's secret is somewhere in `text`, in any form (the positive control). */
export function contains(text: string, marker: Canary): boolean {
  return needles(marker).some((needle) => text.includes(needle.text));
}

/**
 * The session cookies and tokens a backend handed out, as canaries: what the proxies saw sent back in
 * `cookie:` headers (iRedAdmin-Pro's session, for one). They are secrets too, though no one chose them.
 */
export function sessionCanaries(backend: string, traffic: string): Canary[] {
  const values = new Set<string>();
  for (const [, header] of traffic.matchAll(/^cookie: (.*)$/gm)) {
    for (const pair of header!.split(/;\s*/)) {
      const value = pair.slice(pair.indexOf('=') + 1);
      if (value.length >= 8) values.add(value);
    }
  }
  return [...values].map((value) => ({ kind: `session cookie of ${backend}`, value, core: value }));
}

/** Every file under `dir` as a surface (`<label>/<relative path>`), except the names in `skip`. */
export async function filesUnder(dir: string, label: string, skip: readonly string[] = []): Promise<Surface[]> {
  const surfaces: Surface[] = [];
  let entries;
  try {
    entries = await readdir(dir, { recursive: true, withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  for (const entry of entries) {
    if (!entry.isFile() || skip.includes(entry.name)) continue;
    const file = path.join(entry.parentPath, entry.name);
    // latin1: any byte sequence reads, and an ASCII marker is found in binary files (git objects are zlib'd, so a
    // clone is searched only where git keeps text: its config, refs and logs).
    surfaces.push({ where: `${label}/${path.relative(dir, file)}`, text: (await readFile(file)).toString('latin1') });
  }
  return surfaces;
}

/** What a hostile or recording proxy saw: every request's head and body, as text. */
export interface BackendProxy {
  readonly url: string;
  /** Everything sent through it so far (request lines, headers, bodies). */
  traffic(): string;
  /** What the backend behind it answered (status, headers, bodies): HTTP the project serves, when it is an emulator. */
  answers(): string;
  /** How many answers it made up to quote a request back. */
  readonly echoes: number;
  /** Quote each request once more (a new client's first requests are quoted again). */
  forgetSeen(): void;
  close(): Promise<void>;
}

/**
 * A proxy in front of `target` that records every request. With `echo`, it plays a server whose error
 * answers quote the request (headers and body): the first time it sees a request it answers 500
 * `{"message": "<the request>"}` instead of forwarding it; a repeat goes through, so a run still moves on.
 */
export async function startBackendProxy(target: string, options: { echo: boolean }): Promise<BackendProxy> {
  const upstream = new URL(target);
  const seen = new Set<string>();
  const log: string[] = [];
  const answers: string[] = [];
  let echoes = 0;
  const server = createServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const body = Buffer.concat(chunks);
      const head = `${incoming.method} ${incoming.url}\n${headerLines(incoming.headers)}`;
      const quoted = `${head}\n${body.toString('utf8')}`;
      log.push(quoted);
      // The cookie changes from login to login; what identifies a request is the rest of it.
      const key = quoted.replace(/^cookie:.*$/gm, '');
      if (options.echo && !seen.has(key)) {
        seen.add(key);
        echoes += 1;
        const answer = JSON.stringify({ message: quoted });
        outgoing.writeHead(500, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
        outgoing.end(answer);
        return;
      }
      const forward = httpRequest(
        { host: upstream.hostname, port: upstream.port, method: incoming.method, path: incoming.url, headers: { ...incoming.headers, host: upstream.host } },
        (answer) => {
          outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
          const parts: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => {
            parts.push(chunk);
            outgoing.write(chunk);
          });
          answer.on('end', () => {
            answers.push(`${answer.statusCode} ${incoming.method} ${incoming.url}\n${headerLines(answer.headers)}\n${Buffer.concat(parts).toString('utf8')}`);
            outgoing.end();
          });
        },
      );
      forward.on('error', () => outgoing.destroy());
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    traffic: () => log.join('\n'),
    answers: () => answers.join('\n'),
    get echoes() {
      return echoes;
    },
    forgetSeen: () => seen.clear(),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function headerLines(headers: IncomingHttpHeaders): string {
  return Object.entries(headers)
    .map(([name, value]) => `${name}: ${Array.isArray(value) ? value.join(', ') : value}`)
    .join('\n');
}
