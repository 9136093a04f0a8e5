// /domains and their aliases (DomainsRoutes, DomainAliasService, 3.8.1).

import { routeTable, type Route, type RouteCall, type RouteHandler } from '../../../emulator/router.ts';
import { empty, halt, json } from '../answers.ts';
import { parseDomain, parsedOr } from '../names.ts';
import type { JamesStore } from '../store.ts';

/** DomainsRoutes.checkValidDomain: the message says "creation" whatever the method. */
function domainParam(raw: string): string {
  return parsedOr(() => parseDomain(raw), (reason) => halt(400, 'InvalidArgument', `Invalid request for domain creation ${raw}`, reason));
}

function notInList(domain: string): never {
  return halt(404, 'InvalidArgument', `The domain list does not contain: ${domain}`);
}

export function domainRoutes(store: JamesStore): Route<RouteHandler>[] {
  const { mappings } = store;
  /** The alias domains of `domain`, each once, in the order their oldest alias entered the table. */
  const aliasSources = (domain: string): string[] => mappings.sourcesMappingTo('DomainAlias', domain)
    .map((source) => ({ source, oldest: mappings.sequencesOf(source, 'DomainAlias', domain)?.[0] ?? 0 }))
    .sort((a, b) => a.oldest - b.oldest)
    .map(({ source }) => source);
  /** DomainAliasService: the alias (source) domain must be managed; the destination need not be. */
  const aliasPair = (call: RouteCall): { source: string; destination: string } => {
    const source = domainParam(call.param('source'));
    const destination = domainParam(call.param('domain'));
    if (!store.domains.has(source)) notInList(source);
    if (source === destination) {
      halt(400, 'InvalidArgument', `Source domain and destination domain can not have same value(${source})`);
    }
    return { source, destination };
  };

  return routeTable<RouteHandler>([
    ['GET', '/domains', () => json([...store.domains])],
    ['GET', '/domains/:domain', (call) => {
      const domain = domainParam(call.param('domain'));
      return store.domains.has(domain) ? empty() : notInList(domain);
    }],
    ['PUT', '/domains/:domain', (call) => {
      store.domains.add(domainParam(call.param('domain')));
      return empty();
    }],
    // 204 whether or not it existed; its domain aliases go with it.
    ['DELETE', '/domains/:domain', (call) => {
      const domain = domainParam(call.param('domain'));
      if (domain === store.defaultDomain) {
        halt(400, 'InvalidArgument', 'Can not remove domain', `${domain} is autodetected and cannot be removed`);
      }
      if (store.domains.delete(domain)) mappings.removeSource(domain);
      return empty();
    }],
    ['GET', '/domains/:domain/aliases', (call) => {
      const domain = domainParam(call.param('domain'));
      const sources = aliasSources(domain);
      if (!store.domains.has(domain) && sources.length === 0) {
        halt(404, 'InvalidArgument', `The following domain is not in the domain list and has no registered local aliases: ${domain}`);
      }
      return json(sources.map((source) => ({ source })));
    }],
    // DomainAliasService calls addMapping directly: a second PUT stores a duplicate (seen on 3.8.1).
    ['PUT', '/domains/:domain/aliases/:source', (call) => {
      const { source, destination } = aliasPair(call);
      mappings.add(source, 'DomainAlias', destination);
      return empty();
    }],
    ['DELETE', '/domains/:domain/aliases/:source', (call) => {
      const { source, destination } = aliasPair(call);
      mappings.remove(source, 'DomainAlias', destination);
      return empty();
    }],
  ]);
}
