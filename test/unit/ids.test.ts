import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateSpanId, generateTraceId, hexOf16Bytes, hexOf8Bytes, isValidSpanId, isValidTraceId } from '../../src/trace/ids';

describe('trace and span ids', () => {
  it('renders bytes as Buffer would in hex, high nibble first, at any offset', () => {
    const edges = Buffer.from([0x00, 0x01, 0x0a, 0x0f, 0x10, 0x7f, 0x80, 0x9a, 0xa9, 0xf0, 0xff, 0x5c, 0xc5, 0x3e, 0xe3, 0x00, 0xff]);
    expect(hexOf16Bytes(edges, 1)).toBe(edges.toString('hex', 1, 17));
    expect(hexOf8Bytes(edges, 9)).toBe(edges.toString('hex', 9, 17));
    for (let i = 0; i < 200; i++) {
      const bytes = randomBytes(40);
      const at = i % 20;
      expect(hexOf16Bytes(bytes, at)).toBe(bytes.toString('hex', at, at + 16));
      expect(hexOf8Bytes(bytes, at)).toBe(bytes.toString('hex', at, at + 8));
    }
  });

  it('generates valid, distinct ids, across refills of the random pool', () => {
    const traceIds = new Set<string>();
    const spanIds = new Set<string>();
    // 65536-byte pool: 6000 of each is more than one refill.
    for (let i = 0; i < 6000; i++) {
      const t = generateTraceId();
      const s = generateSpanId();
      expect(isValidTraceId(t)).toBe(true);
      expect(isValidSpanId(s)).toBe(true);
      traceIds.add(t);
      spanIds.add(s);
    }
    expect(traceIds.size).toBe(6000);
    expect(spanIds.size).toBe(6000);
  });

  it('uses every hex digit in every position (no nibble lost or constant)', () => {
    const seen = Array.from({ length: 32 }, () => new Set<string>());
    for (let i = 0; i < 3000; i++) {
      const t = generateTraceId();
      for (let j = 0; j < 32; j++) seen[j].add(t[j]);
    }
    for (const digits of seen) expect(digits.size).toBe(16);
  });
});
