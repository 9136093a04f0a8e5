// What an Open-Xchange configuration is made of, as the loader reads it: the master admin and the context admin
// (a secret the settings block references, resolved like any other), the settings, and a domain's context id —
// each refused where it is written when wrong.
import { describe, expect, it } from 'vitest';
import { resolveSecrets } from '../../../src/engine/secrets.ts';
import { fingerprinter } from '../../../src/state/fingerprint.ts';
import { backend, configFrom, docs, domain, loadError } from '../../support/manifests.ts';
import { MapSecrets } from '../../support/session.ts';
import { openxchangeBackend, SECRETS } from './support.ts';

describe('an Open-Xchange MailBackend', () => {
  it('needs the master admin and the context admin', () => {
    const withoutContextAdmin = openxchangeBackend('http://127.0.0.1:1').replace(/ {2}openxchange:\n(?: {4}.*\n)+/, '');
    expect(loadError(withoutContextAdmin)).toMatch(
      /test\.yaml:\d+:\d+: MailBackend "openxchange" spec: an Open-Xchange backend needs the master admin \(credentials\.username and credentials\.passwordSecretRef\) and the context admin \(openxchange\.contextAdmin\.passwordSecretRef\)/,
    );
    const withoutSecret = openxchangeBackend('http://127.0.0.1:1').replace(', passwordSecretRef: {name: ox-context-admin, key: password}', '');
    expect(loadError(withoutSecret)).toMatch(/MailBackend "openxchange" spec\.openxchange\.contextAdmin/);
  });

  it('resolves the context admin’s secret with the credentials, and reports it missing where it is referenced', async () => {
    const config = configFrom(openxchangeBackend('http://127.0.0.1:1'));
    expect(config.backends[0]!.credentials.optionSecrets).toMatchObject({ 'contextAdmin.passwordSecretRef': { name: 'ox-context-admin', key: 'password', source: { line: 12 } } });
    const resolved = await resolveSecrets(config, new MapSecrets(SECRETS), fingerprinter(Buffer.from('k')));
    expect(resolved.credentials.get('default/openxchange')!.optionSecrets!['contextAdmin.passwordSecretRef']!.reveal()).toBe(SECRETS['ox-context-admin']);

    const { 'ox-context-admin': _admin, ...others } = SECRETS;
    const missing = await resolveSecrets(config, new MapSecrets(others), fingerprinter(Buffer.from('k')));
    expect(missing.credentials.has('default/openxchange')).toBe(false);
    expect(missing.failures).toMatchObject([{ object: 'MailBackend "openxchange"', field: 'spec.openxchange.contextAdmin.passwordSecretRef', position: { line: 12 } }]);
  });

  it('takes its settings, and refuses what is not one', () => {
    const config = configFrom(openxchangeBackend('http://127.0.0.1:1', '    restUrl: http://127.0.0.1:8009\n    contextIdFrom: 100\n    users: {language: de_DE}'));
    expect(config.backends[0]!.options).toMatchObject({ restUrl: 'http://127.0.0.1:8009', contextIdFrom: 100, users: { language: 'de_DE' } });
    expect(loadError(openxchangeBackend('http://127.0.0.1:1', '    users: {language: German}'))).toMatch(/spec\.openxchange\.users\.language/);
    expect(loadError(openxchangeBackend('http://127.0.0.1:1', '    contextIdFrom: 0'))).toMatch(/spec\.openxchange\.contextIdFrom/);
  });
});

describe('a MailDomain’s context id', () => {
  it('is read for the Open-Xchange backends that serve the domain', () => {
    const config = configFrom(docs(openxchangeBackend('http://127.0.0.1:1'), domain('example.com', '  openxchange: {contextId: 42}', ['openxchange'])));
    expect(config.domains[0]!.backendSettings).toEqual({ openxchange: { contextId: 42 } });
  });

  it('is refused on a domain no Open-Xchange backend serves, and when it is no id', () => {
    expect(loadError(docs(backend(), domain('example.com', '  openxchange: {contextId: 42}')))).toMatch(
      /test\.yaml:\d+:\d+: MailDomain "example-com" spec\.openxchange: holds settings for openxchange backends, but none of its backendRefs is one/,
    );
    expect(loadError(docs(openxchangeBackend('http://127.0.0.1:1'), domain('example.com', '  openxchange: {contextId: -3}', ['openxchange'])))).toMatch(/spec\.openxchange\.contextId/);
  });
});
