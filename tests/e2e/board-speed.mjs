// How long the board takes to show six full columns on a large store. Not part of the test
// suite (a figure, not a pass/fail): run it by hand on a data dir made by
//   atiende bench --tickets 100000 --contacts 20000 --keep
// as  node tests/e2e/board-speed.mjs <data dir> [runs]   (uses target/release/atiende).
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { launchBrowser } from './server.mjs';

const dataDir = process.argv[2];
const runs = Number(process.argv[3] ?? 5);
if (!dataDir) throw new Error('usage: node tests/e2e/board-speed.mjs <data dir> [runs]');
const bin = process.env.ATIENDE_BIN ?? join(resolve(import.meta.dirname, '../..'), 'target/release/atiende');

const child = spawn(bin, ['serve', '--data', dataDir, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'inherit'] });
const base = await new Promise((ok) => createInterface({ input: child.stdout }).on('line', (l) => {
  const m = l.match(/Atiende listening on (\S+)/);
  if (m) ok(m[1]);
}));

const session = await fetch(`${base}/api/v1/session`, {
  method: 'POST', headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ email: 'bench@atiende.local', password: 'bench-password' }),
});
const cookie = session.headers.get('set-cookie').split(';')[0];
const { csrf_token: csrf } = await session.json();
const columns = [
  { id: 'open', name: 'Abiertos', filters: { state: 'open' } },
  { id: 'none', name: 'Sin asignar', filters: { state: 'open', assignee: 'none' } },
  { id: 'pending', name: 'Sin responder', filters: { state: 'open', answered: 'false' } },
  { id: 'closed', name: 'Cerrados', filters: { state: 'closed' } },
  { id: 'oldest', name: 'Más antiguos', filters: { state: 'open' }, sort: 'created_asc' },
  { id: 'text', name: 'Con "pedido"', filters: { q: 'pedido' } },
].map((c) => ({ sort: 'updated_desc', ...c }));
const put = await fetch(`${base}/api/v1/me/board`, {
  method: 'PUT', headers: { cookie, 'x-csrf-token': csrf, 'content-type': 'application/json' },
  body: JSON.stringify({ columns }),
});
if (!put.ok) throw new Error(`board: ${put.status} ${await put.text()}`);

const browser = await launchBrowser();
const context = await browser.newContext({ viewport: { width: 1900, height: 1000 } });
await context.addCookies([{ name: cookie.split('=')[0], value: cookie.split('=')[1], url: base }]);
const page = await context.newPage();
const times = [];
for (let i = 0; i < runs; i++) {
  const start = Date.now();
  await page.goto(base);
  // Every column shows its first page.
  await page.waitForFunction(() => {
    const cols = [...document.querySelectorAll('section.column')];
    return cols.length === 6 && cols.every((c) => c.querySelector('.card, .empty'));
  }, null, { timeout: 30000 });
  times.push(Date.now() - start);
}
await browser.close();
child.kill('SIGTERM');
times.sort((a, b) => a - b);
console.log(`board with 6 columns, navigation to all cards shown: ${times.join(', ')} ms (median ${times[Math.floor(times.length / 2)]} ms)`);
