/**
 * N gateway nodes of a test cluster on one Redis, each with fixed ports (HTTP, media, pipes),
 * so a node can be stopped and started again as the same node (a rolling restart).
 */
import { freePort, startClusterNode, type ClusterNodeProcess } from './cluster.js';

export interface TestNodes {
  /** The running process of each node, by name (replaced by `restart`). */
  readonly nodes: Map<string, ClusterNodeProcess>;
  get(name: string): ClusterNodeProcess;
  /** The node (name) whose URL has this port: where a `migrate` or a join answer points. */
  byUrl(url: string): string | undefined;
  /** Starts the node again with its name, ports and settings (after it stopped). */
  start(name: string): Promise<ClusterNodeProcess>;
  stop(): Promise<void>;
}

/** Starts nodes `names` (in parallel) on `redisUrl` with `env` added to each one's settings. */
export async function startNodes(
  names: string[],
  redisUrl: string,
  env: Record<string, string> = {},
): Promise<TestNodes> {
  // Pipe ranges of 20 ports per node, in a block chosen at random (parallel test files).
  const pipeBase = 43000 + Math.floor(Math.random() * 60) * 60;
  const settings = new Map<string, Record<string, string>>();
  for (const [i, name] of names.entries()) {
    settings.set(name, {
      PORT: String(await freePort()),
      RTC_PORT_BASE: String(await freePort()),
      PIPE_PORT_MIN: String(pipeBase + i * 20),
      PIPE_PORT_MAX: String(pipeBase + i * 20 + 19),
      ...env,
    });
  }
  const nodes = new Map<string, ClusterNodeProcess>();
  const start = async (name: string) => {
    const node = await startClusterNode(name, redisUrl, settings.get(name));
    nodes.set(name, node);
    return node;
  };
  await Promise.all(names.map(start));
  return {
    nodes,
    get: (name) => nodes.get(name)!,
    byUrl: (url) => {
      const port = new URL(url).port;
      return names.find((n) => settings.get(n)!.PORT === port);
    },
    start,
    stop: async () => {
      await Promise.all([...nodes.values()].map((n) => n.stop()));
    },
  };
}
