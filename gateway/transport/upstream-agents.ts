import { Agent } from 'undici';
import type { UpstreamTimeouts } from '../forward/forward-types.ts';

const agents = new Map<string, Agent>();

/**
 * One kept-alive connection pool per upstream origin and timeout profile. `headersTimeout` is the
 * first-byte timeout and `bodyTimeout` the idle gap allowed between two chunks.
 */
export function agentFor(origin: string, timeouts: UpstreamTimeouts, maxConnections = 256): Agent {
  const id = `${origin}|${timeouts.connectMillis}|${timeouts.firstByteMillis}|${timeouts.idleMillis}|${maxConnections}`;
  let agent = agents.get(id);
  if (!agent) {
    agent = new Agent({
      connect: { timeout: timeouts.connectMillis },
      headersTimeout: timeouts.firstByteMillis,
      bodyTimeout: timeouts.idleMillis,
      keepAliveTimeout: 30_000,
      connections: maxConnections,
      pipelining: 1,
    });
    agents.set(id, agent);
  }
  return agent;
}

export async function closeUpstreamAgents(): Promise<void> {
  const closing = [...agents.values()].map((agent) => agent.close().catch(() => undefined));
  agents.clear();
  await Promise.all(closing);
}
