'use strict';
/**
 * The benchmarks' `--env KEY=VALUE,...` option as an object. An entry without `=` is an error: a typo in an
 * experiment's setting must not silently measure the default.
 */
function parseEnvOption(text) {
  const env = {};
  for (const kv of String(text || '').split(',').filter(Boolean)) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new Error(`--env: "${kv}" is not KEY=VALUE`);
    env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return env;
}

module.exports = { parseEnvOption };
