// The agents this porter hosts (people, resources, pools), loaded once per page and looked up by id
// or address.
import { type Agents, fetchAgents, type Person, type Resource } from './api.js';
import { type Loaded, useLoad } from './use-load.js';

export function useAgents(): Loaded<Agents> {
  return useLoad('agents', fetchAgents);
}

/** The person or resource with this address (addresses compare without case). */
export function agentByAddress(agents: Agents | undefined, address: string): Person | Resource | undefined {
  const wanted = address.toLowerCase();
  return (
    agents?.people.find((p) => p.address.toLowerCase() === wanted) ?? agents?.resources.find((r) => r.address.toLowerCase() === wanted)
  );
}
