/**
 * The resource: attributes describing the process that produced the spans (specification/resource/sdk.md).
 * Detection runs on first read, which is the first export, so the agent's startup does no file or system calls
 * for it.
 */
import type { Attributes } from '../api/types';

export class Resource {
  private _attributes: Attributes | undefined;
  private _detect: (() => Attributes) | undefined;
  readonly schemaUrl: string | undefined;

  constructor(attributes: Attributes | (() => Attributes), schemaUrl?: string) {
    if (typeof attributes === 'function') this._detect = attributes;
    else this._attributes = attributes;
    this.schemaUrl = schemaUrl;
  }

  get attributes(): Attributes {
    if (this._attributes === undefined) {
      const detect = this._detect!;
      this._detect = undefined;
      try {
        this._attributes = detect();
      } catch {
        this._attributes = {};
      }
    }
    return this._attributes;
  }

  static empty(): Resource {
    return new Resource({});
  }
}
