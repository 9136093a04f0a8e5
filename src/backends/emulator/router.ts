// A route table for emulators: `METHOD /literal/:param/:choice(a|b)` matched against percent-decoded path segments.
// Routes are tried in table order, so a literal route listed before a parameter route wins.

import type { EmulatorRequest, EmulatorResponse } from './server.ts';

export interface Route<H> {
  readonly method: string;
  /** e.g. `/users/:user/mailboxes/:mailbox` or `/quota/:field(count|size)` */
  readonly path: string;
  readonly handler: H;
}

export type RouteLookup<H> =
  | { readonly kind: 'found'; readonly handler: H; readonly params: ReadonlyMap<string, string> }
  /** The path exists with other methods; a backend answers 405 or, like James (Spark), 404. */
  | { readonly kind: 'method-not-allowed'; readonly allowed: readonly string[] }
  | { readonly kind: 'not-found' };

type SegmentMatcher =
  | { readonly literal: string }
  | { readonly param: string; readonly choices: ReadonlySet<string> | null };

interface CompiledRoute<H> {
  readonly method: string;
  readonly segments: readonly SegmentMatcher[];
  readonly handler: H;
}

/**
 * Splits a raw path (as sent, still percent-encoded, without the query) into decoded segments.
 * `undefined` means the encoding is malformed (`%zz`, a lone `%`), which servers answer with their own 400.
 * An encoded slash (`%2F`) stays inside its segment.
 */
export function decodePath(rawPath: string): string[] | undefined {
  const parts = rawPath.split('/').slice(1);
  try {
    return parts.map((part) => decodeURIComponent(part));
  } catch {
    return undefined;
  }
}

function compileSegment(segment: string): SegmentMatcher {
  const param = /^:(\w+)(?:\(([^)]*)\))?$/.exec(segment);
  if (param === null) return { literal: segment };
  const choices = param[2] === undefined ? null : new Set(param[2].split('|'));
  return { param: param[1] ?? '', choices };
}

function matchSegments(route: readonly SegmentMatcher[], segments: readonly string[]): Map<string, string> | undefined {
  if (route.length !== segments.length) return undefined;
  const params = new Map<string, string>();
  for (const [index, matcher] of route.entries()) {
    const value = segments[index] ?? '';
    if ('literal' in matcher) {
      if (matcher.literal !== value) return undefined;
    } else {
      if (value === '' || (matcher.choices !== null && !matcher.choices.has(value))) return undefined;
      params.set(matcher.param, value);
    }
  }
  return params;
}

/** Routes written as rows: `[method, path, handler]`. */
export function routeTable<H>(rows: readonly (readonly [string, string, H])[]): Route<H>[] {
  return rows.map(([method, path, handler]) => ({ method, path, handler }));
}

export function createRouter<H>(routes: readonly Route<H>[]): (method: string, segments: readonly string[]) => RouteLookup<H> {
  const compiled: CompiledRoute<H>[] = routes.map((route) => ({
    method: route.method.toUpperCase(),
    segments: route.path.split('/').slice(1).map(compileSegment),
    handler: route.handler,
  }));
  return (method, segments) => {
    const allowed: string[] = [];
    for (const route of compiled) {
      const params = matchSegments(route.segments, segments);
      if (params === undefined) continue;
      if (route.method === method) return { kind: 'found', handler: route.handler, params };
      allowed.push(route.method);
    }
    return allowed.length > 0 ? { kind: 'method-not-allowed', allowed } : { kind: 'not-found' };
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Dispatching requests through a route table

export interface RouteCall {
  readonly request: EmulatorRequest;
  readonly query: URLSearchParams;
  /** A path parameter of the matched route ('' if the route has none of that name). */
  param(name: string): string;
}

export type RouteHandler = (call: RouteCall) => EmulatorResponse | Promise<EmulatorResponse>;

export interface RouteDispatchOptions {
  /** The answer to a path whose percent-encoding is broken. */
  malformedPath(request: EmulatorRequest): EmulatorResponse;
  /** The answer when no route matches; also to a wrong method, unless methodNotAllowed is given. */
  notFound(request: EmulatorRequest): EmulatorResponse;
  methodNotAllowed?(request: EmulatorRequest, allowed: readonly string[]): EmulatorResponse;
  /** Runs before the route is looked up (authentication filters); an answer ends the request there. */
  guard?(request: EmulatorRequest, segments: readonly string[]): EmulatorResponse | undefined | Promise<EmulatorResponse | undefined>;
  /** Answers HEAD with the GET route where there is no HEAD route (Node sends no body). */
  headAsGet?: boolean;
  /** How the raw path becomes segments; default decodePath. */
  splitPath?(rawPath: string): string[] | undefined;
}

export function createRouteDispatcher(
  routes: readonly Route<RouteHandler>[],
  options: RouteDispatchOptions,
): (request: EmulatorRequest) => Promise<EmulatorResponse> {
  const route = createRouter(routes);
  const splitPath = options.splitPath ?? decodePath;
  return async (request) => {
    const segments = splitPath(request.rawPath);
    if (segments === undefined) return options.malformedPath(request);
    const refusal = await options.guard?.(request, segments);
    if (refusal !== undefined) return refusal;
    let match = route(request.method, segments);
    if (match.kind !== 'found' && request.method === 'HEAD' && options.headAsGet === true) match = route('GET', segments);
    if (match.kind === 'method-not-allowed' && options.methodNotAllowed !== undefined) {
      return options.methodNotAllowed(request, match.allowed);
    }
    if (match.kind !== 'found') return options.notFound(request);
    const { params } = match;
    return match.handler({ request, query: request.query, param: (name) => params.get(name) ?? '' });
  };
}
