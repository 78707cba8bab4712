/**
 * Fixtures for the express tests: the two express majors, each seen by the application as `express`.
 *
 * express 5 is the `express` devDependency. express 4 is installed as the alias `express4`
 * ("express4": "npm:express@^4"), and a hook cannot see an alias as express: require-in-the-middle and
 * import-in-the-middle name a package by its directory under node_modules (and by the specifier written in
 * the require/import), never by the `name` in its package.json, so `require('express4')` reaches the hook as
 * `express4` and matches nothing. In a real installation the directory is `express`; the tests recreate that
 * with a two-file package in test/fixtures/express/v4/node_modules/express whose entry re-exports express4,
 * so `require('express')` / `import express from 'express'` in test/fixtures/express/v4 load express 4 through
 * a directory named express, exactly as an application's would. (node_modules is not committed; the tests
 * write the package before they start.)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from '../helpers/child';
import type { ReceivedSpan, Receiver } from '../helpers/receiver';

export const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'express');

export const EXPRESS_MAJORS = [4, 5] as const;

export function expressVersion(major: 4 | 5): string {
  const dir = major === 4 ? 'express4' : 'express';
  return JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', dir, 'package.json'), 'utf8')).version;
}

function writeAtomically(file: string, text: string): void {
  if (fs.existsSync(file) && fs.readFileSync(file, 'utf8') === text) return;
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

/**
 * Writes `<fixture>/node_modules/express`, a package named express whose entry re-exports the aliased
 * devDependency `alias` (see above). Safe to call from parallel test files.
 */
export function ensureAliasedExpressPackage(fixture: string, alias: string): void {
  const dir = path.join(FIXTURES, fixture, 'node_modules', 'express');
  fs.mkdirSync(dir, { recursive: true });
  const version = JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', alias, 'package.json'), 'utf8')).version;
  const pkg = { name: 'express', version, main: 'index.js', private: true };
  writeAtomically(path.join(dir, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
  writeAtomically(path.join(dir, 'index.js'), `'use strict';\nmodule.exports = require(${JSON.stringify(alias)});\n`);
}

/** Writes test/fixtures/express/v4/node_modules/express, express 4 seen as `express`. */
export function ensureExpress4Package(): void {
  ensureAliasedExpressPackage('v4', 'express4');
}

/** The entry of the application for one major: v4/app.cjs, v5/app.mjs, ... */
export function entry(major: 4 | 5, file: string): string {
  if (major === 4) ensureExpress4Package();
  return path.join(FIXTURES, `v${major}`, file);
}

export const EXPRESS_SCOPE = 'zerotel/instrumentations/express';

/** The root server span of the request to `urlPath` (the application's, not the downstream server's). */
export function serverSpanFor(spans: ReceivedSpan[], urlPath: string, method = 'GET'): ReceivedSpan | undefined {
  return spans.find(
    (s) =>
      s.kind === 1 &&
      s.parentSpanId === undefined &&
      s.attributes['url.path'] === urlPath &&
      s.attributes['http.request.method'] === method,
  );
}

/**
 * Waits for the server span of the request to `urlPath` and for `more(trace)` to hold, then returns the
 * server span and every span of its trace.
 */
export async function traceFor(
  receiver: Receiver,
  urlPath: string,
  method = 'GET',
  more: (trace: ReceivedSpan[]) => boolean = () => true,
): Promise<{ server: ReceivedSpan; trace: ReceivedSpan[] }> {
  let found: { server: ReceivedSpan; trace: ReceivedSpan[] } | undefined;
  await receiver.waitFor((spans) => {
    const server = serverSpanFor(spans, urlPath, method);
    if (server === undefined) return false;
    const trace = spans.filter((s) => s.traceId === server.traceId);
    if (!more(trace)) return false;
    found = { server, trace };
    return true;
  });
  return found!;
}

export function layerSpans(trace: ReceivedSpan[]): ReceivedSpan[] {
  return trace.filter((s) => s.scope.name === EXPRESS_SCOPE);
}

/** The one span of `trace` named `name` (and, when given, with express.name `expressName`). */
export function spanNamed(trace: ReceivedSpan[], name: string, expressName?: string): ReceivedSpan {
  const matches = trace.filter((s) => s.name === name && (expressName === undefined || s.attributes['express.name'] === expressName));
  if (matches.length !== 1) {
    throw new Error(
      `expected one span named ${JSON.stringify(name)}${expressName ? ` (${expressName})` : ''}, found ${matches.length}; ` +
        `trace: ${trace.map((s) => `${s.name}[${s.attributes['express.name'] ?? ''}]`).join(', ')}`,
    );
  }
  return matches[0];
}
