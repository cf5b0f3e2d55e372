/**
 * The agents a calendar config describes, with the mail address each one has (its channel's
 * source): shared by the hook and by `porter calendar handle`.
 */

import { policiesSchema } from '../../calendar/policy/index.js';
import type { Agent } from './agents.js';
import { type CalendarConfig, policiesFromPreferences } from './config.js';

/** Builds the agents; `sourceOf` gives a channel's source (its mail address) by channel name. */
export function agentsOf(cfg: CalendarConfig, sourceOf: (channel: string) => string | undefined): Agent[] {
  const address = (kind: string, id: string, channel: string): string => {
    const source = sourceOf(channel);
    if (!source?.includes('@')) throw new Error(`${kind}.${id}.channel: channel "${channel}" is not a mail address`);
    return source.toLowerCase();
  };
  const agents: Agent[] = [];
  for (const [id, p] of Object.entries(cfg.people)) {
    const own = address('people', id, p.channel);
    // Passing mail on to the channel's own address would hand it back to the agent, again and again.
    if (p.forward === own) throw new Error(`people.${id}.forward: ${own} is the channel's own address`);
    agents.push({
      id,
      kind: 'person',
      address: own,
      name: p.name ?? p.preferences.CN,
      tzid: p.preferences.TZID ?? 'UTC',
      prefs: p.preferences,
      policies: [],
      members: [],
    });
  }
  for (const [id, r] of Object.entries(cfg.resources)) {
    const own = address('resources', id, r.channel);
    // imip-agent's scheduling preferences, checked with the config, as the policies they stand for.
    const imip = policiesFromPreferences(r.preferences, own.slice(own.indexOf('@') + 1));
    agents.push({
      id,
      kind: 'resource',
      address: own,
      name: r.name ?? r.preferences.CN,
      tzid: r.preferences.TZID ?? r.tzid,
      prefs: r.preferences,
      resourceKind: r.kind,
      capacity: r.capacity,
      policies: r.policies ?? (imip ? policiesSchema.parse(imip) : [{ type: 'free', capacity: r.capacity ?? 1 }]),
      members: [],
    });
  }
  for (const [id, p] of Object.entries(cfg.pools)) {
    agents.push({
      id,
      kind: 'pool',
      address: address('pools', id, p.channel),
      name: p.name ?? p.preferences.CN,
      tzid: p.preferences.TZID ?? 'UTC',
      prefs: p.preferences,
      policies: p.policies,
      members: p.members,
    });
  }
  return agents;
}
