/**
 * porter's error catalogue: every error porter raises on purpose carries a stable code, so logs,
 * tests and users can tell them apart without matching on message text.
 */

export const ERROR_CODES = {
  PORTER_ERR_CONFIG: 'the configuration is invalid',
  PORTER_ERR_MODULE: 'a plug or hook module could not be found or loaded',
  PORTER_ERR_PLUG: 'a plug failed',
  PORTER_ERR_HOOK: 'a hook failed',
  PORTER_ERR_STORE: 'the store failed',
  PORTER_ERR_TIMEOUT: 'an operation took longer than allowed',
  PORTER_ERR_UNSUPPORTED: 'the network does not offer this capability',
  PORTER_ERR_STATE: 'an object was used in the wrong state',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class PorterError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** One thing wrong with a config, named by where it is (`hooks.bridge.config.channels.main[1]`). */
export interface ConfigProblem {
  /** Dotted place in the config, with `[n]` for list items; empty for the whole file. */
  readonly place: string;
  readonly message: string;
  /** Set for syntax errors, where a place in the tree does not exist yet. */
  readonly line?: number;
  readonly column?: number;
}

export function formatProblem(problem: ConfigProblem, file?: string): string {
  if (problem.line !== undefined) {
    const where = `${file ?? 'config'}:${problem.line}${problem.column !== undefined ? `:${problem.column}` : ''}`;
    return `${where}: ${problem.message}`;
  }
  return problem.place ? `${problem.place}: ${problem.message}` : problem.message;
}

export class ConfigError extends PorterError {
  readonly problems: readonly ConfigProblem[];
  readonly file: string | undefined;
  constructor(problems: readonly ConfigProblem[], file?: string) {
    super('PORTER_ERR_CONFIG', problems.map((p) => formatProblem(p, file)).join('\n'));
    this.problems = problems;
    this.file = file;
  }
}

export class ModuleError extends PorterError {
  constructor(message: string, options?: ErrorOptions) {
    super('PORTER_ERR_MODULE', message, options);
  }
}

export class PlugError extends PorterError {
  constructor(message: string, options?: ErrorOptions) {
    super('PORTER_ERR_PLUG', message, options);
  }
}

export class HookError extends PorterError {
  constructor(message: string, options?: ErrorOptions) {
    super('PORTER_ERR_HOOK', message, options);
  }
}

export class StoreError extends PorterError {
  constructor(message: string, options?: ErrorOptions) {
    super('PORTER_ERR_STORE', message, options);
  }
}

export class TimeoutError extends PorterError {
  constructor(message: string, options?: ErrorOptions) {
    super('PORTER_ERR_TIMEOUT', message, options);
  }
}

/** Raised when asked for something a network does not offer (edit, delete, rooms, …). */
export class UnsupportedError extends PorterError {
  constructor(message: string, options?: ErrorOptions) {
    super('PORTER_ERR_UNSUPPORTED', message, options);
  }
}

export class StateError extends PorterError {
  constructor(message: string, options?: ErrorOptions) {
    super('PORTER_ERR_STATE', message, options);
  }
}

/** Rejects with a TimeoutError naming `what` if `promise` has not settled within `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what} did not finish within ${ms} ms`)), ms);
    timer.unref();
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
