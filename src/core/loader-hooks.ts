/**
 * Node module hooks for user plugs and hooks loaded from the config's `path:` folders: the bare
 * specifier `porter` resolves to this porter's own public API, wherever the user's file lives.
 */
import type { ResolveHook } from 'node:module';

let indexUrl = '';

export async function initialize(data: { indexUrl: string }): Promise<void> {
  indexUrl = data.indexUrl;
}

export const resolve: ResolveHook = async (specifier, context, next) => {
  if (specifier === 'porter' && indexUrl) return { url: indexUrl, shortCircuit: true, format: 'module' };
  return next(specifier, context);
};
