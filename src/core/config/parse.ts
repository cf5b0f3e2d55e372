/**
 * Reads a config file in YAML, JSON or TOML (chosen by extension) into a plain object, turning
 * syntax errors into problems with line and column.
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parseDocument } from 'yaml';
import { ConfigError, type ConfigProblem } from '../errors.js';

export type ConfigFormat = 'yaml' | 'json' | 'toml';

export function formatOf(file: string): ConfigFormat {
  const ext = extname(file).toLowerCase();
  if (ext === '.json') return 'json';
  if (ext === '.toml') return 'toml';
  if (ext === '.yaml' || ext === '.yml') return 'yaml';
  throw new ConfigError([{ place: '', message: `cannot tell the format of "${file}": name it .yaml, .yml, .json or .toml` }]);
}

export async function readConfigFile(file: string): Promise<{ data: Record<string, unknown>; format: ConfigFormat }> {
  const format = formatOf(file);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new ConfigError([{ place: '', message: `cannot read config "${file}": ${reason}` }]);
  }
  return { data: await parseConfigText(text, format, file), format };
}

/** Parses `text`; a syntax error throws a ConfigError with one problem per error, each with a position. */
export async function parseConfigText(text: string, format: ConfigFormat, file?: string): Promise<Record<string, unknown>> {
  let data: unknown;
  if (format === 'yaml') {
    const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
    if (doc.errors.length > 0) {
      throw new ConfigError(
        doc.errors.map((e) => ({
          place: '',
          message: firstLine(e.message),
          line: e.linePos?.[0].line ?? 1,
          column: e.linePos?.[0].col ?? 1,
        })),
        file,
      );
    }
    data = doc.toJS({ maxAliasCount: 100 });
  } else if (format === 'json') {
    try {
      data = JSON.parse(text);
    } catch (error) {
      throw new ConfigError([await jsonProblem(text, error as Error)], file);
    }
  } else {
    const { parse, TomlError } = await import('smol-toml');
    try {
      data = parse(text);
    } catch (error) {
      if (error instanceof TomlError) {
        throw new ConfigError([{ place: '', message: firstLine(error.message), line: error.line, column: error.column }], file);
      }
      throw error;
    }
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError([{ place: '', message: 'the config must be a mapping of sections (plugs, channels, hooks, …)' }], file);
  }
  return data as Record<string, unknown>;
}

function firstLine(message: string): string {
  const line = message.split('\n')[0] ?? message;
  // smol-toml and yaml append their own position; ours is in front already.
  return line.replace(/\s*at line \d+,? column \d+:?$/i, '').replace(/^Invalid TOML document:\s*/i, '');
}

/** V8's JSON errors do not always say where; jsonc-parser does, by offset. */
async function jsonProblem(text: string, error: Error): Promise<ConfigProblem> {
  const { parse, printParseErrorCode } = await import('jsonc-parser');
  const errors: import('jsonc-parser').ParseError[] = [];
  parse(text, errors, { disallowComments: true, allowTrailingComma: false });
  const first = errors[0];
  if (!first) return { place: '', message: error.message, line: 1, column: 1 };
  const before = text.slice(0, first.offset);
  const message = `${printParseErrorCode(first.error)
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toLowerCase()}`;
  return { place: '', message, line: before.split('\n').length, column: before.length - before.lastIndexOf('\n') };
}
