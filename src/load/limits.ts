// How much input one run reads. Past a limit the input is refused, with the file named, before
// the expensive work: a configuration is written by people (and generators), and what is far
// beyond any real one is a mistake or an attack that would otherwise cost gigabytes.
//
// Sized for the project's goal of 100,000 users: such a configuration takes about 30 MiB of YAML,
// one document per user, and loads in under 1 GiB of memory (BENCHMARKS.md, scenario 1).

const MiB = 1024 * 1024;

export const INPUT_LIMITS = {
  /** One file. */
  fileBytes: 64 * MiB,
  /** All the files of a run together. */
  totalBytes: 64 * MiB,
  /** YAML documents in all the files of a run together (items of a `kind: List` count one each). */
  documents: 250_000,
  /**
   * YAML tokens (scalars, indicators, spaces and line breaks) in all the files of a run together,
   * counted as they are read, before a document is built: what the parser's memory grows with.
   * 100,000 users of about ten fields each take about 11 million; `- x` lines take 4 tokens in 4 bytes.
   */
  tokens: 16_000_000,
  /**
   * YAML tokens in one document. The parser holds a whole document before it can be checked, so
   * this bounds its memory (about 150 bytes a token); a `kind: List` of some 20,000 users fits.
   * Larger sets are written as one document per object, as `mailops export` does.
   */
  documentTokens: 2_000_000,
  /** Configuration errors reported per file; past them the file is not read further. */
  errorsPerFile: 20,
  /** One scalar (and one line): no field of any kind is longer than a few kilobytes. */
  scalarBytes: 64 * 1024,
  /** Mappings and sequences inside one another; the deepest field of a kind is about 6 levels down. */
  depth: 32,
  /** Alias nodes resolved per document (YAML "billion laughs"). */
  aliases: 1000,
} as const;

export function formatBytes(bytes: number): string {
  return bytes >= MiB ? `${(bytes / MiB).toFixed(bytes % MiB === 0 ? 0 : 1)} MiB` : `${Math.ceil(bytes / 1024)} KiB`;
}
