// The second factor and sessions in a real browser: an agent turns on two-step verification
// from Mi perfil (QR code, first code, recovery codes), then signs in with a code and with a
// recovery code; «Cerrar las demás» signs another browser out, live; an administrator makes it
// required for a role and a user of it must enrol before anything else. No console errors.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { apiAs, launchBrowser, newPage, signIn, startServer } from './server.mjs';

let server;
let browser;
let admin;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  admin = await apiAs(server.url, 'admin@demo.atiende.cl', 'demo-admin');
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** RFC 6238 with SHA-1, six digits, 30-second steps: the code an authenticator app shows. */
function totp(secret, offsetSteps = 0) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000 / 30) + offsetSteps));
  const mac = createHmac('sha1', key).update(counter).digest();
  const at = mac[mac.length - 1] & 0xf;
  return String((mac.readUInt32BE(at) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

async function signInWithCode(page, email, password, code) {
  await page.getByRole('button', { name: 'Entrar' }).waitFor();
  await page.getByLabel('Correo').fill(email);
  await page.getByLabel('Contraseña').fill(password);
  await page.getByRole('button', { name: 'Entrar' }).click();
  await page.getByRole('heading', { name: 'Verificación en dos pasos' }).waitFor();
  await page.getByLabel('Código de 6 dígitos o código de recuperación').fill(code);
  await page.getByRole('button', { name: 'Entrar' }).click();
  await page.locator('section.column').first().waitFor();
}

test('an agent turns on two-step verification and signs in with a code, then a recovery code', async () => {
  const page = await newPage(browser);
  await page.goto(server.url);
  await signIn(page, 'ana@demo.atiende.cl', 'demo-agente');
  await page.getByRole('link', { name: 'Ana Castillo' }).click();
  const box = page.getByRole('region', { name: 'Verificación en dos pasos' });
  await box.getByText('Desactivada.').waitFor();
  await box.getByRole('button', { name: 'Activar' }).click();
  await box.getByLabel('Contraseña actual').fill('demo-agente');
  await box.getByRole('form', { name: 'Activar' }).getByRole('button', { name: 'Activar' }).click();
  await box.getByRole('img', { name: 'Código QR para la app de autenticación' }).waitFor();
  const secret = (await box.locator('code.secret').textContent()).trim();
  await box.getByLabel('Código que muestra la app').fill('000000');
  await box.getByRole('button', { name: 'Confirmar' }).click();
  await box.getByRole('alert').getByText('no es válido').waitFor();
  await box.getByLabel('Código que muestra la app').fill(totp(secret));
  await box.getByRole('button', { name: 'Confirmar' }).click();
  const codes = box.getByRole('region', { name: 'Códigos de recuperación' });
  const listed = await codes.locator('li code').allTextContents();
  assert.equal(listed.length, 10);
  await codes.getByRole('button', { name: 'Ya los guardé' }).click();
  await box.getByText('Activada: al entrar se pide el código de tu app.').waitFor();

  // The next sign-in asks for the code (the next step's: the first one was spent confirming).
  await page.getByRole('button', { name: 'Cerrar sesión' }).click();
  await signInWithCode(page, 'ana@demo.atiende.cl', 'demo-agente', totp(secret, 1));
  // Without the phone: a recovery code, once.
  await page.getByRole('button', { name: 'Cerrar sesión' }).click();
  await signInWithCode(page, 'ana@demo.atiende.cl', 'demo-agente', listed[0]);
  const log = await admin('GET', '/api/v1/audit?limit=50');
  const actions = log.items.map((e) => e.action);
  assert.ok(actions.includes('two_factor_enabled') && actions.includes('recovery_code_used'), actions.join());
  // The wrong code (422) and the sign-in that asked for a code (401) are the browser's only
  // complaints: answers the test asked for.
  assert.deepEqual(page.errors.filter((e) => !/responded with a status of (401|422)/.test(e)), []);
  await page.context().close();
});

test('«Cerrar las demás» signs the other browser out, and its live stream ends', async () => {
  const office = await newPage(browser);
  await office.goto(server.url);
  await signIn(office, 'luis@demo.atiende.cl', 'demo-agente');
  const home = await newPage(browser, { userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0' });
  await home.goto(server.url);
  await signIn(home, 'luis@demo.atiende.cl', 'demo-agente');
  await office.goto(`${server.url}/#/perfil`);
  const sessions = office.getByRole('region', { name: 'Mis sesiones' });
  await sessions.getByRole('cell', { name: 'Firefox · Windows', exact: true }).waitFor();
  await sessions.getByText('(esta sesión)').waitFor();
  await sessions.getByRole('button', { name: 'Cerrar las demás' }).click();
  await sessions.getByRole('status').getByText('Se cerró 1 sesión.').waitFor();
  // The other browser did nothing: its event stream ended and the app went to the sign-in page.
  await home.getByRole('button', { name: 'Entrar' }).waitFor({ timeout: 20000 });
  assert.equal(await sessions.locator('tbody tr').count(), 1);
  assert.deepEqual(office.errors, []);
  await office.context().close();
  await home.context().close();
});

test('a role that must use it enrols before anything else', async () => {
  const page = await newPage(browser);
  await page.goto(server.url);
  await signIn(page, 'admin@demo.atiende.cl', 'demo-admin');
  await page.getByRole('link', { name: 'Administración' }).click();
  await page.getByRole('navigation', { name: 'Administración' }).getByRole('link', { name: 'Seguridad' }).click();
  const security = page.getByRole('region', { name: 'Seguridad' });
  await security.getByLabel('Supervisor').check();
  await security.getByRole('button', { name: 'Guardar' }).click();
  await security.getByRole('status').getByText('Guardado').waitFor();
  assert.deepEqual((await admin('GET', '/api/v1/settings/two_factor')).required_roles, ['supervisor']);

  const supervisor = (await admin('GET', '/api/v1/users')).items.find((u) => u.role === 'supervisor');
  const his = await newPage(browser);
  await his.goto(server.url);
  await his.getByLabel('Correo').fill(supervisor.email);
  await his.getByLabel('Contraseña').fill('demo-supervisora');
  await his.getByRole('button', { name: 'Entrar' }).click();
  const box = his.getByRole('region', { name: 'Verificación en dos pasos' });
  await box.getByText('Tu rol debe entrar con verificación en dos pasos').waitFor();
  assert.equal(await his.locator('section.column').count(), 0, 'no board before enrolling');
  await box.getByRole('button', { name: 'Activar' }).click();
  await box.getByLabel('Contraseña actual').fill('demo-supervisora');
  await box.getByRole('form', { name: 'Activar' }).getByRole('button', { name: 'Activar' }).click();
  const secret = (await box.locator('code.secret').textContent()).trim();
  await box.getByLabel('Código que muestra la app').fill(totp(secret));
  await box.getByRole('button', { name: 'Confirmar' }).click();
  await box.getByRole('button', { name: 'Ya los guardé' }).click();
  await his.locator('section.column').first().waitFor();
  await admin('PUT', '/api/v1/settings/two_factor', { required_roles: [] });
  assert.deepEqual(page.errors, []);
  assert.deepEqual(his.errors, []);
  await his.context().close();
  await page.context().close();
});

test('a profile photo is uploaded from Mi perfil, kept as a small square, and shown', async () => {
  const page = await newPage(browser);
  await page.goto(server.url);
  await signIn(page, 'sofia@demo.atiende.cl', 'demo-agente');
  await page.getByRole('link', { name: 'Sofía Ibáñez' }).click();
  const photo = page.getByRole('region', { name: 'Foto' });
  // A 2×1 red PNG.
  const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAIAAAABCAIAAAB7QOjdAAAADUlEQVR4nGP4z8AARAAI/gH/xp559wAAAABJRU5ErkJggg==', 'base64');
  await photo.locator('input[type=file]').setInputFiles({ name: 'yo.png', mimeType: 'image/png', buffer: png });
  const img = photo.getByRole('img', { name: 'Foto de Sofía Ibáñez' });
  await img.waitFor();
  assert.equal(await img.evaluate((el) => el.naturalWidth), 128);
  await photo.locator('input[type=file]').setInputFiles({ name: 'nota.txt', mimeType: 'text/plain', buffer: Buffer.from('hola') });
  await photo.getByRole('alert').getByText('Esa imagen no sirve').waitFor();
  assert.deepEqual(page.errors.filter((e) => !/status of 415/.test(e)), []);
  await page.context().close();
});
