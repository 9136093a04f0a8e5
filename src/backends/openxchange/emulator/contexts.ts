// OXContextService: contexts, provisioned by the master admin (shared/backends/openxchange.md). A context is created
// with its admin user; its id is the one asked for or the next free one; its name and id are login mappings of
// their own, beside the explicit ones; `maxQuota` is its filestore quota in MB (-1: unlimited).

import { createActionTable, type ActionTable } from '../../emulator/actions.ts';
import type { SoapContent, SoapElement, SoapOperation } from '../../emulator/soap.ts';
import {
  contextExists,
  credentialsOf,
  dataObject,
  integerField,
  invalidCredentials,
  invalidData,
  listField,
  noSuchContext,
  objectParameter,
  patternMatcher,
  textField,
} from './calls.ts';
import { ADMIN_USER_ID, deleteContext, mappingsOf, newContext, passwordHash, putUser, setMappings, type ContextRecord, type OXStore } from './store.ts';
import { readNewUser } from './users.ts';

/** The modules changeQuota knows (OX's module quotas). */
const QUOTA_MODULES = new Set(['calendar', 'contact', 'infostore', 'task', 'attachment', 'invite_guests', 'share_links']);

export function contextJson(context: ContextRecord): SoapContent {
  return dataObject({
    enabled: context.enabled,
    id: context.id,
    loginMappings: mappingsOf(context),
    maxQuota: context.maxQuota,
    name: context.name,
    usedQuota: 0,
  });
}

export interface MasterAdmin {
  readonly user: string;
  readonly passwordHash: string;
}

export function contextOperations(store: OXStore, master: MasterAdmin): ActionTable<SoapOperation> {
  /** Every context call is the master admin's. */
  const authenticated = (operation: (parameters: SoapElement) => SoapContent): SoapOperation => ({ parameters }) => {
    const { login, password } = credentialsOf(parameters);
    if (login !== master.user || passwordHash(password) !== master.passwordHash) throw invalidCredentials();
    return operation(parameters);
  };

  const find = (parameters: SoapElement): ContextRecord => {
    const ctx = objectParameter(parameters, 'ctx');
    const id = integerField(ctx, 'id');
    if (id === undefined) throw invalidData('Context id is missing');
    const context = store.contexts.get(id);
    if (!context) throw noSuchContext(id);
    return context;
  };

  /** Mappings another context already has. */
  const mappingsInUse = (mappings: readonly string[], self?: number): string[] =>
    mappings.filter((mapping) => {
      const owner = store.contextByMapping.get(mapping);
      return owner !== undefined && owner !== self;
    });

  return createActionTable<SoapOperation>({
    create: authenticated((parameters) => {
      const ctx = objectParameter(parameters, 'ctx');
      const admin = objectParameter(parameters, 'admin_user');
      const maxQuota = integerField(ctx, 'maxQuota');
      if (maxQuota === undefined) throw invalidData('Context quota (maxQuota) is not set');
      if (maxQuota < -1) throw invalidData(`Invalid quota size: ${maxQuota}`);
      const asked = integerField(ctx, 'id');
      if (asked !== undefined && asked < 1) throw invalidData(`Invalid context id: ${asked}`);
      const id = asked ?? store.nextContextId;
      if (store.contexts.has(id)) throw contextExists(`Context ${id} already exists!`);
      const name = textField(ctx, 'name')?.trim() || String(id);
      if (store.contextByMapping.has(name)) throw contextExists(`Context ${name} already exists!`);
      const mappings = listField(ctx, 'loginMappings') ?? [];
      const taken = mappingsInUse(mappings);
      if (taken.length > 0) throw contextExists(`Cannot map '${taken[0]}' to the newly created context. This mapping is already in use.`);
      const adminUser = readNewUser(admin, 'admin_user');
      const context = newContext(store, id, name, maxQuota, mappings);
      putUser(context, { ...adminUser, id: ADMIN_USER_ID });
      context.nextUserId = ADMIN_USER_ID + 1;
      return { return: contextJson(context) };
    }),
    change: authenticated((parameters) => {
      const context = find(parameters);
      const ctx = objectParameter(parameters, 'ctx');
      const name = textField(ctx, 'name')?.trim();
      const mappings = listField(ctx, 'loginMappings');
      const maxQuota = integerField(ctx, 'maxQuota');
      if (maxQuota !== undefined && maxQuota < -1) throw invalidData(`Invalid quota size: ${maxQuota}`);
      const newName = name || context.name;
      if (newName !== context.name && store.contextByMapping.has(newName)) throw invalidData(`Context name ${newName} is already in use`);
      // The id and the name map to the context anyway: sent back as mappings, they are not explicit ones.
      const explicit = (mappings ?? [...context.loginMappings]).filter((m) => m !== String(context.id) && m !== newName && m !== context.name);
      const taken = mappingsInUse(explicit, context.id);
      if (taken.length > 0) throw invalidData(`Login mapping ${taken[0]} is already in use by another context`);
      setMappings(store, context, newName, explicit);
      if (maxQuota !== undefined) context.maxQuota = maxQuota;
      return {};
    }),
    delete: authenticated((parameters) => {
      deleteContext(store, find(parameters));
      return {};
    }),
    enable: authenticated((parameters) => {
      find(parameters).enabled = true;
      return {};
    }),
    disable: authenticated((parameters) => {
      find(parameters).enabled = false;
      return {};
    }),
    exists: authenticated((parameters) => {
      const ctx = objectParameter(parameters, 'ctx');
      const id = integerField(ctx, 'id');
      const name = textField(ctx, 'name');
      if (id === undefined && name === undefined) throw invalidData('Context id or name is missing');
      if (id !== undefined) return { return: store.contexts.has(id) };
      const named = store.contexts.get(store.contextByMapping.get(name!) ?? -1);
      return { return: named?.name === name };
    }),
    getData: authenticated((parameters) => ({ return: contextJson(find(parameters)) })),
    list: authenticated((parameters) => {
      const pattern = textField(parameters, 'search_pattern') ?? '*';
      const matches = patternMatcher(pattern);
      const found = [...store.contexts.values()].filter((context) => mappingsOf(context).some(matches));
      return { return: found.sort((a, b) => a.id - b.id).map(contextJson) };
    }),
    listAll: authenticated(() => ({ return: [...store.contexts.values()].sort((a, b) => a.id - b.id).map(contextJson) })),
    changeQuota: authenticated((parameters) => {
      const context = find(parameters);
      const module = textField(parameters, 'module')?.trim() ?? '';
      const quota = integerField(parameters, 'quota_value');
      if (!QUOTA_MODULES.has(module)) throw invalidData(`Unknown module: ${module} (known: ${[...QUOTA_MODULES].join(', ')})`);
      if (quota === undefined) throw invalidData('quota_value is missing');
      context.moduleQuotas.set(module, quota);
      return {};
    }),
  });
}

