// What an iRedAdmin-Pro configuration is made of, as the loader reads it: the backend's credentials and settings,
// and QuotaPolicy throttles, where they apply and how bad ones are refused (file, line, column, field).
import { describe, expect, it } from 'vitest';
import { globalQuotaOf } from '../../../src/model/config.ts';
import { configFrom, docs, domain, loadError, quotaPolicy, user } from '../../support/manifests.ts';
import { iredadminBackend } from './support.ts';

describe('an iRedAdmin-Pro MailBackend', () => {
  it('logs in as an admin: an address and a password secret are required', () => {
    const withoutCredentials = iredadminBackend('http://127.0.0.1:1').replace(/ {2}credentials:\n(?: {4}.*\n)+/, '');
    expect(loadError(withoutCredentials)).toMatch(
      /test\.yaml:\d+:\d+: MailBackend "iredadmin" spec(\.credentials)?: an iRedAdmin-Pro backend logs in as an admin: set credentials\.username \(the admin’s email address\) and credentials\.passwordSecretRef/,
    );
  });

  it('keeps deleted mailboxes for keepMailboxDays; the setting belongs to iredadmin backends only', () => {
    expect(configFrom(iredadminBackend('http://127.0.0.1:1', 'iredadmin', '  iredadmin: {keepMailboxDays: 14}')).backends[0]!.options).toEqual({ keepMailboxDays: 14 });
    expect(loadError(iredadminBackend('http://127.0.0.1:1', 'iredadmin', '  iredadmin: {keepMailboxDays: -1}'))).toMatch(/spec\.iredadmin\.keepMailboxDays/);
  });
});

describe('QuotaPolicy throttles', () => {
  const base = docs(iredadminBackend('http://127.0.0.1:1'));

  it('apply where the policy does: globally, to a domain through its defaultQuota, to a user through its quota', () => {
    const config = configFrom(docs(
      base,
      quotaPolicy('everyone', '  globalDefault: true\n  throttle:\n    inbound: {period: 30m, maxMessages: 1000}'),
      quotaPolicy('strict', '  storage: 1Gi\n  throttle:\n    outbound: {period: 3600, maxMessageSize: 10Mi, maxTotalSize: unlimited}'),
      domain('example.com', '  defaultQuota: {policyRef: {name: strict}}', ['iredadmin']),
      user('alice@example.com', '  quota: {policyRef: {name: strict}}'),
      user('bob@example.com', '  quota: {storage: 1Gi}'),
    ));
    const strict = { inbound: null, outbound: { period: 3600, maxMessageSize: 10 * 1024 * 1024, maxMessages: null, maxTotalSize: null } };
    expect(globalQuotaOf(config, 'default')!.throttle).toEqual({ inbound: { period: 1800, maxMessageSize: null, maxMessages: 1000, maxTotalSize: null }, outbound: null });
    expect(config.domains[0]!.throttle).toEqual(strict);
    expect(config.users.map((u) => [u.address, u.throttle])).toEqual([['alice@example.com', strict], ['bob@example.com', null]]);
  });

  it('a direction without any limit, or a period that is not one, is refused where it is written', () => {
    expect(loadError(docs(base, quotaPolicy('p', '  throttle:\n    outbound: {period: 1h}')))).toMatch(
      /test\.yaml:\d+:\d+: QuotaPolicy "p" spec\.throttle\.outbound: set at least one of maxMessageSize, maxMessages, maxTotalSize/,
    );
    expect(loadError(docs(base, quotaPolicy('p', '  throttle:\n    inbound: {period: 1w, maxMessages: 5}')))).toMatch(/QuotaPolicy "p" spec\.throttle\.inbound\.period/);
    expect(loadError(docs(base, quotaPolicy('p', '  throttle:\n    inbound: {period: 0, maxMessages: 5}')))).toMatch(/QuotaPolicy "p" spec\.throttle\.inbound\.period/);
  });

  it('a direction whose limits are all unlimited throttles nothing', () => {
    const config = configFrom(docs(base, quotaPolicy('p', '  globalDefault: true\n  throttle:\n    inbound: {period: 1h, maxMessages: unlimited}')));
    expect(globalQuotaOf(config, 'default')!.throttle).toEqual({ inbound: null, outbound: null });
  });
});
