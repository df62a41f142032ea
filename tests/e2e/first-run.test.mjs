// A new Atiende, as its first administrator meets it: the first-run page, then the board with
// the first steps (connect a channel, invite the team, set up assignment), each leading to its
// form, until hidden. No console errors.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, newPage, startServer } from './server.mjs';

let server;
let browser;

before(async () => {
  server = await startServer({ demo: false });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('the first administrator is guided from the first-run page to a channel and the team', async () => {
  const page = await newPage(browser);
  await page.goto(server.url);
  await page.getByLabel('Nombre').fill('Marta Soto');
  await page.getByLabel('Correo').fill('marta@tienda.test');
  await page.getByLabel('Contraseña (mínimo 8 caracteres)').fill('una-clave-segura');
  await page.getByRole('button', { name: 'Crear administrador' }).click();
  const guide = page.getByRole('region', { name: 'Primeros pasos' });
  await guide.getByText('Conecta un canal').waitFor();
  await guide.getByText('Invita a tu equipo').waitFor();
  await guide.getByText('Configura la asignación').waitFor();
  // Each step opens its form.
  await guide.getByRole('link', { name: /WhatsApp/ }).click();
  const channels = page.getByRole('region', { name: 'Canales y cuentas' });
  await channels.getByLabel('Identificador del número de teléfono').waitFor();
  assert.equal(await channels.getByLabel('Canal').inputValue(), 'whatsapp');
  await page.getByRole('link', { name: 'Tablero' }).click();
  await guide.getByRole('link', { name: 'Invitar usuario' }).click();
  await page.getByRole('region', { name: 'Usuarios' }).getByRole('form', { name: 'Invitar usuario' }).waitFor();
  await page.getByRole('link', { name: 'Tablero' }).click();
  // Hidden, it stays hidden (kept on the server, not in this browser).
  await guide.getByRole('button', { name: 'Ocultar guía' }).click();
  await guide.waitFor({ state: 'detached' });
  await page.reload();
  await page.locator('section.column').first().waitFor();
  assert.equal(await page.getByRole('region', { name: 'Primeros pasos' }).count(), 0);
  // Mi perfil brings it back.
  await page.goto(`${page.url().split('#')[0]}#/perfil`);
  await page.getByRole('button', { name: 'Mostrar la guía en el tablero' }).click();
  await guide.getByText('Invita a tu equipo').waitFor();
  assert.deepEqual(page.errors, []);
});
