// Administración › Usuarios (AUTH-4, AUTH-5, ORG-1): everyone with their role, state, teams and
// last sign-in; invite by mail with a role and teams; edit; deactivate (the 5-day rule said
// before confirming) and reactivate; send an invitation again.
import { html, useEffect, useState } from './vendor/htm-preact-standalone-3.1.1.js';
import { api, LANGUAGES, loadRefs, refs, t, when } from './lib.js';
import { Section, StatusLine, useStatus } from './admin-kit.js';
import { Dialog } from './dialog.js';

const ROLES = ['agent', 'supervisor', 'admin'];

const stateOf = (u) => (!u.active ? 'inactive' : u.invited ? 'invited' : 'active');

export function Users({ me, params = {} }) {
  const [users, setUsers] = useState(null);
  const [editing, setEditing] = useState(params.invitar ? {} : null); // a user, or {} to invite one
  const [leaving, setLeaving] = useState(null); // the user whose deactivation is being confirmed
  const [status, ok, fail] = useStatus();
  const load = async () => {
    const r = await api('GET', '/api/v1/users');
    setUsers(r.items);
    await loadRefs();
  };
  useEffect(() => { load().catch((e) => fail(e.message)); }, []);
  const run = async (f, done) => { try { const r = await f(); await load(); ok(done(r)); } catch (e) { fail(e.message); } };
  if (!users) return html`<p class="loading">${t('loading')}</p>`;
  const teamsOf = (u) => refs.teams.filter((team) => team.members.includes(u.id)).map((team) => team.name).join(', ');
  const deactivate = (u) => run(() => api('POST', `/api/v1/users/${u.id}/deactivate`),
    (r) => t('users.deactivated', { name: u.name, n: r.unassigned_tickets.length }));
  return html`<${Section} id="users-title" title=${t('admin.nav.users')} hint=${t('users.hint')}>
    <table class="users"><thead><tr>
      <th scope="col">${t('users.name')}</th><th scope="col">${t('users.email')}</th><th scope="col">${t('users.role')}</th>
      <th scope="col">${t('users.state')}</th><th scope="col">${t('users.teams')}</th><th scope="col">${t('users.last_sign_in')}</th><th></th>
    </tr></thead>
    <tbody>${users.map((u) => html`<tr data-user=${u.id}>
      <td>${u.name}</td><td>${u.email}</td><td>${t(`role.${u.role}`)}</td>
      <td><span class=${`user-state user-${stateOf(u)}`}>${t(`users.state_${stateOf(u)}`)}</span></td>
      <td>${teamsOf(u) || '—'}</td>
      <td>${u.last_sign_in_at ? when(u.last_sign_in_at) : t('users.never')}</td>
      <td class="actions">
        <button type="button" class="small" aria-label=${t('users.edit_of', { name: u.name })} onClick=${() => setEditing(u)}>${t('accounts.edit')}</button>
        ${u.invited && u.active && html`<button type="button" class="small" aria-label=${t('users.resend_of', { name: u.name })}
          onClick=${() => run(() => api('POST', `/api/v1/users/${u.id}/invitation`), () => t('users.resent', { email: u.email }))}>${t('users.resend')}</button>`}
        ${u.id !== me.id && (u.active
          ? html`<button type="button" class="small danger" aria-label=${t('users.deactivate_of', { name: u.name })} onClick=${() => setLeaving(u)}>${t('users.deactivate')}</button>`
          : html`<button type="button" class="small" aria-label=${t('users.reactivate_of', { name: u.name })}
              onClick=${() => run(() => api('POST', `/api/v1/users/${u.id}/reactivate`), () => t('users.reactivated', { name: u.name }))}>${t('users.reactivate')}</button>`)}
      </td></tr>`)}</tbody></table>
    ${editing ? html`<${UserForm} key=${editing.id ?? 'new'} user=${editing} onCancel=${() => setEditing(null)}
        onDone=${async (message) => { setEditing(null); await load(); ok(message); }} />`
      : html`<button type="button" class="small" onClick=${() => setEditing({})}>${t('users.invite')}</button>`}
    <${StatusLine} status=${status} />
    ${leaving && html`<${Dialog} labelledBy="deactivate-title" onClose=${() => setLeaving(null)}
        onSubmit=${(e) => { e.preventDefault(); const u = leaving; setLeaving(null); deactivate(u); }}>
      <h2 id="deactivate-title">${t('users.deactivate_title', { name: leaving.name })}</h2>
      <p>${t('users.deactivate_rule')}</p>
      <div class="dialog-actions">
        <button type="button" onClick=${() => setLeaving(null)}>${t('action.cancel')}</button>
        <button type="submit" class="primary danger">${t('users.deactivate')}</button>
      </div>
    <//>`}
  <//>`;
}

/** Invite (no id) or edit a user: name, email (on invitation), role, language, teams. */
function UserForm({ user, onDone, onCancel }) {
  const isNew = !user.id;
  const [form, setForm] = useState({
    name: user.name ?? '', email: user.email ?? '', role: user.role ?? 'agent', language: user.language ?? 'es',
    teams: refs.teams.filter((team) => user.id && team.members.includes(user.id)).map((team) => team.id),
  });
  const [status, , fail] = useStatus();
  const set = (key) => (e) => setForm({ ...form, [key]: e.target.value });
  const toggleTeam = (id, on) => setForm({ ...form, teams: on ? [...form.teams, id] : form.teams.filter((x) => x !== id) });
  const save = async (ev) => {
    ev.preventDefault();
    try {
      if (isNew) {
        await api('POST', '/api/v1/users', form);
        onDone(t('users.invited', { email: form.email }));
      } else {
        const { email: _, ...patch } = form;
        await api('PATCH', `/api/v1/users/${user.id}`, patch);
        onDone(t('admin.saved'));
      }
    } catch (e) { fail(e.message); }
  };
  const title = isNew ? t('users.invite') : t('users.edit_of', { name: user.name });
  return html`<form class="user-form" aria-label=${title} onSubmit=${save}>
    <h3>${title}</h3>
    <label>${t('users.name')} <input value=${form.name} required maxlength="120" onInput=${set('name')} /></label>
    ${isNew && html`<label>${t('users.email')} <input type="email" value=${form.email} required onInput=${set('email')} /></label>`}
    <label>${t('users.role')} <select value=${form.role} onChange=${set('role')}>
      ${ROLES.map((r) => html`<option value=${r}>${t(`role.${r}`)}</option>`)}</select></label>
    <label>${t('menu.language')} <select value=${form.language} onChange=${set('language')}>
      ${Object.entries(LANGUAGES).map(([code, name]) => html`<option value=${code}>${name}</option>`)}</select></label>
    ${refs.teams.length > 0 && html`<fieldset><legend>${t('users.teams')}</legend>
      ${refs.teams.map((team) => html`<label class="check"><input type="checkbox" checked=${form.teams.includes(team.id)}
        onChange=${(e) => toggleTeam(team.id, e.target.checked)} /> ${team.name}</label>`)}</fieldset>`}
    ${isNew && html`<p class="hint">${t('users.invite_hint')}</p>`}
    ${!isNew && form.role !== user.role && html`<p class="hint">${t('users.role_change_hint')}</p>`}
    <div class="dialog-actions">
      <button type="submit" class="primary">${isNew ? t('users.send_invitation') : t('action.save')}</button>
      <button type="button" onClick=${onCancel}>${t('action.cancel')}</button>
    </div>
    <${StatusLine} status=${status} />
  </form>`;
}
