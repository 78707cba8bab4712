/**
 * Composite propagator (OpenTelemetry specification, context/api-propagators.md, "Composite Propagator"): runs
 * several propagators as one, in the order given, for inject and extract.
 *
 * A propagator that throws — a third-party one, or any one handed a getter or setter that throws — is skipped
 * for that call: the error is logged once per propagator and operation (diag.errorOnce), and the request goes on
 * with what the other propagators did. Propagation must never break the application's request.
 */
import type { Context, TextMapGetter, TextMapPropagator, TextMapSetter } from '../api/types';
import { diag } from '../diag/logger';

function describe(propagator: TextMapPropagator, index: number): string {
  const name = (propagator as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === 'string' && name !== '' && name !== 'Object' ? `${name} #${index}` : `propagator #${index}`;
}

/* The try/catch blocks live in these helpers, outside the loops that call them. */

function safeInject(
  propagator: TextMapPropagator,
  index: number,
  context: Context,
  carrier: unknown,
  setter: TextMapSetter,
): void {
  try {
    propagator.inject(context, carrier, setter);
  } catch (err) {
    const name = describe(propagator, index);
    diag.errorOnce(`propagator inject ${name}`, `propagator ${name} threw on inject; skipped`, err);
  }
}

function safeExtract(
  propagator: TextMapPropagator,
  index: number,
  context: Context,
  carrier: unknown,
  getter: TextMapGetter,
): Context {
  try {
    const out = propagator.extract(context, carrier, getter);
    // A propagator returning nothing usable is treated as having extracted nothing.
    return out !== null && typeof out === 'object' ? out : context;
  } catch (err) {
    const name = describe(propagator, index);
    diag.errorOnce(`propagator extract ${name}`, `propagator ${name} threw on extract; skipped`, err);
    return context;
  }
}

function safeFields(propagator: TextMapPropagator, index: number): string[] {
  try {
    const fields = propagator.fields();
    return Array.isArray(fields) ? fields : [];
  } catch (err) {
    const name = describe(propagator, index);
    diag.errorOnce(`propagator fields ${name}`, `propagator ${name} threw on fields(); skipped`, err);
    return [];
  }
}

export class CompositePropagator implements TextMapPropagator {
  private readonly _propagators: readonly TextMapPropagator[];
  private readonly _fields: readonly string[];

  constructor(propagators: readonly TextMapPropagator[] = []) {
    this._propagators = propagators.slice();
    // fields() is fixed for a propagator: the union, in order and without repeats, is computed once.
    const fields: string[] = [];
    for (let i = 0; i < this._propagators.length; i++) {
      const own = safeFields(this._propagators[i], i);
      for (let j = 0; j < own.length; j++) if (!fields.includes(own[j])) fields.push(own[j]);
    }
    this._fields = fields;
  }

  /** Each propagator injects in turn; a later one may overwrite a header an earlier one wrote. */
  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    const propagators = this._propagators;
    for (let i = 0; i < propagators.length; i++) safeInject(propagators[i], i, context, carrier, setter);
  }

  /** Each propagator extracts into the context the previous one returned, so a later one wins a conflict. */
  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    const propagators = this._propagators;
    let out = context;
    for (let i = 0; i < propagators.length; i++) out = safeExtract(propagators[i], i, out, carrier, getter);
    return out;
  }

  /** The union of the propagators' fields, in order. A new array each call: callers may change it. */
  fields(): string[] {
    return this._fields.slice();
  }
}
