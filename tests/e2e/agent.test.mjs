// An agent's day in a real browser: sign in, make a column, see a new message arrive live,
// answer it with a canned response and a file, comment with an @mention, mark it important,
// close it with a final sentiment, search by RUT, switch to English. No console errors.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { apiAs, launchBrowser, newPage, signIn, startServer } from './server.mjs';

const SHOTS = process.env.ATIENDE_SCREENSHOTS; // a directory: also save the README screenshots
let server;
let browser;
let page;
let admin;
let chat;
let ticketNumber;

const shot = async (name) => { if (SHOTS) await page.screenshot({ path: join(SHOTS, `${name}.png`) }); };
const column = (name) => page.locator(`section.column[aria-label="${name}"]`);

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  page = await newPage(browser);
  admin = await apiAs(server.url, 'admin@demo.atiende.cl', 'demo-admin');
  const accounts = await admin('GET', '/api/v1/accounts');
  // A channel that answers (the demo's WhatsApp account is a sample of a channel still to come).
  chat = accounts.items.find((a) => a.kind === 'webchat');
  assert.ok(chat, 'the demo has a web chat account');
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('sign-in page shows the latest updates and signs the agent in', async () => {
  await page.goto(server.url);
  await page.getByRole('heading', { name: 'Iniciar sesión' }).waitFor();
  await page.locator('.updates li').first().waitFor(); // the changelog entries are listed
  await shot('login-es');
  await signIn(page, 'ana@demo.atiende.cl', 'demo-agente');
  await page.locator('.card').first().waitFor();
});

test('creates a column with filters, saved on the server', async () => {
  await page.getByRole('button', { name: '+ Agregar columna' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('Nombre de la columna').fill('Chat web abiertos');
  await dialog.getByRole('group', { name: 'Cuenta' }).getByLabel(chat.name).check();
  await dialog.getByLabel('Orden', { exact: true }).selectOption('updated_desc');
  await dialog.getByRole('button', { name: 'Guardar' }).click();
  await column('Chat web abiertos').locator('.card').first().waitFor();
  const ana = await apiAs(server.url, 'ana@demo.atiende.cl', 'demo-agente');
  const board = await ana('GET', '/api/v1/me/board');
  const saved = board.columns.find((c) => c.name === 'Chat web abiertos');
  assert.deepEqual(saved.filters, { account: chat.id, state: 'open' });
  // Every card in the column is an open web chat ticket.
  const channels = await column('Chat web abiertos').locator('.card .account').allTextContents();
  assert.ok(channels.length > 0 && channels.every((c) => c === chat.name), channels.join(', '));
});

test('creates a column of single messages', async () => {
  await page.getByRole('button', { name: '+ Agregar columna' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('Nombre de la columna').fill('Mensajes entrantes');
  await dialog.getByLabel('Mensajes sueltos').check();
  await dialog.getByLabel('Dirección').selectOption('inbound');
  await dialog.getByRole('button', { name: 'Guardar' }).click();
  const col = column('Mensajes entrantes');
  await col.locator('.card').first().waitFor();
  const who = await col.locator('.card .card-bottom .muted').allTextContents();
  assert.ok(who.every((w) => w.startsWith('Del cliente')), who.join(', '));
});

test('columns load more cards as they scroll (cursor pagination)', async () => {
  const cards = column('Todos los abiertos').locator('.card');
  await cards.first().waitFor();
  assert.equal(await cards.count(), 30, 'one page at first');
  await column('Todos los abiertos').locator('.cards').evaluate((el) => { el.scrollTop = el.scrollHeight; });
  await cards.nth(30).waitFor();
  const numbers = await cards.evaluateAll((els) => els.map((e) => e.dataset.number));
  assert.equal(new Set(numbers).size, numbers.length, 'no card twice');
  await column('Todos los abiertos').getByRole('button', { name: 'Volver arriba' }).click();
});

test('a new inbound message shows as "1 nueva interacción" and is applied on click', async () => {
  const col = column('Chat web abiertos');
  const before = await col.locator('.card').count();
  const r = await admin('POST', `/api/v1/accounts/${chat.id}/inbound`, {
    external_id: `e2e-${Date.now()}`,
    contact: { external_id: 'e2e-rut-prueba', name: 'Rut Prueba', phone: '+56911112222', rut: '12.345.678-5' },
    text: 'Hola, necesito ayuda con mi pedido 4455',
  });
  ticketNumber = r.ticket_number;
  const bar = col.getByRole('button', { name: '1 nueva interacción' });
  await bar.waitFor({ timeout: 10000 });
  // One message is one interaction in every column it lands in (the ticket it pushes off the
  // first page is not counted).
  await column('Todos los abiertos').getByRole('button', { name: '1 nueva interacción' }).waitFor();
  const messages = column('Mensajes entrantes');
  await messages.getByRole('button', { name: '1 nueva interacción' }).click();
  await messages.locator('.card').first().getByText('Hola, necesito ayuda con mi pedido 4455').waitFor();
  // Not applied until clicked: the list does not move under the agent.
  assert.equal(await col.locator(`.card[data-number="${ticketNumber}"]`).count(), 0);
  assert.equal(await col.locator('.card').count(), before);
  await shot('board-es');
  await bar.click();
  await col.locator(`.card[data-number="${ticketNumber}"]`).waitFor();
  assert.equal(await col.getByRole('button', { name: /nueva/ }).count(), 0);
});

test('replies with a canned response picked with / and an attached file', async () => {
  await column('Chat web abiertos').locator(`.card[data-number="${ticketNumber}"]`).click();
  const view = page.locator('aside.ticket');
  await view.getByRole('heading', { name: `#${ticketNumber} · Rut Prueba` }).waitFor();
  await view.getByText('Hola, necesito ayuda con mi pedido 4455').waitFor();
  const box = view.getByLabel('Respuesta al cliente');
  await box.click();
  await box.pressSequentially('/hol');
  await view.getByRole('option', { name: /Saludo/ }).waitFor();
  await box.press('Enter');
  assert.match(await box.inputValue(), /^¡Hola Rut Prueba! Gracias por escribirnos/);
  await view.locator('[data-testid="attach-input"]').setInputFiles({
    name: 'boleta.txt', mimeType: 'text/plain', buffer: Buffer.from('Boleta 4455: $19.990'),
  });
  await view.getByText('📎 boleta.txt').waitFor();
  await view.getByRole('button', { name: 'Enviar' }).click();
  const sent = view.locator('.message.outbound').last();
  await sent.getByText(/¡Hola Rut Prueba!/).waitFor();
  await sent.getByRole('link', { name: /boleta\.txt/ }).waitFor();
  const msgs = await admin('GET', `/api/v1/tickets/${ticketNumber}/messages`);
  const last = msgs.items.at(-1);
  assert.equal(last.direction, 'outbound');
  assert.equal(last.attachments[0].name, 'boleta.txt');
  await shot('ticket-es');
});

test('shows who else is viewing and typing in the ticket', async () => {
  const paula = await newPage(browser);
  await paula.goto(server.url);
  await signIn(paula, 'supervisora@demo.atiende.cl', 'demo-supervisora');
  await paula.goto(`${server.url}/#/t/${ticketNumber}`);
  const view = page.locator('aside.ticket');
  await view.getByText('Paula Vergara también está viendo este ticket').waitFor();
  // And Paula sees Ana, who was there first.
  await paula.locator('aside.ticket').getByText('Ana Castillo también está viendo este ticket').waitFor();
  await paula.locator('aside.ticket').getByLabel('Respuesta al cliente').pressSequentially('Hola');
  await view.getByText('Paula Vergara está escribiendo…').waitFor();
  // Back to her board: she leaves the ticket, and Ana sees it at once.
  await paula.keyboard.press('Escape'); // leaves the reply box
  await paula.keyboard.press('Escape'); // closes the ticket
  await paula.locator('aside.ticket').waitFor({ state: 'detached' });
  await view.locator('.presence').waitFor({ state: 'detached' });
  assert.deepEqual(paula.errors, []);
  await paula.context().close();
});

test('adds an internal comment with an @mention, which lights the colleague\'s bell live', async () => {
  const luisPage = await newPage(browser);
  await luisPage.goto(server.url);
  await signIn(luisPage, 'luis@demo.atiende.cl', 'demo-agente');
  await luisPage.locator('.bell-button').waitFor();
  // His preferences, in Mi perfil: no mail for mentions and no sound; the bell still lights.
  await luisPage.goto(`${server.url}/#/perfil`);
  const prefs = luisPage.getByRole('region', { name: 'Notificaciones' });
  await prefs.getByLabel('Recibir un correo cuando me mencionan').uncheck();
  await prefs.getByText('Guardado.').waitFor();
  await prefs.getByLabel('Sonar cuando llega una notificación').uncheck();
  const luisApi = await apiAs(server.url, 'luis@demo.atiende.cl', 'demo-agente');
  const wanted = { mention_email: false, assigned_email: true, sla_email: true, sound: false };
  for (let i = 0; i < 50 && JSON.stringify((await luisApi('GET', '/api/v1/me')).notify) !== JSON.stringify(wanted); i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.deepEqual((await luisApi('GET', '/api/v1/me')).notify, wanted);
  // Kept: a reload shows them as chosen.
  await luisPage.reload();
  assert.equal(await prefs.getByLabel('Recibir un correo cuando me mencionan').isChecked(), false);
  assert.equal(await prefs.getByLabel('Recibir un correo cuando alguien me asigna un ticket').isChecked(), true);
  await luisPage.goto(server.url);
  await luisPage.locator('.bell-button').waitFor();
  const view = page.locator('aside.ticket');
  await view.getByRole('tab', { name: 'Comentarios' }).click();
  const box = view.getByLabel('Comentario interno');
  await box.click();
  await box.pressSequentially('Luis, revisa el pedido por favor @Lu');
  await view.getByRole('option', { name: '@Luis Navarro' }).click();
  await view.getByRole('button', { name: 'Comentar' }).click();
  await view.locator('.comment').getByText(/@Luis Navarro/).waitFor();
  const users = await admin('GET', '/api/v1/users');
  const luis = users.items.find((u) => u.name === 'Luis Navarro');
  const comments = await admin('GET', `/api/v1/tickets/${ticketNumber}/comments`);
  assert.deepEqual(comments.items.at(-1).mentions, [luis.id]);
  // Luis did nothing: his bell counts it, says who and where, and opens the ticket.
  const bell = luisPage.getByRole('button', { name: /^Notificaciones: \d+ sin leer/ });
  await bell.click();
  const item = luisPage.getByRole('region', { name: 'Notificaciones' }).getByRole('button', { name: new RegExp(`te mencionó en #${ticketNumber}`) });
  await item.getByText('revisa el pedido').waitFor();
  if (SHOTS) await luisPage.screenshot({ path: join(SHOTS, 'bell-es.png') });
  await item.click();
  await luisPage.locator('aside.ticket').waitFor();
  const mine = await luisApi('GET', '/api/v1/me/notifications');
  assert.equal(mine.items.find((n) => n.ticket_number === ticketNumber && n.kind === 'mention').read, true);
  assert.deepEqual(luisPage.errors, []);
  await luisPage.context().close();
});

test('marks the ticket important and closes it with a final sentiment', async () => {
  const view = page.locator('aside.ticket');
  await view.getByRole('button', { name: /Marcar importante/ }).click();
  await view.getByRole('button', { name: /Quitar importante/ }).waitFor();
  await view.getByRole('button', { name: 'Cerrar', exact: true }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Positivo' }).click();
  await view.locator('.ticket-title .state', { hasText: 'Cerrado' }).waitFor();
  const t = await admin('GET', `/api/v1/tickets/${ticketNumber}`);
  assert.equal(t.important, true);
  assert.equal(t.state, 'closed');
  assert.equal(t.sentiment_final, 'positive');
});

test('searches by RUT written with dots', async () => {
  await page.evaluate(() => document.activeElement?.blur());
  await page.keyboard.press('Escape');
  await page.locator('aside.ticket').waitFor({ state: 'detached' });
  await page.keyboard.press('/');
  await page.keyboard.type('12.345.678-5');
  const results = page.getByRole('listbox', { name: 'Resultados de búsqueda' });
  await results.getByRole('option', { name: new RegExp(`#${ticketNumber} Rut Prueba`) }).waitFor();
  await results.getByText('RUT 12.345.678-5').waitFor();
  // What is typed can be read: dark text on the white box (it once was white on white).
  const [ink, paper] = await page.locator('#search').evaluate((el) => [getComputedStyle(el).color, getComputedStyle(el).backgroundColor]);
  assert.notEqual(ink, paper);
  assert.equal(paper, 'rgb(255, 255, 255)');
  // Enter opens the newest ticket of the RUT typed.
  await page.keyboard.press('Enter');
  await page.getByRole('complementary', { name: new RegExp(`#${ticketNumber}`) }).waitFor();
  await page.evaluate(() => document.activeElement?.blur());
  await page.keyboard.press('Escape');
  await page.locator('aside.ticket').waitFor({ state: 'detached' });
  // Part of a name, as one types, finds the customer; text shows the matching words marked.
  await page.keyboard.press('/');
  await page.keyboard.type('Rut Prue');
  await results.getByRole('option', { name: new RegExp(`#${ticketNumber} Rut Prueba`) }).waitFor();
  await page.locator('#search').fill('');
  await page.keyboard.type('pedido');
  await results.locator('mark', { hasText: /pedido/i }).first().waitFor();
  await page.keyboard.press('Escape');
});

test('switching the language to English shows the board in English', async () => {
  await page.getByLabel('Idioma').selectOption('en');
  await page.getByRole('button', { name: '+ Add column' }).waitFor();
  await page.getByRole('heading', { name: 'My tickets' }).waitFor();
  assert.ok(await page.getByRole('button', { name: 'Sign out' }).isVisible());
  const ana = await apiAs(server.url, 'ana@demo.atiende.cl', 'demo-agente');
  assert.equal((await ana('GET', '/api/v1/me')).language, 'en');
  assert.equal(await page.locator('aside.ticket').count(), 0);
  await shot('board-en');
  await page.goto(`${server.url}/#/t/${ticketNumber}`);
  await page.locator('aside.ticket').getByText('Closed', { exact: true }).first().waitFor();
  await page.locator('aside.ticket').getByRole('tab', { name: 'Customer' }).waitFor();
  await shot('ticket-en');
});

test('keyboard: ? lists the shortcuts, j moves between cards, Enter opens, Esc goes back', async () => {
  await page.goto(`${server.url}/#/`);
  await page.locator('.card').first().waitFor();
  await page.keyboard.press('?');
  await page.getByRole('dialog', { name: 'Keyboard shortcuts' }).waitFor();
  await page.keyboard.press('Escape');
  await page.getByRole('dialog').waitFor({ state: 'detached' });
  await page.keyboard.press('j');
  await page.keyboard.press('j');
  const second = await page.locator('.card').nth(1).getAttribute('data-number');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.number), second);
  await page.keyboard.press('Enter');
  await page.locator('aside.ticket').getByRole('heading', { name: new RegExp(`^#${second} `) }).waitFor();
  await page.keyboard.press('r');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'reply-text');
  await page.locator('body').click({ position: { x: 5, y: 500 } });
  await page.keyboard.press('Escape');
  await page.locator('aside.ticket').waitFor({ state: 'detached' });
});

test('at 1280 px the column of the card opened stays in sight beside the ticket, and j moves within it', async () => {
  await page.setViewportSize({ width: 1280, height: 1024 });
  await page.goto(`${server.url}/#/`);
  const columns = page.locator('section.column');
  await columns.first().locator('.card').first().waitFor();
  const last = columns.nth((await columns.count()) - 1);
  await last.locator('.card').first().waitFor();
  const number = await last.locator('.card').first().getAttribute('data-number');
  await last.locator('.card').first().click();
  const panel = page.locator('aside.ticket');
  await panel.getByRole('heading', { name: new RegExp(`^#${number} `) }).waitFor();
  await page.waitForFunction(() => {
    const col = document.querySelector('.card.active')?.closest('.column')?.getBoundingClientRect();
    const aside = document.querySelector('aside.ticket')?.getBoundingClientRect();
    return col && aside && col.left >= 0 && col.right <= aside.left + 1;
  });
  await page.evaluate(() => document.activeElement?.blur());
  await page.keyboard.press('j');
  const moved = await page.evaluate(() => {
    const card = document.activeElement;
    const aside = document.querySelector('aside.ticket').getBoundingClientRect();
    const r = card.getBoundingClientRect();
    return { inColumn: card.closest('.column') === document.querySelector('.card.active').closest('.column'), visible: r.left >= 0 && r.right <= aside.left + 1 };
  });
  assert.deepEqual(moved, { inColumn: true, visible: true });
  await page.keyboard.press('Escape');
  await page.setViewportSize({ width: 1440, height: 900 });
});

// The app speaks English since the language test.
test('a draft reply keeps its text, file and reply-to across tickets and reloads, and goes only when discarded', async () => {
  const write = async (id, name, text) => (await admin('POST', `/api/v1/accounts/${chat.id}/inbound`, {
    external_id: `draft-${id}-${Date.now()}`, contact: { external_id: `draft-${id}`, name }, text,
  })).ticket_number;
  const a = await write('a', 'Borrador Uno', 'Necesito cambiar la dirección de despacho');
  const b = await write('b', 'Borrador Dos', 'Consulta por stock');
  // A column that holds both, to see the draft's mark on the card.
  const ana = await apiAs(server.url, 'ana@demo.atiende.cl', 'demo-agente');
  await ana('PUT', '/api/v1/me/board', { columns: [{ id: 'borradores', name: 'Borradores', filters: { state: 'open', q: 'Borrador' } }] });
  await page.goto(`${server.url}/#/t/${a}`);
  await page.reload();
  const viewOf = (n) => page.getByRole('complementary', { name: new RegExp(`#${n}`) });
  let view = viewOf(a);
  await view.getByText('Necesito cambiar la dirección').waitFor();
  await view.getByRole('button', { name: 'Reply to this' }).first().click();
  const box = view.locator('#reply-text');
  await box.fill('Hola, ¿a qué dirección la cambiamos?');
  await view.locator('[data-testid="attach-input"]').setInputFiles({ name: 'mapa.txt', mimeType: 'text/plain', buffer: Buffer.from('Av. Siempre Viva 742') });
  await view.getByText('📎 mapa.txt').waitFor();
  // Another ticket, then back: all of it is there.
  await page.goto(`${server.url}/#/t/${b}`);
  await viewOf(b).getByText('Consulta por stock').waitFor();
  assert.equal(await viewOf(b).locator('#reply-text').inputValue(), '');
  await page.goto(`${server.url}/#/t/${a}`);
  view = viewOf(a);
  assert.equal(await view.locator('#reply-text').inputValue(), 'Hola, ¿a qué dirección la cambiamos?');
  await view.getByText('📎 mapa.txt').waitFor();
  await view.locator('.replying').getByText('Necesito cambiar la dirección').waitFor();
  // A reload keeps it too; Esc leaves it, and its card says there is a draft.
  await page.reload();
  view = viewOf(a);
  assert.equal(await view.locator('#reply-text').inputValue(), 'Hola, ¿a qué dirección la cambiamos?');
  await view.getByText('📎 mapa.txt').waitFor();
  await page.evaluate(() => document.activeElement?.blur());
  await page.keyboard.press('Escape');
  await view.waitFor({ state: 'detached' });
  await page.locator(`.card[data-number="${a}"]`).first().locator('.draft-mark').waitFor();
  // Discarding asks first; keeping writing keeps it.
  await page.goto(`${server.url}/#/t/${a}`);
  view = viewOf(a);
  await view.getByRole('button', { name: 'Discard draft' }).click();
  const ask = page.getByRole('dialog', { name: 'Discard the draft?' });
  await ask.getByText('the attached file').waitFor();
  await ask.getByRole('button', { name: 'Keep writing' }).click();
  assert.equal(await view.locator('#reply-text').inputValue(), 'Hola, ¿a qué dirección la cambiamos?');
  await view.getByRole('button', { name: 'Discard draft' }).click();
  await ask.getByRole('button', { name: 'Discard draft' }).click();
  assert.equal(await view.locator('#reply-text').inputValue(), '');
  assert.equal(await view.getByText('📎 mapa.txt').count(), 0);
  assert.equal(await view.locator('.replying').count(), 0);
  await page.reload();
  assert.equal(await viewOf(a).locator('#reply-text').inputValue(), '');
  await page.evaluate(() => document.activeElement?.blur());
  await page.keyboard.press('Escape');
});

test('no console errors in the whole run', async () => {
  if (SHOTS) {
    const login = await newPage(browser, { locale: 'en-US' });
    await login.goto(server.url);
    await login.getByRole('heading', { name: 'Sign in' }).waitFor();
    await login.screenshot({ path: join(SHOTS, 'login-en.png') });
    await login.context().close();
  }
  assert.deepEqual(page.errors, []);
});
