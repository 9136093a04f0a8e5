// Mail addresses as people write them: internationalised domains, non-ASCII local parts, mixed
// case, and the lengths RFC 5321 allows. Each refusal names file, line and field and says what to
// write instead; mixed case never leaves a diff that no apply can close.
import { describe, expect, it } from 'vitest';
import { addressProblem, domainProblem, isMailAddress } from '../../src/model/names.ts';
import { hasChanges } from '../../src/plan/index.ts';
import { ADMIN, iredadminBackend, useEmulators } from '../backends/iredadmin/support.ts';
import { alias, backend, configFrom, docs, domain, loadError, user } from '../support/manifests.ts';
import { converge } from '../support/session.ts';

const label = (n: number) => 'a'.repeat(n);
/** A domain of exactly `n` characters, in labels of at most 63. */
function domainOfLength(n: number): string {
  const labels: string[] = [];
  let left = n;
  for (; left > 64; left -= 64) labels.push(label(63));
  return [...labels, label(left)].join('.');
}

describe('RFC 5321 lengths, counted in octets', () => {
  it('a local part of 64 is allowed, 65 is not', () => {
    expect(addressProblem(`${label(64)}@example.com`)).toBeUndefined();
    expect(isMailAddress(`${label(64)}@example.com`)).toBe(true);
    expect(addressProblem(`${label(65)}@example.com`)).toBe('has a local part of 65 characters; at most 64 are allowed (RFC 5321)');
    expect(isMailAddress(`${label(65)}@example.com`)).toBe(false);
  });

  it('a whole address of 254 is allowed, 255 is not', () => {
    expect(addressProblem(`${label(64)}@${domainOfLength(189)}`)).toBeUndefined(); // 64 + 1 + 189 = 254
    expect(addressProblem(`${label(64)}@${domainOfLength(190)}`)).toBe('is 255 characters long; at most 254 are allowed (RFC 5321)');
  });

  it('a label of 63 is allowed, 64 is not; a domain of 253 is allowed, 254 is not', () => {
    expect(domainProblem(`${label(63)}.example`)).toBeUndefined();
    expect(domainProblem(`${label(64)}.example`)).toMatch(/^has a label of 64 characters/);
    expect(domainProblem(domainOfLength(253))).toBeUndefined();
    expect(domainProblem(domainOfLength(254))).toBe('is 254 characters long; at most 253 are allowed');
  });
});

describe('internationalised names', () => {
  it('an IDN domain is refused with the ASCII form to write, wherever a domain or address is written', () => {
    const message = loadError(
      docs(
        backend(),
        domain('bücher.example', '  aliasDomains: [bücher.example.net]', ['james']).replace('bücher-example', 'buecher'),
        user('alice@bücher.example', '  extraAddresses: [a@BÜCHER.example]\n  forwarding: {to: [bob@müller.example]}'),
        alias('team@example.com', ['alice@bücher.example']),
      ),
    );
    expect(message.split('\n').slice(1)).toEqual([
      '  test.yaml:13:11: MailDomain "buecher" spec.domain: "bücher.example" is an internationalised domain name: write it as "xn--bcher-kva.example", the ASCII form the mail servers store',
      '  test.yaml:15:18: MailDomain "buecher" spec.aliasDomains[0]: "bücher.example.net" is an internationalised domain name: write it as "xn--bcher-kva.example.net", the ASCII form the mail servers store',
      '  test.yaml:21:12: MailUser "alice" spec.address: "alice@bücher.example" is in an internationalised domain: write it as "alice@xn--bcher-kva.example", the ASCII form the mail servers store',
      '  test.yaml:23:20: MailUser "alice" spec.extraAddresses[0]: "a@BÜCHER.example" is in an internationalised domain: write it as "a@xn--bcher-kva.example", the ASCII form the mail servers store',
      '  test.yaml:24:21: MailUser "alice" spec.forwarding.to[0]: "bob@müller.example" is in an internationalised domain: write it as "bob@xn--mller-kva.example", the ASCII form the mail servers store',
      '  test.yaml:31:13: Alias "alias-team" spec.members[0]: "alice@bücher.example" is in an internationalised domain: write it as "alice@xn--bcher-kva.example", the ASCII form the mail servers store',
    ]);
  });

  it('the ASCII form it suggests is accepted', () => {
    const config = configFrom(docs(backend(), domain('xn--bcher-kva.example'), user('alice@xn--bcher-kva.example', '', 'alice')));
    expect(config.users.map((u) => u.address)).toEqual(['alice@xn--bcher-kva.example']);
  });

  it('a non-ASCII local part (SMTPUTF8) is refused: no backend can hold it', () => {
    expect(loadError(docs(backend(), domain('example.com'), user('jörg@example.com', '', 'joerg')))).toContain(
      'test.yaml:21:12: MailUser "joerg" spec.address: "jörg@example.com" has a local part that is not ASCII ("jörg"): internationalised mailboxes (SMTPUTF8) are not supported by the mail servers mailops manages',
    );
  });

  it('an over-long local part is refused where it is written, even in a list', () => {
    expect(loadError(docs(backend(), domain('example.com'), alias('team@example.com', ['alice@example.com', `${label(65)}@example.com`])))).toContain(
      `test.yaml:22:32: Alias "alias-team" spec.members[1]: "${label(65)}@example.com" has a local part of 65 characters; at most 64 are allowed (RFC 5321)`,
    );
  });
});

describe('case', () => {
  const emulators = useEmulators();

  it('addresses and domains in mixed case converge: a second plan shows no changes on James or iRedAdmin-Pro', async () => {
    const [james, iredadmin] = await Promise.all([emulators.james(), emulators.iredadmin()]);
    const yaml = docs(
      backend('james', james.url),
      iredadminBackend(iredadmin.url),
      domain('Example.COM', '  aliasDomains: [Example.NET]', ['james', 'iredadmin']).replace('Example-COM', 'example-com'),
      user('Alice.Liddell@Example.com', '  extraAddresses: [A.Liddell@EXAMPLE.com]\n  forwarding: {to: [Alice@Elsewhere.Example.ORG], keepCopy: true}', 'alice'),
      user('BOB@example.COM', '', 'bob'),
      alias('Team@Example.com', ['alice.liddell@example.com', 'Bob@Example.Com'], 'team'),
    );
    const { plan, after } = await converge(yaml, { 'iredadmin-admin': ADMIN.password, alice: 'Alice-S3cret!', bob: 'Bob-S3cret!!' });
    expect(hasChanges(plan)).toBe(true);
    expect(after.backends.map((b) => b.error)).toEqual([undefined, undefined]);
    expect(hasChanges(after)).toBe(false);
    expect([...james.state.users].sort()).toEqual(['alice.liddell@example.com', 'bob@example.com']);
    expect(Object.keys(iredadmin.state.users).sort()).toEqual(['alice.liddell@example.com', 'bob@example.com']);
  });
});
