// Time in a real browser (SLA-1, SLA-2, OPS-6): the administrator sets business hours with
// Chile's holidays and an SLA policy, and an account follows them; a customer waits past the
// target — the server's clock moved forward by a restart — and the ticket's card turns red and
// its assignee's bell says so. No console errors.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import XLSX from 'xlsx';
import { apiAs, launchBrowser, newPage, signIn, startServer } from './server.mjs';

let server;
let browser;
let page;
let admin;
let account;
let number;

const ADMIN = ['admin@demo.atiende.cl', 'demo-admin'];

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  page = await newPage(browser);
  admin = await apiAs(server.url, ...ADMIN);
  account = await admin('POST', '/api/v1/accounts', { kind: 'api', name: 'Tienda API' });
  await page.goto(server.url);
  await signIn(page, ...ADMIN);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('the administrator sets hours with holidays and an SLA policy, and an account follows them', async () => {
  await page.goto(`${server.url}/#/admin/horarios`);
  const hours = page.getByRole('region', { name: 'Horarios' });
  await hours.getByRole('button', { name: 'Nuevo horario' }).click();
  const cal = hours.getByRole('form', { name: 'Nuevo horario' });
  await cal.getByLabel('Nombre', { exact: true }).fill('Tienda');
  await cal.getByLabel('Sábado').fill('10:00-14:00');
  await cal.getByRole('button', { name: 'Agregar feriados de Chile' }).click();
  await cal.getByRole('button', { name: 'Quitar Navidad' }).waitFor();
  await cal.getByRole('button', { name: 'Guardar' }).click();
  await hours.getByRole('row', { name: /Tienda/ }).waitFor();

  await page.goto(`${server.url}/#/admin/sla`);
  const sla = page.getByRole('region', { name: 'SLA' });
  await sla.getByRole('button', { name: 'Nueva política de SLA' }).click();
  const form = sla.getByRole('form', { name: 'Nueva política de SLA' });
  await form.getByLabel('Nombre').fill('Urgente');
  await form.getByLabel('Primera respuesta (minutos)').fill('30');
  await form.getByLabel('Siguientes respuestas (minutos)').fill('90');
  await form.getByRole('button', { name: 'Guardar' }).click();
  await sla.getByRole('row', { name: /Urgente 30 min 1 h 30 min Todo el día/ }).waitFor();
  // A target of no minutes is refused in Spanish, and nothing changes.
  await sla.getByRole('button', { name: 'Editar Urgente' }).click();
  const edit = sla.getByRole('form', { name: 'Editar Urgente' });
  await edit.getByLabel('Primera respuesta (minutos)').evaluate((el) => { el.min = ''; el.value = '0'; });
  await edit.getByRole('button', { name: 'Guardar' }).click();
  await sla.getByRole('alert').filter({ hasText: /SLA no es válida/ }).waitFor();
  await edit.getByRole('button', { name: 'Cancelar' }).click();
  // The browser logs that refusal (422) as a failed load: expected here.
  page.errors = page.errors.filter((e) => !e.includes('status of 422'));

  await page.goto(`${server.url}/#/admin/canales`);
  const channels = page.getByRole('region', { name: 'Canales y cuentas' });
  await channels.locator(`tr[data-account="${account.id}"]`).getByRole('button', { name: 'Editar' }).click();
  const accountForm = channels.getByRole('form', { name: 'Tienda API' });
  await accountForm.getByLabel('Política de SLA').selectOption({ label: 'Urgente' });
  await accountForm.getByLabel('Horario de atención').selectOption({ label: 'Tienda' });
  // Its automatic message out of hours, with the next opening (SLA-3).
  await accountForm.getByText('Mensajes automáticos', { exact: true }).click();
  const outOfHours = accountForm.getByRole('group', { name: /Fuera de horario/ });
  await outOfHours.getByLabel('Español').fill('Hola {name}: estamos fuera de horario. Volvemos {next_open}.');
  await accountForm.getByRole('button', { name: 'Guardar' }).click();
  await accountForm.waitFor({ state: 'detached' });
  const policies = await admin('GET', '/api/v1/sla_policies');
  const urgent = policies.items.find((p) => p.name === 'Urgente');
  assert.deepEqual([urgent.first_response_minutes, urgent.next_response_minutes, urgent.accounts], [30, 90, [account.id]]);
  const saved = await admin('GET', `/api/v1/accounts/${account.id}`);
  assert.equal(saved.settings.sla_policy_id, urgent.id);
  assert.ok(saved.settings.calendar_id);
  assert.deepEqual(saved.settings.auto_messages,
    { language: 'es', out_of_hours: { es: 'Hola {name}: estamos fuera de horario. Volvemos {next_open}.' } });
  assert.deepEqual(page.errors, []);
});

test('past the target the card turns red and the assignee\'s bell shows the breach', async () => {
  const me = await admin('GET', '/api/v1/me');
  const r = await admin('POST', `/api/v1/accounts/${account.id}/inbound`, {
    external_id: 'sla-1', contact: { external_id: 'cli-sla', name: 'Rosa Espera' }, text: '¿Dónde está mi pedido?',
  });
  number = r.ticket_number;
  // Closed now (nights, Sundays, holidays): the customer was told when it opens.
  const hours = (await admin('GET', '/api/v1/calendars')).items.find((c) => c.name === 'Tienda');
  if (!hours.open_now) {
    await page.goto(`${server.url}/#/t/${number}`);
    await page.getByText(/Hola Rosa Espera: estamos fuera de horario\. Volvemos el \S+ \d\d\/\d\d a las \d\d:\d\d\./).waitFor();
  }
  await admin('PATCH', `/api/v1/tickets/${number}`, { assignee_id: me.id });
  await admin('PUT', '/api/v1/me/board', { columns: [{ id: 'mios', name: 'Míos', filters: { state: 'open', assignee: 'me' } }] });
  await page.goto(`${server.url}/#/`);
  await page.reload(); // the board just saved by the API
  const card = page.locator(`section.column a.card[data-number="${number}"]`).first();
  await card.locator('.wait.sla-ok').waitFor();
  assert.match(await card.locator('.wait').getAttribute('title'), /SLA 30 min/);
  // The column downloads as a spreadsheet with its tickets (REPORT-4).
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: 'Exportar la columna Míos a CSV' }).click(),
  ]);
  const csv = readFileSync(await download.path(), 'utf8');
  assert.match(csv, /^\uFEFFNúmero,Estado,Canal,Cuenta,Cliente/);
  assert.match(csv, new RegExp(`\\r\\n${number},Abierto,API,Tienda API,Rosa Espera,`));
  // And as a real Excel workbook, opened with a reader library.
  const [book] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: 'Exportar la columna Míos a Excel' }).click(),
  ]);
  assert.match(book.suggestedFilename(), /^tickets-\d{4}-\d\d-\d\d\.xlsx$/);
  const sheet = XLSX.readFile(await book.path()).Sheets.Sheet1;
  const rows = XLSX.utils.sheet_to_json(sheet, { header: 1 });
  assert.deepEqual(rows[0].slice(0, 5), ['Número', 'Estado', 'Canal', 'Cuenta', 'Cliente']);
  assert.deepEqual(rows[1].slice(0, 5), [number, 'Abierto', 'API', 'Tienda API', 'Rosa Espera']);

  // The conversation opens as a printable page in a tab of its own, styled, without errors.
  await page.goto(`${server.url}/#/t/${number}`);
  const [tab] = await Promise.all([
    page.context().waitForEvent('page'),
    page.getByRole('link', { name: 'Imprimir conversación' }).click(),
  ]);
  const tabErrors = [];
  tab.on('console', (m) => { if (m.type() === 'error') tabErrors.push(m.text()); });
  await tab.getByRole('heading', { name: `Conversación del ticket #${number}` }).waitFor();
  await tab.getByText('¿Dónde está mi pedido?').waitFor();
  assert.equal(await tab.locator('article').first().evaluate((el) => getComputedStyle(el).borderLeftStyle), 'solid');
  assert.deepEqual(tabErrors, []);
  await tab.close();

  // Forty minutes later (the server restarted with its clock moved on).
  const url = await server.restart({ ATIENDE_CLOCK_OFFSET_MS: String(40 * 60_000) });
  await page.goto(`${url}/`);
  // The old page's live stream failed while the server was down: expected.
  page.errors = [];
  if (await page.getByLabel('Contraseña').isVisible()) await signIn(page, ...ADMIN);
  const late = page.locator(`section.column a.card[data-number="${number}"] .wait.sla-late`).first();
  await late.waitFor();
  const bell = page.locator('.bell-button');
  await bell.filter({ hasText: /\d/ }).waitFor();
  await bell.click();
  const list = page.getByRole('region', { name: 'Notificaciones' });
  await list.getByText(`#${number} de Rosa Espera venció su SLA`).waitFor();
  await list.getByText(`#${number} de Rosa Espera está por vencer su SLA`).waitFor();
  assert.deepEqual(page.errors, []);
});
