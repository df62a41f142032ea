// The web chat in real browsers: a shop's page on another origin (with its own CSP) embeds the
// widget; a visitor fills the pre-chat form and writes; an agent sees it live, types and
// answers; the visitor sees both; an oversize file is refused; a reload keeps the
// conversation. Then the walls: another visitor reads nothing of it, a site that is not
// allowed cannot open the chat, and a script cannot open chats without end.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { apiAs, launchBrowser, newPage, signIn, startServer } from './server.mjs';

let server;
let browser;
let shop;
let admin;
let chatAccount;
let visitor;
let agent;
let ticketNumber;
let visitorToken;
let fileUrl;

/** The shop's site: one page with the widget's script tag, under a strict CSP. */
function startShop(atiende, account) {
  const ws = atiende.replace(/^http/, 'ws');
  const srv = createServer((req, res) => {
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': `default-src 'self'; script-src ${atiende}; connect-src ${ws} ${atiende}; img-src ${atiende} data:; style-src 'self'`,
    });
    res.end(`<!doctype html><html lang="es"><head><meta charset="utf-8"><title>Tienda</title></head>
      <body><h1>Tienda de prueba</h1><p>Poleras y más.</p>
      <script src="${atiende}/widget.js" data-account="${account}" async></script></body></html>`);
  });
  return new Promise((ok) => srv.listen(0, '127.0.0.1', () => {
    const port = srv.address().port;
    ok({ url: `http://localhost:${port}`, otherOrigin: `http://127.0.0.1:${port}`, close: () => srv.close() });
  }));
}

const widget = (page) => page.locator('[data-atiende-chat]');

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  admin = await apiAs(server.url, 'admin@demo.atiende.cl', 'demo-admin');
  chatAccount = (await admin('GET', '/api/v1/accounts')).items.find((a) => a.kind === 'webchat');
  shop = await startShop(server.url, chatAccount.id);
  await admin('PATCH', `/api/v1/accounts/${chatAccount.id}`, {
    settings: { allowed_origins: [shop.url], max_file_kb: 1, welcome: '¡Hola! ¿En qué te ayudamos?' },
  });
  visitor = await newPage(browser);
  agent = await newPage(browser);
});

after(async () => {
  await browser?.close();
  await server?.stop();
  shop?.close();
});

test('a visitor chats with an agent who answers live', async () => {
  await agent.goto(server.url);
  await signIn(agent, 'admin@demo.atiende.cl', 'demo-admin');

  await visitor.goto(shop.url);
  const w = widget(visitor);
  await w.getByRole('button', { name: 'Abrir chat' }).click();
  await w.getByLabel('Nombre').fill('Visitante Prueba');
  await w.getByLabel(/Correo/).fill('visitante@cliente.test');
  await w.getByLabel('RUT (opcional)').fill('12.345.678-9');
  await w.getByRole('button', { name: 'Comenzar' }).click();
  await w.getByRole('alert').filter({ hasText: 'El RUT no es válido.' }).waitFor();
  await w.getByLabel('RUT (opcional)').fill('12.345.678-5');
  await w.getByRole('button', { name: 'Comenzar' }).click();
  await w.getByText('¡Hola! ¿En qué te ayudamos?').waitFor();
  await w.getByLabel('Escribe tu mensaje…').fill('¿Tienen la polera azul en talla M?');
  await w.getByRole('button', { name: 'Enviar' }).click();
  await w.locator('li.inbound').filter({ hasText: 'polera azul' }).waitFor();

  // The agent's board learns of it live.
  const col = agent.locator('section.column').filter({ has: agent.getByRole('heading', { name: 'Todos los abiertos' }) });
  await col.getByRole('button', { name: /nueva/ }).click({ timeout: 15000 });
  const card = col.locator('.card').filter({ hasText: 'Visitante Prueba' });
  await card.click();
  const view = agent.locator('aside.ticket');
  await view.getByText('¿Tienen la polera azul en talla M?').waitFor();
  ticketNumber = Number(await card.getAttribute('data-number'));
  const contact = (await admin('GET', `/api/v1/tickets/${ticketNumber}`)).contact;
  const c = await admin('GET', `/api/v1/contacts/${contact.id}`);
  assert.equal(c.rut, '12345678-5');
  assert.equal(c.email, 'visitante@cliente.test');

  // Typing shows in the widget; the answer arrives live.
  const box = view.getByLabel('Respuesta al cliente');
  await box.pressSequentially('Sí, nos quedan 3');
  await w.getByText(/está escribiendo…/).waitFor();
  await view.getByRole('button', { name: 'Enviar' }).click();
  await w.locator('li.outbound').filter({ hasText: 'Sí, nos quedan 3' }).waitFor();
  // The visitor's widget is open: the answer shows as delivered or read to the agent.
  await view.locator('li.message.outbound').last().locator('[data-status="delivered"], [data-status="read"]').waitFor();
  // And the visitor typing shows to the agent.
  await w.getByLabel('Escribe tu mensaje…').pressSequentially('Perfecto');
  await view.getByText('El cliente está escribiendo…').waitFor();
  assert.deepEqual(agent.errors, []);
});

test('an oversize file is refused in the widget; a small one is sent', async () => {
  const w = widget(visitor);
  await w.locator('input[type=file]').setInputFiles({ name: 'grande.pdf', mimeType: 'application/pdf', buffer: Buffer.alloc(2048, 1) });
  await w.getByRole('alert').filter({ hasText: 'El archivo pesa más de 1 KB' }).waitFor();
  await w.locator('input[type=file]').setInputFiles({ name: 'talla.txt', mimeType: 'text/plain', buffer: Buffer.from('talla M, color azul') });
  const link = w.getByRole('link', { name: '📎 talla.txt' });
  await link.waitFor();
  fileUrl = await link.getAttribute('href');
  const res = await fetch(fileUrl);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'talla M, color azul');
  // A visitor's HTML is never served as a page of Atiende's origin.
  await w.locator('input[type=file]').setInputFiles({ name: 'x.html', mimeType: 'text/html', buffer: Buffer.from('<script>alert(1)</script>') });
  const html = w.getByRole('link', { name: '📎 x.html' });
  await html.waitFor();
  const served = await fetch(await html.getAttribute('href'));
  assert.equal(served.headers.get('content-type'), 'application/octet-stream');
  assert.match(served.headers.get('content-disposition'), /^attachment/);
  assert.match(served.headers.get('content-security-policy'), /sandbox/);
});

test('a reload keeps the conversation', async () => {
  visitorToken = await visitor.evaluate(() => Object.entries(localStorage).find(([k]) => k.startsWith('atiende-chat:'))?.[1]);
  assert.ok(visitorToken);
  // Meanwhile the chat closed for the day (SLA-3): the widget says so.
  const closed = await admin('POST', '/api/v1/calendars', { name: 'Cerrado hoy', week: {} });
  await admin('PATCH', `/api/v1/accounts/${chatAccount.id}`, {
    settings: { calendar_id: closed.id, out_of_hours_message: 'Volvemos mañana a las 9:00.' },
  });
  await visitor.reload();
  const w = widget(visitor);
  await w.getByRole('button', { name: 'Abrir chat' }).click();
  await w.getByRole('status').filter({ hasText: 'Volvemos mañana a las 9:00.' }).waitFor();
  await w.locator('li.inbound').filter({ hasText: 'polera azul' }).waitFor();
  await w.locator('li.outbound').filter({ hasText: 'Sí, nos quedan 3' }).waitFor();
  assert.deepEqual(visitor.errors, []);
});

/** Opens the chat socket from inside a page and returns the first frame (or how it failed). */
const firstFrame = (page, url, frame) => page.evaluate(([u, f]) => new Promise((ok) => {
  const ws = new WebSocket(u);
  ws.onopen = () => ws.send(JSON.stringify(f));
  ws.onmessage = (ev) => { ok(JSON.parse(ev.data)); ws.close(); };
  ws.onerror = () => ok({ type: 'refused' });
  setTimeout(() => ok({ type: 'timeout' }), 8000);
}), [url, frame]);

test('another visitor reads nothing of it', async () => {
  const other = await newPage(browser);
  await other.goto(shop.url);
  const wsUrl = `${server.url.replace(/^http/, 'ws')}/api/v1/chat/${chatAccount.id}/ws`;
  const forged = await firstFrame(other, wsUrl, { type: 'hello', token: 'no-es-un-token-valido' });
  assert.equal(forged.code, 'session_expired');
  const w = widget(other);
  await w.getByRole('button', { name: 'Abrir chat' }).click();
  await w.getByLabel('Nombre').fill('Otra Persona');
  await w.getByRole('button', { name: 'Comenzar' }).click();
  await w.getByLabel('Escribe tu mensaje…').waitFor();
  assert.equal(await w.locator('li').count(), 0, 'a new visitor starts with an empty conversation');
  const otherToken = await other.evaluate(() => Object.entries(localStorage).find(([k]) => k.startsWith('atiende-chat:'))?.[1]);
  assert.notEqual(otherToken, visitorToken);
  const session = await firstFrame(other, wsUrl, { type: 'hello', token: otherToken });
  assert.equal(session.type, 'session');
  assert.ok(!JSON.stringify(session).includes('polera'), 'nothing of the first conversation');
  const stolen = await fetch(fileUrl.replace(/token=[^&]+/, `token=${encodeURIComponent(otherToken)}`));
  assert.equal(stolen.status, 404, "another visitor's token does not open the file");
  await other.context().close();
});

test('out of hours, a visitor whose browser speaks English reads the notice in English', async () => {
  // Without the account's own words the widget says its own, in the visitor's language.
  await admin('PATCH', `/api/v1/accounts/${chatAccount.id}`, { settings: { out_of_hours_message: null } });
  const en = await newPage(browser, { locale: 'en-US' });
  await en.goto(shop.url);
  const w = widget(en);
  await w.getByRole('button', { name: 'Open chat' }).click();
  await w.getByLabel('Name').fill('Jane Doe');
  await w.getByRole('button', { name: 'Start' }).click();
  await w.getByRole('status').filter({ hasText: 'We are outside our opening hours.' }).waitFor();
  assert.deepEqual(en.errors, []);
  await en.context().close();
});

test("with business hours set on the account, a visitor out of hours reads when the chat opens next", async () => {
  // Open one minute a day (00:00–00:01 in Santiago): closed now, opening next at a midnight.
  const week = Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => [d, [['00:00', '00:01']]]));
  const cal = await admin('POST', '/api/v1/calendars', { name: 'Medianoche', time_zone: 'America/Santiago', week });
  await admin('PATCH', `/api/v1/accounts/${chatAccount.id}`, { settings: { calendar_id: cal.id } });
  const page = await newPage(browser);
  await page.goto(shop.url);
  const w = widget(page);
  await w.getByRole('button', { name: 'Abrir chat' }).click();
  await w.getByLabel('Nombre').fill('Noctámbula');
  await w.getByRole('button', { name: 'Comenzar' }).click();
  const notice = w.getByRole('status').filter({ hasText: 'Volvemos a atender el' });
  await notice.waitFor();
  assert.match(await notice.textContent(), /fuera del horario.* Volvemos a atender el \S+, \d+ de \S+, \d\d:\d\d/);
  assert.deepEqual(page.errors, []);
  await page.context().close();
  await admin('PATCH', `/api/v1/accounts/${chatAccount.id}`, { settings: { calendar_id: null } });
});

test('a site that is not allowed cannot open the chat', async () => {
  const page = await newPage(browser);
  await page.goto(shop.otherOrigin);
  const wsUrl = `${server.url.replace(/^http/, 'ws')}/api/v1/chat/${chatAccount.id}/ws`;
  const r = await firstFrame(page, wsUrl, { type: 'start', name: 'Intruso' });
  assert.equal(r.type, 'refused');
  await page.context().close();
});

test('a script cannot open chats without end', async () => {
  const page = await newPage(browser);
  await page.goto(shop.url);
  const wsUrl = `${server.url.replace(/^http/, 'ws')}/api/v1/chat/${chatAccount.id}/ws`;
  let limited = null;
  for (let i = 0; i < 12 && !limited; i++) {
    const r = await firstFrame(page, wsUrl, { type: 'start', name: `Bot ${i}` });
    if (r.type === 'error') limited = r;
    else assert.equal(r.type, 'session');
  }
  assert.equal(limited?.code, 'rate_limited');
  await page.context().close();
});
