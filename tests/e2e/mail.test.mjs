// Email in a real browser, against a small SMTP server run by the test: the forgotten-password
// link arrives and signs the user in; the channels page connects a mailbox and shows its
// health; a reply the mail server refuses shows why and goes out when sent again. No console
// errors.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { apiAs, launchBrowser, newPage, signIn, startServer } from './server.mjs';

let server;
let browser;
let smtp;
let admin;
let emailAccount;

/** An SMTP server on loopback that keeps what it receives; refuses recipients while `refuse`. */
function startSmtp() {
  const sink = { mails: [], refuse: false };
  const srv = createServer((sock) => {
    let data = null;
    let buffer = '';
    const mail = { to: [] };
    sock.write('220 prueba ESMTP\r\n');
    sock.on('data', (chunk) => {
      buffer += chunk.toString('latin1');
      let at;
      while ((at = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, at);
        buffer = buffer.slice(at + 2);
        if (data !== null) {
          if (line === '.') { sink.mails.push({ ...mail, data }); data = null; sock.write('250 2.0.0 queued\r\n'); } else data += `${line}\r\n`;
          continue;
        }
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO' || verb === 'HELO') sock.write('250-prueba\r\n250 8BITMIME\r\n');
        else if (verb === 'RCPT') {
          if (sink.refuse) sock.write('550 5.1.1 casilla inexistente\r\n');
          else { mail.to.push(line.slice(8).replace(/[<>]/g, '')); sock.write('250 ok\r\n'); }
        } else if (verb === 'DATA') { data = ''; sock.write('354 adelante\r\n'); }
        else if (verb === 'QUIT') { sock.end('221 chao\r\n'); }
        else sock.write('250 ok\r\n');
      }
    });
    sock.on('error', () => {});
  });
  return new Promise((ok) => srv.listen(0, '127.0.0.1', () => ok({ sink, port: srv.address().port, close: () => srv.close() })));
}

/** The decoded text of a received mail (quoted-printable or base64 bodies). */
function bodyOf(raw) {
  const [head, ...rest] = raw.split('\r\n\r\n');
  const body = rest.join('\r\n\r\n');
  if (/content-transfer-encoding:\s*base64/i.test(head)) return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (/content-transfer-encoding:\s*quoted-printable/i.test(head)) {
    const bytes = body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
    return Buffer.from(bytes, 'latin1').toString('utf8');
  }
  return body;
}

async function waitFor(what, f, ms = 15000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((ok) => setTimeout(ok, 100));
  }
}

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  smtp = await startSmtp();
  admin = await apiAs(server.url, 'admin@demo.atiende.cl', 'demo-admin');
  emailAccount = (await admin('GET', '/api/v1/accounts')).items.find((a) => a.kind === 'email');
  await admin('PATCH', `/api/v1/accounts/${emailAccount.id}`, {
    settings: { address: 'soporte@tienda.test', smtp: { host: '127.0.0.1', port: smtp.port, security: 'plain' } },
  });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  smtp?.close();
});

test('a forgotten password comes back by mail and the link signs the user in', async () => {
  const page = await newPage(browser);
  await page.goto(server.url);
  await page.getByRole('button', { name: '¿Olvidaste tu contraseña?' }).click();
  await page.getByRole('heading', { name: 'Recuperar contraseña' }).waitFor();
  await page.locator('#reset_email').fill('luis@demo.atiende.cl');
  await page.getByRole('button', { name: 'Enviarme el enlace' }).click();
  await page.getByRole('status').filter({ hasText: 'el enlace va en camino' }).waitFor();
  assert.equal(await page.locator('#reset_email').count(), 0);
  const mail = await waitFor('the reset mail', () => smtp.sink.mails.find((m) => m.to.includes('luis@demo.atiende.cl')));
  const link = bodyOf(mail.data).match(/http\S+#\/password\/[\w-]+/)[0];
  assert.ok(link.startsWith(server.url), link);
  await page.goto(link);
  await page.getByRole('heading', { name: /Nueva contraseña para Luis/ }).waitFor();
  await page.getByLabel(/Contraseña/).fill('una-clave-nueva-1');
  await page.getByRole('button', { name: 'Guardar y entrar' }).click();
  await page.locator('section.column').first().waitFor();
  // The link works once.
  const page2 = await newPage(browser);
  await page2.goto(link);
  await page2.getByRole('alert').filter({ hasText: 'ya se usó o venció' }).waitFor();
  assert.deepEqual(page.errors, []);
  await page2.context().close();
  await page.context().close();
});

test('the administrator invites an agent with a team, who accepts and is then deactivated and reactivated', async () => {
  const page = await newPage(browser);
  await page.goto(server.url);
  await signIn(page, 'admin@demo.atiende.cl', 'demo-admin');
  await page.getByRole('link', { name: 'Administración' }).click();
  // Administración opens on its first section, Usuarios, with its own address.
  const users = page.getByRole('region', { name: 'Usuarios' });
  await users.getByRole('table').waitFor();
  assert.match(page.url(), /#\/admin/);
  await users.getByRole('button', { name: 'Invitar usuario' }).click();
  const form = users.getByRole('form', { name: 'Invitar usuario' });
  await form.getByLabel('Nombre').fill('Tomás Fuentes');
  await form.getByLabel('Correo').fill('tomas@tienda.test');
  await form.getByLabel('Rol').selectOption('agent');
  await form.getByLabel('Postventa').check();
  await form.getByRole('button', { name: 'Enviar invitación' }).click();
  await users.getByRole('status').getByText('Invitación enviada a tomas@tienda.test.').waitFor();
  const row = users.locator('tr', { hasText: 'tomas@tienda.test' });
  await row.getByText('Invitado').waitFor();
  await row.getByText('Postventa').waitFor();
  await row.getByText('Nunca').waitFor();
  // Sent again from the row: a second mail, a second link.
  await row.getByRole('button', { name: 'Reenviar invitación a Tomás Fuentes' }).click();
  await users.getByRole('status').getByText('Invitación enviada de nuevo').waitFor();
  const mails = await waitFor('two invitations', () => {
    const m = smtp.sink.mails.filter((x) => x.to.includes('tomas@tienda.test'));
    return m.length >= 2 && m;
  });
  const link = bodyOf(mails[1].data).match(/http\S+#\/password\/[\w-]+/)[0];
  // Tomás accepts in his own browser: he is in, active, and assignable at once.
  const his = await newPage(browser);
  await his.goto(link);
  await his.getByLabel(/Contraseña/).fill('tomas-clave-1');
  await his.getByRole('button', { name: 'Guardar y entrar' }).click();
  await his.locator('section.column').first().waitFor();
  assert.equal(await his.getByRole('link', { name: 'Administración' }).count(), 0, 'agents see no administration');
  await page.reload();
  await row.getByText('Activo').waitFor();
  const tomas = (await admin('GET', '/api/v1/users')).items.find((u) => u.email === 'tomas@tienda.test');
  assert.equal(tomas.invited, false);
  assert.ok(tomas.last_sign_in_at);
  const why = await admin('GET', `/api/v1/assignment/why?user_id=${tomas.id}`);
  assert.equal(why.user_id, tomas.id);
  // Assignable at once: on auto on an account of his own, he gets its next ticket by round-robin.
  const desk = await admin('POST', '/api/v1/accounts', { kind: 'api', name: 'Mesa de Tomás' });
  await admin('PUT', '/api/v1/assignment', { items: [{ user_id: tomas.id, account_id: desk.id, mode: 'auto' }] });
  const first = await admin('POST', `/api/v1/accounts/${desk.id}/inbound`, { external_id: 'tomas-1', contact: { external_id: 'cliente-tomas' }, text: 'hola' });
  const assigned = await waitFor('the round-robin to assign it', async () => {
    const tk = await admin('GET', `/api/v1/tickets/${first.ticket_number}`);
    return tk.assignee_id === tomas.id && tk;
  });
  assert.equal(assigned.assignee_id, tomas.id);
  // Deactivation says the 5-day rule before it happens.
  await row.getByRole('button', { name: 'Desactivar a Tomás Fuentes' }).click();
  const dialog = page.getByRole('dialog', { name: '¿Desactivar a Tomás Fuentes?' });
  await dialog.getByText(/últimos 5 días vuelven a la cola/).waitFor();
  await dialog.getByRole('button', { name: 'Desactivar' }).click();
  await users.getByRole('status').getByText(/Tomás Fuentes quedó desactivado; 1 ticket volvió a la cola/).waitFor();
  await row.getByText('Desactivado').waitFor();
  await his.reload();
  await his.getByRole('button', { name: 'Entrar' }).waitFor();
  await row.getByRole('button', { name: 'Reactivar a Tomás Fuentes' }).click();
  await row.getByText('Activo').waitFor();
  // The role and teams are edited from the row.
  await row.getByRole('button', { name: 'Editar a Tomás Fuentes' }).click();
  const edit = users.getByRole('form', { name: 'Editar a Tomás Fuentes' });
  await edit.getByLabel('Rol').selectOption('supervisor');
  await edit.getByLabel('Postventa').uncheck();
  await edit.getByRole('button', { name: 'Guardar' }).click();
  await row.getByText('Supervisor').waitFor();
  const teams = (await admin('GET', '/api/v1/teams')).items;
  assert.ok(!teams.find((t) => t.name === 'Postventa').members.includes(tomas.id));
  // The audit log shows the role change, who made it and from where.
  await page.getByRole('navigation', { name: 'Administración' }).getByRole('link', { name: 'Auditoría' }).click();
  const audit = page.getByRole('region', { name: 'Auditoría' });
  await audit.getByLabel('Acción').selectOption('role_changed');
  const entry = audit.locator('tr[data-action="role_changed"]').first();
  await entry.getByText(/Tomás Fuentes/).waitFor();
  await entry.getByText('Antes: Ejecutivo · Después: Supervisor').waitFor();
  await entry.getByRole('cell', { name: 'Carolina Reyes' }).waitFor();
  assert.deepEqual(page.errors, []);
  assert.deepEqual(his.errors, []);
  await his.context().close();
  await page.context().close();
});

test('the channels page connects a mailbox and shows its health', async () => {
  const page = await newPage(browser);
  await page.goto(server.url);
  await signIn(page, 'admin@demo.atiende.cl', 'demo-admin');
  await page.getByRole('link', { name: 'Administración' }).click();
  await page.getByRole('navigation', { name: 'Administración' }).getByRole('link', { name: 'Canales y cuentas' }).click();
  const channels = page.getByRole('region', { name: 'Canales y cuentas' });
  const row = channels.locator(`tr[data-account="${emailAccount.id}"]`);
  await row.getByRole('button', { name: 'Editar' }).click();
  const form = channels.getByRole('form');
  assert.equal(await form.getByLabel('Dirección de soporte').inputValue(), 'soporte@tienda.test');
  await form.getByLabel('Firma').fill('Equipo Tienda');
  // An IMAP server nobody answers on: the account shows it is failing, and why.
  const closed = await new Promise((ok) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => ok(p)); }); });
  const imap = form.getByRole('group', { name: 'Entrada (IMAP)' });
  await imap.getByLabel('Servidor').fill('127.0.0.1');
  await imap.getByLabel('Puerto').fill(String(closed));
  await imap.getByLabel('Seguridad').selectOption('plain');
  await imap.getByLabel('Usuario').fill('soporte');
  await imap.getByLabel('Contraseña').fill('secreto');
  await form.getByRole('button', { name: 'Guardar' }).click();
  await row.getByText('Con errores').waitFor({ timeout: 20000 });
  // A sentence in Spanish; the network's own words behind «Detalles».
  await row.getByText('El servidor rechazó la conexión').waitFor();
  await row.getByText('Detalles').click();
  await row.getByText(/connect to 127\.0\.0\.1/).waitFor();
  const stored = await admin('GET', `/api/v1/accounts/${emailAccount.id}`);
  assert.equal(stored.settings.signature, 'Equipo Tienda');
  assert.equal(stored.settings.imap.password, '********', 'secrets never come back');
  // A plain connection to another machine is refused with the reason.
  await row.getByRole('button', { name: 'Editar' }).click();
  await imap.getByLabel('Servidor').fill('mail.tienda.test');
  await form.getByRole('button', { name: 'Guardar' }).click();
  // Another server with the stored (masked) password: the password must be typed again.
  await form.getByRole('alert').filter({ hasText: 'settings.imap.password' }).waitFor();
  await imap.getByLabel('Contraseña').fill('secreto');
  await form.getByRole('button', { name: 'Guardar' }).click();
  await form.getByRole('alert').filter({ hasText: 'settings.imap.security' }).waitFor();
  // What was typed is still there after the refusals.
  assert.equal(await imap.getByLabel('Servidor').inputValue(), 'mail.tienda.test');
  await form.getByRole('button', { name: 'Cancelar' }).click();
  await admin('PATCH', `/api/v1/accounts/${emailAccount.id}`, { settings: { imap: null } });
  // The browser logs the refused save (422) it was meant to get; nothing else.
  assert.deepEqual(page.errors.filter((e) => !e.includes('422')), []);
  await page.context().close();
});

test('a reply the mail server refuses shows why and goes out when sent again', async () => {
  const got = await admin('POST', `/api/v1/accounts/${emailAccount.id}/inbound`, {
    external_id: 'e2e-mail-1', contact: { external_id: 'rosa@cliente.test', name: 'Rosa Díaz', email: 'rosa@cliente.test' }, text: '¿Llegó mi pedido?',
  });
  const page = await newPage(browser);
  await page.goto(`${server.url}/#/t/${got.ticket_number}`);
  await signIn(page, 'admin@demo.atiende.cl', 'demo-admin');
  await page.goto(`${server.url}/#/t/${got.ticket_number}`);
  smtp.sink.refuse = true;
  await page.locator('#reply-text').fill('Sí, llega mañana.');
  await page.getByRole('button', { name: 'Enviar' }).click();
  const reply = page.locator('li.message.outbound').last();
  await reply.getByText('Falló el envío').waitFor({ timeout: 20000 });
  await reply.getByText(/550\): 5\.1\.1 casilla inexistente/).waitFor();
  smtp.sink.refuse = false;
  await reply.getByRole('button', { name: 'Reenviar' }).click();
  await waitFor('the resent mail', () => smtp.sink.mails.find((m) => m.to.includes('rosa@cliente.test')));
  await reply.getByText('Falló el envío').waitFor({ state: 'detached', timeout: 20000 });
  const mail = smtp.sink.mails.find((m) => m.to.includes('rosa@cliente.test'));
  assert.match(mail.data, new RegExp(`Subject: .*\\[#${got.ticket_number}\\]`));
  const text = bodyOf(mail.data);
  assert.ok(text.includes('Sí, llega mañana.') && text.includes('Equipo Tienda'), text);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});
