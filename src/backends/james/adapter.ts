// Apache James as a mailops backend: observe with list calls, apply one change at a time.
//
// How the model maps onto James (shared/backends/james.md):
//   MailDomain            → domain list entry; aliasDomains → DomainAlias mappings (the alias
//                           domain must be in the domain list too); defaultQuota → /quota/domains
//   MailUser              → user (password write-only); extraAddresses → Alias mappings;
//                           forwarding → Forward mappings (keepCopy = a forward to itself);
//                           quota → /quota/users; address change → rename task
//   Alias                 → Group mappings (one per member)
//   globalDefault policy  → /quota
import type { BackendAdapter, ApplyContext, ObserveScope, TaskRef, TaskStatus } from '../../engine/adapter.ts';
import { BackendError, domainsToRead } from '../../engine/adapter.ts';
import { NO_QUOTA, type QuotaLimits } from '../../model/config.ts';
import type { Sensitive } from '../../model/sensitive.ts';
import { UNLIMITED } from '../../model/quantity.ts';
import type { Capabilities } from '../../plan/capabilities.ts';
import type { Change, DomainChange, GlobalQuotaChange, GroupChange, UserChange } from '../../plan/plan.ts';
import { domainAfter, emptyUser, userAfter, type BackendState, type DesiredUser, type DomainState, type GroupState, type UserState } from '../../plan/state.ts';
import { staticHeaders, type ConnectionOptions } from '../http/index.ts';
import { JamesClient, type JamesQuota, type JamesTaskReport } from './client.ts';

export const JAMES_CAPABILITIES: Capabilities = {
  domains: true,
  aliasDomains: true,
  // James keeps no full name and (up to 3.9) cannot disable an account over WebAdmin.
  displayName: false,
  disableUser: false,
  extraAddresses: true,
  forwarding: true,
  keepCopy: true,
  groups: true,
  quota: { storage: true, messages: true, domainDefault: true, global: true, storageUnit: 1 },
  rename: 'task',
};

/** The steps of an address change, in order; a checkpoint names the last one completed. */
const MOVE_STEPS = ['created', 'aliases-detached', 'moved', 'converged'] as const;
type MoveStep = (typeof MOVE_STEPS)[number];

export interface JamesCredentials {
  /** A JWT for James 3.8 (Authorization: Bearer). */
  token?: string;
  /** The WebAdmin password of James 3.9 (Password header). */
  password?: string;
}

export function jamesAuthHeaders(credentials: JamesCredentials): Record<string, string> {
  if (credentials.token) return { authorization: `Bearer ${credentials.token}` };
  if (credentials.password) return { password: credentials.password };
  return {};
}

export class JamesAdapter implements BackendAdapter {
  readonly capabilities = JAMES_CAPABILITIES;
  readonly client: JamesClient;

  constructor(options: ConnectionOptions, credentials: JamesCredentials) {
    this.client = new JamesClient(options, staticHeaders(jamesAuthHeaders(credentials)));
  }

  get requestCount(): number {
    return this.client.http.requestCount;
  }

  // ------------------------------------------------------------------ observe
  /**
   * 4 + 2 × (declared domains present on the server) requests, whatever the number of users:
   * domains, users, every mapping, the global quota, and per declared domain its quota and the
   * quotas of all its users.
   */
  async observe(scope: ObserveScope): Promise<BackendState> {
    const [domainList, users, mappings, globalQuota] = await Promise.all([
      this.client.listDomains(),
      this.client.listUsers(),
      this.client.listMappings(),
      this.client.getGlobalQuota(),
    ]);
    const present = new Set(domainList.map(lower));
    const declared = domainsToRead(scope, present);
    const perDomain = await Promise.all(
      declared.map(async (domain) => {
        const [domainQuota, userQuotas] = await Promise.all([
          this.client.getDomainQuota(domain),
          this.client.listUserQuotas(domain),
        ]);
        return { domain, domainQuota, userQuotas };
      }),
    );

    const aliasDomainsOf = new Map<string, string[]>();
    const aliasesOf = new Map<string, string[]>();
    const forwardsOf = new Map<string, string[]>();
    const groups = new Map<string, GroupState>();
    for (const [rawSource, entries] of Object.entries(mappings)) {
      const source = lower(rawSource);
      for (const { type, mapping } of entries) {
        const target = lower(stripMappingPrefix(mapping));
        switch (type) {
          case 'DomainAlias':
            push(aliasDomainsOf, target, source);
            break;
          case 'Alias':
            push(aliasesOf, target, source);
            break;
          case 'Forward':
            push(forwardsOf, source, target);
            break;
          case 'Group': {
            const group = groups.get(source) ?? { address: source, members: [] };
            group.members.push(target);
            groups.set(source, group);
            break;
          }
          default:
            break; // Address, Regex, Error mappings are not part of the model.
        }
      }
    }
    for (const group of groups.values()) group.members.sort();

    const domains = new Map<string, DomainState>();
    const domainQuotas = new Map(perDomain.map((d) => [d.domain, d.domainQuota]));
    for (const name of present) {
      domains.set(name, {
        name,
        // James stores a repeated domain alias twice; it is one alias all the same.
        aliasDomains: [...new Set(aliasDomainsOf.get(name))].sort(),
        defaultQuota: fromJamesQuota(domainQuotas.get(name)),
      });
    }

    const userQuotas = new Map<string, JamesQuota>();
    for (const { userQuotas: quotas } of perDomain) for (const [user, quota] of quotas) userQuotas.set(lower(user), quota);

    const userStates = new Map<string, UserState>();
    for (const raw of users) {
      const address = lower(raw);
      const targets = forwardsOf.get(address) ?? [];
      userStates.set(address, {
        address,
        displayName: null,
        disabled: false,
        extraAddresses: (aliasesOf.get(address) ?? []).sort(),
        forwards: targets.filter((t) => t !== address).sort(),
        keepCopy: targets.includes(address),
        quota: fromJamesQuota(userQuotas.get(address)),
      });
    }
    return { domains, users: userStates, groups, globalQuota: fromJamesQuota(globalQuota) };
  }

  // ------------------------------------------------------------------ apply
  async apply(change: Change, context: ApplyContext): Promise<void> {
    switch (change.resource) {
      case 'domain':
        return this.#applyDomain(change);
      case 'user':
        return this.#applyUser(change, context);
      case 'group':
        return this.#applyGroup(change);
      case 'globalQuota':
        return this.#applyGlobalQuota(change);
    }
  }

  async #applyDomain(change: DomainChange): Promise<void> {
    const name = change.key;
    if (change.action === 'delete') {
      for (const alias of change.before?.aliasDomains ?? []) await this.#removeAliasDomain(name, alias);
      await this.client.deleteDomain(name);
      return;
    }
    if (change.action === 'create') await this.client.createDomain(name);
    const have = change.before ?? { name, aliasDomains: [], defaultQuota: NO_QUOTA };
    const want = domainAfter(change.before, change.after!);
    for (const alias of want.aliasDomains.filter((a) => !have.aliasDomains.includes(a))) {
      // James only maps an alias domain that is itself in the domain list.
      await this.client.createDomain(alias);
      await this.client.addDomainAlias(name, alias);
    }
    for (const alias of have.aliasDomains.filter((a) => !want.aliasDomains.includes(a))) await this.#removeAliasDomain(name, alias);
    if (!sameQuota(have.defaultQuota, want.defaultQuota)) await this.client.setDomainQuota(name, toJamesQuota(want.defaultQuota));
  }

  async #removeAliasDomain(domain: string, alias: string): Promise<void> {
    await this.client.removeDomainAlias(domain, alias);
    await this.client.deleteDomain(alias);
  }

  async #applyUser(change: UserChange, context: ApplyContext): Promise<void> {
    switch (change.action) {
      case 'create': {
        const want = change.after!;
        const created = emptyUser(want.address);
        await this.client.createUser(want.address, revealPassword(want));
        await this.#converge(created, userAfter(created, want));
        return;
      }
      case 'update': {
        const want = change.after!;
        if (change.fields.some((f) => f.field === 'password')) {
          await this.client.setPassword(want.address, revealPassword(want));
        }
        await this.#converge(change.before!, userAfter(change.before!, want));
        return;
      }
      case 'replace':
        return this.#moveUser(change, context);
      case 'delete': {
        // James keeps a deleted user's mappings and would refuse to create it again: remove them first.
        const have = change.before!;
        await this.#converge(have, emptyUser(have.address));
        await this.client.deleteUser(have.address);
        return;
      }
    }
  }

  /**
   * An address change: create the new user, let James move the data (mailboxes, quota, forwards…)
   * with its rename task, then retire the old user — so no mail is stranded. What the manifest
   * leaves unset travels with the mailbox.
   *
   * Each step is checkpointed, and a run that died in the middle resumes after the last one that
   * completed: the mail moves once. What the later steps need but can no longer observe (the old
   * user as it was, before its aliases were taken off and the task changed it) is in the
   * checkpoint.
   */
  async #moveUser(change: UserChange, context: ApplyContext): Promise<void> {
    const want = change.after!;
    const oldAddress = change.renameFrom!;
    const resume = context.resumeFrom;
    const done = (step: MoveStep) => resume !== undefined && MOVE_STEPS.indexOf(resume.step as MoveStep) >= MOVE_STEPS.indexOf(step);
    const origin = (resume?.data?.origin as UserState | undefined) ?? change.before!;
    const data = { origin };

    if (!done('created')) {
      await this.client.createUser(want.address, revealPassword(want));
      await context.checkpoint({ step: 'created', data });
    } else {
      // The secret may have changed since the run that created the user.
      await this.client.setPassword(want.address, revealPassword(want));
    }
    if (!done('aliases-detached')) {
      // Aliases point at the old user; James's task does not carry them, and a source can only
      // map once, so they are taken off the old user first and put on the new one below.
      for (const alias of origin.extraAddresses) await this.client.removeAlias(oldAddress, alias);
      await context.checkpoint({ step: 'aliases-detached', data });
    }
    if (!done('moved')) {
      const description = `move data of ${oldAddress} to ${want.address}`;
      // A run that died between starting the task and recording it left it running unrecorded.
      const known = resume?.task ?? (resume ? await this.#findRenameTask(oldAddress, want.address, description) : undefined);
      const task = known ?? { id: await this.client.startRename(oldAddress, want.address), description };
      await context.awaitTask(task, { step: 'aliases-detached', data });
      await context.checkpoint({ step: 'moved', data });
    }
    if (!done('converged')) {
      // The task carried the forwards over and copied the quota; read back what is there now.
      const moved: UserState = {
        ...emptyUser(want.address),
        ...(await this.#forwardState(want.address)),
        extraAddresses: (await this.client.listAliasesOf(want.address)).map(lower),
        quota: origin.quota,
      };
      await this.#converge(moved, userAfter({ ...origin, address: want.address }, want));
      await context.checkpoint({ step: 'converged', data });
    }
    // The task always adds a forward old → new; it and any other forward of the old user go with it.
    for (const target of await this.client.listForwards(oldAddress)) await this.client.removeForward(oldAddress, target);
    await this.client.deleteUser(oldAddress);
  }

  /** A rename task of this very move that James still knows and that did not fail. */
  async #findRenameTask(oldAddress: string, newAddress: string, description: string): Promise<TaskRef | undefined> {
    const tasks = await this.client.listTasks();
    const match = tasks.find((task) => {
      const info = task.additionalInformation as { oldUser?: string; newUser?: string } | undefined;
      return task.type === 'UsernameChangeTask' && info?.oldUser?.toLowerCase() === oldAddress && info?.newUser?.toLowerCase() === newAddress &&
        task.status !== 'failed' && task.status !== 'canceled';
    });
    return match ? { id: match.taskId, description } : undefined;
  }

  async #forwardState(address: string): Promise<Pick<UserState, 'forwards' | 'keepCopy'>> {
    const targets = (await this.client.listForwards(address)).map(lower);
    return { forwards: targets.filter((t) => t !== address), keepCopy: targets.includes(address) };
  }

  /** Brings a user's mappings and quota from `have` to `want`, writing only what differs. */
  async #converge(have: UserState, want: UserState): Promise<void> {
    const address = have.address;
    for (const alias of have.extraAddresses.filter((a) => !want.extraAddresses.includes(a))) await this.client.removeAlias(address, alias);
    for (const alias of want.extraAddresses.filter((a) => !have.extraAddresses.includes(a))) await this.client.addAlias(address, alias);

    // keepCopy is a forward to the user itself; on its own (no other forward) it changes nothing.
    const targets = (user: UserState) => (user.forwards.length > 0 ? [...user.forwards, ...(user.keepCopy ? [address] : [])] : []);
    const haveTargets = have.keepCopy && have.forwards.length === 0 ? [address] : targets(have);
    const wantTargets = targets(want);
    // Add before removing, so that mail keeps a destination during the change.
    for (const target of wantTargets.filter((t) => !haveTargets.includes(t))) await this.client.addForward(address, target);
    for (const target of haveTargets.filter((t) => !wantTargets.includes(t))) await this.client.removeForward(address, target);

    if (!sameQuota(have.quota, want.quota)) await this.client.setUserQuota(address, toJamesQuota(want.quota));
  }

  async #applyGroup(change: GroupChange): Promise<void> {
    const have = change.before?.members ?? [];
    const want = change.after?.members ?? [];
    for (const member of want.filter((m) => !have.includes(m))) await this.client.addGroupMember(change.key, member);
    for (const member of have.filter((m) => !want.includes(m))) await this.client.removeGroupMember(change.key, member);
  }

  async #applyGlobalQuota(change: GlobalQuotaChange): Promise<void> {
    await this.client.setGlobalQuota(toJamesQuota(change.after));
  }

  verifyPassword(address: string, password: Sensitive): Promise<boolean> {
    return this.client.verifyPassword(address, password.reveal());
  }

  // ------------------------------------------------------------------ tasks
  async pollTask(task: TaskRef, waitMs: number, signal?: AbortSignal): Promise<TaskStatus> {
    const seconds = Math.max(1, Math.floor(waitMs / 1000));
    const report = await this.client.awaitTask(task.id, seconds, signal);
    if (!report) return { state: 'running' };
    return taskStatus(report);
  }

  async cancelTask(task: TaskRef): Promise<void> {
    await this.client.cancelTask(task.id);
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

function taskStatus(report: JamesTaskReport): TaskStatus {
  switch (report.status) {
    case 'waiting':
      return { state: 'waiting' };
    case 'inProgress':
    case 'canceledRequested':
      return { state: 'running' };
    case 'completed':
      return { state: 'succeeded' };
    case 'canceled':
      return { state: 'canceled', message: 'the task was cancelled' };
    case 'failed':
      return { state: 'failed', message: `task ${report.taskId} (${report.type ?? 'task'}) failed: ${JSON.stringify(report.additionalInformation ?? {})}` };
    default:
      throw new BackendError('Protocol', `task ${report.taskId} has an unknown status ${JSON.stringify(report.status)}`);
  }
}

function revealPassword(user: DesiredUser): string {
  if (!user.password) throw new BackendError('Invalid', `no password for ${user.address}`);
  return user.password.reveal();
}

export function fromJamesQuota(quota: JamesQuota | undefined): QuotaLimits {
  const limit = (value: number | null | undefined) => (value === null || value === undefined ? null : value < 0 ? UNLIMITED : value);
  return { storage: limit(quota?.size), messages: limit(quota?.count) };
}

export function toJamesQuota(limits: QuotaLimits): JamesQuota {
  const value = (limit: QuotaLimits['storage']) => (limit === null ? null : limit === UNLIMITED ? -1 : limit);
  return { size: value(limits.storage), count: value(limits.messages) };
}

function sameQuota(a: QuotaLimits, b: QuotaLimits): boolean {
  return a.storage === b.storage && a.messages === b.messages;
}

function lower(value: string): string {
  return value.toLowerCase();
}

/** Some James versions prefix mapping values with their type (`forward:x@y`); keep the address. */
function stripMappingPrefix(mapping: string): string {
  return mapping.replace(/^(alias|forward|group|domain|domainalias|address):/i, '');
}

function push(map: Map<string, string[]>, key: string, value: string): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
