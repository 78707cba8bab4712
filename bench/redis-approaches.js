#!/usr/bin/env node
/**
 * CPU per Redis command, instrumented two ways on the same library version, against the real Redis
 * (REDIS_URL, default redis://127.0.0.1:6379):
 *
 *   node-redis 5.12 (`redis`):   none | channels (instrumentations/redis/channels.ts, the library's own
 *                                TracingChannels) | patch (instrumentations/redis/patch.ts applied to 5.12)
 *   ioredis 5.11 (`ioredis`):    none | channels (a subscriber to ioredis:command written here, making the same
 *                                span the patch makes) | patch (instrumentations/ioredis/patch.ts)
 *
 * Each measurement runs in a fresh child process (one approach per process: subscribing to a channel cannot be
 * undone for a library's hasSubscribers check, and patches stay), issuing COMMANDS GETs as batches of 50
 * concurrent commands (auto-pipelined, as under load), after a warm-up, and reports process CPU time (user +
 * system) per command. The spans go through the real batch processor to an exporter that drops them. Rounds of
 * the three approaches are interleaved; printed are the median CPU per command and the instrumentation's own cost,
 * the median over rounds of (approach − none) within a round. Run it on an otherwise idle machine.
 *
 * Runs against the compiled output (`npm run build`). `--json` prints the result as JSON.
 */
'use strict';

const path = require('node:path');
const { execFileSync } = require('node:child_process');

const ROOT = path.join(__dirname, '..');
const ROUNDS = Number(process.env.ROUNDS || 5);
const COMMANDS = Number(process.env.COMMANDS || 40000);
const URL_ = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

// ---------------------------------------------------------------------------------------------------------------
// Child: one client, one approach

async function child(client, approach) {
  const dist = (p) => require(path.join(ROOT, 'dist', p));
  const { readConfig } = dist('src/config/index.js');
  const { TracerProvider } = dist('src/trace/tracer.js');
  const { BatchSpanProcessor } = dist('src/processors/batch-span-processor.js');
  const { createPropagator } = dist('src/propagators/index.js');
  const runtime = dist('src/instrumentation/runtime.js');
  const config = readConfig({}).config;
  let exported = 0;
  const exporter = {
    export: (spans, cb) => {
      exported += spans.length;
      cb({ code: 0 });
    },
    shutdown: () => Promise.resolve(),
  };
  const provider = new TracerProvider({ processors: [new BatchSpanProcessor(exporter, config.batch)] });
  if (approach !== 'none') runtime.setRuntime({ config, provider, propagator: createPropagator(['tracecontext']) });

  let get;
  let close;
  if (client === 'node-redis') {
    const clientDir = path.dirname(require.resolve('@redis/client/package.json', { paths: [require.resolve('redis')] }));
    const version = require(path.join(clientDir, 'package.json')).version;
    if (approach === 'channels') dist('instrumentations/redis/channels.js').subscribeChannels();
    if (approach === 'patch') {
      dist('instrumentations/redis/patch.js').clientPatcher.patch(require(path.join(clientDir, 'dist/lib/client')), {
        name: '@redis/client/dist/lib/client',
        version,
        basedir: clientDir,
        format: 'commonjs',
      });
    }
    const { createClient } = require('redis');
    const c = createClient({ url: URL_ });
    await c.connect();
    get = (k) => c.get(k);
    close = () => c.quit();
  } else {
    const Redis = require('ioredis');
    if (approach === 'channels') subscribeIoredisChannels(dist);
    if (approach === 'patch') {
      dist('instrumentations/ioredis/patch.js').ioredisPatcher.patch(Redis, {
        name: 'ioredis',
        version: require('ioredis/package.json').version,
        basedir: path.dirname(require.resolve('ioredis/package.json')),
        format: 'commonjs',
      });
    }
    const c = new Redis(URL_);
    await c.ping();
    get = (k) => c.get(k);
    close = () => c.quit();
  }

  async function run(n) {
    for (let i = 0; i < n / 50; i++) {
      const batch = [];
      for (let j = 0; j < 50; j++) batch.push(get('bench:redis-approaches:' + (j % 8)));
      await Promise.all(batch);
    }
  }
  await run(5000);
  const t0 = process.cpuUsage();
  await run(COMMANDS);
  const used = process.cpuUsage(t0);
  await close();
  await provider.shutdown();
  process.stdout.write(JSON.stringify({ usPerCommand: (used.user + used.system) / COMMANDS, spans: exported }) + '\n');
}

/**
 * The channel-based alternative for ioredis 5.11+, as an instrumentation would write it: a span per
 * `ioredis:command` start in the active context, ended on asyncEnd, with the same attributes as the patch.
 */
function subscribeIoredisChannels(dist) {
  const dc = require('node:diagnostics_channel');
  const { contextManager } = dist('src/context/global.js');
  const runtime = dist('src/instrumentation/runtime.js');
  const text = dist('instrumentations/redis/command-text.js');
  const getTracer = runtime.tracerGetter('ioredis');
  const SPAN = Symbol('span');
  dc.tracingChannel('ioredis:command').subscribe({
    start(m) {
      const name = text.commandName(m.command);
      const q = text.commandQueryText(runtime.getConfig().redisQueryText, name, m.args, 0);
      m[SPAN] = getTracer().start(
        name,
        2,
        contextManager.active(),
        text.redisSpanAttributes({ address: m.serverAddress, port: m.serverPort }, name, text.databaseNamespace(m.database), q, undefined),
      );
    },
    end() {},
    asyncStart() {},
    asyncEnd(m) {
      const span = m[SPAN];
      if (span !== undefined) span.end();
    },
    error(m) {
      const span = m[SPAN];
      if (span !== undefined) text.recordRedisError(span, m.error);
    },
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Parent: interleaved rounds

function measure(client, approach) {
  const out = execFileSync(process.execPath, [__filename, '--child', client, approach], {
    env: { ...process.env, NODE_OPTIONS: '' },
    encoding: 'utf8',
  });
  const result = JSON.parse(out.trim().split('\n').pop());
  // Each approach must really make a span per command (warm-up and measured commands), or it measures nothing.
  if (approach !== 'none' && result.spans < COMMANDS) throw new Error(`${client} ${approach}: only ${result.spans} spans`);
  return result.usPerCommand;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

function main() {
  const results = {};
  for (const client of ['node-redis', 'ioredis']) {
    const samples = { none: [], channels: [], patch: [] };
    for (let r = 0; r < ROUNDS; r++) {
      for (const approach of Object.keys(samples)) samples[approach].push(measure(client, approach));
    }
    results[client] = {};
    for (const approach of Object.keys(samples)) {
      // The instrumentation's cost: median over rounds of (approach − none) in the same round, so a round
      // slowed by the machine weighs on both sides of its difference.
      const diffs = samples[approach].map((v, i) => v - samples.none[i]);
      results[client][approach] = { usPerCommand: +median(samples[approach]).toFixed(2), instrumentationUs: +median(diffs).toFixed(2) };
    }
  }
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify(results));
    return;
  }
  console.log(`CPU per command (µs, median of ${ROUNDS} runs of ${COMMANDS} GETs in batches of 50)`);
  for (const [client, r] of Object.entries(results)) {
    for (const [approach, v] of Object.entries(r)) {
      const extra = approach === 'none' ? '' : `   instrumentation: ${v.instrumentationUs.toFixed(2)} µs`;
      console.log(`  ${client.padEnd(11)} ${approach.padEnd(9)} ${v.usPerCommand.toFixed(2)} µs${extra}`);
    }
  }
}

if (process.argv[2] === '--child') {
  child(process.argv[3], process.argv[4]).catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main();
}
