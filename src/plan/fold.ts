// What a backend holds once applied changes took effect: each successful change folded into the
// observation it was planned from. A long-lived reconciler plans again from the result without
// observing again, and sees no changes for what it just applied. Pure: a new state is returned;
// the maps are copied once per call, not once per change.
import type { Change } from './plan.ts';
import { domainAfter, emptyUser, userAfter, type BackendState } from './state.ts';

export function foldChanges(state: BackendState, applied: readonly Change[]): BackendState {
  if (applied.length === 0) return state;
  const next: BackendState = {
    domains: new Map(state.domains),
    users: new Map(state.users),
    groups: new Map(state.groups),
    globalQuota: state.globalQuota,
  };
  for (const change of applied) {
    switch (change.resource) {
      case 'domain':
        if (change.action === 'delete') next.domains.delete(change.key);
        else next.domains.set(change.key, domainAfter(next.domains.get(change.key) ?? null, change.after!));
        break;
      case 'user':
        if (change.action === 'delete') {
          next.users.delete(change.key);
        } else {
          if (change.action === 'replace') next.users.delete(change.renameFrom!);
          // A moved mailbox keeps what the manifest leaves unset (the adapter carries it over).
          const have = change.action === 'replace' ? { ...change.before!, address: change.key } : (next.users.get(change.key) ?? emptyUser(change.key));
          next.users.set(change.key, userAfter(have, change.after!));
        }
        break;
      case 'group':
        if (change.action === 'delete') next.groups.delete(change.key);
        else next.groups.set(change.key, { address: change.key, members: [...change.after!.members] });
        break;
      case 'globalQuota':
        next.globalQuota = { ...change.after };
        break;
    }
  }
  return next;
}
