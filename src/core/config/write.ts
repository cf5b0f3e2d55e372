/**
 * Writes a config back in its own format, atomically: a temporary file in the same folder,
 * fsync, rename over the original, fsync of the folder. Comments are not kept (as with IMMP's -w).
 */
import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import type { ConfigFormat } from './parse.js';

export async function serializeConfig(data: Record<string, unknown>, format: ConfigFormat): Promise<string> {
  if (format === 'json') return `${JSON.stringify(data, null, 2)}\n`;
  if (format === 'toml') {
    const { stringify } = await import('smol-toml');
    return `${stringify(data)}\n`;
  }
  return stringifyYaml(data, { lineWidth: 0 });
}

export async function writeFileAtomic(file: string, text: string): Promise<void> {
  const dir = dirname(file);
  const tmp = join(dir, `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, file);
  } catch (error) {
    await unlink(tmp).catch(() => {});
    throw error;
  }
  const dirHandle = await open(dir, 'r');
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}

export async function writeConfigFile(file: string, data: Record<string, unknown>, format: ConfigFormat): Promise<void> {
  await writeFileAtomic(file, await serializeConfig(data, format));
}
