import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ALL_INSTRUMENTATIONS } from '../../src/instrumentation/registry';
import { withSupportTable } from '../../src/instrumentation/support-table';

const README = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
const CONFIG_SOURCE = fs.readFileSync(path.join(__dirname, '..', '..', 'src', 'config', 'index.ts'), 'utf8');

describe('README', () => {
  it('has the supported-modules table the declarations give (run `npm run readme` after changing one)', () => {
    expect(README).toBe(withSupportTable(README, ALL_INSTRUMENTATIONS));
  });

  it('documents every variable the configuration reads', () => {
    const names = new Set(CONFIG_SOURCE.match(/OTEL_[A-Z_]+[A-Z]/g) ?? []);
    // the OTLP variables are read by suffix (OTEL_EXPORTER_OTLP_ + PROTOCOL…); the README lists the general names
    for (const suffix of ['PROTOCOL', 'TIMEOUT', 'COMPRESSION', 'CERTIFICATE', 'CLIENT_KEY', 'CLIENT_CERTIFICATE', 'INSECURE']) {
      names.add(`OTEL_EXPORTER_OTLP_${suffix}`);
    }
    // the prefixes the OTLP variables are built from are not variables themselves
    names.delete('OTEL_EXPORTER_OTLP');
    names.delete('OTEL_EXPORTER_OTLP_TRACES');
    const missing = [...names].filter((n) => !README.includes('`' + n + '`'));
    expect(missing).toEqual([]);
  });
});
