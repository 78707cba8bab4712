#!/usr/bin/env node
'use strict';
/**
 * `npm run bench`: every benchmark, zerotel beside its peer in the same run, then one Markdown table.
 *
 *   startup.js    node -e, and an express app (CommonJS and ES module) to listening, with no agent / zerotel / the OpenTelemetry
 *                 auto-instrumentations
 *   span-cost.js  span start + 5 attributes + end + batch hand-off, zerotel vs @opentelemetry/sdk-trace-base
 *   micro.js      context, propagation, attribute building, vs the OpenTelemetry equivalents
 *   otlp-encode.js  OTLP/protobuf encoding of 512 spans, vs @opentelemetry/otlp-transformer
 *   exit.js       how long a short program takes to end, healthy / refusing / never-answering collector
 *   load.js       an express 5 app under load (hello world; HTTP + pg + Redis), no agent / zerotel /
 *                 OpenTelemetry, with the collector up and down
 *   memory.js     the same apps' resident set under a minute of sustained load, until V8's heap has settled
 *
 * It installs bench/'s own dependencies (the peers; never zerotel's) when they are missing, and builds zerotel
 * when dist/ is missing. Results: bench/results/latest.json and bench/results/latest.md.
 * `--quick` runs shorter rounds (for a try, not for figures).
 */
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const RESULTS = path.join(__dirname, 'results');
const quick = process.argv.includes('--quick');

function sh(cmd, args, cwd) {
  execFileSync(cmd, args, { cwd, stdio: 'inherit' });
}

if (!fs.existsSync(path.join(__dirname, 'node_modules', 'autocannon'))) {
  process.stderr.write('installing the benchmark dependencies into bench/node_modules\n');
  sh('npm', ['ci', '--no-audit', '--no-fund'], __dirname);
}
if (!fs.existsSync(path.join(ROOT, 'dist', 'preload.js'))) sh('npm', ['run', 'build'], ROOT);
fs.mkdirSync(RESULTS, { recursive: true });

function runJson(script, args = [], env = {}) {
  process.stderr.write(`\n== ${script} ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, [path.join(__dirname, script), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`${script} failed (${r.status})`);
  return r.stdout;
}

const lastLine = (text) => JSON.parse(text.trim().split('\n').pop());

const results = { date: new Date().toISOString(), node: process.version, machine: machine(), versions: versions() };
results.startup = lastLine(runJson('startup.js', ['--json', '--runs', quick ? '10' : '40']));
results.spanCost = lastLine(runJson('span-cost.js', ['--json'], quick ? { ROUNDS: '3' } : {}));
results.micro = lastLine(runJson('micro.js', ['--json'], quick ? { ROUNDS: '3' } : {}));
const encodeJson = path.join(RESULTS, 'otlp-encode.json');
runJson('otlp-encode.js', [quick ? '300' : '1000'], { BENCH_JSON: encodeJson });
results.otlpEncode = JSON.parse(fs.readFileSync(encodeJson, 'utf8'));
results.exit = lastLine(runJson('exit.js', quick ? ['--json', '--runs', '1', '--peer-runs', '1'] : ['--json']));
const loadJson = path.join(RESULTS, 'load.json');
runJson('load.js', quick ? ['--duration', '3', '--warmup', '1', '--rounds', '1', '--json', loadJson] : ['--json', loadJson]);
results.load = JSON.parse(fs.readFileSync(loadJson, 'utf8'));
const memoryJson = path.join(RESULTS, 'memory.json');
runJson('memory.js', quick ? ['--duration', '15', '--json', memoryJson] : ['--json', memoryJson]);
results.memory = JSON.parse(fs.readFileSync(memoryJson, 'utf8'));

fs.writeFileSync(path.join(RESULTS, 'latest.json'), JSON.stringify(results, null, 2));
const md = markdown(results);
fs.writeFileSync(path.join(RESULTS, 'latest.md'), md);
process.stdout.write('\n' + md);

function machine() {
  const cpus = os.cpus();
  return `${cpus[0]?.model?.trim() ?? 'unknown CPU'}, ${os.availableParallelism?.() ?? cpus.length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}`;
}

function versions() {
  const read = (p) => {
    try {
      return JSON.parse(fs.readFileSync(p, 'utf8')).version;
    } catch {
      return 'unknown';
    }
  };
  return {
    zerotel: read(path.join(ROOT, 'package.json')),
    '@opentelemetry/auto-instrumentations-node': read(path.join(__dirname, 'node_modules/@opentelemetry/auto-instrumentations-node/package.json')),
    '@opentelemetry/sdk-trace-base': read(path.join(__dirname, 'node_modules/@opentelemetry/sdk-trace-base/package.json')),
    express: read(path.join(ROOT, 'node_modules/express/package.json')),
    autocannon: read(path.join(__dirname, 'node_modules/autocannon/package.json')),
  };
}

function markdown(r) {
  const lines = [];
  lines.push(`Run ${r.date.slice(0, 10)} on ${r.machine}, Node.js ${r.node}; zerotel ${r.versions.zerotel}, ` +
    `@opentelemetry/auto-instrumentations-node ${r.versions['@opentelemetry/auto-instrumentations-node']}, ` +
    `@opentelemetry/sdk-trace-base ${r.versions['@opentelemetry/sdk-trace-base']}, express ${r.versions.express}.`);
  lines.push('');
  const express = r.startup.express;
  const esm = r.startup.esm;
  lines.push(`| startup | \`node -e\`, to the first line of the program | added |${express ? ' express 5 app, to listening | added |' : ''}${esm ? ' the same as an ES module | added |' : ''}`);
  lines.push(`|---|---:|---:|${express ? '---:|---:|' : ''}${esm ? '---:|---:|' : ''}`);
  const added = (x, k) => (k === 'none' ? '—' : '+' + x.addedMs[k].toFixed(1) + ' ms');
  for (const k of Object.keys(r.startup.medianMs)) {
    lines.push(
      `| ${k} | ${r.startup.medianMs[k].toFixed(1)} ms | ${added(r.startup, k)} |` +
        `${express ? ` ${express.medianMs[k].toFixed(1)} ms | ${added(express, k)} |` : ''}` +
        `${esm ? ` ${esm.medianMs[k].toFixed(1)} ms | ${added(esm, k)} |` : ''}`,
    );
  }
  lines.push('');
  lines.push('| hot path | zerotel | OpenTelemetry | zerotel faster |');
  lines.push('|---|---:|---:|---:|');
  lines.push(`| span: start + 5 attributes + end + batch hand-off | ${r.spanCost.nsPerSpan.zerotel} ns | ${r.spanCost.nsPerSpan.opentelemetry} ns | ${r.spanCost.speedup}× |`);
  for (const m of r.micro.results) lines.push(`| ${m.case} | ${m.zerotelNs} ns | ${m.opentelemetryNs} ns | ${m.speedup}× |`);
  const enc = r.otlpEncode;
  const ours = Object.keys(enc).find((k) => k.startsWith('zerotel') && k.includes('pool')) ?? Object.keys(enc).find((k) => k.startsWith('zerotel'));
  const theirs = Object.keys(enc).find((k) => k.startsWith('otlp-transformer'));
  if (ours && theirs) {
    lines.push(
      `| OTLP/protobuf encoding, 512 spans | ${Math.round(enc[ours].spansPerSec).toLocaleString('en')} spans/s, ${enc[ours].bytes.toLocaleString('en')} B | ` +
        `${Math.round(enc[theirs].spansPerSec).toLocaleString('en')} spans/s, ${enc[theirs].bytes.toLocaleString('en')} B | ${(enc[ours].spansPerSec / enc[theirs].spansPerSec).toFixed(2)}× |`,
    );
  }
  lines.push('');
  lines.push(`Load (\`http\`: a node:http hello world; \`hello\` and \`work\`: an express 5 app; ${r.load.options.connections} connections, ${r.load.options.duration} s × ${r.load.options.rounds} interleaved rounds, medians; "vs none" and "added": the median of each round's figure against no agent's run in that round, with the range of the rounds' ratios; app pinned to one core${r.load.pinned ? '' : ' — not pinned here'}; every span exported to a local OTLP sink; \`-down\`: collector down for the whole run):`);
  lines.push('');
  lines.push(require('./load').formatTable(r.load.summary));
  lines.push('');
  lines.push(`Memory under sustained load (\`bench/memory.js\`: one process per agent, ${r.memory.options.connections} connections for ${r.memory.options.duration} s, every span exported):`);
  lines.push('');
  lines.push(require('./memory').formatTable(r.memory.rows, r.memory.options.duration));
  lines.push('');
  lines.push(require('./exit').table(r.exit));
  return lines.join('\n') + '\n';
}
