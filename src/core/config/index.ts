/** Loading, checking and writing back porter's config file. */
import { dirname, resolve } from 'node:path';
import { readConfigFile } from './parse.js';
import { type ResolvedConfig, resolveConfig } from './validate.js';

export { type ConfigFormat, formatOf, parseConfigText, readConfigFile } from './parse.js';
export * from './schema.js';
export { type ResolvedConfig, type ResolvedHook, type ResolvedPlug, resolveConfig } from './validate.js';
export { serializeConfig, writeConfigFile, writeFileAtomic } from './write.js';

/** Reads, checks and resolves the config file at `file`. Throws a ConfigError on any problem. */
export async function loadConfig(file: string): Promise<ResolvedConfig> {
  const abs = resolve(file);
  const { data, format } = await readConfigFile(abs);
  return resolveConfig(data, { file, format, baseDir: dirname(abs) });
}
