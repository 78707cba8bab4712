'use strict';
/**
 * The floor of context propagation, for bench/instructions.js --preload: AsyncLocalStorage enabled and each
 * incoming request's listeners run in a store, nothing else (no span, no export). What an agent built on
 * AsyncLocalStorage pays on this Node.js before it does anything of its own.
 *
 *   node bench/instructions.js --scenario http --agents als-only --preload bench/lib/als-only-preload.js
 */
const { AsyncLocalStorage } = require('node:async_hooks');
const http = require('node:http');

const storage = new AsyncLocalStorage();
const store = { request: true };
const emit = http.Server.prototype.emit;

function applyEmit(server, args) {
  return emit.apply(server, args);
}

http.Server.prototype.emit = function (event) {
  if (event !== 'request') return emit.apply(this, arguments);
  return storage.run(store, applyEmit, this, arguments);
};
