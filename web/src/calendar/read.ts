// Reading JSON from the calendar API field by field: every answer is checked before a page uses it,
// and a wrong one fails with the path of the field (`events[2].start: expected an ISO 8601 time`).

/** An answer of the calendar API that does not have the agreed shape. */
export class ApiFormatError extends Error {
  override name = 'ApiFormatError';
}

type Json = unknown;

/** One object of an answer and where it is in it, for the errors. */
export class Reader {
  readonly #value: Record<string, Json>;
  readonly #path: string;

  constructor(value: Json, path: string) {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw new ApiFormatError(`${path || 'answer'}: expected an object`);
    this.#value = value as Record<string, Json>;
    this.#path = path;
  }

  #where(key: string): string {
    return this.#path ? `${this.#path}.${key}` : key;
  }

  has(key: string): boolean {
    return this.#value[key] !== undefined && this.#value[key] !== null;
  }

  raw(key: string): Json {
    return this.#value[key];
  }

  string(key: string): string {
    const value = this.#value[key];
    if (typeof value !== 'string') throw new ApiFormatError(`${this.#where(key)}: expected a string`);
    return value;
  }

  optionalString(key: string): string | undefined {
    return this.has(key) ? this.string(key) : undefined;
  }

  number(key: string): number {
    const value = this.#value[key];
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new ApiFormatError(`${this.#where(key)}: expected a number`);
    return value;
  }

  optionalNumber(key: string): number | undefined {
    return this.has(key) ? this.number(key) : undefined;
  }

  boolean(key: string, fallback?: boolean): boolean {
    const value = this.#value[key];
    if (value === undefined && fallback !== undefined) return fallback;
    if (typeof value !== 'boolean') throw new ApiFormatError(`${this.#where(key)}: expected true or false`);
    return value;
  }

  /** An ISO 8601 time, as ms since the epoch. */
  time(key: string): number {
    const ms = Date.parse(this.string(key));
    if (Number.isNaN(ms)) throw new ApiFormatError(`${this.#where(key)}: expected an ISO 8601 time`);
    return ms;
  }

  optionalTime(key: string): number | undefined {
    return this.has(key) ? this.time(key) : undefined;
  }

  oneOf<T extends string>(key: string, allowed: readonly T[]): T {
    const value = this.string(key);
    if (!(allowed as readonly string[]).includes(value))
      throw new ApiFormatError(`${this.#where(key)}: expected one of ${allowed.join(', ')}`);
    return value as T;
  }

  /** The array at `key`, each item read by `item`. */
  list<T>(key: string, item: (reader: Reader) => T): T[] {
    const value = this.#value[key];
    if (!Array.isArray(value)) throw new ApiFormatError(`${this.#where(key)}: expected a list`);
    return value.map((entry, i) => item(new Reader(entry, `${this.#where(key)}[${i}]`)));
  }

  strings(key: string): string[] {
    const value = this.#value[key];
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string'))
      throw new ApiFormatError(`${this.#where(key)}: expected a list of strings`);
    return value;
  }

  /** The object at `key`. */
  object(key: string): Reader {
    return new Reader(this.#value[key], this.#where(key));
  }

  keys(): string[] {
    return Object.keys(this.#value);
  }

  /** The whole object, for values shown as they are (a policy's keys). */
  entries(): [string, Json][] {
    return Object.entries(this.#value);
  }
}
