import { AsyncLocalStorageContextManager } from './context-manager';

/** The one context manager of the process: every tracer, wrapper and exporter uses it. */
export const contextManager = new AsyncLocalStorageContextManager();
