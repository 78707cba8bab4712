/**
 * OTLP nests spans by resource, then by instrumentation scope (trace.proto: ResourceSpans → ScopeSpans → Span).
 * Both encoders group a batch the same way: by object identity of the span's Resource and InstrumentationScope
 * (a tracer provider hands every span of a tracer the same two objects), keeping first-seen order.
 */
import type { InstrumentationScope } from '../../api/types';
import type { Resource } from '../../resource/resource';
import type { ReadableSpan } from '../../trace/span';

export interface ScopeGroup {
  scope: InstrumentationScope;
  spans: ReadableSpan[];
}

export interface ResourceGroup {
  resource: Resource;
  scopes: ScopeGroup[];
}

export function groupSpans(spans: readonly ReadableSpan[]): ResourceGroup[] {
  const groups: ResourceGroup[] = [];
  let lastResource: Resource | undefined;
  let lastScope: InstrumentationScope | undefined;
  let lastList: ReadableSpan[] | undefined;
  for (let i = 0; i < spans.length; i++) {
    const span = spans[i];
    const resource = span.resource;
    const scope = span.instrumentationScope;
    // Consecutive spans nearly always share both: skip the search.
    if (resource === lastResource && scope === lastScope && lastList !== undefined) {
      lastList.push(span);
      continue;
    }
    let group: ResourceGroup | undefined;
    for (let g = 0; g < groups.length; g++) {
      if (groups[g].resource === resource) {
        group = groups[g];
        break;
      }
    }
    if (group === undefined) {
      group = { resource, scopes: [] };
      groups.push(group);
    }
    let scopeGroup: ScopeGroup | undefined;
    for (let s = 0; s < group.scopes.length; s++) {
      if (group.scopes[s].scope === scope) {
        scopeGroup = group.scopes[s];
        break;
      }
    }
    if (scopeGroup === undefined) {
      scopeGroup = { scope, spans: [] };
      group.scopes.push(scopeGroup);
    }
    scopeGroup.spans.push(span);
    lastResource = resource;
    lastScope = scope;
    lastList = scopeGroup.spans;
  }
  return groups;
}

/**
 * `Span.flags` / `Link.flags` (trace.proto, SpanFlags): the low 8 bits are the W3C trace flags; bit 8
 * (SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK, 0x100) says whether bit 9 (SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK, 0x200) is
 * known, bit 9 whether the parent (for a span) or the linked span (for a link) is remote. `undefined` (a root span,
 * a link context that does not say) leaves both unset: unknown.
 */
export function spanFlags(traceFlags: number, isRemote: boolean | undefined): number {
  const low = traceFlags & 0xff;
  if (isRemote === undefined) return low;
  return isRemote ? low | 0x300 : low | 0x100;
}
