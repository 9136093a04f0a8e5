// The recipient rewrite table (AbstractRecipientRewriteTable + MemoryRecipientRewriteTable, 3.8.1), indexed so
// that a request touches only the mappings it is about. The memory server keeps one list in insertion order
// without duplicate checks; here every copy of a mapping carries its place in that list (a sequence number), so
// duplicates (a repeated domain alias) and the list's order survive.

import { entryOf, type MeteredStore, type SetIndex } from '../../emulator/store.ts';
import { sourceOf } from './names.ts';

export type MappingType = 'Regex' | 'Domain' | 'DomainAlias' | 'Error' | 'Forward' | 'Group' | 'Alias' | 'Address';
export interface JamesMapping {
  readonly type: MappingType;
  readonly mapping: string;
}

const MAPPING_PREFIX: Readonly<Record<MappingType, string>> = {
  Regex: 'regex:', Domain: 'domain:', DomainAlias: 'domainAlias:', Error: 'error:',
  Forward: 'forward:', Group: 'group:', Alias: 'alias:', Address: '',
};
const MAPPING_ORDER: Readonly<Record<MappingType, number>> = {
  Domain: 1, DomainAlias: 1, Group: 2, Forward: 3, Alias: 3, Regex: 4, Error: 4, Address: 4,
};

export function mappingAsString(mapping: JamesMapping): string {
  return MAPPING_PREFIX[mapping.type] + mapping.mapping;
}

/** James sorts a source's mappings by type order, then by their prefixed string. */
function compareMappings(a: JamesMapping, b: JamesMapping): number {
  const [left, right] = [mappingAsString(a), mappingAsString(b)];
  return MAPPING_ORDER[a.type] - MAPPING_ORDER[b.type] || (left < right ? -1 : left > right ? 1 : 0);
}

/** A copy of a stored mapping and its place in MemoryRecipientRewriteTable's list. */
export interface StoredCopy extends JamesMapping {
  readonly sequence: number;
}

/** The order of getStoredMappings: James's sort, stable over the list's order. */
export function byStoredOrder(a: StoredCopy, b: StoredCopy): number {
  return compareMappings(a, b) || a.sequence - b.sequence;
}

/** One source's mappings: type → value → the sequence numbers of its copies, oldest first. */
type SourceMappings = Map<MappingType, Map<string, number[]>>;

export class RewriteTable {
  readonly #collections: MeteredStore;
  /** source (`user@domain`, or a bare domain for domain aliases) → its mappings. */
  readonly #bySource: Map<string, SourceMappings>;
  /** type → the sources holding at least one mapping of that type. */
  readonly #sourcesByType: SetIndex<MappingType, string>;
  /** type → value → the sources mapping to that value (the aliases of a user, the alias domains of a domain). */
  readonly #sourcesByValue: Map<MappingType, SetIndex<string, string>>;
  #nextSequence = 0;

  constructor(collections: MeteredStore) {
    this.#collections = collections;
    this.#bySource = collections.map();
    this.#sourcesByType = collections.index();
    this.#sourcesByValue = collections.map();
  }

  /** The copies of a source's mappings whose type passes `keep`, in no particular order. */
  copies(source: string, keep: (type: MappingType) => boolean = () => true): StoredCopy[] {
    const copies: StoredCopy[] = [];
    for (const [type, values] of this.#bySource.get(source) ?? []) {
      if (!keep(type)) continue;
      for (const [mapping, sequences] of values) for (const sequence of sequences) copies.push({ type, mapping, sequence });
    }
    return copies;
  }

  /** getStoredMappings: a source's mappings in James's order. */
  stored(source: string): JamesMapping[] {
    return this.copies(source).sort(byStoredOrder).map(({ type, mapping }) => ({ type, mapping }));
  }

  /** The values of a source's mappings of one type, a duplicate repeated, sorted. */
  values(source: string, type: MappingType): string[] {
    const values: string[] = [];
    for (const [value, sequences] of this.#bySource.get(source)?.get(type) ?? []) {
      for (let copy = 0; copy < sequences.length; copy += 1) values.push(value);
    }
    return values.sort();
  }

  /** The copies of one mapping (their sequence numbers, oldest first), if stored. */
  sequencesOf(source: string, type: MappingType, value: string): readonly number[] | undefined {
    return this.#bySource.get(source)?.get(type)?.get(value);
  }

  has(source: string, type: MappingType, value: string): boolean {
    return this.sequencesOf(source, type, value) !== undefined;
  }

  /** Appends to the table without a duplicate check, like MemoryRecipientRewriteTable.addMapping. */
  add(source: string, type: MappingType, value: string): void {
    const ofSource = entryOf(this.#bySource, source, () => this.#collections.map<MappingType, Map<string, number[]>>());
    const values = entryOf(ofSource, type, () => this.#collections.map<string, number[]>());
    this.#sourcesByType.add(type, source);
    entryOf(this.#sourcesByValue, type, () => this.#collections.index<string, string>()).add(value, source);
    entryOf(values, value, () => []).push(this.#nextSequence);
    this.#nextSequence += 1;
  }

  /** Removes one matching entry, the oldest (List.remove), so one of two duplicate domain aliases survives. */
  remove(source: string, type: MappingType, value: string): void {
    const ofSource = this.#bySource.get(source);
    const values = ofSource?.get(type);
    const sequences = values?.get(value);
    if (ofSource === undefined || values === undefined || sequences === undefined) return;
    sequences.shift();
    if (sequences.length > 0) return;
    values.delete(value);
    this.#sourcesByValue.get(type)?.delete(value, source);
    if (values.size > 0) return;
    ofSource.delete(type);
    this.#sourcesByType.delete(type, source);
    if (ofSource.size === 0) this.#bySource.delete(source);
  }

  /** Removes every mapping of `source` (a deleted domain loses its domain aliases). */
  removeSource(source: string): void {
    const ofSource = this.#bySource.get(source);
    if (ofSource === undefined) return;
    for (const [type, values] of ofSource) {
      for (const value of values.keys()) this.#sourcesByValue.get(type)?.delete(value, source);
      this.#sourcesByType.delete(type, source);
    }
    this.#bySource.delete(source);
  }

  /** Sources holding at least one mapping of `type`, sorted (getSourcesForType). */
  sourcesWithType(type: MappingType): string[] {
    return [...this.#sourcesByType.get(type)].sort();
  }

  /** The sources mapping to `value` with `type`, each once, in no particular order. */
  sourcesMappingTo(type: MappingType, value: string): string[] {
    return [...this.#sourcesByValue.get(type)?.get(value) ?? []];
  }

  /** The values some source maps to with `type`, sorted. */
  valuesOfType(type: MappingType): string[] {
    return [...this.#sourcesByValue.get(type)?.keys() ?? []].sort();
  }

  /** getAllMappings: every source, in the order its oldest mapping entered the list, with its sorted mappings. */
  all(): Record<string, JamesMapping[]> {
    const sources = [...this.#bySource].map(([source, mappings]) => {
      let oldest = Infinity;
      for (const values of mappings.values()) for (const sequences of values.values()) oldest = Math.min(oldest, sequences[0] ?? Infinity);
      return { source, oldest };
    });
    const bySource: Record<string, JamesMapping[]> = {};
    for (const { source } of sources.sort((a, b) => a.oldest - b.oldest)) bySource[source] = this.stored(source);
    return bySource;
  }

  /**
   * getResolvedMappings: the addresses `address` ends at after following the table (leaves only, like James,
   * at most 10 hops). A user's own mappings win over its domain's (domain aliases).
   */
  resolve(address: string, hopsLeft = 10): string[] {
    if (hopsLeft === 0) return [];
    const at = address.lastIndexOf('@');
    const localPart = address.slice(0, at);
    const domain = address.slice(at + 1).toLowerCase();
    // Only which addresses are reached matters to the callers, so the mappings need no sorting.
    const own = this.copies(sourceOf(address));
    const mappings = own.length > 0 ? own : this.copies(domain);
    const leaves: string[] = [];
    for (const mapping of mappings) {
      let rewritten: string;
      if (mapping.type === 'Domain' || mapping.type === 'DomainAlias') rewritten = `${localPart}@${mapping.mapping}`;
      else if (mapping.type === 'Regex' || mapping.type === 'Error') continue;
      else rewritten = mapping.mapping;
      if (sourceOf(rewritten) === sourceOf(address)) {
        leaves.push(rewritten);
        continue;
      }
      const further = this.resolve(rewritten, hopsLeft - 1);
      leaves.push(...(further.length > 0 ? further : [rewritten]));
    }
    return leaves;
  }
}
