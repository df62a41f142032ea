// The Administración area: one section per URL (#/admin/<section>), each shown to the roles
// that may use it. Assignment (ASSIGN-1..6) lives here too: who works which account and how,
// each account's mode, the connection states and their automatic changes, and "why is this
// agent not receiving tickets?".
import { html, useEffect, useState } from './vendor/htm-preact-standalone-3.1.1.js';
import { api, loadRefs, refs, t, useLoad, when } from './lib.js';
import { Section, StatusLine, useStatus } from './admin-kit.js';
import { Accounts } from './accounts.js';
import { Backups } from './backups.js';
import { Storage } from './storage.js';
import { Users } from './users.js';
import { Audit } from './audit.js';
import { Security } from './two-factor.js';
import { Canned, Labels, Teams } from './catalog.js';
import { Tokens } from './profile.js';
import { Fields } from './fields.js';
import { Calendars } from './calendars.js';
import { SlaPolicies } from './sla.js';
import { Exports } from './exports.js';

const MODES = ['disabled', 'enabled', 'auto'];
const AllTokens = () => html`<${Tokens} all=${true} />`;

/** Every section: its URL name, its title key, who may open it, and what it shows. */
const SECTIONS = [
  { id: 'usuarios', title: 'admin.nav.users', may: 'users.manage', view: Users },
  { id: 'equipos', title: 'admin.nav.teams', may: 'users.manage', view: Teams },
  { id: 'etiquetas', title: 'admin.nav.labels', may: 'settings.manage', view: Labels },
  { id: 'respuestas', title: 'admin.nav.canned', may: 'settings.manage', view: Canned },
  { id: 'campos', title: 'admin.nav.fields', may: 'settings.manage', view: Fields },
  { id: 'horarios', title: 'admin.nav.calendars', may: 'settings.manage', view: Calendars },
  { id: 'sla', title: 'admin.nav.sla', may: 'settings.manage', view: SlaPolicies },
  { id: 'canales', title: 'admin.nav.channels', may: 'accounts.manage', view: Accounts },
  { id: 'asignacion', title: 'admin.nav.assignment', may: 'tickets.all_accounts', view: Assignment },
  { id: 'estados', title: 'admin.nav.states', may: 'accounts.manage', view: States },
  { id: 'exportaciones', title: 'admin.nav.exports', may: 'tickets.all_accounts', view: Exports },
  { id: 'respaldos', title: 'admin.nav.backups', may: 'settings.manage', view: Backups },
  { id: 'almacenamiento', title: 'admin.nav.storage', may: 'settings.manage', view: Storage },
  { id: 'direccion', title: 'admin.nav.public_url', may: 'settings.manage', view: PublicUrl },
  { id: 'seguridad', title: 'admin.nav.security', may: 'settings.manage', view: Security },
  { id: 'tokens', title: 'admin.nav.tokens', may: 'settings.manage', view: AllTokens },
  { id: 'auditoria', title: 'admin.nav.audit', may: 'settings.manage', view: Audit },
];

/** The sections this user may open (none for agents). */
export const adminSections = (me) => SECTIONS.filter((s) => me.permissions?.includes(s.may));

export function Admin({ me, section, params = {} }) {
  const mine = adminSections(me);
  const current = mine.find((s) => s.id === section) ?? mine[0];
  if (!current) return html`<main class="admin"><p class="error" role="alert">${t('error.forbidden')}</p></main>`;
  const View = current.view;
  return html`<div class="admin-area">
    <nav class="admin-nav" aria-label=${t('admin.nav.title')}>
      <h1 id="admin-title">${t('admin.nav.title')}</h1>
      <ul>${mine.map((s) => html`<li><a href=${`#/admin/${s.id}`} aria-current=${s === current ? 'page' : undefined}>${t(s.title)}</a></li>`)}</ul>
    </nav>
    <main class="admin" aria-labelledby="admin-title">
      <${View} key=${current.id} me=${me} params=${params} />
    </main>
  </div>`;
}

/** Asignación: the matrix and each account's policy (administrators), and "why". */
function Assignment({ me }) {
  const isAdmin = me.permissions?.includes('accounts.manage');
  return html`${isAdmin && html`<${Matrix} />`}
    ${isAdmin && html`<${Policies} />`}
    <${Why} me=${me} />`;
}

/** Where links in mail point (invitations, password resets, notifications). */
function PublicUrl() {
  const [current, setCurrent] = useState(null);
  const [value, setValue] = useState('');
  const [status, ok, fail] = useStatus();
  useEffect(() => {
    api('GET', '/api/v1/settings/public_url')
      .then((r) => { setCurrent(r); setValue(r.public_url ?? location.origin); })
      .catch((e) => fail(e.message));
  }, []);
  const save = async (ev) => {
    ev.preventDefault();
    try { setCurrent(await api('PUT', '/api/v1/settings/public_url', { public_url: value })); ok(t('admin.saved')); } catch (e) { fail(e.message); }
  };
  if (!current) return html`<p class="loading">${t('loading')}</p><${StatusLine} status=${status} />`;
  return html`<${Section} id="public-url-title" title=${t('public_url.title')} hint=${t('public_url.hint')}>
    ${current?.source === 'none' && html`<p class="notice">${t('public_url.missing')}</p>`}
    <form class="inline-form" onSubmit=${save}>
      <label for="admin-public-url">${t('public_url.label')}</label>
      <input id="admin-public-url" type="url" required value=${value} disabled=${current?.source === 'config'}
        onInput=${(e) => setValue(e.target.value)} />
      <button type="submit" class="primary" disabled=${!current || current.source === 'config'}>${t('action.save')}</button>
    </form>
    ${current?.source === 'config' && html`<p class="hint">${t('public_url.from_config')}</p>`}
    <${StatusLine} status=${status} />
  <//>`;
}

/** The agent × account table, edited in bulk and saved at once. */
function Matrix() {
  const [modes, setModes] = useState(null); // "user:account" → mode
  const [changed, setChanged] = useState({});
  const [status, ok, fail] = useStatus();
  const load = () => api('GET', '/api/v1/assignment').then((r) => {
    const m = {};
    for (const e of r.items) m[`${e.user_id}:${e.account_id}`] = e.mode;
    setModes(m);
    setChanged({});
  }).catch((e) => fail(e.message));
  useEffect(() => { load(); }, []);
  if (!modes) return html`<p class="loading">${t('loading')}</p>`;
  const users = refs.users.filter((u) => u.active);
  const get = (u, a) => changed[`${u}:${a}`] ?? modes[`${u}:${a}`] ?? 'disabled';
  const set = (u, a, m) => setChanged((c) => ({ ...c, [`${u}:${a}`]: m }));
  const setColumn = (a, m) => { if (m) setChanged((c) => { const n = { ...c }; for (const u of users) n[`${u.id}:${a}`] = m; return n; }); };
  const save = async () => {
    const items = Object.entries(changed).map(([k, mode]) => { const [user_id, account_id] = k.split(':'); return { user_id, account_id, mode }; });
    try { await api('PUT', '/api/v1/assignment', { items }); await load(); await loadRefs(); ok(t('admin.saved')); } catch (e) { fail(e.message); }
  };
  const dirty = Object.keys(changed).length;
  return html`<${Section} id="matrix-title" title=${t('admin.matrix')} hint=${t('admin.matrix_hint')}>
    <div class="table-wrap"><table class="matrix">
      <thead><tr><th scope="col">${t('admin.agent')}</th>
        ${refs.accounts.map((a) => html`<th scope="col">${a.name}
          <select aria-label=${t('admin.set_column', { account: a.name })} value="" onChange=${(e) => { setColumn(a.id, e.target.value); e.target.value = ''; }}>
            <option value="">${t('admin.set_all')}</option>${MODES.map((m) => html`<option value=${m}>${t(`mode.${m}`)}</option>`)}
          </select></th>`)}</tr></thead>
      <tbody>${users.map((u) => html`<tr><th scope="row">${u.name}</th>
        ${refs.accounts.map((a) => html`<td class=${`mode-${get(u.id, a.id)}`}>
          <select aria-label=${t('admin.mode_of', { agent: u.name, account: a.name })} value=${get(u.id, a.id)}
            onChange=${(e) => set(u.id, a.id, e.target.value)}>
            ${MODES.map((m) => html`<option value=${m}>${t(`mode.${m}`)}</option>`)}</select></td>`)}</tr>`)}</tbody>
    </table></div>
    <button type="button" class="primary" disabled=${!dirty} onClick=${save}>${t('admin.save_changes', { n: dirty })}</button>
    <${StatusLine} status=${status} />
  <//>`;
}

/** Each account's mode, cap and agent–customer relation. */
function Policies() {
  return html`<${Section} id="policies-title" title=${t('admin.policies')} hint=${t('admin.policies_hint')}>
    <div class="policies">${refs.accounts.map((a) => html`<${Policy} key=${a.id} account=${a} />`)}</div>
  <//>`;
}

function Policy({ account }) {
  const initial = account.settings.assignment ?? {};
  const [mode, setMode] = useState(initial.mode ?? 'round_robin');
  const [cap, setCap] = useState(initial.max_open ?? '');
  const [sticky, setSticky] = useState(initial.sticky ?? true);
  const [status, ok, fail] = useStatus();
  const save = async (ev) => {
    ev.preventDefault();
    const assignment = { mode, sticky, max_open: cap === '' ? null : Number(cap) };
    try { await api('PATCH', `/api/v1/accounts/${account.id}`, { settings: { assignment } }); await loadRefs(); ok(t('admin.saved')); } catch (e) { fail(e.message); }
  };
  const id = `policy-${account.id}`;
  return html`<form class="policy" onSubmit=${save} aria-labelledby=${id}>
    <h3 id=${id}>${account.name}</h3>
    <label>${t('admin.mode')} <select value=${mode} onChange=${(e) => setMode(e.target.value)}>
      <option value="round_robin">${t('policy.round_robin')}</option>
      <option value="least_pending">${t('policy.least_pending')}</option></select></label>
    <label>${t('admin.max_open')} <input type="number" min="1" max="1000" value=${cap} placeholder=${t('admin.no_cap')}
      onInput=${(e) => setCap(e.target.value)} /></label>
    <label class="check"><input type="checkbox" checked=${sticky} onChange=${(e) => setSticky(e.target.checked)} /> ${t('admin.sticky')}</label>
    <button type="submit" class="small">${t('action.save')}</button>
    <${StatusLine} status=${status} />
  </form>`;
}

/** Connection states and their automatic changes. */
function States() {
  const [states, setStates] = useState(null);
  const [settings, setSettings] = useState(null);
  const [name, setName] = useState('');
  const [assignable, setAssignable] = useState(false);
  const [status, ok, fail] = useStatus();
  const load = async () => {
    const [s, c] = await Promise.all([api('GET', '/api/v1/connection_states'), api('GET', '/api/v1/connection_settings')]);
    setStates(s.items);
    setSettings(c);
  };
  useEffect(() => { load().catch((e) => fail(e.message)); }, []);
  const run = async (f) => { try { await f(); await load(); ok(t('admin.saved')); } catch (e) { fail(e.message); } };
  if (!states || !settings) return html`<p class="loading">${t('loading')}</p>`;
  const pick = (key) => html`<select value=${settings[key] ?? ''} onChange=${(e) => setSettings({ ...settings, [key]: e.target.value || null })}>
    <option value="">${t('admin.no_change')}</option>${states.map((s) => html`<option value=${s.name}>${s.name}</option>`)}</select>`;
  return html`<${Section} id="states-title" title=${t('admin.states')} hint=${t('admin.states_hint')}>
    <table class="states"><thead><tr><th scope="col">${t('admin.state_name')}</th><th scope="col">${t('admin.assignable')}</th><th></th></tr></thead>
      <tbody>${states.map((s) => html`<tr><td>${s.name}</td>
        <td><input type="checkbox" aria-label=${t('admin.assignable_of', { name: s.name })} checked=${s.assignable}
          onChange=${(e) => run(() => api('PATCH', `/api/v1/connection_states/${s.id}`, { assignable: e.target.checked }))} /></td>
        <td><button type="button" class="small" aria-label=${t('admin.delete_state', { name: s.name })}
          onClick=${() => run(() => api('DELETE', `/api/v1/connection_states/${s.id}`))}>${t('admin.delete')}</button></td></tr>`)}</tbody></table>
    <form class="inline" onSubmit=${(e) => { e.preventDefault(); run(async () => { await api('POST', '/api/v1/connection_states', { name, assignable }); setName(''); }); }}>
      <label>${t('admin.new_state')} <input value=${name} required maxlength="40" onInput=${(e) => setName(e.target.value)} /></label>
      <label class="check"><input type="checkbox" checked=${assignable} onChange=${(e) => setAssignable(e.target.checked)} /> ${t('admin.assignable')}</label>
      <button type="submit" class="small">${t('admin.add')}</button>
    </form>
    <form class="auto-states" onSubmit=${(e) => { e.preventDefault(); run(() => api('PUT', '/api/v1/connection_settings', settings)); }}>
      <h3>${t('admin.auto_changes')}</h3>
      <label>${t('admin.on_sign_in')} ${pick('on_sign_in')}</label>
      <label>${t('admin.on_sign_out')} ${pick('on_sign_out')}</label>
      <label>${t('admin.idle_after')} <input type="number" min="1" max="1440" value=${settings.idle_minutes ?? ''}
        onInput=${(e) => setSettings({ ...settings, idle_minutes: e.target.value === '' ? null : Number(e.target.value) })} /> ${t('admin.minutes_to')} ${pick('idle_state')}</label>
      <button type="submit" class="small">${t('action.save')}</button>
    </form>
    <${StatusLine} status=${status} />
  <//>`;
}

/** ASSIGN-6: the answer to "why is this agent not receiving tickets?". */
function Why({ me }) {
  const everyone = me.permissions?.includes('tickets.all_accounts');
  const [userId, setUserId] = useState(me.id);
  // Keyed by the agent: each pick starts empty, and only its own answer can land there.
  return html`<${Section} id="why-title" title=${t('why.title')}>
    ${everyone && html`<label>${t('admin.agent')} <select value=${userId} onChange=${(e) => setUserId(e.target.value)}>
      ${refs.users.map((u) => html`<option value=${u.id}>${u.name}</option>`)}</select></label>`}
    <${WhyOf} key=${userId} userId=${userId} />
  <//>`;
}

function WhyOf({ userId }) {
  const [why, error] = useLoad(() => api('GET', `/api/v1/assignment/why?user_id=${userId}`), [userId]);
  return html`<p class="error" role="alert">${error}</p>
    ${why && html`<div class="why" data-user=${why.user_id}>
      <ul class="blockers">${why.blockers.length === 0 ? html`<li class="ok">${t('why.ok')}</li>`
        : why.blockers.map((b) => html`<li class="blocker">${t(`why.${b}`, { state: why.connection_state ?? '—' })}</li>`)}</ul>
      <dl class="profile">
        <dt>${t('why.state')}</dt><dd>${why.connection_state ?? '—'} (${t(why.available ? 'why.assignable' : 'why.not_assignable')})</dd>
        <dt>${t('why.load')}</dt><dd>${t('why.load_value', { open: why.open_tickets, pending: why.pending_tickets })}</dd>
        <dt>${t('why.last')}</dt><dd>${why.last_assignment
          ? html`<a href=${`#/t/${why.last_assignment.ticket_number}`}>#${why.last_assignment.ticket_number}</a> · ${when(why.last_assignment.at)} — ${why.last_assignment.reason}`
          : t('why.never')}</dd>
      </dl>
      <table class="why-accounts"><thead><tr><th scope="col">${t('filter.account')}</th><th scope="col">${t('admin.mode')}</th><th scope="col">${t('admin.policy')}</th></tr></thead>
        <tbody>${why.accounts.map((a) => html`<tr><td>${a.account_name}</td><td class=${`mode-${a.mode}`}>${t(`mode.${a.mode}`)}</td>
          <td>${t(`policy.${a.policy.mode}`)}${a.policy.max_open ? ` · ${t('why.cap', { n: a.policy.max_open })}` : ''}${a.at_cap ? ` · ${t('why.at_cap_short')}` : ''}</td></tr>`)}</tbody></table>
    </div>`}`;
}
