'use strict';
// zerotel's preload: `node --require zerotel/register app.js` (or `--import`). It must never throw: whatever
// goes wrong, the application starts as it would have without the agent.
// dist/preload.js is the agent's startup code in one file (scripts/bundle.js explains why).
try {
  let agent;
  try {
    agent = require('./dist/preload.js');
  } catch (err) {
    if (!err || err.code !== 'MODULE_NOT_FOUND') throw err;
    agent = require('./dist/src/agent/start');
  }
  agent.start();
} catch (err) {
  try {
    process.stderr.write('zerotel error: the agent did not start: ' + ((err && err.stack) || err) + '\n');
  } catch (_) {
    // nowhere to report
  }
}
