// Configurations for the benchmarks, written the way an administrator writes them: one file per
// domain, block-style YAML, a Secret reference per user.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface LargeConfig {
  users: number;
  aliases: number;
  domains: number;
  /** MailBackend names → URL; every domain is served by all of them. */
  backends: Record<string, { type: string; url: string; concurrency?: number }>;
}

export function domainName(d: number): string {
  return `d${d}.bench.example`;
}

function backendDocument(name: string, spec: { type: string; url: string; concurrency?: number }): string {
  return [
    'apiVersion: mailops.dev/v1alpha1',
    'kind: MailBackend',
    'metadata:',
    `  name: ${name}`,
    'spec:',
    `  type: ${spec.type}`,
    `  url: ${spec.url}`,
    '  limits:',
    `    concurrency: ${spec.concurrency ?? 16}`,
    '    requestsPerSecond: 100000',
    '',
  ].join('\n');
}

/** The files of one domain: the MailDomain, its users and its aliases, as one multi-document YAML text. */
export function domainFile(config: LargeConfig, d: number): string {
  const domain = domainName(d);
  const usersHere = share(config.users, config.domains, d);
  const aliasesHere = share(config.aliases, config.domains, d);
  const firstUser = offset(config.users, config.domains, d);
  const parts: string[] = [
    [
      'apiVersion: mailops.dev/v1alpha1',
      'kind: MailDomain',
      'metadata:',
      `  name: d${d}`,
      'spec:',
      `  domain: ${domain}`,
      '  backendRefs:',
      ...Object.keys(config.backends).map((name) => `    - name: ${name}`),
      '  defaultQuota:',
      '    storage: 1Gi',
      '',
    ].join('\n'),
  ];
  for (let i = 0; i < usersHere; i++) {
    const u = firstUser + i;
    parts.push(
      [
        'apiVersion: mailops.dev/v1alpha1',
        'kind: MailUser',
        'metadata:',
        `  name: u${u}`,
        'spec:',
        `  address: user${u}@${domain}`,
        `  displayName: Bench User ${u}`,
        '  passwordSecretRef:',
        `    name: u${u}`,
        '    key: password',
        '  extraAddresses:',
        `    - alias${u}@${domain}`,
        '  quota:',
        `    messages: ${1000 + (u % 1000)}`,
        '',
      ].join('\n'),
    );
  }
  for (let i = 0; i < aliasesHere; i++) {
    const a = offset(config.aliases, config.domains, d) + i;
    const member = firstUser + (usersHere > 0 ? i % usersHere : 0);
    parts.push(
      [
        'apiVersion: mailops.dev/v1alpha1',
        'kind: Alias',
        'metadata:',
        `  name: a${a}`,
        'spec:',
        `  address: list${a}@${domain}`,
        '  members:',
        `    - user${member}@${domain}`,
        '',
      ].join('\n'),
    );
  }
  return parts.join('---\n');
}

/** Writes backends.yaml and one file per domain into `dir`; returns the bytes written. */
export async function writeLargeConfig(dir: string, config: LargeConfig): Promise<number> {
  await mkdir(dir, { recursive: true });
  let bytes = 0;
  const backends = Object.entries(config.backends).map(([name, spec]) => backendDocument(name, spec)).join('---\n');
  await writeFile(path.join(dir, 'backends.yaml'), backends);
  bytes += Buffer.byteLength(backends);
  for (let d = 0; d < config.domains; d++) {
    const text = domainFile(config, d);
    bytes += Buffer.byteLength(text);
    await writeFile(path.join(dir, `domain-${String(d).padStart(4, '0')}.yaml`), text);
  }
  return bytes;
}

/** How many of `total` fall to part `i` of `parts` (the first parts take the remainder). */
function share(total: number, parts: number, i: number): number {
  return Math.floor(total / parts) + (i < total % parts ? 1 : 0);
}

function offset(total: number, parts: number, i: number): number {
  let at = 0;
  for (let j = 0; j < i; j++) at += share(total, parts, j);
  return at;
}
