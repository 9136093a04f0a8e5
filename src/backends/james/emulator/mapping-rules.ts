// The checks James makes before it adds an alias, a forward or a group member (AliasRoutes, ForwardRoutes,
// GroupsRoutes → AbstractRecipientRewriteTable, 3.8.1), in James's order and with its messages.

import { halt } from './answers.ts';
import { domainOf, sourceOf } from './names.ts';
import { byStoredOrder, mappingAsString, type MappingType, type StoredCopy } from './rewrite-table.ts';
import type { JamesStore } from './store.ts';

/** assertNoLoop: would `source → value` make mail for `source` come back to it? */
function assertNoLoop(store: JamesStore, source: string, type: MappingType, value: string): void {
  if (store.mappings.resolve(value).some((address) => sourceOf(address) === source)) {
    const redirection = `${source} to ${mappingAsString({ type, mapping: value })}`;
    halt(409, 'WrongState', `Creation of redirection of ${redirection} would lead to a loop, operation not performed`);
  }
}

/**
 * RecipientRewriteTableUserEntityValidator: why `address` cannot become a user, an alias source or a group, if it
 * already is the source of other mappings. `ignored` is the type the caller is about to add.
 * The rewrite table itself uses only this check (its configure() replaces the injected validator), so an alias
 * or group source may be an existing user: seen on 3.8.1, where `PUT /address/aliases/u/sources/<user>` is 204.
 */
export function mappingConflict(store: JamesStore, address: string, ignored?: MappingType): string | undefined {
  // The first other mapping in stored order, found without sorting (nor reading) the `ignored` ones: a big group
  // gains a member at a constant cost.
  const others = store.mappings.copies(address, (type) => type !== ignored);
  const mapping = others.reduce<StoredCopy | undefined>(
    (first, candidate) => (first === undefined || byStoredOrder(candidate, first) < 0 ? candidate : first), undefined);
  return mapping === undefined ? undefined : `'${address}' already have associated mappings: ${mappingAsString(mapping)}`;
}

function assertNoConflict(store: JamesStore, source: string, type: MappingType): void {
  const conflict = mappingConflict(store, source, type);
  if (conflict !== undefined) halt(409, 'WrongState', conflict);
}

function assertSourceDomainManaged(store: JamesStore, source: string): void {
  const domain = domainOf(source);
  if (!store.domains.has(domain)) halt(400, 'InvalidArgument', `Source domain '${domain}' is not managed by the domainList`);
}

/** The checks every redirection passes last, then the write. */
function addChecked(store: JamesStore, source: string, type: MappingType, destination: string): void {
  assertSourceDomainManaged(store, source);
  assertNoLoop(store, source, type, destination);
  store.mappings.add(source, type, destination);
}

/** AliasRoutes.addAlias → addAliasMapping. */
export function addAlias(store: JamesStore, source: string, destination: string): void {
  if (store.mappings.has(source, 'Alias', destination)) return;
  assertNoConflict(store, source, 'Alias');
  if (source === destination) halt(400, 'InvalidArgument', "Source and destination can't be the same!");
  addChecked(store, source, 'Alias', destination);
}

/** ForwardRoutes → addForwardMapping (no same-address check: a forward to oneself keeps a local copy). */
export function addForward(store: JamesStore, source: string, destination: string): void {
  if (store.mappings.has(source, 'Forward', destination)) {
    throw new Error(`Mapping forward:${destination} for ${source} already exist!`);
  }
  addChecked(store, source, 'Forward', destination);
}

/** GroupsRoutes → addGroupMapping. */
export function addGroupMember(store: JamesStore, group: string, member: string): void {
  assertNoConflict(store, group, 'Group');
  if (store.mappings.has(group, 'Group', member)) return;
  addChecked(store, group, 'Group', member);
}
