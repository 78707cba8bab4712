import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DRAWN, drawSpanId, drawTraceId, generateSpanId, generateTraceId, isValidSpanId, isValidTraceId, spanIdHex, traceIdHex } from '../../src/trace/ids';

describe('trace and span ids', () => {
  it('renders ids kept as three-byte chunks as Buffer would render their bytes in hex, high nibble first', () => {
    // chunks of bytes b[i..i+3), big-endian, as ids.ts keeps them: a trace id 3+3+3+3+3+1, a span id 3+3+2
    const chunksOf = (b: Buffer, sizes: number[]) => {
      const out: number[] = [];
      let at = 0;
      for (const n of sizes) {
        let v = 0;
        for (let k = 0; k < n; k++) v = (v << 8) | b[at + k];
        out.push(v);
        at += n;
      }
      return out;
    };
    const edges = Buffer.from([0x01, 0x0a, 0x0f, 0x10, 0x7f, 0x80, 0x9a, 0xa9, 0xf0, 0xff, 0x5c, 0xc5, 0x3e, 0xe3, 0x00, 0xff]);
    const samples = [edges, Buffer.alloc(16, 0xff), ...Array.from({ length: 200 }, () => randomBytes(16))];
    for (const bytes of samples) {
      const [t0, t1, t2, t3, t4, t5] = chunksOf(bytes, [3, 3, 3, 3, 3, 1]);
      expect(traceIdHex(t0, t1, t2, t3, t4, t5)).toBe(bytes.toString('hex'));
      const [s0, s1, s2] = chunksOf(bytes, [3, 3, 2]);
      expect(spanIdHex(s0, s1, s2)).toBe(bytes.toString('hex', 0, 8));
    }
  });

  it('draws chunks that stay small integers and hex-render to valid ids', () => {
    for (let i = 0; i < 1000; i++) {
      drawTraceId();
      drawSpanId();
      const t = Array.from(DRAWN.subarray(0, 6));
      const s = Array.from(DRAWN.subarray(6, 9));
      for (const c of [...t.slice(0, 5), ...s.slice(0, 2)]) expect(c >= 0 && c < 1 << 24).toBe(true);
      expect(t[5] >= 0 && t[5] < 256).toBe(true);
      expect(s[2] >= 0 && s[2] < 1 << 16).toBe(true);
      expect(isValidTraceId(traceIdHex(t[0], t[1], t[2], t[3], t[4], t[5]))).toBe(true);
      expect(isValidSpanId(spanIdHex(s[0], s[1], s[2]))).toBe(true);
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
