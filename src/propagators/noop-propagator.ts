/**
 * The propagator for `OTEL_PROPAGATORS=none` (OpenTelemetry specification, configuration/sdk-environment-variables.md:
 * `none` means no automatically configured propagator): injects nothing and extracts nothing.
 */
import type { Context, TextMapPropagator } from '../api/types';

export class NoopPropagator implements TextMapPropagator {
  inject(): void {}

  extract(context: Context): Context {
    return context;
  }

  fields(): string[] {
    return [];
  }
}
