'use strict';
// Shared by the client scripts that cdnd's e2e tests run (clients_*_test.go):
// read the environment the Go test sets, record each call's outcome as the
// client surfaced it, print one JSON object on stdout.

const fs = require('fs');

function env(name) {
  const v = process.env[name];
  if (v === undefined || v === '') {
    throw new Error(`${name} is not set`);
  }
  return v;
}

function readFile(name) {
  return fs.readFileSync(env(name), 'utf8');
}

// version of an installed package, so the test log names what it ran.
function version(pkg) {
  return require(`${pkg}/package.json`).version;
}

// outcome runs one call and returns {ok, body} or {ok: false, error}, where
// error keeps the fields the client puts on its errors (the Go test checks
// them), so a failing call is data, not a crash.
async function outcome(call) {
  try {
    const body = await call();
    return { ok: true, body };
  } catch (e) {
    const error = { name: e.name, message: e.message };
    for (const k of ['code', 'statusCode', 'data', 'requestId']) {
      if (e[k] !== undefined) {
        error[k] = e[k];
      }
    }
    return { ok: false, error };
  }
}

// main runs body and prints its result; anything thrown outside outcome()
// (a broken script, a missing variable) exits 1 with the reason on stderr.
function main(body) {
  body().then(
    (result) => {
      process.stdout.write(JSON.stringify(result) + '\n');
    },
    (e) => {
      process.stderr.write(`${e && e.stack ? e.stack : e}\n`);
      process.exitCode = 1;
    },
  );
}

module.exports = { env, readFile, version, outcome, main };
