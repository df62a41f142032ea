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

  // The board filters by the value: a column of closed tickets sent to the field team.
  await page.goto(`${server.url}/#/`);
  await page.getByRole('button', { name: '+ Agregar columna' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('Nombre de la columna').fill('Derivados a terreno');
  await dialog.getByRole('group', { name: 'Estado' }).getByLabel('Abierto').uncheck();
  await dialog.getByRole('group', { name: 'Estado' }).getByLabel('Cerrado').check();
  await dialog.getByLabel('Dato del ticket', { exact: true }).selectOption({ label: 'Resultado de la atención' });
  await dialog.getByLabel('Valor del dato').selectOption('Derivado a terreno');
  await dialog.getByRole('button', { name: 'Guardar' }).click();
  const col = page.locator('section.column[aria-label="Derivados a terreno"]');
  await col.locator(`.card[data-number="${r.ticket_number}"]`).waitFor();
  assert.equal(await col.locator('.card').count(), 1);
});

test('filters saved as a segment open again after a reload', async () => {
  await admin('POST', '/api/v1/contacts', { name: 'Inés Influyente', influencer: true });
  await admin('POST', '/api/v1/contacts', { name: 'Bruno Influyente', influencer: true });
  await page.goto(`${server.url}/#/contactos`);
  const filters = page.getByRole('search', { name: 'Filtros de contactos' });
  await filters.getByLabel('Influenciador').selectOption('true');
  await filters.getByLabel('Orden').selectOption('name_asc');
  await filters.getByRole('button', { name: 'Buscar' }).click();
  const rows = page.locator('.contacts-table tbody tr');
  await rows.first().filter({ hasText: 'Bruno Influyente' }).waitFor();
  assert.deepEqual(await rows.locator('td:first-child a').allTextContents(), ['Bruno Influyente', 'Inés Influyente']);
  await filters.getByRole('button', { name: 'Guardar como segmento' }).click();
  const dialog = page.getByRole('dialog', { name: 'Guardar como segmento' });
  await dialog.getByLabel('Nombre del segmento').fill('Influenciadores');
  await dialog.getByRole('button', { name: 'Guardar' }).click();
  await dialog.waitFor({ state: 'detached' });
  const saved = (await admin('GET', '/api/v1/segments')).items.find((s) => s.name === 'Influenciadores');
  assert.deepEqual(saved.query, { influencer: 'true', sort: 'name_asc' });

  await page.reload();
  await page.getByRole('heading', { name: 'Contactos' }).waitFor();
  await rows.first().waitFor();
  await page.getByLabel('Segmento').selectOption({ label: 'Influenciadores' });
  await page.waitForFunction(() => document.querySelectorAll('.contacts-table tbody tr').length === 2);
  assert.deepEqual(await rows.locator('td:first-child a').allTextContents(), ['Bruno Influyente', 'Inés Influyente']);
  assert.equal(await filters.getByLabel('Influenciador').inputValue(), 'true');
  assert.equal(await filters.getByLabel('Orden').inputValue(), 'name_asc');
  // The export link carries the same filter.
  const href = await page.getByRole('link', { name: 'Exportar CSV' }).getAttribute('href');
  assert.match(href, /influencer=true/);
});

test('a CSV import shows its preview and bad rows, imports the good ones and gives the error report', async () => {
  await page.goto(`${server.url}/#/contactos`);
  await page.reload(); // no segment chosen
  await page.getByRole('button', { name: 'Importar CSV' }).click();
  const panel = page.getByRole('region', { name: 'Importar contactos' });
  const csv = 'Nombre;RUT;Correo;Celular;Comentario\n'
    + 'Rosa Importada;15.555.555-6;rosa@importada.cl;+56 9 8765 4321;cliente antigua\n'
    + 'Rut Malo;12.345.678-0;malo@importada.cl;;\n'
    + 'Correo Malo;;correo@;;\n'
    + 'Tomás Importado;;tomas@importada.cl;;\n';
  await panel.getByLabel('Archivo CSV').setInputFiles({ name: 'clientes.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await panel.getByText('4 filas: 2 listas para importar, 2 con errores.').waitFor();
  await panel.getByRole('cell', { name: 'RUT no válido: «12.345.678-0»' }).waitFor();
  await panel.getByRole('cell', { name: 'Correo no válido: «correo@»' }).waitFor();
  // The unknown column is left out until the agent says what it is.
  assert.equal(await panel.getByLabel('A qué corresponde «Comentario»').inputValue(), '');
  await panel.getByLabel('A qué corresponde «Comentario»').selectOption('notes');
  await panel.getByRole('button', { name: 'Revisar de nuevo' }).click();
  await panel.getByRole('cell', { name: 'Rosa Importada' }).waitFor();

  const [download] = await Promise.all([
    page.waitForEvent('download'),
    panel.getByRole('button', { name: 'Descargar informe de errores' }).click(),
  ]);
  const report = await (await download.createReadStream()).toArray();
  const text = Buffer.concat(report).toString('utf8');
  assert.match(text, /3,RUT,RUT no válido: «12\.345\.678-0»/);
  assert.match(text, /4,Correo,Correo no válido: «correo@»/);

  await panel.getByRole('button', { name: 'Importar 2 filas' }).click();
  await panel.getByText('Importación terminada: 2 creados, 0 actualizados, 0 sin cambios, 2 filas con errores.').waitFor();
  // The search index takes what was written a moment later.
  let rosa = [];
  for (let i = 0; i < 50 && rosa.length === 0; i += 1) {
    rosa = (await admin('GET', '/api/v1/contacts?q=15.555.555-6')).items;
    if (rosa.length === 0) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(rosa.length, 1);
  assert.equal(rosa[0].notes, 'cliente antigua');
  await page.locator('.contacts-table').getByRole('link', { name: 'Tomás Importado' }).waitFor();
});

test('a contact typed in by hand gets a second email and a profile field from its page', async () => {
  await admin('POST', '/api/v1/fields', { target: 'contact', name: 'Comuna de despacho', kind: 'text' });
  await page.goto(`${server.url}/#/contactos`);
  await page.reload();
  await page.getByRole('button', { name: 'Nuevo contacto' }).click();
  const dialog = page.getByRole('dialog', { name: 'Nuevo contacto' });
  await dialog.getByLabel('Nombre').fill('Marta Manual');
  await dialog.getByLabel('RUT').fill('11.111.111-1');
  await dialog.getByRole('button', { name: 'Guardar' }).click();
  await page.getByRole('heading', { name: 'Cliente' }).waitFor();
  await page.getByRole('button', { name: 'Editar cliente' }).click();
  const form = page.getByRole('form', { name: 'Editar cliente' });
  await form.getByLabel('Correo', { exact: true }).fill('marta@casa.cl');
  await form.getByLabel('Otros correos').fill('marta@trabajo.cl, marta@club.cl');
  await form.getByLabel('Comuna de despacho').fill('Ñuñoa');
  await form.getByRole('button', { name: 'Guardar' }).click();
  await page.getByText('marta@casa.cl, marta@trabajo.cl, marta@club.cl').waitFor();
  await page.locator('dd[data-field]').filter({ hasText: 'Ñuñoa' }).waitFor();
  const id = location => location.split('/').pop();
  const c = await admin('GET', `/api/v1/contacts/${id(page.url())}`);
  assert.deepEqual(c.more_emails, ['marta@trabajo.cl', 'marta@club.cl']);
  assert.equal(c.rut, '11111111-1');
});

test('the administrator sets business hours with Chile\'s holidays in Administración › Horarios', async () => {
  await page.goto(`${server.url}/#/admin/horarios`);
  const section = page.getByRole('region', { name: 'Horarios' });
  await section.getByRole('button', { name: 'Nuevo horario' }).click();
  const form = section.getByRole('form', { name: 'Nuevo horario' });
  await form.getByLabel('Nombre', { exact: true }).fill('Oficina Santiago');
  assert.equal(await form.getByLabel('Zona horaria').inputValue(), 'America/Santiago');
  await form.getByLabel('Lunes').fill('09:00-13:00, 14:00-18:00');
  await form.getByLabel('Sábado').fill('10:00-13:00');
  await form.getByRole('button', { name: 'Agregar feriados de Chile' }).click();
  await form.getByRole('button', { name: 'Quitar Navidad' }).waitFor();
  await form.getByRole('button', { name: 'Guardar' }).click();
  await section.getByRole('row', { name: /Oficina Santiago.*America\/Santiago/ }).waitFor();
  const cal = (await admin('GET', '/api/v1/calendars')).items.find((c) => c.name === 'Oficina Santiago');
  assert.deepEqual(cal.week.mon, [['09:00', '13:00'], ['14:00', '18:00']]);
  assert.deepEqual(cal.week.sat, [['10:00', '13:00']]);
  assert.equal(cal.week.sun, undefined);
  assert.ok(cal.holidays.some((h) => h.date === '09-18'));
  // A period written backwards is refused in Spanish, and nothing changes.
  await section.getByRole('button', { name: 'Editar Oficina Santiago' }).click();
  const edit = section.getByRole('form', { name: 'Editar Oficina Santiago' });
  await edit.getByLabel('Martes').fill('18:00-09:00');
  await edit.getByRole('button', { name: 'Guardar' }).click();
  await section.getByRole('alert').filter({ hasText: 'El horario no es válido' }).waitFor();
  assert.deepEqual((await admin('GET', '/api/v1/calendars')).items[0].week.tue, [['09:00', '18:00']]);
});
