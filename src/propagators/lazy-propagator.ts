/**
 * The configured propagators, built on the first inject or extract (the first request) rather than at startup.
 */
import type { Context, TextMapGetter, TextMapPropagator, TextMapSetter } from '../api/types';

export class LazyPropagator implements TextMapPropagator {
  private _real: TextMapPropagator | undefined;

  constructor(private readonly _names: readonly string[]) {}

  private get _propagator(): TextMapPropagator {
    if (this._real === undefined) {
      this._real = (require('./index') as typeof import('./index')).createPropagator([...this._names]);
    }
    return this._real;
  }

  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    this._propagator.inject(context, carrier, setter);
  }

  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    return this._propagator.extract(context, carrier, getter);
  }

  fields(): string[] {
    return this._propagator.fields();
  }
}
