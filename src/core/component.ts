/**
 * What plugs and hooks have in common: a name from the config, a validated config, the host,
 * a logger, and the class-level contract (config schema, migrations) the host reads at load.
 */
import type { Migration } from 'kysely';
import type { z } from 'zod';
import type { Host } from './host.js';
import type { Logger } from './log.js';
import { Openable } from './openable.js';

/** What the host hands a plug or hook when it creates it. */
export interface ComponentInit<C> {
  readonly name: string;
  readonly config: C;
  readonly host: Host;
  readonly log: Logger;
}

/**
 * Zod types that check names against the config's namespace, so a hook's schema can say
 * "a list of channels" and the error names the unknown one: `unknown channel "bar"`.
 */
export interface ConfigRefs {
  channel(): z.ZodType<string>;
  group(): z.ZodType<string>;
  plug(): z.ZodType<string>;
  /** A channel or a group name. */
  channelOrGroup(): z.ZodType<string>;
}

/** Builds a component's config schema; called once per config check with that config's names. */
export type ConfigSchemaFactory = (refs: ConfigRefs) => z.ZodType;

/** A feature's migrations, by name; applied in name order, once, under the owner's prefix. */
export type Migrations = Readonly<Record<string, Migration>>;

export abstract class Component<C = unknown> extends Openable {
  readonly name: string;
  readonly config: C;
  readonly host: Host;
  readonly log: Logger;

  constructor(init: ComponentInit<C>) {
    super();
    this.name = init.name;
    this.config = init.config;
    this.host = init.host;
    this.log = init.log;
  }
}

/** The static side every plug or hook class offers; `porterKind` brands it for the loader. */
export interface ComponentClass<T extends Component, K extends 'plug' | 'hook'> {
  new (init: ComponentInit<never>): T;
  readonly porterKind: K;
  readonly configSchema?: ConfigSchemaFactory;
  readonly migrations?: Migrations;
  /** Whose migrations these are; classes sharing tables share an owner. Defaults to the class name. */
  readonly migrationOwner?: string;
  readonly name: string;
}
