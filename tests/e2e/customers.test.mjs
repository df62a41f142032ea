// The customer's data in a real browser (seed 002, seed 003): the administrator defines a
// mandatory typification and a profile field in Administración › Campos; an agent cannot close
// a ticket until the typification is filled in on the Datos tab; the profile field is edited on
// the Cliente tab. No console errors.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { apiAs, launchBrowser, newPage, signIn, startServer } from './server.mjs';

let server;
let browser;
let page;
let admin;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  page = await newPage(browser);
  admin = await apiAs(server.url, 'admin@demo.atiende.cl', 'demo-admin');
  await page.goto(server.url);
  await signIn(page, 'admin@demo.atiende.cl', 'demo-admin');
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('a mandatory typification blocks the close until the Datos tab fills it in', async () => {
  await page.getByRole('link', { name: 'Administración' }).click();
  await page.getByRole('navigation', { name: 'Administración' }).getByRole('link', { name: 'Campos', exact: true }).click();
  const section = page.getByRole('region', { name: 'Campos' });
  await section.getByRole('button', { name: 'Agregar dato del ticket' }).click();
  const form = section.getByRole('form', { name: 'Agregar dato del ticket' });
  await form.getByLabel('Nombre').fill('Resultado de la atención');
  await form.getByLabel('Tipo').selectOption('choice');
  await form.getByLabel('Opciones').fill('Resuelto\nDerivado a terreno\nSin solución');
  await form.getByLabel(/Obligatorio/).check();
  await form.getByRole('button', { name: 'Guardar' }).click();
  await section.getByRole('row', { name: /Resultado de la atención/ }).waitFor();
  const field = (await admin('GET', '/api/v1/fields')).items.find((f) => f.name === 'Resultado de la atención');
  assert.deepEqual(field.options, ['Resuelto', 'Derivado a terreno', 'Sin solución']);
  assert.equal(field.mandatory, true);

  // A fresh ticket on the API account, opened by the admin.
  const accounts = await admin('GET', '/api/v1/accounts');
  const apiAccount = accounts.items.find((a) => a.kind === 'api') ?? (await admin('POST', '/api/v1/accounts', { kind: 'api', name: 'Integración' }));
  const r = await admin('POST', `/api/v1/accounts/${apiAccount.id}/inbound`, { external_id: 'tip-1', contact: { external_id: 'tip-cliente', name: 'Teresa Tipificada' }, text: 'Necesito ayuda con mi pedido' });
  await page.goto(`${server.url}/#/t/${r.ticket_number}`);
  const panel = page.locator('aside.ticket');
  await panel.getByRole('button', { name: 'Cerrar', exact: true }).click();
  await page.getByRole('dialog').getByRole('button', { name: /sin sentimiento/i }).click();
  await panel.getByRole('alert').filter({ hasText: 'datos obligatorios' }).waitFor();
  assert.equal((await admin('GET', `/api/v1/tickets/${r.ticket_number}`)).state, 'open');

  await panel.getByRole('tab', { name: 'Datos' }).click();
  const data = panel.getByRole('form', { name: 'Datos del ticket' });
  await data.getByText('Falta completar para cerrar: Resultado de la atención').waitFor();
  await data.getByLabel('Resultado de la atención').selectOption('Derivado a terreno');
  await data.getByRole('button', { name: 'Guardar' }).click();
  await data.getByRole('status').filter({ hasText: 'Guardado' }).waitFor();
  await panel.getByRole('button', { name: 'Cerrar', exact: true }).click();
  await page.getByRole('dialog').getByRole('button', { name: /sin sentimiento/i }).click();
  await panel.getByText('Cerrado', { exact: true }).first().waitFor();
  const closed = await admin('GET', `/api/v1/tickets/${r.ticket_number}`);
  assert.equal(closed.state, 'closed');
  assert.equal(closed.fields[field.id], 'Derivado a terreno');
});
