// Channels and accounts (CHAN-1, CHAN-11, CHAN-12): each account with its connection health,
// and one account form for every kind, drawn from the fields the server lists per channel
// (GET /api/v1/channels); kinds still to come are listed but cannot be created.
import { html, useEffect, useRef, useState } from './vendor/htm-preact-standalone-3.1.1.js';
import { api, CHANNEL_ICONS, LANGUAGES, loadRefs, t, useLoad, when } from './lib.js';
import { SaveCancel, Section, StatusLine, useStatus } from './admin-kit.js';

export function Accounts({ params = {} }) {
  const [accounts, setAccounts] = useState(null);
  const [kinds, setKinds] = useState(null);
  // An account, or { kind } for a new one (the first-steps guide opens one: ?nuevo=<kind>).
  const [editing, setEditing] = useState(params.nuevo ? { kind: params.nuevo, name: '', settings: {} } : null);
  const [status, , fail] = useStatus();
  const load = () => api('GET', '/api/v1/accounts').then((r) => setAccounts(r.items)).catch((e) => fail(e.message));
  // While a form is open nothing re-renders it (a refresh would put back the stored values
  // over what the admin is typing).
  const open = useRef(null);
  open.current = editing;
  useEffect(() => {
    load();
    api('GET', '/api/v1/channels').then((r) => setKinds(r.items)).catch((e) => fail(e.message));
    // Health changes without events (it is what the pollers last saw): look again now and then.
    const every = setInterval(() => { if (!open.current) load(); }, 5000);
    return () => clearInterval(every);
  }, []);
  if (!accounts || !kinds) return html`<p class="loading">${t('loading')}</p>`;
  const done = async () => { setEditing(null); await load(); await loadRefs(); };
  return html`<${Section} id="accounts-title" title=${t('accounts.title')} hint=${t('accounts.hint')}>
    <table class="accounts"><thead><tr><th scope="col">${t('accounts.name')}</th><th scope="col">${t('accounts.kind')}</th>
      <th scope="col">${t('accounts.health')}</th><th></th></tr></thead>
      <tbody>${accounts.map((a) => html`<tr data-account=${a.id}>
        <td>${a.name}</td><td>${CHANNEL_ICONS[a.kind] ?? ''} ${t(`channel.${a.kind}`)}</td>
        <td>${!a.connected ? html`<span class="health health-not_connected">${t('health.not_connected')}</span>`
          : html`<${Health} health=${a.health} />`}<${Snippet} account=${a} />
          ${kinds.find((k) => k.kind === a.kind)?.checks && html`<${Check} account=${a} />`}</td>
        <td><button type="button" class="small" onClick=${() => setEditing(a)}>${t('accounts.edit')}</button></td></tr>`)}</tbody></table>
    ${editing ? html`<${AccountForm} key=${editing.id ?? 'new'} account=${editing} kinds=${kinds} onDone=${done} onCancel=${() => setEditing(null)} />`
      : html`<button type="button" class="small" onClick=${() => setEditing({ kind: 'email', name: '', settings: {} })}>${t('accounts.add')}</button>`}
    <${StatusLine} status=${status} />
  <//>`;
}

/** What to paste on the site, for the kinds that live on the customer's own pages. */
const SNIPPETS = {
  webchat: (base, account) => html`<div class="snippet"><span class="muted">${t('accounts.snippet_chat')}</span>
    <code>${`<script src="${base}/widget.js" data-account="${account.id}" async></script>`}</code></div>`,
  whatsapp: (base, account) => html`<div class="snippet"><span class="muted">${t('accounts.snippet_webhook')}</span>
    <code>${`${base}/api/v1/channels/whatsapp/${account.id}/webhook`}</code>
    ${account.settings?.verify_token && html`<span class="muted">${t('accounts.wa_verify_token')}</span>
    <code>${account.settings.verify_token}</code>`}</div>`,
  form: (base, account) => html`<div class="snippet"><span class="muted">${t('accounts.snippet_form')}</span>
    <a href=${`${base}/f/${account.id}`} target="_blank" rel="noopener">${`${base}/f/${account.id}`}</a>
    <code>${`<script src="${base}/f/${account.id}/embed.js" async></script>`}</code></div>`,
};

/** "Probar conexión": the vendor's answer about the account, or what to do about its refusal. */
function Check({ account }) {
  const [result, setResult] = useState(null);
  const [busy, setBusy] = useState(false);
  const run = async () => {
    setBusy(true);
    try { setResult(await api('POST', `/api/v1/accounts/${account.id}/check`, {})); } catch (e) { setResult({ ok: false, facts: [], problem: e.message }); }
    setBusy(false);
  };
  return html`<div class="check-connection">
    <button type="button" class="small" disabled=${busy} onClick=${run}>${busy ? t('accounts.checking') : t('accounts.check')}</button>
    ${result && (result.ok
      ? html`<span class="health health-connected">${t('accounts.check_ok')}</span>
        ${result.facts.map((f) => html` <span class="muted">${t(`accounts.check_${f.key}`)}:</span> ${f.value}`)}`
      : html`<span class="health-error" role="alert">${result.problem}</span>`)}</div>`;
}

function Snippet({ account }) {
  return SNIPPETS[account.kind]?.(location.origin, account) ?? null;
}

function Health({ health }) {
  if (!health) return html`<span class="muted">—</span>`;
  return html`<span class=${`health health-${health.status}`}>${t(`health.${health.status}`)}</span>
    ${health.status === 'failing' && health.last_error && html`<span class="health-error">${health.last_error}</span>`}
    ${health.status === 'failing' && health.last_error_detail && html`<details class="health-detail"><summary>${t('health.details')}</summary>
      <code>${health.last_error_detail}</code></details>`}
    ${health.fetched > 0 && html`<span class="muted"> · ${t('health.fetched', { n: health.fetched })}</span>`}
    ${health.last_error_at && health.status !== 'failing' && html`<span class="muted"> · ${t('health.last_error_at', { when: when(health.last_error_at) })}</span>`}
    ${health.notice && html`<p class="health-notice" data-testid="health-notice">${health.notice}
      <span class="muted"> · ${when(health.notice_at)}</span></p>`}`;
}

/** Reads the form's values back into settings, following the channel's field list. An
 * optional group (a mail server) whose required inputs are empty is sent as null. */
function collectFields(fields, f, prefix = '') {
  const out = {};
  for (const field of fields) {
    const name = prefix + field.key;
    const raw = f[name];
    switch (field.type) {
      case 'number': out[field.key] = raw === '' || raw === undefined ? null : Number(raw); break;
      case 'checkbox': out[field.key] = raw === 'on'; break;
      case 'lines': out[field.key] = (raw ?? '').split(/\s+/).map((o) => o.trim().replace(/\/$/, '')).filter(Boolean); break;
      case 'secret': out[field.key] = raw || null; break;
      case 'generated': break; // made by the server, never sent
      case 'select': out[field.key] = raw; break;
      case 'group': {
        const inner = collectFields(field.fields, f, `${name}.`);
        const unused = field.fields.filter((x) => x.required).every((x) => !inner[x.key]);
        out[field.key] = unused ? null : inner;
        break;
      }
      default: out[field.key] = raw?.trim() || null;
    }
  }
  return out;
}

function collect(form, fields) {
  const f = Object.fromEntries(new FormData(form));
  return { name: f.name.trim(), settings: { sla_policy_id: f.sla_policy_id || null,
    calendar_id: f.calendar_id || null, auto_messages: collectAuto(f), ...collectFields(fields, f) } };
}

const AUTO_KINDS = ['welcome', 'no_agent', 'out_of_hours'];
const AUTO_LANGS = ['es', 'en'];

/** The automatic messages typed in the form (SLA-3), or null when none is. */
function collectAuto(f) {
  const out = { language: f['auto.language'] || 'es' };
  let any = false;
  for (const kind of AUTO_KINDS) {
    const texts = Object.fromEntries(AUTO_LANGS.map((l) => [l, (f[`auto.${kind}.${l}`] ?? '').trim()]).filter(([, v]) => v));
    if (Object.keys(texts).length) { out[kind] = texts; any = true; }
  }
  return any ? out : null;
}

/** Welcome, nobody available, out of hours: each in Spanish and English, with placeholders. */
function AutoMessages({ values }) {
  const v = values ?? {};
  return html`<details class="auto-messages" open=${Object.keys(v).length > 0}>
    <summary>${t('accounts.auto')}</summary>
    <p class="hint">${t('accounts.auto_hint', { name: '{name}', account: '{account}', number: '{number}', next_open: '{next_open}' })}</p>
    <label>${t('accounts.auto_language')} <select name="auto.language" defaultValue=${v.language ?? 'es'}>
      ${AUTO_LANGS.map((l) => html`<option value=${l} selected=${(v.language ?? 'es') === l}>${LANGUAGES[l]}</option>`)}</select></label>
    ${AUTO_KINDS.map((kind) => html`<fieldset><legend>${t(`accounts.auto_${kind}`)}</legend>
      ${AUTO_LANGS.map((l) => html`<label>${LANGUAGES[l]}
        <textarea name=${`auto.${kind}.${l}`} rows="2" maxlength="2000" defaultValue=${v[kind]?.[l] ?? ''}></textarea></label>`)}
    </fieldset>`)}
  </details>`;
}

/** The inputs of a channel's settings, drawn from the field list the server describes
 * (`GET /api/v1/channels`); `grouped` inputs are required only when their group is used. */
function Inputs({ fields, values, prefix = '', grouped = false }) {
  return fields.map((field) => {
    const name = prefix + field.key;
    const id = `account-${name.replace(/[._]/g, '-')}`;
    const v = values?.[field.key];
    const required = field.required && !grouped;
    const label = html`<label for=${id}>${t(field.label)}</label>`;
    switch (field.type) {
      case 'group':
        return html`<fieldset class="server"><legend>${t(field.label)}</legend>
          <${Inputs} fields=${field.fields} values=${v ?? {}} prefix=${`${name}.`} grouped=${true} /></fieldset>`;
      case 'checkbox':
        return html`<label class="check"><input type="checkbox" name=${name} defaultChecked=${!!v} /> ${t(field.label)}</label>`;
      case 'textarea':
        return html`${label}<textarea id=${id} name=${name} rows="2" defaultValue=${v ?? ''} placeholder=${field.placeholder}></textarea>`;
      case 'lines':
        return html`${label}<textarea id=${id} name=${name} rows="2" defaultValue=${(v ?? []).join('\n')} placeholder=${field.placeholder}></textarea>`;
      case 'select':
        return html`${label}<select id=${id} name=${name}>
          ${field.options.map((o) => html`<option value=${o} selected=${o === (v ?? field.options[0])}>${t(field.labels + o)}</option>`)}</select>`;
      case 'number':
        return html`${label}<input id=${id} name=${name} type="number" min=${field.min} max=${field.max} defaultValue=${v ?? ''} placeholder=${field.placeholder} />`;
      case 'secret':
        return html`${label}<input id=${id} name=${name} type="password" defaultValue=${v ?? ''} autocomplete="new-password" />`;
      case 'generated':
        return html`${label}<input id=${id} type="text" readonly value=${v ?? ''} placeholder=${t('accounts.generated_hint')} />`;
      default:
        return html`${label}<input id=${id} name=${name} type=${field.type === 'email' ? 'email' : 'text'} required=${required}
          defaultValue=${v ?? ''} placeholder=${field.placeholder} autocomplete="off" />`;
    }
  });
}

/** The inputs are uncontrolled (default values): a re-render, such as showing an error, never
 * puts the stored values back over what the admin typed. */
function AccountForm({ account, kinds, onDone, onCancel }) {
  const [kind, setKind] = useState(account.kind);
  const [status, , fail] = useStatus();
  const [calendars] = useLoad(() => api('GET', '/api/v1/calendars'), []);
  const [policies] = useLoad(() => api('GET', '/api/v1/sla_policies'), []);
  const channel = kinds.find((k) => k.kind === kind);
  const fields = channel?.fields ?? [];
  const save = async (ev) => {
    ev.preventDefault();
    const body = collect(ev.target, fields);
    try {
      if (account.id) await api('PATCH', `/api/v1/accounts/${account.id}`, body);
      else await api('POST', '/api/v1/accounts', { kind, ...body });
      await onDone();
    } catch (e) { fail(e.field ? `${e.field}: ${e.message}` : e.message); }
  };
  return html`<form class="account-form" onSubmit=${save} aria-label=${account.id ? account.name : t('accounts.add')}>
    <label for="account-kind">${t('accounts.kind')}</label>
    <select id="account-kind" value=${kind} disabled=${!!account.id} onChange=${(e) => setKind(e.target.value)}>
      ${kinds.map((k) => html`<option value=${k.kind} disabled=${k.availability === 'coming' && !account.id}>
        ${k.availability === 'coming' ? t('accounts.coming', { name: t(`channel.${k.kind}`) }) : t(`channel.${k.kind}`)}</option>`)}</select>
    ${channel?.availability === 'coming' && html`<p class="hint">${t('accounts.coming_hint')}</p>`}
    <label for="account-name">${t('accounts.name')}</label><input id="account-name" name="name" required maxlength="120" defaultValue=${account.name} />
    ${policies && html`<label for="account-sla">${t('accounts.sla')}</label>
      <select id="account-sla" name="sla_policy_id">
        <option value="">${t('accounts.sla_none')}</option>${policies.items.map((p) => html`<option value=${p.id} selected=${account.settings?.sla_policy_id === p.id}>${p.name}</option>`)}</select>`}
    ${calendars && html`<label for="account-calendar">${t('accounts.calendar')}</label>
      <select id="account-calendar" name="calendar_id" defaultValue=${account.settings?.calendar_id ?? ''}>
        <option value="">${t('accounts.calendar_none')}</option>${calendars.items.map((c) => html`<option value=${c.id} selected=${account.settings?.calendar_id === c.id}>${c.name}</option>`)}</select>`}
    <${AutoMessages} values=${account.settings?.auto_messages} />
    <${Inputs} key=${kind} fields=${fields} values=${account.settings ?? {}} />
    <${SaveCancel} onCancel=${onCancel} />
    <${StatusLine} status=${status} />
  </form>`;
}
