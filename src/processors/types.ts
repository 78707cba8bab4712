import type { Context } from '../api/types';
import type { ReadableSpan, RecordingSpan } from '../trace/span';

/** specification/trace/sdk.md#span-processor */
export interface SpanProcessor {
  onStart(span: RecordingSpan, parentContext: Context): void;
  onEnd(span: ReadableSpan): void;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}
