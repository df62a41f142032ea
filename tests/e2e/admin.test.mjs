// The assignment administration in a real browser: the agent × account matrix, an account's
// mode and cap, the connection states, "why is this agent not receiving tickets?", the
// agent's own state selector, and backups. No console errors.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { apiAs, launchBrowser, newPage, signIn, startServer } from './server.mjs';

const SHOTS = process.env.ATIENDE_SCREENSHOTS; // a directory: also save the README screenshots

let server;
let browser;
let page;
let admin;
let ana;
let whatsapp;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  page = await newPage(browser);
  admin = await apiAs(server.url, 'admin@demo.atiende.cl', 'demo-admin');
  whatsapp = (await admin('GET', '/api/v1/accounts')).items.find((a) => a.kind === 'whatsapp');
  ana = (await admin('GET', '/api/v1/users')).items.find((u) => u.name === 'Ana Castillo');
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const section = (name) => page.getByRole('region', { name });
/** Opens a section of Administración from its menu. */
const go = (name) => page.getByRole('navigation', { name: 'Administración' }).getByRole('link', { name, exact: true }).click();

test('the administrator edits who works which account, in bulk', async () => {
  await page.goto(server.url);
  await signIn(page, 'admin@demo.atiende.cl', 'demo-admin');
  await page.getByRole('link', { name: 'Administración' }).click();
  await go('Asignación');
  const matrix = section('Ejecutivos por cuenta');
  await matrix.getByRole('table').waitFor();
  await matrix.getByLabel(`Ana Castillo en ${whatsapp.name}`).selectOption('enabled');
  await matrix.getByLabel(`Cambiar a todos en ${whatsapp.name}`).selectOption('disabled');
  await matrix.getByLabel(`Ana Castillo en ${whatsapp.name}`).selectOption('auto');
  await matrix.getByRole('button', { name: /Guardar cambios/ }).click();
  await matrix.getByText('Guardado.').waitFor();
  const modes = (await admin('GET', '/api/v1/assignment')).items.filter((e) => e.account_id === whatsapp.id);
  assert.deepEqual(modes.map((e) => [e.user_id, e.mode]), [[ana.id, 'auto']], 'only Ana stays, on auto');
});

test('the administrator sets an account to least-pending with a cap', async () => {
  const form = page.getByRole('form', { name: whatsapp.name });
  await form.getByLabel('Modo').selectOption('least_pending');
  await form.getByLabel('Máximo de tickets abiertos por ejecutivo').fill('5');
  await form.getByRole('button', { name: 'Guardar' }).click();
  await form.getByText('Guardado.').waitFor();
  const acc = await admin('GET', `/api/v1/accounts/${whatsapp.id}`);
  assert.deepEqual(acc.settings.assignment, { mode: 'least_pending', max_open: 5, sticky: true });
});

test('the administrator adds a connection state and the idle change', async () => {
  await go('Estados de conexión');
  const states = section('Estados de conexión');
  await states.getByLabel('Nuevo estado').fill('Capacitación');
  await states.getByRole('button', { name: 'Agregar' }).click();
  await states.getByRole('cell', { name: 'Capacitación', exact: true }).waitFor();
  await states.getByRole('spinbutton').fill('15');
  await states.locator('.auto-states select').nth(2).selectOption('Colación');
  // "Guardado." is already shown for the new state: wait for the save itself.
  const saved = page.waitForResponse((r) => r.url().endsWith('/api/v1/connection_settings') && r.request().method() === 'PUT');
  await states.getByRole('button', { name: 'Guardar' }).click();
  assert.equal((await saved).status(), 200);
  const settings = await admin('GET', '/api/v1/connection_settings');
  assert.equal(settings.idle_minutes, 15);
  assert.equal(settings.idle_state, 'Colación');
  const names = (await admin('GET', '/api/v1/connection_states')).items.map((s) => s.name);
  assert.ok(names.includes('Capacitación'));
});

test('"why" explains an agent who is not available, then one who is', async () => {
  await go('Asignación');
  const why = section('¿Por qué no me llegan tickets?');
  await why.getByLabel('Ejecutivo').selectOption(ana.id);
  await why.getByText('Su estado «—» no es asignable.').waitFor();
  // Ana signs in in her own browser: "Conectado" by the sign-in rule.
  const anaPage = await newPage(browser);
  await anaPage.goto(server.url);
  await signIn(anaPage, 'ana@demo.atiende.cl', 'demo-agente');
  assert.equal(await anaPage.getByLabel('Mi estado de conexión').inputValue(), 'Conectado');
  await why.getByLabel('Ejecutivo').selectOption((await admin('GET', '/api/v1/users')).items[0].id);
  await why.getByLabel('Ejecutivo').selectOption(ana.id);
  await why.getByText('Nada lo impide: está disponible y con autoasignación.').waitFor();
  // She goes to lunch from her own state selector. The dot turns at once (optimistic), so wait
  // for the server's answer before asking it.
  const saved = anaPage.waitForResponse((r) => r.url().endsWith('/api/v1/me/status') && r.request().method() === 'PUT');
  await anaPage.getByLabel('Mi estado de conexión').selectOption('Colación');
  assert.equal((await saved).status(), 200);
  await anaPage.waitForFunction(() => document.querySelector('.my-state .dot.off'));
  const me = (await admin('GET', '/api/v1/users')).items.find((u) => u.id === ana.id);
  assert.equal(me.connection_state, 'Colación');
  await why.getByLabel('Ejecutivo').selectOption((await admin('GET', '/api/v1/users')).items[0].id);
  await why.getByLabel('Ejecutivo').selectOption(ana.id);
  await why.getByText('Su estado «Colación» no es asignable.').waitFor();
  if (SHOTS) {
    await page.evaluate(() => { document.querySelector('.admin').scrollTop = 0; });
    await page.screenshot({ path: join(SHOTS, 'assignment-es.png') });
  }
  assert.deepEqual(anaPage.errors, []);
  await anaPage.context().close();
});

test('the administrator backs up now and sees it listed as the last backup', async () => {
  await go('Respaldos');
  const backups = section('Respaldos');
  await backups.getByText('Aún ninguno').waitFor();
  await backups.getByText('La carpeta aún no tiene respaldos.').waitFor();
  await backups.getByRole('button', { name: 'Respaldar ahora' }).click();
  const done = backups.getByRole('status');
  await done.getByText(/Respaldo listo: atiende-.*\.tar\.zst/).waitFor();
  const file = (await done.textContent()).replace('Respaldo listo: ', '').trim();
  await backups.getByRole('cell', { name: file }).waitFor();
  assert.match(await backups.locator('.last-backup').textContent(), new RegExp(file.replace(/\./g, '\\.')));
  const listed = await admin('GET', '/api/v1/backups');
  assert.deepEqual(listed.files.map((f) => f.name), [file]);
  assert.ok(listed.files[0].bytes > 0);
});

test('the administrator compacts the database now and sees how it went', async () => {
  await go('Espacio en disco');
  const storage = section('Espacio en disco');
  await storage.getByText('Aún ninguna').waitFor();
  await storage.locator('.database-size').getByText(/MB en disco/).waitFor();
  await storage.getByRole('button', { name: 'Compactar ahora' }).click();
  await storage.getByRole('status').getByText(/Base de datos compactada: .* MB → .* MB en disco\./).waitFor();
  assert.match(await storage.locator('.last-compaction').textContent(), /MB → .*MB; reordenar .* s, pausa .* s/);
  const shown = await admin('GET', '/api/v1/storage');
  assert.equal(shown.compaction.state, 'done');
  const logged = await admin('GET', '/api/v1/audit?action=storage_compacted');
  assert.equal(logged.items.length, 1);
});

test('channels still to come are listed, not connectable, and sample accounts without credentials show as not connected', async () => {
  await go('Canales y cuentas');
  const channels = section('Canales y cuentas');
  const row = channels.locator(`tr[data-account="${whatsapp.id}"]`);
  await row.getByText('Sin conectar').waitFor();
  // «Probar conexión» on a sample account without credentials says what is missing.
  await row.getByRole('button', { name: 'Probar conexión' }).click();
  await row.getByRole('alert').getByText(/Faltan datos de la cuenta/).waitFor();
  await channels.getByRole('button', { name: 'Agregar cuenta' }).click();
  const form = channels.getByRole('form', { name: 'Agregar cuenta' });
  const kind = form.getByLabel('Canal');
  assert.equal(await kind.locator('option', { hasText: 'Facebook (próximamente)' }).isDisabled(), true);
  // WhatsApp connects: its form asks for Meta's ids and secrets.
  await kind.selectOption('whatsapp');
  await form.getByLabel('Identificador del número de teléfono').waitFor();
  await form.getByLabel('Clave secreta de la app').waitFor();
  // The form is drawn from the channel's fields: the web chat's sites, then the form's.
  await kind.selectOption('webchat');
  await form.getByLabel('Saludo en el chat (lo que ve el visitante antes de escribir)').waitFor();
  await kind.selectOption('form');
  await form.getByLabel('Sitios permitidos (uno por línea)').waitFor();
  assert.equal(await form.getByLabel('Saludo en el chat (lo que ve el visitante antes de escribir)').count(), 0);
  await form.getByLabel('Nombre', { exact: true }).fill('Formulario de reclamos');
  await form.getByLabel('Sitios permitidos (uno por línea)').fill('https://tienda.test/');
  await form.getByRole('button', { name: 'Guardar' }).click();
  await channels.getByRole('cell', { name: 'Formulario de reclamos' }).waitFor();
  const created = (await admin('GET', '/api/v1/accounts')).items.find((a) => a.name === 'Formulario de reclamos');
  assert.equal(created.kind, 'form');
  assert.deepEqual(created.settings.allowed_origins, ['https://tienda.test']);
});

test('the administrator sets the public address links in mail point at', async () => {
  await go('Dirección pública');
  const box = section('Dirección pública');
  const field = box.getByLabel('Dirección pública de Atiende');
  // The demo's administrator signed in first: the address they came through is the one known.
  assert.equal(await field.inputValue(), server.url);
  await field.fill('https://soporte.tienda.test/');
  await box.getByRole('button', { name: 'Guardar' }).click();
  await box.getByRole('status').getByText('Guardado').waitFor();
  assert.equal((await admin('GET', '/api/v1/settings/public_url')).public_url, 'https://soporte.tienda.test');
  await field.fill('soporte sin esquema');
  await box.getByRole('button', { name: 'Guardar' }).click();
  // The browser's own check refuses it before the server is asked.
  assert.equal(await field.evaluate((el) => el.validity.valid), false);
});

test('the administrator sees every API token and revokes one of an agent', async () => {
  const anaApi = await apiAs(server.url, 'ana@demo.atiende.cl', 'demo-agente');
  const made = await anaApi('POST', '/api/v1/tokens', { name: 'Planilla de ventas' });
  await go('Tokens de API');
  const box = section('Tokens de API');
  const row = box.getByRole('row').filter({ hasText: 'Planilla de ventas' });
  await row.getByText('Ana Castillo').waitFor();
  await row.getByRole('button', { name: 'Revocar el token Planilla de ventas' }).click();
  await box.getByRole('status').getByText(/Planilla de ventas/).waitFor();
  await row.waitFor({ state: 'detached' });
  const res = await fetch(`${server.url}/api/v1/me`, { headers: { authorization: `Bearer ${made.token}` } });
  assert.equal(res.status, 401);
});

test('no console errors in the administration', async () => {
  assert.deepEqual(page.errors, []);
});
