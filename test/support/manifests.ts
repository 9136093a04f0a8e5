// Small helpers to build configurations in tests from YAML text, as a user would write them.
import { InvalidConfigError, formatConfigError, loadConfigFromDocuments, loadConfigFromPaths, parseYamlFile } from '../../src/load/index.ts';
import type { Config } from '../../src/model/config.ts';

/** The message a configuration is refused with; fails the test when it is accepted. */
export function loadError(yaml: string): string {
  try {
    configFrom(yaml);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected the configuration to be refused');
}

/** The errors loading `paths` from disk is refused with, each formatted, with `relativeTo` shown as `.`. */
export async function errorsOf(paths: string[], relativeTo: string): Promise<string[]> {
  try {
    await loadConfigFromPaths(paths);
  } catch (error) {
    if (!(error instanceof InvalidConfigError)) throw error;
    return error.errors.map((e) => formatConfigError(e).replaceAll(relativeTo, '.'));
  }
  throw new Error('expected the configuration to be invalid');
}

/** Parses YAML (several documents allowed) as if it were the file `file`, and loads it. */
export function configFrom(yaml: string, file = 'test.yaml'): Config {
  const parsed = parseYamlFile(file, yaml);
  return loadConfigFromDocuments(parsed.documents, parsed.errors);
}

export function backend(name = 'james', url = 'http://127.0.0.1:1', extra = ''): string {
  return `apiVersion: mailops.dev/v1alpha1
kind: MailBackend
metadata: {name: ${name}}
spec:
  type: james
  url: ${url}
${extra}`;
}

export function domain(name: string, fields = '', backends = ['james']): string {
  return `apiVersion: mailops.dev/v1alpha1
kind: MailDomain
metadata: {name: ${name.replace(/\./g, '-')}}
spec:
  domain: ${name}
  backendRefs: [${backends.map((b) => `{name: ${b}}`).join(', ')}]
${fields}`;
}

export function user(address: string, fields = '', name = address.split('@')[0]!.replace(/[^a-z0-9-]/g, '-')): string {
  return `apiVersion: mailops.dev/v1alpha1
kind: MailUser
metadata: {name: ${name}}
spec:
  address: ${address}
  passwordSecretRef: {name: ${name}, key: password}
${fields}`;
}

export function alias(address: string, members: string[], name = `alias-${address.split('@')[0]!.replace(/[^a-z0-9-]/g, '-')}`): string {
  return `apiVersion: mailops.dev/v1alpha1
kind: Alias
metadata: {name: ${name}}
spec:
  address: ${address}
  members: [${members.join(', ')}]
`;
}

export function quotaPolicy(name: string, fields: string): string {
  return `apiVersion: mailops.dev/v1alpha1
kind: QuotaPolicy
metadata: {name: ${name}}
spec:
${fields}`;
}

export function docs(...parts: string[]): string {
  return parts.join('\n---\n');
}
