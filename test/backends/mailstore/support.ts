// What the MailStore tests share: a domain served by the James emulator and the MailStore emulator together.
import { startJamesEmulator, type JamesEmulator } from '../../../src/backends/james/emulator.ts';
import { startMailStoreEmulator, type MailStoreEmulator, type MailStoreEmulatorOptions } from '../../../src/backends/mailstore/emulator.ts';
import { alias, backend, docs, domain, user } from '../../support/manifests.ts';

export const SECRETS = { 'mailstore-admin': 'Archive-Adm1n', alice: 'Alice-S3cret!', bob: 'Bob-S3cret!' };

/** A MailBackend of type mailstore, logging in as admin with the mailstore-admin secret. */
export function mailstoreBackend(url: string, settings = '', name = 'archive'): string {
  return backend(name, url, `  credentials:\n    username: admin\n    passwordSecretRef: {name: mailstore-admin, key: password}\n${settings ? `  mailstore:\n${settings}` : ''}`)
    .replace('type: james', 'type: mailstore');
}

export interface Servers {
  james: JamesEmulator;
  mailstore: MailStoreEmulator;
  close(): Promise<void>;
}

export async function startServers(options: MailStoreEmulatorOptions = {}): Promise<Servers> {
  const [james, mailstore] = await Promise.all([startJamesEmulator({}), startMailStoreEmulator({ password: SECRETS['mailstore-admin'], invokeWaitMs: 50, ...options })]);
  return { james, mailstore, close: async () => void (await Promise.all([james.close(), mailstore.close()])) };
}

/**
 * example.com on James and MailStore: alice with a full name, an extra address and a one-member alias; bob with
 * nothing but his password; a team alias of both (which MailStore cannot hold).
 */
export function bothServers(servers: Pick<Servers, 'james' | 'mailstore'>, options: { settings?: string; domainFields?: string; alice?: string; more?: string[] } = {}): string {
  return docs(
    backend('james', servers.james.url),
    mailstoreBackend(servers.mailstore.url, options.settings),
    domain('example.com', options.domainFields ?? '', ['james', 'archive']),
    user('alice@example.com', options.alice ?? '  displayName: Alice Liddell\n  extraAddresses: [a.liddell@example.com]\n'),
    user('bob@example.com'),
    alias('postmaster@example.com', ['alice@example.com']),
    alias('team@example.com', ['alice@example.com', 'bob@example.com']),
    ...(options.more ?? []),
  );
}

export function mailstoreUser(servers: Pick<Servers, 'mailstore'>, userName: string) {
  return servers.mailstore.users.find((u) => u.userName.toLowerCase() === userName.toLowerCase());
}
