/**
 * What the ioredis spans need to know about a client, read from its options and connection state:
 * `server.address` / `server.port` as configured (redis.md: "the database address specified in the client
 * configuration"), and `db.namespace`, the database index the connection has selected (ioredis tracks it in
 * `condition.select` as SELECT commands are sent; before that, `options.db`).
 */
import { databaseNamespace, endpointFromOptions, type RedisEndpoint } from '../redis/command-text';

const endpoints = new WeakMap<object, RedisEndpoint>();

/** The client's configured endpoint (computed once per client). */
export function clientEndpoint(client: any): RedisEndpoint {
  if (client === null || typeof client !== 'object') return { address: undefined, port: undefined };
  let endpoint = endpoints.get(client);
  if (endpoint === undefined) {
    endpoint = endpointFromOptions(client.options, 'localhost');
    endpoints.set(client, endpoint);
  }
  return endpoint;
}

/** The database index the client's connection uses, as `db.namespace`. */
export function clientNamespace(client: any): string | undefined {
  if (client === null || typeof client !== 'object') return undefined;
  const selected = client.condition?.select;
  return databaseNamespace(selected ?? client.options?.db ?? 0);
}

/** Whether a pipeline's queue is a MULTI/EXEC transaction (`multi()` queues MULTI first and EXEC last). */
export function isMultiPipeline(queue: ArrayLike<{ name?: unknown } | undefined>): boolean {
  const n = queue.length;
  return n >= 2 && queue[0]?.name === 'multi' && queue[n - 1]?.name === 'exec';
}
