/**
 * Progress of a long report on stderr, only when stderr is a terminal: one line rewritten in place, at most ten
 * times a second, erased when done. Pipes and CI logs get nothing.
 */
import type { ProgressListener } from '../report/aggregate';

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GB`;
}

export function terminalProgress(write: (text: string) => void, isTTY: boolean): ProgressListener | undefined {
  if (!isTTY) return undefined;
  let last = 0;
  let shown = false;
  return {
    update(pass, done, total) {
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      const percent = total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 100;
      const what = pass === 1 ? 'reading spans' : 'collecting the slowest traces';
      write(`\r\u001b[2Kzerotel: ${what} (pass ${pass} of 2) ${percent}% of ${formatBytes(total)}`);
      shown = true;
    },
    done() {
      if (shown) write('\r\u001b[2K');
      shown = false;
    },
  };
}
