// Starts the real `retention serve` on the demo data set (tools/make_demo.py) for the browser tests.
//
//   const server = await startServer();   // { url, dir, stop() }
//
// Binary: $RETENTION_BIN, default <repo>/build/apps/retention/retention. With E2E_SERVER=mock a
// small in-memory stand-in (lib/mock-server.js) is used instead: only for working on the UI
// before the real server exists; the suite is meant to pass against the real binary.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const outputDir = path.join(repoRoot, 'test-output', 'e2e');

export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function run(cmd, args, env, what) {
  const res = spawnSync(cmd, args, { env, encoding: 'utf8', timeout: 120_000 });
  if (res.status !== 0) {
    throw new Error(`${what} failed (exit ${res.status ?? res.signal}): ${cmd} ${args.join(' ')}\n` +
      `${res.stdout || ''}${res.stderr || ''}`);
  }
  return res.stdout;
}

async function waitHealthy(url, child, logFile, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  let exited = null;
  child.once('exit', (code, signal) => { exited = code ?? signal; });
  while (Date.now() < deadline) {
    if (exited !== null) {
      throw new Error(`retention serve exited (${exited}) before answering /healthz; see ${logFile}:\n` +
        fs.readFileSync(logFile, 'utf8').slice(-2000));
    }
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`retention serve did not answer ${url}/healthz within ${timeoutMs} ms; see ${logFile}`);
}

export async function startServer() {
  fs.mkdirSync(outputDir, { recursive: true });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'retention-e2e-'));
  run('/usr/bin/python3', [path.join(repoRoot, 'tools', 'make_demo.py'), dir], process.env, 'make_demo.py');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logFile = path.join(outputDir, 'server.log');

  if (process.env.E2E_SERVER === 'mock') {
    const { startMockServer } = await import('./mock-server.js');
    const mock = await startMockServer({ port, demoFile: path.join(dir, 'demo.json'), webDir: path.join(repoRoot, 'web') });
    return {
      url, dir, kind: 'mock',
      async stop() {
        await mock.close();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  }

  const bin = process.env.RETENTION_BIN || path.join(repoRoot, 'build', 'apps', 'retention', 'retention');
  if (!fs.existsSync(bin)) {
    throw new Error(`no retention binary at ${bin}: build it (cmake --build build --target retention) or set RETENTION_BIN`);
  }
  const env = {
    ...process.env,
    RETENTION_STORAGE: `file://${dir}/artifacts`,
    RETENTION_LOGS: `file://${dir}/logs`,
  };
  const db = `sqlite://${dir}/r.db`;
  run(bin, ['--db', db, 'import', path.join(dir, 'demo.json')], env, 'retention import');
  // As tools/run.sh does for the demo: challenge 3 is on legal hold.
  const hold = spawnSync(bin, ['--db', db, 'hold', 'set', '--challenge-id', '3', '--reason', 'demo: litigation'],
    { env, encoding: 'utf8' });
  if (hold.status !== 0) {
    console.warn(`warning: could not put challenge 3 on hold: ${hold.stderr || hold.status}`);
  }

  const log = fs.openSync(logFile, 'w');
  const child = spawn(bin, ['--db', db, 'serve', '--listen', `127.0.0.1:${port}`], {
    env, stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  try {
    await waitHealthy(url, child, logFile);
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return {
    url, dir, kind: 'real', pid: child.pid,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Calls the JSON API as the holder of `token`; returns { status, body }. */
export async function apiCall(baseUrl, token, method, apiPath, body) {
  const headers = { Authorization: `Token ${token}`, Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`${baseUrl}${apiPath}`, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = { raw: text };
  }
  return { status: res.status, body: json };
}
