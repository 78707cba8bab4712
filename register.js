'use strict';
// zerotel's preload: `node --require zerotel/register app.js` (or `--import`). It must never throw: whatever
// goes wrong, the application starts as it would have without the agent.
try {
  require('./dist/src/agent/start').start();
} catch (err) {
  try {
    process.stderr.write('zerotel error: the agent did not start: ' + ((err && err.stack) || err) + '\n');
  } catch (_) {
    // nowhere to report
  }
}
