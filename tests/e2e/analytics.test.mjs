// Analítica in a real browser (REPORT-1..5): the supervisor opens it on the demo's history,
// switches the date base and the business-hours toggle, drills into an agent and into a
// typification option down to its tickets, and downloads the report as XLSX, which a reader
// library opens. An agent sees only their own figures. No console errors.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import XLSX from 'xlsx';
import { apiAs, launchBrowser, newPage, signIn, startServer } from './server.mjs';

const SHOTS = process.env.ATIENDE_SCREENSHOTS; // a directory: also save the README screenshots

let server;
let browser;
let page;
let admin;
let reclamo;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  page = await newPage(browser, { viewport: { width: 1400, height: 1000 } });
  admin = await apiAs(server.url, 'admin@demo.atiende.cl', 'demo-admin');
  // A typification, chosen on one of the demo's tickets.
  const field = await admin('POST', '/api/v1/fields', { target: 'ticket', name: 'Motivo de contacto', kind: 'choice', options: ['Reclamo', 'Consulta'] });
  const open = await admin('GET', '/api/v1/tickets?state=open&limit=1');
  reclamo = open.items[0].number;
  await admin('PATCH', `/api/v1/tickets/${reclamo}`, { fields: { [field.id]: 'Reclamo' } });
  await page.goto(server.url);
  await signIn(page, 'supervisora@demo.atiende.cl', 'demo-supervisora');
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** The next report the page asks for whose query matches `re`. */
const reportAsked = (re) => page.waitForResponse((r) => r.url().includes('/api/v1/reports/tickets') && re.test(r.url()) && r.ok());

test('the supervisor reads Analítica by either date, in business hours, and drills into an agent', async () => {
  await page.getByRole('link', { name: 'Analítica' }).click();
  const region = page.getByRole('region', { name: 'Analítica' });
  const tickets = region.getByRole('group', { name: 'Tickets', exact: true });
  await tickets.waitFor();
  const byCreation = Number((await tickets.locator('.kpi-value').innerText()).replace(/\./g, ''));
  assert.ok(byCreation > 0, 'the demo has tickets this week');

  // By update date: the same week counts the tickets changed in it.
  const [updated] = await Promise.all([reportAsked(/base=updated/), region.getByLabel('Fecha de actualización').check()]);
  const body = await updated.json();
  await tickets.locator('.kpi-value').filter({ hasText: body.totals.tickets.toLocaleString('es-CL') }).waitFor();

  // Business hours: durations counted only while the team is open.
  const [business] = await Promise.all([reportAsked(/business_hours=true/), region.getByLabel('Horario hábil').check()]);
  assert.equal((await business.json()).business_hours, true);

  // By agent, then into Luis.
  const [byAgent] = await Promise.all([reportAsked(/by=agent/), region.getByLabel('Ver por').selectOption('agent')]);
  const luis = (await byAgent.json()).rows.find((r) => r.name === 'Luis Navarro');
  assert.ok(luis, 'Luis has tickets');
  await region.getByRole('img', { name: 'Tickets por fila' }).waitFor();
  const [drilled] = await Promise.all([reportAsked(new RegExp(`value=${luis.value}`)), region.getByRole('button', { name: 'Luis Navarro' }).click()]);
  const luisReport = await drilled.json();
  assert.equal(luisReport.totals.tickets, luis.figures.tickets);
  await region.getByText('Ejecutivo: Luis Navarro').waitFor();
  await tickets.locator('.kpi-value').filter({ hasText: String(luis.figures.tickets) }).waitFor();
  // A chart of a duration, with its table beside it.
  await region.getByLabel('Gráfico de').selectOption('first_response');
  await region.getByRole('img', { name: 'Gráfico: Primera respuesta por día' }).waitFor();
  if (SHOTS) {
    await region.getByRole('button', { name: 'Todos' }).click();
    await region.getByRole('button', { name: 'Luis Navarro' }).waitFor();
    await page.screenshot({ path: join(SHOTS, 'analytics-es.png') });
  }

  // The report as a workbook, opened by a reader library.
  const [download] = await Promise.all([page.waitForEvent('download'), region.getByRole('link', { name: '⊞ Excel' }).click()]);
  assert.match(download.suggestedFilename(), /^analitica-\d{4}-\d{2}-\d{2}\.xlsx$/);
  const book = XLSX.read(readFileSync(await download.path()));
  const rows = XLSX.utils.sheet_to_json(book.Sheets[book.SheetNames[0]], { header: 1 });
  assert.equal(rows[0][0], 'Nombre');
  assert.ok(rows[0].includes('Primera respuesta, mediana (min)'));
  const luisRow = rows.find((r) => r[0] === 'Luis Navarro');
  assert.equal(Number(luisRow[1]), luis.figures.tickets);
  assert.equal(rows.at(-1)[0], 'Total');
  assert.deepEqual(page.errors, []);
});

test('typification statistics lead to the tickets, and connection states show time per state', async () => {
  const region = page.getByRole('region', { name: 'Analítica' });
  await region.getByRole('tab', { name: 'Tipificaciones' }).click();
  const section = region.locator('section.typification', { hasText: 'Motivo de contacto' });
  await section.getByRole('button', { name: /Ver los 1 tickets de Reclamo$/ }).click();
  const dialog = page.getByRole('dialog', { name: 'Motivo de contacto · Reclamo' });
  await dialog.getByRole('link', { name: new RegExp(`^#${reclamo} `) }).click();
  await page.waitForURL(new RegExp(`#/t/${reclamo}$`));

  await page.goto(`${server.url}/#/analitica`);
  await region.getByRole('tab', { name: 'Estados de conexión' }).click();
  await region.locator('table.agent-states').getByRole('rowheader', { name: 'Paula Vergara' }).waitFor();
  assert.deepEqual(page.errors, []);
});

test('an agent sees their own figures only', async () => {
  const agentPage = await newPage(browser);
  await agentPage.goto(server.url);
  await signIn(agentPage, 'luis@demo.atiende.cl', 'demo-agente');
  await agentPage.getByRole('link', { name: 'Analítica' }).click();
  const region = agentPage.getByRole('region', { name: 'Analítica' });
  await region.getByText('Tus cifras').waitFor();
  assert.equal(await region.getByRole('tab', { name: 'Tipificaciones' }).count(), 0);
  assert.equal(await region.getByLabel('Ver por').count(), 0);
  await region.locator('table.breakdown').getByRole('rowheader', { name: 'Luis Navarro' }).waitFor();
  assert.equal(await region.locator('table.breakdown tbody tr').count(), 1);
  assert.deepEqual(agentPage.errors, []);
  await agentPage.close();
});

test('a large export runs in the background under Administración › Exportaciones and downloads', async () => {
  await page.goto(`${server.url}/#/admin/exportaciones`);
  const section = page.getByRole('region', { name: 'Exportaciones' });
  const form = section.getByRole('form', { name: 'Nueva exportación' });
  await form.getByLabel('Qué exportar').selectOption('messages');
  await form.getByRole('button', { name: 'Exportar' }).click();
  await section.getByRole('status').filter({ hasText: 'La exportación empezó' }).waitFor();
  const link = section.getByRole('link', { name: /^mensajes-\d{4}-\d{2}-\d{2}\.xlsx$/ });
  await link.waitFor({ timeout: 30_000 });
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  const book = XLSX.read(readFileSync(await download.path()));
  const rows = XLSX.utils.sheet_to_json(book.Sheets[book.SheetNames[0]], { header: 1 });
  assert.ok(rows[0].includes('Influenciador'), rows[0].join(', '));
  const all = await admin('GET', '/api/v1/exports');
  assert.equal(rows.length - 1, all.items[0].rows);
  assert.ok(all.items[0].rows > 100, 'the demo has many messages');
  assert.deepEqual(page.errors, []);
});
