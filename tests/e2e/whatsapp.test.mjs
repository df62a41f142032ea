// WhatsApp in a real browser, against a local Graph API that checks the bearer token as Meta
// does: a customer's photo arrives live on the board through a signed webhook; the agent
// answers from the same reply box and sees ✓ sent turn into ✓✓ read; a customer who wrote two
// days ago gets an approved template chosen, filled in and previewed in the composer.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import { apiAs, launchBrowser, newPage, signIn, startServer } from './server.mjs';

const PHONE = '1122334455667';
const WABA = '1234567890987654321';
const TOKEN = 'EAAG-e2e-token';
const SECRET = 'e2e-app-secret';
// A 1×1 PNG: the customer's photo.
const PHOTO = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');

let server;
let browser;
let page;
let admin;
let graph;
let hook;
let accountId;

/** The Graph API's shapes (tests/fixtures/whatsapp), answering only the right bearer token. */
function startGraph() {
  const sends = [];
  let n = 0;
  const srv = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const json = (status, body) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(body)); };
      if (req.headers.authorization !== `Bearer ${TOKEN}`) {
        return json(401, { error: { message: 'Error validating access token', type: 'OAuthException', code: 190 } });
      }
      const url = new URL(req.url, 'http://x');
      const base = `http://127.0.0.1:${srv.address().port}`;
      if (url.pathname === '/download/photo-1') {
        res.writeHead(200, { 'content-type': 'image/png' });
        return res.end(PHOTO);
      }
      if (req.method === 'GET' && url.pathname === '/v21.0/photo-1') {
        return json(200, { url: `${base}/download/photo-1`, mime_type: 'image/png', file_size: PHOTO.length,
          sha256: sha256(PHOTO), id: 'photo-1', messaging_product: 'whatsapp' });
      }
      if (req.method === 'GET' && url.pathname === `/v21.0/${WABA}/message_templates`) {
        return json(200, { data: [{ name: 'seguimiento_pedido', language: 'es', status: 'APPROVED', category: 'UTILITY',
          parameter_format: 'POSITIONAL', id: '900001', components: [
            { type: 'BODY', text: 'Hola {{1}}, tu pedido {{2}} va en camino.', example: { body_text: [['Ana', '#1234']] } },
            { type: 'FOOTER', text: 'Tienda Ejemplo' }] }],
        paging: { cursors: { before: 'a', after: 'b' } } });
      }
      if (req.method === 'POST' && url.pathname === `/v21.0/${PHONE}/messages`) {
        const body = JSON.parse(Buffer.concat(chunks).toString());
        if (body.status === 'read') return json(200, { success: true });
        sends.push(body);
        return json(200, { messaging_product: 'whatsapp', contacts: [{ input: body.to, wa_id: body.to }],
          messages: [{ id: `wamid.e2e-out-${n++}` }] });
      }
      return json(400, { error: { message: 'Unsupported request', type: 'GraphMethodException', code: 100 } });
    });
  });
  return new Promise((ok) => srv.listen(0, '127.0.0.1', () =>
    ok({ base: `http://127.0.0.1:${srv.address().port}`, sends, close: () => srv.close() })));
}

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** Posts a webhook body as Meta does: the raw bytes, signed with the app secret. */
async function deliver(body) {
  const raw = JSON.stringify(body);
  const signature = `sha256=${createHmac('sha256', SECRET).update(raw).digest('hex')}`;
  const r = await fetch(hook, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature }, body: raw });
  assert.equal(r.status, 200);
}

const change = (value) => ({ object: 'whatsapp_business_account', entry: [{ id: WABA, changes: [{ field: 'messages', value: {
  messaging_product: 'whatsapp', metadata: { display_phone_number: '56955550000', phone_number_id: PHONE }, ...value } }] }] });

const customer = (waId, name, message) => change({ contacts: [{ profile: { name }, wa_id: waId }], messages: [{ from: waId, ...message }] });

before(async () => {
  server = await startServer();
  graph = await startGraph();
  admin = await apiAs(server.url, 'admin@demo.atiende.cl', 'demo-admin');
  const account = await admin('POST', '/api/v1/accounts', { kind: 'whatsapp', name: 'WhatsApp Tienda', settings: {
    phone_number_id: PHONE, waba_id: WABA, access_token: TOKEN, app_secret: SECRET, api_base: graph.base } });
  accountId = account.id;
  hook = `${server.url}/api/v1/channels/whatsapp/${account.id}/webhook`;
  browser = await launchBrowser();
  page = await newPage(browser);
  await page.goto(server.url);
  await signIn(page, 'admin@demo.atiende.cl', 'demo-admin');
});

after(async () => {
  await browser?.close();
  graph?.close();
  await server?.stop();
});

const column = (name) => page.locator(`section.column[aria-label="${name}"]`);
const now = () => String(Math.floor(Date.now() / 1000));

test('a photo arrives live; the answer goes from the same reply box and turns ✓ → ✓✓ read', async () => {
  const col = column('Todos los abiertos');
  await col.locator('.card').first().waitFor();
  await deliver(customer('56977778888', 'Camila Rojas', {
    id: 'wamid.e2e-photo', timestamp: now(), type: 'image',
    image: { id: 'photo-1', mime_type: 'image/png', sha256: sha256(PHOTO), caption: 'Así llegó la caja' } }));
  await col.getByRole('button', { name: '1 nueva interacción' }).click();
  const card = col.locator('.card', { hasText: 'Camila Rojas' });
  await card.waitFor();
  await card.click();
  const view = page.locator('aside.ticket');
  await view.getByText('Así llegó la caja').waitFor();
  // The photo is fetched from Meta in two steps and shows in the conversation.
  const img = view.locator('.message.inbound .attachments img');
  await img.waitFor({ timeout: 20000 });
  assert.equal(await img.evaluate((el) => el.naturalWidth), 1);

  await view.getByLabel('Respuesta al cliente').fill('¡Qué lástima! Te enviamos otra hoy.');
  await view.getByRole('button', { name: 'Enviar' }).click();
  const answer = view.locator('.message.outbound', { hasText: 'Te enviamos otra hoy' });
  await answer.locator('[data-status="sent"]').waitFor({ timeout: 20000 });
  assert.equal(await answer.locator('.delivery').textContent(), '✓');
  assert.equal(graph.sends.at(-1).to, '56977778888');
  const wamid = (await admin('GET', `/api/v1/tickets/${await card.getAttribute('data-number')}/messages`))
    .items.find((m) => m.direction === 'outbound').external_id;
  await deliver(change({ statuses: [{ id: wamid, status: 'read', timestamp: now(), recipient_id: '56977778888' }] }));
  await answer.locator('[data-status="read"]').waitFor();
  assert.equal(await answer.locator('.delivery').textContent(), '✓✓');
  assert.equal(await answer.locator('.delivery').getAttribute('title'), 'Leído');
  assert.deepEqual(page.errors, []);
});

test('outside the 24-hour window the composer offers the approved templates', async () => {
  const twoDaysAgo = String(Math.floor(Date.now() / 1000) - 2 * 86400);
  await deliver(customer('56966665555', 'Pedro Soto', {
    id: 'wamid.e2e-old', timestamp: twoDaysAgo, type: 'text', text: { body: '¿Dónde está mi pedido?' } }));
  const tickets = await admin('GET', `/api/v1/tickets?account=${accountId}`);
  const number = tickets.items.find((t) => t.contact.name === 'Pedro Soto').number;
  await page.goto(`${server.url}/#/t/${number}`);
  const view = page.locator('aside.ticket');
  await view.getByText('¿Dónde está mi pedido?').waitFor();
  await view.getByText('WhatsApp solo permite enviarle una plantilla aprobada').waitFor();
  await view.getByRole('button', { name: 'Elegir plantilla' }).click();
  await view.getByRole('button', { name: /seguimiento_pedido/ }).click();
  await view.getByLabel('Variable {{1}}').fill('Pedro');
  await view.getByLabel('Variable {{2}}').fill('#889');
  const preview = view.locator('[data-testid="template-preview"]');
  assert.equal(await preview.textContent(), 'Hola Pedro, tu pedido #889 va en camino.\n\nTienda Ejemplo');
  await view.getByRole('button', { name: 'Enviar plantilla' }).click();
  const sent = view.locator('.message.outbound', { hasText: 'Hola Pedro, tu pedido #889 va en camino.' });
  await sent.locator('[data-status="sent"]').waitFor({ timeout: 20000 });
  await sent.getByText('Plantilla', { exact: true }).waitFor();
  const last = graph.sends.at(-1);
  assert.equal(last.type, 'template');
  assert.equal(last.template.name, 'seguimiento_pedido');
  assert.deepEqual(last.template.components[0].parameters.map((p) => p.text), ['Pedro', '#889']);
  assert.deepEqual(page.errors, []);
});
