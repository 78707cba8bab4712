/**
 * What the node-redis spans need to know about a client: where it connects (`server.address`, `server.port`
 * from its options, as redis.md asks: "the database address specified in the client configuration") and which
 * database index it uses (`db.namespace`: the configured `database`, then whatever a successful SELECT chose).
 * Computed once per client and kept beside it, not on it.
 */
import type { Span } from '../../src/api/types';
import { databaseNamespace, endpointFromOptions, type RedisEndpoint } from './command-text';

export interface ClientState {
  endpoint: RedisEndpoint;
  namespace: string | undefined;
  /** Whether the client was ready once (a later `reconnecting` is a reconnect, not the first connect). */
  everReady: boolean;
  /** The open `redis reconnect` span, if a reconnect attempt is under way. */
  reconnect: Span | undefined;
}

const states = new WeakMap<object, ClientState>();

/** node-redis options: `{ socket: { host, port } | { path }, database }` (a `url` is parsed into these). */
export function nodeRedisClientState(options: unknown): ClientState {
  const o = (options !== null && typeof options === 'object' ? options : {}) as { socket?: unknown; database?: unknown };
  return {
    endpoint: endpointFromOptions(o.socket ?? {}, 'localhost'),
    namespace: databaseNamespace(o.database ?? 0),
    everReady: false,
    reconnect: undefined,
  };
}

/**
 * The state of a client. node-redis 5 calls methods on proxies of a client (`withTypeMapping()`,
 * `withAbortSignal()`…) whose `_self` is the client itself: the state belongs to that.
 */
export function clientState(client: any): ClientState {
  const self: object = client !== null && typeof client === 'object' && client._self != null ? client._self : client;
  let state = states.get(self);
  if (state === undefined) {
    state = nodeRedisClientState((self as { options?: unknown }).options);
    states.set(self, state);
  }
  return state;
}
