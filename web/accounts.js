// Channels and accounts (CHAN-1, CHAN-11, CHAN-12): each account with its connection health,
// a form to connect an email mailbox (IMAP in, SMTP out) and the per-account messages.
import { html, useEffect, useRef, useState } from './vendor/htm-preact-standalone-3.1.1.js';
import { api, CHANNEL_ICONS, loadRefs, t, when } from './lib.js';
import { Section, StatusLine, useStatus } from './admin-kit.js';

const KINDS = ['email', 'webchat', 'form', 'whatsapp', 'facebook', 'instagram', 'x', 'x_search', 'appstore', 'playstore', 'api'];
const SECURITY = ['tls', 'starttls', 'plain'];

export function Accounts() {
  const [accounts, setAccounts] = useState(null);
  const [editing, setEditing] = useState(null); // an account, or { kind } for a new one
  const [status, , fail] = useStatus();
  const load = () => api('GET', '/api/v1/accounts').then((r) => setAccounts(r.items)).catch((e) => fail(e.message));
  // While a form is open nothing re-renders it (a refresh would put back the stored values
  // over what the admin is typing).
  const open = useRef(null);
  open.current = editing;
  useEffect(() => {
    load();
    // Health changes without events (it is what the pollers last saw): look again now and then.
    const every = setInterval(() => { if (!open.current) load(); }, 5000);
    return () => clearInterval(every);
  }, []);
  if (!accounts) return html`<p class="loading">${t('loading')}</p>`;
  const done = async () => { setEditing(null); await load(); await loadRefs(); };
  return html`<${Section} id="accounts-title" title=${t('accounts.title')} hint=${t('accounts.hint')}>
    <table class="accounts"><thead><tr><th scope="col">${t('accounts.name')}</th><th scope="col">${t('accounts.kind')}</th>
      <th scope="col">${t('accounts.health')}</th><th></th></tr></thead>
      <tbody>${accounts.map((a) => html`<tr data-account=${a.id}>
        <td>${a.name}</td><td>${CHANNEL_ICONS[a.kind] ?? ''} ${t(`channel.${a.kind}`)}</td>
        <td><${Health} health=${a.health} /><${Snippet} account=${a} /></td>
        <td><button type="button" class="small" onClick=${() => setEditing(a)}>${t('accounts.edit')}</button></td></tr>`)}</tbody></table>
    ${editing ? html`<${AccountForm} key=${editing.id ?? 'new'} account=${editing} onDone=${done} onCancel=${() => setEditing(null)} />`
      : html`<button type="button" class="small" onClick=${() => setEditing({ kind: 'email', name: '', settings: {} })}>${t('accounts.add')}</button>`}
    <${StatusLine} status=${status} />
  <//>`;
}

/** What to paste on the site: the chat's script tag, the form's address and embed tag. */
function Snippet({ account }) {
  const base = location.origin;
  if (account.kind === 'webchat') {
    return html`<div class="snippet"><span class="muted">${t('accounts.snippet_chat')}</span>
      <code>${`<script src="${base}/widget.js" data-account="${account.id}" async></script>`}</code></div>`;
  }
  if (account.kind === 'form') {
    return html`<div class="snippet"><span class="muted">${t('accounts.snippet_form')}</span>
      <a href=${`${base}/f/${account.id}`} target="_blank" rel="noopener">${`${base}/f/${account.id}`}</a>
      <code>${`<script src="${base}/f/${account.id}/embed.js" async></script>`}</code></div>`;
  }
  return null;
}

function Health({ health }) {
  if (!health) return html`<span class="muted">—</span>`;
  return html`<span class=${`health health-${health.status}`}>${t(`health.${health.status}`)}</span>
    ${health.status === 'failing' && health.last_error && html`<span class="health-error">${health.last_error}</span>`}
    ${health.fetched > 0 && html`<span class="muted"> · ${t('health.fetched', { n: health.fetched })}</span>`}
    ${health.last_error_at && health.status !== 'failing' && html`<span class="muted"> · ${t('health.last_error_at', { when: when(health.last_error_at) })}</span>`}`;
}

/** Reads a nested form value ("imap.host") into a settings object. */
function collect(form, kind) {
  const f = Object.fromEntries(new FormData(form));
  const settings = {};
  const num = (v) => (v === '' || v === undefined ? null : Number(v));
  settings.sla_minutes = num(f.sla_minutes);
  if (kind === 'webchat' || kind === 'form') {
    settings.allowed_origins = (f.allowed_origins ?? '').split(/\s+/).map((o) => o.trim().replace(/\/$/, '')).filter(Boolean);
    settings.title = f.title?.trim() || null;
  }
  if (kind === 'webchat') {
    settings.welcome = f.welcome?.trim() || null;
    settings.no_agent_message = f.no_agent_message?.trim() || null;
    settings.max_file_kb = num(f.max_file_kb);
  }
  if (kind === 'email') {
    for (const k of ['address', 'from_name', 'signature', 'auto_reply']) settings[k] = f[k]?.trim() || null;
    settings.system_mail = f.system_mail === 'on';
    for (const side of ['imap', 'smtp']) {
      if (!f[`${side}.host`]?.trim()) { settings[side] = null; continue; }
      settings[side] = {
        host: f[`${side}.host`].trim(), port: num(f[`${side}.port`]), security: f[`${side}.security`],
        username: f[`${side}.username`]?.trim() || null, password: f[`${side}.password`] || null,
        ...(side === 'imap' ? { mailbox: f['imap.mailbox']?.trim() || null } : {}),
      };
    }
  }
  return { name: f.name.trim(), settings };
}

function Server({ side, value = {} }) {
  const id = (k) => `${side}-${k}`;
  return html`<fieldset class="server"><legend>${t(`accounts.${side}`)}</legend>
    <label for=${id('host')}>${t('accounts.host')}</label><input id=${id('host')} name=${`${side}.host`} defaultValue=${value.host ?? ''} />
    <label for=${id('port')}>${t('accounts.port')}</label><input id=${id('port')} name=${`${side}.port`} type="number" min="1" max="65535" defaultValue=${value.port ?? ''} />
    <label for=${id('security')}>${t('accounts.security')}</label>
    <select id=${id('security')} name=${`${side}.security`}>
      ${SECURITY.map((s) => html`<option value=${s} selected=${s === (value.security ?? 'tls')}>${t(`security.${s}`)}</option>`)}</select>
    <label for=${id('username')}>${t('accounts.username')}</label><input id=${id('username')} name=${`${side}.username`} defaultValue=${value.username ?? ''} autocomplete="off" />
    <label for=${id('password')}>${t('accounts.password')}</label><input id=${id('password')} name=${`${side}.password`} type="password" defaultValue=${value.password ?? ''} autocomplete="new-password" />
    ${side === 'imap' && html`<label for="imap-mailbox">${t('accounts.mailbox')}</label><input id="imap-mailbox" name="imap.mailbox" defaultValue=${value.mailbox ?? ''} placeholder="INBOX" />`}
  </fieldset>`;
}

/** The inputs are uncontrolled (default values): a re-render, such as showing an error, never
 * puts the stored values back over what the admin typed. */
function AccountForm({ account, onDone, onCancel }) {
  const [kind, setKind] = useState(account.kind);
  const [status, , fail] = useStatus();
  const s = account.settings ?? {};
  const save = async (ev) => {
    ev.preventDefault();
    const body = collect(ev.target, kind);
    try {
      if (account.id) await api('PATCH', `/api/v1/accounts/${account.id}`, body);
      else await api('POST', '/api/v1/accounts', { kind, ...body });
      await onDone();
    } catch (e) { fail(e.field ? `${e.field}: ${e.message}` : e.message); }
  };
  return html`<form class="account-form" onSubmit=${save} aria-label=${account.id ? account.name : t('accounts.add')}>
    <label for="account-kind">${t('accounts.kind')}</label>
    <select id="account-kind" value=${kind} disabled=${!!account.id} onChange=${(e) => setKind(e.target.value)}>
      ${KINDS.map((k) => html`<option value=${k}>${t(`channel.${k}`)}</option>`)}</select>
    <label for="account-name">${t('accounts.name')}</label><input id="account-name" name="name" required maxlength="120" defaultValue=${account.name} />
    <label for="account-sla">${t('accounts.sla')}</label><input id="account-sla" name="sla_minutes" type="number" min="0" defaultValue=${s.sla_minutes ?? ''} />
    ${(kind === 'webchat' || kind === 'form') && html`
      <label for="account-origins">${t('accounts.allowed_origins')}</label>
      <textarea id="account-origins" name="allowed_origins" rows="2" placeholder="https://tienda.cl" defaultValue=${(s.allowed_origins ?? []).join('\n')}></textarea>
      <label for="account-title">${t('accounts.public_title')}</label><input id="account-title" name="title" defaultValue=${s.title ?? ''} />`}
    ${kind === 'webchat' && html`
      <label for="account-welcome">${t('accounts.welcome')}</label><textarea id="account-welcome" name="welcome" rows="2" defaultValue=${s.welcome ?? ''}></textarea>
      <label for="account-no-agent">${t('accounts.no_agent_message')}</label><textarea id="account-no-agent" name="no_agent_message" rows="2" defaultValue=${s.no_agent_message ?? ''}></textarea>
      <label for="account-max-file">${t('accounts.max_file_kb')}</label><input id="account-max-file" name="max_file_kb" type="number" min="1" max="25600" defaultValue=${s.max_file_kb ?? ''} placeholder="1024" />`}
    ${kind === 'email' && html`
      <label for="account-address">${t('accounts.address')}</label>
      <input id="account-address" name="address" type="email" required defaultValue=${s.address ?? ''} placeholder="soporte@tienda.cl" />
      <label for="account-from">${t('accounts.from_name')}</label><input id="account-from" name="from_name" defaultValue=${s.from_name ?? ''} />
      <label for="account-signature">${t('accounts.signature')}</label><textarea id="account-signature" name="signature" rows="2" defaultValue=${s.signature ?? ''}></textarea>
      <label for="account-auto">${t('accounts.auto_reply')}</label><textarea id="account-auto" name="auto_reply" rows="2" defaultValue=${s.auto_reply ?? ''}></textarea>
      <${Server} side="imap" value=${s.imap} />
      <${Server} side="smtp" value=${s.smtp} />
      <label class="check"><input type="checkbox" name="system_mail" defaultChecked=${!!s.system_mail} /> ${t('accounts.system_mail')}</label>`}
    <div class="dialog-actions">
      <button type="button" onClick=${onCancel}>${t('action.cancel')}</button>
      <button type="submit" class="primary">${t('action.save')}</button>
    </div>
    <${StatusLine} status=${status} />
  </form>`;
}
