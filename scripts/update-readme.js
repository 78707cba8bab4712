#!/usr/bin/env node
'use strict';
// Writes the table of supported modules into README.md from the instrumentations' declarations (compiled:
// run `npm run build` first). The unit test test/unit/readme.test.ts checks the README is up to date.
const fs = require('node:fs');
const path = require('node:path');
const root = path.join(__dirname, '..');
const { ALL_INSTRUMENTATIONS } = require(path.join(root, 'dist/src/instrumentation/registry.js'));
const { withSupportTable } = require(path.join(root, 'dist/src/instrumentation/support-table.js'));
const file = path.join(root, 'README.md');
fs.writeFileSync(file, withSupportTable(fs.readFileSync(file, 'utf8'), ALL_INSTRUMENTATIONS));
