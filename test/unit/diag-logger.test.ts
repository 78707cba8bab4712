/**
 * The diagnostic logger's rate-limited warnings (src/diag/logger.ts): a line a minute per kind, with the count of
 * the ones in between, and a message given as a function made only for the lines written.
 */
import { describe, expect, it } from 'vitest';
import { DiagLogger } from '../../src/diag/logger';

describe('DiagLogger.warnRateLimited', () => {
  it('writes one line a minute per kind, counts the rest, and builds a function message only for lines written', () => {
    const logger = new DiagLogger();
    const lines: string[] = [];
    logger.setSink((line) => lines.push(line));
    let now = 1_000_000;
    logger.now = () => now;
    let built = 0;
    let dropped = 0;
    const message = (): string => {
      built++;
      return `${dropped} dropped`;
    };
    for (let i = 0; i < 1000; i++) {
      dropped++;
      logger.warnRateLimited('queue', message);
      now += 10; // 1000 calls over 10 s: one line
    }
    expect(lines).toEqual(['zerotel warn: 1 dropped\n']);
    expect(built).toBe(1);
    now += 60_000;
    dropped++;
    logger.warnRateLimited('queue', message);
    logger.warnRateLimited('other', 'a plain message');
    expect(lines.slice(1)).toEqual(['zerotel warn: 1001 dropped (999 more like this in the last minute)\n', 'zerotel warn: a plain message\n']);
    expect(built).toBe(2);
  });
});
