// Configuration errors: every one names the file, line, column and field, so a person can go
// straight to the spot. Collected, never thrown one by one: a run shows all of them at once.

export interface SourcePosition {
  file: string;
  line: number; // 1-based
  column: number; // 1-based
}

export interface ConfigError {
  position: SourcePosition;
  /** Which object, e.g. `MailUser "alice"`; absent for errors before an object is known. */
  object?: string;
  /** Dotted field path, e.g. `spec.forwarding.to[1]`. */
  field?: string;
  message: string;
  /** The object names another that is not declared (yet): a cluster waits for it instead of calling the object invalid. */
  missingReference?: boolean;
}

/** Line 0 stands for the whole file (or directory): only its path is shown. */
export function formatPosition(p: SourcePosition): string {
  return p.line === 0 ? p.file : `${p.file}:${p.line}:${p.column}`;
}

export function formatConfigError(error: ConfigError): string {
  const subject = [error.object, error.field].filter(Boolean).join(' ');
  return `${formatPosition(error.position)}: ${subject ? `${subject}: ` : ''}${error.message}`;
}

export function compareErrors(a: ConfigError, b: ConfigError): number {
  return (
    a.position.file.localeCompare(b.position.file) ||
    a.position.line - b.position.line ||
    a.position.column - b.position.column
  );
}

/** A message lists this many errors; a file of thousands of broken documents would otherwise print all. */
const SHOWN_ERRORS = 100;

/** Thrown by the loader when a configuration has errors; carries all of them. */
export class InvalidConfigError extends Error {
  readonly errors: ConfigError[];
  constructor(errors: ConfigError[]) {
    const sorted = [...errors].sort(compareErrors);
    super(
      `${sorted.length} configuration error${sorted.length === 1 ? '' : 's'}; nothing was applied:\n` +
        sorted.slice(0, SHOWN_ERRORS).map((e) => `  ${formatConfigError(e)}`).join('\n') +
        (sorted.length > SHOWN_ERRORS ? `\n  … and ${sorted.length - SHOWN_ERRORS} more` : ''),
    );
    this.name = 'InvalidConfigError';
    this.errors = sorted;
  }
}

export type FieldPath = ReadonlyArray<string | number>;

export function formatFieldPath(path: FieldPath): string {
  let out = '';
  for (const step of path) {
    out += typeof step === 'number' ? `[${step}]` : out ? `.${step}` : step;
  }
  return out;
}
