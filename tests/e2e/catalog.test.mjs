// Teams, labels and canned responses in a real browser: the administrator creates them in
// Administración, sets a team and a label on a ticket (both show on its card), merges and
// deletes labels (with how many tickets carry them), and a canned answer's variables are
// previewed and filled in the reply box. No console errors.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { apiAs, launchBrowser, newPage, signIn, startServer } from './server.mjs';

const SHOTS = process.env.ATIENDE_SCREENSHOTS; // a directory: also save the README screenshots

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
  await page.getByRole('link', { name: 'Administración' }).click();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const go = (name) => page.getByRole('navigation', { name: 'Administración' }).getByRole('link', { name, exact: true }).click();

test('the administrator creates a team, a label and a shared canned response with its preview', async () => {
  await go('Equipos');
  const teams = page.getByRole('region', { name: 'Equipos' });
  await teams.getByRole('button', { name: 'Nuevo equipo' }).click();
  const form = teams.getByRole('form', { name: 'Nuevo equipo' });
  await form.getByLabel('Nombre').fill('Mayoristas');
  await form.getByLabel('Ana Castillo').check();
  await form.getByRole('button', { name: 'Guardar' }).click();
  await teams.getByRole('row', { name: /Mayoristas.*Ana Castillo/ }).waitFor();

  await go('Etiquetas');
  const labels = page.getByRole('region', { name: 'Etiquetas' });
  await labels.getByRole('button', { name: 'Nueva etiqueta' }).click();
  const lform = labels.getByRole('form', { name: 'Nueva etiqueta' });
  await lform.getByLabel('Nombre').fill('Urgente');
  await lform.getByLabel('Color').fill('#c0392b');
  await lform.getByRole('button', { name: 'Guardar' }).click();
  await labels.getByRole('row', { name: /Urgente/ }).waitFor();
  const created = (await admin('GET', '/api/v1/labels')).items.find((l) => l.name === 'Urgente');
  assert.equal(created.color, '#c0392b');

  await go('Respuestas rápidas');
  const canned = page.getByRole('region', { name: 'Respuestas rápidas' });
  await canned.getByRole('button', { name: 'Nueva respuesta rápida' }).click();
  const cform = canned.getByRole('form', { name: 'Nueva respuesta rápida' });
  await cform.getByLabel('Título').fill('Saludo cordial');
  await cform.getByLabel('Atajo').fill('cordial');
  await cform.getByLabel('Texto').fill('Hola {{customer.first_name}}, te escribe {{agent.first_name}}.');
  await cform.getByText('Hola Josefa, te escribe Carolina.').waitFor();
  await cform.getByRole('button', { name: 'Guardar' }).click();
  await canned.getByRole('row', { name: /Saludo cordial.*\/cordial.*Todo el equipo/ }).waitFor();
  if (SHOTS) {
    await go('Usuarios');
    await page.getByRole('region', { name: 'Usuarios' }).getByRole('table').waitFor();
    await page.screenshot({ path: join(SHOTS, 'admin-users-es.png') });
  }
});

test('a team and a label set on a ticket show on its card; the canned answer fills the first name', async () => {
  // An open ticket without labels (the demo labels some).
  const ticket = (await admin('GET', '/api/v1/tickets?state=open&limit=50')).items.find((x) => x.labels.length === 0);
  await page.goto(`${server.url}/#/t/${ticket.number}`);
  const view = page.getByRole('complementary', { name: new RegExp(`#${ticket.number}`) });
  await view.getByLabel('Equipo').selectOption({ label: 'Mayoristas' });
  await view.getByRole('group', { name: 'Etiquetas', exact: true }).getByLabel('+ Etiqueta').selectOption({ label: 'Urgente' });
  const card = page.locator(`.card[data-number="${ticket.number}"]`).first();
  await card.getByText('Urgente').waitFor();
  await card.getByText('Mayoristas').waitFor();
  const stored = await admin('GET', `/api/v1/tickets/${ticket.number}`);
  const team = (await admin('GET', '/api/v1/teams')).items.find((t) => t.name === 'Mayoristas');
  assert.equal(stored.team_id, team.id);
  assert.equal(stored.labels.length, 1);
  // Taken off again from its chip.
  await view.getByRole('button', { name: 'Quitar la etiqueta Urgente' }).click();
  await card.getByText('Urgente').waitFor({ state: 'detached' });
  await view.getByRole('group', { name: 'Etiquetas', exact: true }).getByLabel('+ Etiqueta').selectOption({ label: 'Urgente' });
  await card.getByText('Urgente').waitFor();

  const box = view.locator('#reply-text');
  await box.fill('/cordial');
  await view.getByRole('option', { name: /Saludo cordial/ }).waitFor();
  await box.press('Enter');
  const first = ticket.contact.name.split(/\s+/)[0];
  assert.equal(await box.inputValue(), `Hola ${first}, te escribe Carolina.`);
});

test('labels merge into another and are deleted with their ticket counts said first', async () => {
  const urgent = (await admin('GET', '/api/v1/labels')).items.find((l) => l.name === 'Urgente');
  const dup = await admin('POST', '/api/v1/labels', { name: 'urgente!!' });
  const open = (await admin('GET', '/api/v1/tickets?state=open&limit=3')).items;
  for (const tk of open.slice(1)) await admin('PATCH', `/api/v1/tickets/${tk.number}`, { labels: [dup.id] });
  await page.goto(`${server.url}/#/admin/etiquetas`);
  const labels = page.getByRole('region', { name: 'Etiquetas' });
  await labels.locator(`tr[data-label="${dup.id}"]`).getByRole('cell', { name: '2', exact: true }).waitFor();
  await labels.getByRole('button', { name: 'Fusionar la etiqueta urgente!!' }).click();
  const dialog = page.getByRole('dialog', { name: 'Fusionar «urgente!!»' });
  await dialog.getByLabel('En la etiqueta').selectOption(urgent.id);
  await dialog.getByRole('button', { name: 'Fusionar' }).click();
  await labels.getByRole('status').getByText('«urgente!!» se fusionó en «Urgente» (2 tickets).').waitFor();
  await labels.locator(`tr[data-label="${urgent.id}"]`).getByRole('cell', { name: '3', exact: true }).waitFor();
  for (const tk of open.slice(1)) {
    assert.deepEqual((await admin('GET', `/api/v1/tickets/${tk.number}`)).labels, [urgent.id]);
  }
  await labels.getByRole('button', { name: 'Eliminar la etiqueta Urgente' }).click();
  const confirm = page.getByRole('dialog', { name: '¿Eliminar «Urgente»?' });
  await confirm.getByText('3 tickets la tienen').waitFor();
  await confirm.getByRole('button', { name: 'Eliminar' }).click();
  await labels.getByRole('status').getByText('Etiqueta Urgente eliminada.').waitFor();
  assert.deepEqual((await admin('GET', `/api/v1/tickets/${open[1].number}`)).labels, []);
  assert.deepEqual(page.errors, []);
});

test('mass actions: picked cards get a label (undone), then every ticket of the column is closed at once', async () => {
  const acc = await admin('POST', '/api/v1/accounts', { kind: 'api', name: 'Concurso' });
  for (let i = 0; i < 6; i++) {
    await admin('POST', `/api/v1/accounts/${acc.id}/inbound`, { external_id: `concurso-${i}`, contact: { external_id: `p${i}`, name: `Participante ${i}` }, text: 'participo' });
  }
  const label = await admin('POST', '/api/v1/labels', { name: 'Concurso', color: '#8e44ad' });
  await admin('PUT', '/api/v1/me/board', { columns: [{ id: 'concurso', name: 'Concurso', filters: { state: 'open', account: acc.id } }] });
  await page.goto(`${server.url}/#/`);
  await page.reload();
  const column = page.getByRole('region', { name: 'Concurso' });
  const cards = column.locator('.card');
  await cards.nth(5).waitFor();
  await column.getByRole('button', { name: 'Seleccionar tarjetas' }).click();
  // A click picks a card (it does not open it); a shift-click picks the range.
  await cards.nth(0).click();
  await cards.nth(2).click({ modifiers: ['Shift'] });
  const bar = column.getByRole('toolbar', { name: 'Acciones masivas' });
  await bar.getByText('3 seleccionados').waitFor();
  assert.equal(page.url().includes('#/t/'), false, 'no ticket opened');
  await bar.getByLabel('+ Etiqueta…').selectOption({ label: 'Concurso' });
  await bar.getByRole('status').getByText('Etiqueta agregada a 3 tickets.').waitFor();
  await column.locator('.card', { hasText: 'Concurso' }).nth(2).waitFor();
  assert.equal(await column.locator('.card .label', { hasText: 'Concurso' }).count(), 3);
  await bar.getByRole('button', { name: 'Deshacer' }).click();
  await bar.getByRole('status').getByText('Deshecho.').waitFor();
  await column.locator('.card .label').first().waitFor({ state: 'detached' });
  // Every ticket the column matches, in one call, with a final sentiment.
  await bar.getByRole('button', { name: 'Seleccionar todos los de esta columna' }).click();
  await bar.getByText('Todos los tickets de esta columna').waitFor();
  await bar.getByLabel('Sentimiento final…').selectOption('neutral');
  await bar.getByRole('button', { name: 'Cerrar' }).click();
  await bar.getByRole('status').getByText('6 tickets cerrados.').waitFor();
  await column.getByText('No hay tickets aquí.').or(column.locator('.empty')).first().waitFor();
  const left = await admin('GET', `/api/v1/tickets?state=open&account=${acc.id}`);
  assert.equal(left.items.length, 0);
  const closed = await admin('GET', `/api/v1/tickets?state=closed&account=${acc.id}`);
  assert.ok(closed.items.every((tk) => tk.sentiment_final === 'neutral'));
  assert.equal(label.name, 'Concurso');
  assert.deepEqual(page.errors, []);
});

test('a contact form\'s subject names its ticket, on the card and in the ticket', async () => {
  const form = (await admin('GET', '/api/v1/accounts')).items.find((a) => a.kind === 'form');
  const sent = await (await fetch(`${server.url}/api/v1/forms/${form.id}/submissions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Marta Soto', email: 'marta@cliente.test', subject: 'Cambio de talla', message: 'Quiero una talla M.' }),
  })).json();
  await admin('PUT', '/api/v1/me/board', { columns: [{ id: 'formulario', name: 'Formulario', filters: { state: 'open', account: form.id } }] });
  await page.goto(`${server.url}/#/t/${sent.ticket_number}`);
  await page.reload();
  const view = page.getByRole('complementary', { name: new RegExp(`#${sent.ticket_number}`) });
  await view.locator('.ticket-subject', { hasText: 'Cambio de talla' }).waitFor();
  await page.locator(`.card[data-number="${sent.ticket_number}"]`).first().locator('.subject', { hasText: 'Cambio de talla' }).waitFor();
});

test('a merge asks first with both tickets, keeps the current assignee, can be undone, and leaves the merged ticket read-only', async () => {
  const chat = (await admin('GET', '/api/v1/accounts')).items.find((a) => a.kind === 'webchat');
  const write = async (id, text) => (await admin('POST', `/api/v1/accounts/${chat.id}/inbound`, {
    external_id: `fusion-${id}`, contact: { external_id: 'fusion-cliente', name: 'Fusión Prueba' }, text,
  })).ticket_number;
  const old = await write(1, 'Mi pedido no llega');
  await admin('PATCH', `/api/v1/tickets/${old}`, { state: 'closed' });
  const current = await write(2, 'Sigue sin llegar el pedido');
  const users = (await admin('GET', '/api/v1/users')).items;
  const luis = users.find((u) => u.name === 'Luis Navarro');
  const carolina = users.find((u) => u.name === 'Carolina Reyes');
  await admin('PATCH', `/api/v1/tickets/${old}`, { assignee_id: luis.id });
  await admin('PATCH', `/api/v1/tickets/${current}`, { assignee_id: carolina.id });
  await page.goto(`${server.url}/#/t/${current}`);
  const view = page.getByRole('complementary', { name: new RegExp(`#${current}`) });
  const merge = async () => {
    await view.getByRole('button', { name: 'Fusionar', exact: true }).click();
    await page.getByRole('dialog').getByRole('button', { name: new RegExp(`#${old}`) }).click();
    const ask = page.getByRole('dialog', { name: `¿Fusionar #${current} en #${old}?` });
    await ask.getByText('Sigue sin llegar el pedido').waitFor();
    await ask.getByText('Mi pedido no llega').waitFor();
    assert.equal(await ask.getByLabel('Queda asignado a').inputValue(), carolina.id);
    await ask.getByRole('button', { name: `Fusionar en #${old}` }).click();
  };
  // Undone within its seconds: nothing happens.
  await merge();
  const notice = page.getByRole('status').filter({ hasText: `#${current} se fusionará en #${old}` });
  await notice.getByRole('button', { name: 'Deshacer' }).click();
  await notice.waitFor({ state: 'detached' });
  await new Promise((r) => setTimeout(r, 6500));
  assert.equal((await admin('GET', `/api/v1/tickets/${current}`)).merged_into, null);
  // Done: the conversation goes on in the survivor, with the agent who had it.
  await merge();
  const survivor = page.getByRole('complementary', { name: new RegExp(`#${old}`) });
  await survivor.getByText('Sigue sin llegar el pedido').waitFor({ timeout: 15000 });
  await survivor.getByText('Mi pedido no llega').waitFor();
  assert.equal((await admin('GET', `/api/v1/tickets/${old}`)).assignee_id, carolina.id);
  assert.equal((await admin('GET', `/api/v1/tickets/${current}`)).merged_into, old);
  // The merged ticket: read-only, pointing to the survivor.
  await page.goto(`${server.url}/#/t/${current}`);
  const merged = page.getByRole('complementary', { name: new RegExp(`#${current}`) });
  await merged.getByRole('link', { name: `#${old}` }).waitFor();
  assert.equal(await merged.locator('#reply-text').count(), 0);
  assert.equal(await merged.getByRole('button', { name: 'Fusionar', exact: true }).count(), 0);
  assert.deepEqual(page.errors, []);
});

test('a customer with a known RUT arrives on another channel and is linked; the same email is proposed and linked in Omnicanal', async () => {
  const chat = (await admin('GET', '/api/v1/accounts')).items.find((a) => a.kind === 'webchat');
  const other = await admin('POST', '/api/v1/accounts', { kind: 'api', name: 'Tienda en línea' });
  const third = await admin('POST', '/api/v1/accounts', { kind: 'api', name: 'Marketplace' });
  const write = async (acc, id, contact, text) => (await admin('POST', `/api/v1/accounts/${acc.id}/inbound`, { external_id: id, contact, text })).ticket_number;
  const first = await write(chat, 'iden-1', { external_id: 'iden-chat', name: 'Identidad Uno', rut: '11.111.111-1', email: 'iden@cliente.test' }, 'Hola desde el chat');
  const second = await write(other, 'iden-2', { external_id: 'iden-tienda', name: 'I. Uno', rut: '111111111' }, 'Hola desde la tienda');
  const thirdTicket = await write(third, 'iden-3', { external_id: 'iden-mkt', name: 'Identidad', email: 'IDEN@cliente.test' }, 'Hola desde el marketplace');
  // The RUT made them one person at once.
  await page.goto(`${server.url}/#/t/${second}`);
  let view = page.getByRole('complementary', { name: new RegExp(`#${second}`) });
  await view.getByRole('tab', { name: 'Omnicanal' }).click();
  await view.locator('.linked').getByText('Identidad Uno').waitFor();
  await view.getByRole('tab', { name: 'Anteriores' }).click();
  await view.locator('.previous').getByRole('link', { name: `#${first}` }).waitFor();
  // The same email: proposed, linked with one click.
  await page.goto(`${server.url}/#/t/${thirdTicket}`);
  view = page.getByRole('complementary', { name: new RegExp(`#${thirdTicket}`) });
  await view.getByRole('tab', { name: 'Omnicanal' }).click();
  const dups = view.getByRole('region', { name: 'Posibles duplicados' });
  await dups.getByText('mismo correo').waitFor();
  await dups.getByRole('button', { name: 'Vincular' }).click();
  await view.getByText('quedó vinculado').waitFor();
  await dups.waitFor({ state: 'detached' });
  await view.locator('.linked').getByText('I. Uno').waitFor();
  await view.getByRole('tab', { name: 'Anteriores' }).click();
  await view.locator('.previous').getByRole('link', { name: `#${second}` }).waitFor();
  // One linked by mistake is taken out.
  await view.getByRole('tab', { name: 'Omnicanal' }).click();
  await view.getByRole('button', { name: 'Desvincular a I. Uno' }).click();
  await view.getByText('I. Uno ya no está vinculado.').waitFor();
  assert.equal(await view.locator('.linked').getByText('I. Uno').count(), 0);
  assert.deepEqual(page.errors, []);
});

test('an agent edits the customer: a wrong RUT is refused in Spanish, notes are kept, an influencer\'s open ticket becomes important', async () => {
  const chat = (await admin('GET', '/api/v1/accounts')).items.find((a) => a.kind === 'webchat');
  const n = (await admin('POST', `/api/v1/accounts/${chat.id}/inbound`, {
    external_id: 'editar-1', contact: { external_id: 'editar-cliente', name: 'cliente sin nombre' }, text: 'Hola',
  })).ticket_number;
  await page.goto(`${server.url}/#/t/${n}`);
  const view = page.getByRole('complementary', { name: new RegExp(`#${n}`) });
  await view.getByRole('tab', { name: 'Cliente' }).click();
  await view.getByRole('button', { name: 'Editar cliente' }).click();
  const form = view.getByRole('form', { name: 'Editar cliente' });
  await form.getByLabel('Nombre').fill('Valentina Rojas');
  await form.getByLabel('RUT').fill('15.555.555-5');
  await form.getByRole('button', { name: 'Guardar' }).click();
  await form.getByRole('alert').getByText('El RUT no es válido').waitFor();
  await form.getByLabel('RUT').fill('15.555.555-6');
  await form.getByLabel('Notas').fill('Prefiere que la llamen en la tarde.');
  await form.getByRole('button', { name: 'Guardar' }).click();
  await view.getByText('15.555.555-6').waitFor();
  await view.getByText('Prefiere que la llamen en la tarde.').waitFor();
  const contact = (await admin('GET', `/api/v1/tickets/${n}`)).contact;
  const stored = await admin('GET', `/api/v1/contacts/${contact.id}`);
  assert.equal(stored.rut, '15555555-6');
  assert.equal(stored.name, 'Valentina Rojas');
  // Influencer: her open ticket is important from now on.
  await view.getByLabel('Influenciador').check();
  await view.getByRole('button', { name: /Quitar importante/ }).waitFor();
  assert.equal((await admin('GET', `/api/v1/tickets/${n}`)).important, true);
  assert.deepEqual(page.errors.filter((e) => !e.includes('422')), []);
});

test('Contactos lists and finds customers; a customer\'s page shows their profile and tickets', async () => {
  await page.goto(`${server.url}/#/`);
  await page.getByRole('link', { name: 'Contactos' }).click();
  const main = page.getByRole('main', { name: 'Contactos' });
  await main.locator('tbody tr').first().waitFor();
  // The demo has other people of that name: her RUT is hers alone.
  await main.getByLabel('Buscar clientes').fill('15.555.555-6');
  await main.getByRole('button', { name: 'Buscar' }).click();
  await main.locator('tbody tr').filter({ hasText: '15.555.555-6' }).getByRole('link', { name: 'Valentina Rojas' }).click();
  const customer = page.getByRole('main', { name: 'Cliente' });
  await customer.getByText('15.555.555-6').waitFor();
  await customer.getByText('Prefiere que la llamen en la tarde.').waitFor();
  const tickets = customer.getByRole('region', { name: 'Tickets' });
  const link = tickets.getByRole('link').first();
  const number = (await link.textContent()).replace('#', '');
  await link.click();
  await page.getByRole('complementary', { name: new RegExp(`#${number}`) }).waitFor();
  assert.deepEqual(page.errors.filter((e) => !e.includes('422')), []);
});
