// The status of an object from plain data: each condition a person may see, with its reason.
import { describe, expect, it } from 'vitest';
import type { ChangeResult } from '../../src/engine/apply.ts';
import { objectStatus, type BackendOutcome } from '../../src/engine/status.ts';
import type { ObjectRef } from '../../src/model/config.ts';
import type { Change } from '../../src/plan/index.ts';

const alice: ObjectRef = { kind: 'MailUser', namespace: 'mail', name: 'alice', generation: 3, source: { file: 'cluster', line: 1, column: 1 } };
const now = new Date('2026-11-23T10:00:00Z');
const change = (action: Change['action'] = 'create', id = 'user:alice@example.com'): Change =>
  ({ id, action, resource: 'user', key: id.split(':')[1]!, owner: alice, fields: [], dependsOn: [], before: null, after: null }) as unknown as Change;
const result = (c: Change, outcome: ChangeResult['outcome'], extra: Partial<ChangeResult> = {}): ChangeResult => ({ backendId: 'mail/james', backendName: 'james', change: c, outcome, durationMs: 5, ...extra });
const on = (outcome: Partial<BackendOutcome>): BackendOutcome => ({ name: 'james', changes: [], results: [], notApplicable: [], ...outcome });
const conditions = (status: ReturnType<typeof objectStatus>) => status.conditions.map((c) => [c.type, c.status, c.reason]);

describe('the status of an object', () => {
  it('is Ready and Synced when every change was applied, for the generation it saw', () => {
    const c = change();
    const status = objectStatus({ object: alice, backends: [on({ changes: [c], results: [result(c, 'applied')] })], now });
    expect(conditions(status)).toEqual([['Ready', 'True', 'Available'], ['Synced', 'True', 'ReconcileSuccess']]);
    expect(status.observedGeneration).toBe(3);
    expect(status.conditions.every((c) => c.observedGeneration === 3 && c.lastTransitionTime === now.toISOString())).toBe(true);
    expect(status.backends).toEqual([{ name: 'james', state: 'Available', synced: true, message: 'up to date.' }]);
  });

  it('says which change failed and why', () => {
    const c = change('update');
    const status = objectStatus({ object: alice, backends: [on({ changes: [c], results: [result(c, 'failed', { error: 'PUT /users/alice@example.com: 400 bad', errorKind: 'Invalid' })] })], now });
    expect(conditions(status)).toEqual([['Ready', 'False', 'Updating'], ['Synced', 'False', 'ReconcileError']]);
    expect(status.conditions[0]!.message).toBe('james: user alice@example.com: PUT /users/alice@example.com: 400 bad');
    expect(status.backends[0]!.synced).toBe(false);
  });

  it('gives a skipped change a reason of its own, not an internal error', () => {
    const c = change();
    const skipped = result(c, 'skipped', { error: 'not started: domain example.com did not succeed', skipped: { because: 'dependency', dependency: 'domain:example.com' } });
    expect(conditions(objectStatus({ object: alice, backends: [on({ changes: [c], results: [skipped] })], now }))).toEqual([
      ['Ready', 'False', 'DependencyNotReady'],
      ['Synced', 'False', 'DependencyNotReady'],
    ]);
    const interrupted = result(c, 'skipped', { error: 'not started: the run was interrupted', skipped: { because: 'interrupted' } });
    expect(conditions(objectStatus({ object: alice, backends: [on({ changes: [c], results: [interrupted] })], now }))[0]).toEqual(['Ready', 'False', 'Interrupted']);
  });

  it('does not claim to know the object when its backend cannot be observed', () => {
    const status = objectStatus({ object: alice, backends: [on({ failure: { kind: 'Unavailable', message: 'cannot reach http://james:8000: connection refused' } })], now });
    expect(conditions(status)).toEqual([['Ready', 'Unknown', 'BackendUnavailable'], ['Synced', 'False', 'BackendUnavailable']]);
    const refused = objectStatus({ object: alice, backends: [on({ failure: { kind: 'Unauthorized', message: 'GET /domains: 401 credentials refused' } })], now });
    expect(conditions(refused)[1]).toEqual(['Synced', 'False', 'CredentialsRefused']);
  });

  it('names a missing secret, whatever the backends say', () => {
    const status = objectStatus({ object: alice, secretFailure: 'secret alice/password not found', backends: [on({})], now });
    expect(conditions(status)).toEqual([['Ready', 'False', 'SecretNotFound'], ['Synced', 'False', 'SecretNotFound']]);
    expect(status.conditions[0]!.message).toBe('secret alice/password not found');
  });

  it('shows a running backend task with its progress, and is synced but not ready', () => {
    const c = change('replace', 'user:alice.l@example.com');
    const pending = result(c, 'pending', { task: { ref: { id: 't-1', description: 'move data of alice@example.com to alice.l@example.com' }, status: { state: 'running', progress: 42.4 } } });
    const status = objectStatus({ object: alice, backends: [on({ changes: [c], results: [pending] })], now });
    expect(conditions(status)).toEqual([['Ready', 'False', 'TaskRunning'], ['Synced', 'True', 'ReconcileSuccess']]);
    expect(status.backends[0]!.task).toEqual({ id: 't-1', state: 'running', progress: 42 });
    expect(status.conditions[0]!.message).toContain('(42.4%)');
  });

  it('is Ready as NotApplicable where no backend can hold the object, and lists fields a backend cannot represent', () => {
    const wholly = objectStatus({ object: alice, backends: [on({ notApplicable: [{ resource: 'group', key: 'team@x', owner: alice, field: 'members', value: [], reason: 'mailstore has no aliases', wholeObject: true }] })], now });
    expect(conditions(wholly)[0]).toEqual(['Ready', 'True', 'NotApplicable']);
    const partly = objectStatus({ object: alice, backends: [on({ notApplicable: [{ resource: 'user', key: 'alice@x', owner: alice, field: 'displayName', value: 'A', reason: 'james cannot represent displayName' }] })], now });
    expect(conditions(partly)[0]).toEqual(['Ready', 'True', 'Available']);
    expect(partly.conditions[0]!.message).toBe('james: up to date. Not applicable there: displayName.');
  });

  it('reports an invalid object as such, and keeps the time of a condition that did not change', () => {
    const invalid = objectStatus({ object: alice, invalid: ['spec.address: refers to domain nowhere.example, which no MailDomain declares'], backends: [], now });
    expect(conditions(invalid)).toEqual([['Ready', 'False', 'InvalidSpec'], ['Synced', 'False', 'InvalidSpec']]);
    const later = objectStatus({ object: alice, invalid: ['still wrong'], backends: [], previous: invalid.conditions, now: new Date('2026-11-24T10:00:00Z') });
    expect(later.conditions.map((c) => c.lastTransitionTime)).toEqual([now.toISOString(), now.toISOString()]);
  });
});
