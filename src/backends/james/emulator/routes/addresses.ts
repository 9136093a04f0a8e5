// /mappings and /address/{aliases,forwards,groups} (MappingRoutes, AliasRoutes, ForwardRoutes, GroupsRoutes, 3.8.1).

import { routeTable, type Route, type RouteHandler } from '../../../emulator/router.ts';
import { empty, halt, JSON_CONTENT, json } from '../answers.ts';
import { addAlias, addForward, addGroupMember } from '../mapping-rules.ts';
import { addressParam, domainOf, sourceOf, usernameParam } from '../names.ts';
import type { JamesStore } from '../store.ts';

export function addressRoutes(store: JamesStore): Route<RouteHandler>[] {
  const { mappings } = store;
  const forwardBase = (raw: string): string => sourceOf(addressParam(raw, 'base forward'));
  const group = (raw: string): string => sourceOf(addressParam(raw, 'group'));
  const forwardWithoutTarget: RouteHandler = () => halt(400, 'InvalidArgument', 'A destination address needs to be specified in the path');
  // GroupsRoutes answers a bare 400 (no body) to PUT/DELETE on the group itself.
  const groupWithoutMember: RouteHandler = () => ({ status: 400, headers: JSON_CONTENT });

  return routeTable<RouteHandler>([
    ['GET', '/mappings', () => json(mappings.all())],
    ['GET', '/mappings/user/:user', (call) => json(mappings.stored(usernameParam(call.param('user').toLowerCase()).name))],

    ['GET', '/address/aliases', () => json(mappings.valuesOfType('Alias'))],
    ['GET', '/address/aliases/:user', (call) => {
      const destination = addressParam(call.param('user'), 'alias');
      const sources = mappings.sourcesMappingTo('Alias', destination)
        .flatMap((source) => Array.from(mappings.sequencesOf(source, 'Alias', destination) ?? [], () => source))
        .sort();
      return json(sources.map((source) => ({ source })));
    }],
    ['PUT', '/address/aliases/:user/sources/:alias', (call) => {
      const source = sourceOf(addressParam(call.param('alias'), 'alias'));
      const destination = addressParam(call.param('user'), 'alias');
      if (!store.domains.has(domainOf(destination))) halt(400, 'InvalidArgument', 'Domain in the destination is not managed by the DomainList');
      addAlias(store, source, destination);
      return empty();
    }],
    ['DELETE', '/address/aliases/:user/sources/:alias', (call) => {
      const destination = addressParam(call.param('user'), 'alias');
      mappings.remove(sourceOf(addressParam(call.param('alias'), 'alias')), 'Alias', destination);
      return empty();
    }],

    ['GET', '/address/forwards', () => json(mappings.sourcesWithType('Forward'))],
    ['GET', '/address/forwards/:user', (call) => {
      const targets = mappings.values(forwardBase(call.param('user')), 'Forward');
      if (targets.length === 0) halt(404, 'InvalidArgument', 'The forward does not exist');
      return json(targets.map((mailAddress) => ({ mailAddress })));
    }],
    ['PUT', '/address/forwards/:user', forwardWithoutTarget],
    ['DELETE', '/address/forwards/:user', forwardWithoutTarget],
    ['PUT', '/address/forwards/:user/targets/:target', (call) => {
      const base = forwardBase(call.param('user'));
      if (!store.users.has(base)) halt(404, 'InvalidArgument', 'Requested base forward address does not correspond to a user');
      const destination = addressParam(call.param('target'), 'target forward');
      if (!mappings.has(base, 'Forward', destination)) addForward(store, base, destination);
      return empty();
    }],
    ['DELETE', '/address/forwards/:user/targets/:target', (call) => {
      mappings.remove(forwardBase(call.param('user')), 'Forward', addressParam(call.param('target'), 'target forward'));
      return empty();
    }],

    ['GET', '/address/groups', () => json(mappings.sourcesWithType('Group'))],
    ['GET', '/address/groups/:group', (call) => {
      const members = mappings.values(group(call.param('group')), 'Group');
      if (members.length === 0) halt(404, 'InvalidArgument', 'The group does not exist');
      return json(members);
    }],
    ['PUT', '/address/groups/:group', groupWithoutMember],
    ['DELETE', '/address/groups/:group', groupWithoutMember],
    ['PUT', '/address/groups/:group/:member', (call) => {
      addGroupMember(store, group(call.param('group')), addressParam(call.param('member'), 'group member'));
      return empty();
    }],
    ['DELETE', '/address/groups/:group/:member', (call) => {
      mappings.remove(group(call.param('group')), 'Group', addressParam(call.param('member'), 'group member'));
      return empty();
    }],
  ]);
}
