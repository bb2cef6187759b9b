// Shared by the browser tests: a static server over the repository root, headless Chromium
// (Debian's; WebGPU on SwiftShader with `webgpu`, none without), and the native reference
// (`ganscope sample --raw`, the debug binary `cargo test --workspace` builds, or $GANSCOPE).
import { chromium } from 'playwright-core';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const types = {
  '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css',
  '.wasm': 'application/wasm', '.json': 'application/json',
};

/** Serves the repository root on 127.0.0.1; resolves to `{base, close}`. */
export async function serve() {
  const server = http.createServer((req, res) => {
    let file = path.join(root, decodeURIComponent(new URL(req.url, 'http://x').pathname));
    if (req.url.split('?')[0].endsWith('/')) file = path.join(file, 'index.html');
    if (!file.startsWith(root + path.sep)) { res.writeHead(403); res.end(); return; }
    fs.readFile(file, (err, data) => {
      if (err) { res.writeHead(404); res.end(); return; }
      res.writeHead(200, {
        'content-type': types[path.extname(file)] || 'application/octet-stream',
        'cache-control': 'no-store',
      });
      res.end(data);
    });
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return { base: `http://127.0.0.1:${server.address().port}`, close: () => server.close() };
}

/** Headless Chromium; `webgpu` enables WebGPU (SwiftShader without a GPU). */
export function launch({ webgpu }) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    ignoreDefaultArgs: ['--headless'],
    args: ['--headless=new', '--no-sandbox', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-quic',
      ...(webgpu ? ['--enable-unsafe-webgpu', '--enable-webgpu-developer-features'] : [])],
  });
}

export const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ganscope-browser-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
let calls = 0;

/** Runs the native `ganscope` (the debug binary `cargo test --workspace` builds, or
 * $GANSCOPE) with `args` in the repository root. */
export function ganscope(args) {
  // the binary `cargo test --workspace` built (a `cargo run -p` would resolve features
  // differently and rebuild half the workspace); GANSCOPE overrides it
  const bin = process.env.GANSCOPE || path.join(root, 'target/debug/ganscope');
  if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: run cargo test --workspace or set GANSCOPE`);
  execFileSync(bin, args, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
}

/** The native forward: `[n, C, S, S]` floats of `model` at `seed` under `iv` (JSON or ''). */
export function native(model, seed, n, iv, backend = 'cpu', extra = []) {
  const k = calls++;
  const raw = path.join(tmp, `native${k}.f32`);
  const args = ['sample', model, '--n', String(n), '--seed', String(seed), '--backend', backend,
    '--out', path.join(tmp, `native${k}.png`), '--raw', raw];
  if (iv) {
    fs.writeFileSync(path.join(tmp, `iv${k}.json`), iv);
    args.push('--interventions', path.join(tmp, `iv${k}.json`));
  }
  ganscope([...args, ...extra]);
  const b = fs.readFileSync(raw);
  return new Float32Array(b.buffer, b.byteOffset, b.length / 4);
}

/** Trains (3 steps on 128 digits, tiny widths) and exports a model in the test's folder;
 * returns its file, `NAME.safetensors`. */
export function trainHere(name, args) {
  const run = path.join(tmp, name);
  ganscope(['train', '--limit', '128', '--batch', '8', '--steps', '3', '--width', '4', '--d-width', '4',
    '--out', run, ...args]);
  ganscope(['export', run, '--out', `${run}.safetensors`]);
  return `${run}.safetensors`;
}

/** Serves `dir` with Python's plain static server (what a researcher previews a site with);
 * resolves to `{base, close, requests}`, `requests` the paths asked for, in order. */
export async function servePlain(dir) {
  const py = spawn('python3', ['-u', '-m', 'http.server', '--bind', '127.0.0.1', '--directory', dir, '0'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  const requests = [];
  let partial = '';
  py.stderr.on('data', (d) => {
    // whole lines only: a log line may come in two chunks
    const lines = (partial + String(d)).split('\n');
    partial = lines.pop();
    for (const l of lines) {
      const m = /"GET ([^ ]+) HTTP/.exec(l);
      if (m) requests.push(m[1]);
    }
  });
  const port = await new Promise((ok, fail) => {
    py.stdout.on('data', (d) => {
      const m = /port (\d+)/.exec(String(d));
      if (m) ok(Number(m[1]));
    });
    py.on('exit', (code) => fail(new Error(`python3 -m http.server exited with ${code}`)));
  });
  return { base: `http://127.0.0.1:${port}`, close: () => py.kill(), requests };
}
