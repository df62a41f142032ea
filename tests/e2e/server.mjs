// Starts the real atiende binary on a demo workspace, and a Chromium driven by Playwright.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const ROOT = resolve(import.meta.dirname, '../..');
export const BIN = process.env.ATIENDE_BIN ?? join(ROOT, 'target/debug/atiende');
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** Starts `atiende serve --demo` (or, with `demo: false`, an empty Atiende) on a fresh data dir
 * and port 0; resolves with its base URL. `restart(env)` stops it and starts it again on the same
 * data dir with extra environment (e.g. `ATIENDE_CLOCK_OFFSET_MS`, to move its clock). */
export async function startServer({ demo = true } = {}) {
  if (!existsSync(BIN)) throw new Error(`missing ${BIN}: run cargo build first`);
  const dir = mkdtempSync(join(tmpdir(), 'atiende-e2e-'));
  let child = null;
  const spawnOn = async (args, env) => {
    child = spawn(BIN, ['serve', ...args, '--data', dir, '--listen', '127.0.0.1:0'],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: 'warn', ...env } });
    const stderr = [];
    child.stderr.on('data', (d) => stderr.push(d.toString()));
    return new Promise((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`server did not start:\n${stderr.join('')}`)), 60000);
      createInterface({ input: child.stdout }).on('line', (line) => {
        const m = line.match(/Atiende listening on (http:\/\/\S+)/);
        if (m) { clearTimeout(timer); ok(m[1]); }
      });
      child.on('exit', (code) => { clearTimeout(timer); fail(new Error(`server exited with ${code}:\n${stderr.join('')}`)); });
    });
  };
  const halt = async () => {
    child.kill('SIGTERM');
    await new Promise((ok) => { if (child.exitCode !== null) ok(); else child.on('exit', ok); });
  };
  const server = {
    url: await spawnOn(demo ? ['--demo'] : [], {}),
    async restart(env = {}) {
      await halt();
      server.url = await spawnOn([], env);
      return server.url;
    },
    async stop() {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) throw new Error(`missing ${CHROMIUM}: install Debian's chromium package`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}

/** A page that records console errors and uncaught exceptions, for the "no errors" check. */
export async function newPage(browser, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'es-CL', ...options });
  const page = await context.newPage();
  page.setDefaultTimeout(10000);
  page.errors = [];
  page.on('console', (m) => { if (m.type() === 'error') page.errors.push(m.text()); });
  page.on('pageerror', (e) => page.errors.push(`uncaught: ${e.message}`));
  return page;
}

/** Signs in through the Spanish sign-in form (the page must show it) and waits for the board. */
export async function signIn(page, email, password) {
  await page.getByLabel('Correo').fill(email);
  await page.getByLabel('Contraseña').fill(password);
  await page.getByRole('button', { name: 'Entrar' }).click();
  await page.locator('section.column').first().waitFor();
}

/** The JSON API as a signed-in user (cookie + CSRF), for setting up and checking state. */
export async function apiAs(base, email, password) {
  const res = await fetch(`${base}/api/v1/session`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }),
  });
  if (!res.ok) throw new Error(`sign-in failed: ${res.status}`);
  const cookie = res.headers.get('set-cookie').split(';')[0];
  const { csrf_token: csrf } = await res.json();
  return async (method, path, body) => {
    const r = await fetch(`${base}${path}`, {
      method,
      headers: { cookie, 'x-csrf-token': csrf, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const data = r.status === 204 ? null : await r.json();
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(data)}`);
    return data;
  };
}
