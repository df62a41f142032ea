// Administración › Auditoría: who signed in, changed a role, a channel account or a setting,
// from where; filtered by person, action and dates, newest first, and downloadable as CSV.
import { html, useEffect, useState } from './vendor/htm-preact-standalone-3.1.1.js';
import { api, query, refs, t, when } from './lib.js';
import { Section, StatusLine, useStatus } from './admin-kit.js';

const ACTIONS = ['sign_in', 'sign_in_failed', 'sign_out', 'password_changed', 'email_changed',
  'password_reset_requested', 'password_reset', 'user_created', 'invitation_sent', 'role_changed',
  'teams_changed', 'user_deactivated', 'user_reactivated', 'token_created', 'token_revoked',
  'account_created', 'account_updated', 'account_deleted', 'setting_changed', 'backup_made',
  'two_factor_enabled', 'two_factor_disabled', 'recovery_code_used', 'recovery_codes_renewed',
  'contacts_exported', 'contacts_imported', 'tickets_exported', 'messages_exported', 'storage_compacted'];

/** A day picked in a date field, as the RFC 3339 start of that day here. */
const dayStart = (d, plus = 0) => {
  if (!d) return undefined;
  const at = new Date(`${d}T00:00:00`);
  at.setDate(at.getDate() + plus);
  return at.toISOString();
};

export function Audit() {
  const [filter, setFilter] = useState({ actor_id: '', action: '', from: '', to: '' });
  const [items, setItems] = useState(null);
  const [next, setNext] = useState(null);
  const [status, , fail] = useStatus();
  const params = (f) => ({ actor_id: f.actor_id, action: f.action, from: dayStart(f.from), to: dayStart(f.to, 1) });
  const load = async (cursor) => {
    try {
      const r = await api('GET', `/api/v1/audit?${query({ ...params(filter), cursor })}`);
      setItems(cursor ? [...items, ...r.items] : r.items);
      setNext(r.next_cursor);
    } catch (e) { fail(e.message); }
  };
  useEffect(() => { load(); }, [filter]);
  const set = (key) => (e) => setFilter({ ...filter, [key]: e.target.value });
  // Roles are stored by code; the reader sees them in their language.
  const shown = (e, v) => (e.action === 'role_changed' || e.action === 'user_created') && ['agent', 'supervisor', 'admin'].includes(v) ? t(`role.${v}`) : v;
  const details = (e) => Object.entries(e.details).map(([k, v]) => `${t(`audit.detail.${k}`)}: ${shown(e, v)}`).join(' · ');
  return html`<${Section} id="audit-title" title=${t('admin.nav.audit')} hint=${t('audit.hint')}>
    <form class="audit-filter" aria-label=${t('audit.filter')} onSubmit=${(e) => e.preventDefault()}>
      <label>${t('audit.actor')} <select value=${filter.actor_id} onChange=${set('actor_id')}>
        <option value="">${t('audit.anyone')}</option>
        ${refs.users.map((u) => html`<option value=${u.id}>${u.name}</option>`)}</select></label>
      <label>${t('audit.action')} <select value=${filter.action} onChange=${set('action')}>
        <option value="">${t('audit.any_action')}</option>
        ${ACTIONS.map((a) => html`<option value=${a}>${t(`audit.action.${a}`)}</option>`)}</select></label>
      <label>${t('audit.from')} <input type="date" value=${filter.from} onChange=${set('from')} /></label>
      <label>${t('audit.to')} <input type="date" value=${filter.to} onChange=${set('to')} /></label>
      <a class="button small" href=${`/api/v1/audit/export?${query(params(filter))}`} download>${t('audit.csv')}</a>
    </form>
    <${StatusLine} status=${status} />
    ${!items ? html`<p class="loading">${t('loading')}</p>` : items.length === 0 ? html`<p class="hint">${t('audit.none')}</p>`
      : html`<table class="audit"><thead><tr><th scope="col">${t('audit.when')}</th><th scope="col">${t('audit.actor')}</th>
          <th scope="col">${t('audit.action')}</th><th scope="col">${t('audit.target')}</th><th scope="col">${t('audit.details')}</th>
          <th scope="col">${t('audit.origin')}</th></tr></thead>
        <tbody>${items.map((e) => html`<tr data-action=${e.action}>
          <td>${when(e.at)}</td><td>${e.actor}</td><td>${t(`audit.action.${e.action}`)}</td><td>${e.target ?? '—'}</td>
          <td>${details(e)}</td><td title=${e.user_agent ?? ''}>${e.ip ?? '—'}</td></tr>`)}</tbody></table>`}
    ${next && html`<button type="button" class="small" onClick=${() => load(next)}>${t('audit.more')}</button>`}
  <//>`;
}
