// Administración › Equipos, Etiquetas and Respuestas rápidas (ORG-1, ORG-2, TICK-9): teams with
// their members; labels with a colour, renamed, merged and deleted (with how many tickets carry
// them); canned answers, shared or personal, with their variables previewed.
import { html, useEffect, useState } from './vendor/htm-preact-standalone-3.1.1.js';
import { api, loadRefs, refs, t, useEvents, useLoad } from './lib.js';
import { Section, StatusLine, useStatus } from './admin-kit.js';
import { Dialog } from './dialog.js';
import { fillVariables } from './composer.js';

/** Runs a change, reloads the shared lists, and says how it went. */
function useRun(load) {
  const [status, ok, fail] = useStatus();
  const run = async (f, done) => { try { const r = await f(); await loadRefs(); await load?.(); ok(done(r)); } catch (e) { fail(e.message); } };
  return [status, run, fail];
}

export function Teams() {
  const [, setTick] = useState(0);
  const [editing, setEditing] = useState(null); // a team, or {} for a new one
  const [status, run] = useRun(async () => setTick((n) => n + 1));
  const save = (team, form) => run(
    () => (team.id ? api('PATCH', `/api/v1/teams/${team.id}`, form) : api('POST', '/api/v1/teams', form)),
    () => { setEditing(null); return t('admin.saved'); });
  const names = (team) => team.members.map((id) => refs.users.find((u) => u.id === id)?.name).filter(Boolean).join(', ');
  return html`<${Section} id="teams-title" title=${t('admin.nav.teams')} hint=${t('teams.hint')}>
    ${refs.teams.length === 0 ? html`<p class="hint">${t('teams.none')}</p>` : html`<table class="teams"><thead><tr>
        <th scope="col">${t('teams.name')}</th><th scope="col">${t('teams.members')}</th><th></th></tr></thead>
      <tbody>${refs.teams.map((team) => html`<tr data-team=${team.id}><td>${team.name}</td><td>${names(team) || '—'}</td>
        <td class="actions"><button type="button" class="small" aria-label=${t('users.edit_of', { name: team.name })} onClick=${() => setEditing(team)}>${t('accounts.edit')}</button>
          <button type="button" class="small danger" aria-label=${t('teams.delete_of', { name: team.name })}
            onClick=${() => run(() => api('DELETE', `/api/v1/teams/${team.id}`), () => t('teams.deleted', { name: team.name }))}>${t('admin.delete')}</button></td></tr>`)}</tbody></table>`}
    ${editing ? html`<${TeamForm} key=${editing.id ?? 'new'} team=${editing} onSave=${(form) => save(editing, form)} onCancel=${() => setEditing(null)} />`
      : html`<button type="button" class="small" onClick=${() => setEditing({ name: '', members: [] })}>${t('teams.add')}</button>`}
    <${StatusLine} status=${status} />
  <//>`;
}

function TeamForm({ team, onSave, onCancel }) {
  const [name, setName] = useState(team.name);
  const [members, setMembers] = useState(team.members);
  const [calendar, setCalendar] = useState(team.calendar_id ?? '');
  const [calendars] = useLoad(() => api('GET', '/api/v1/calendars'), []);
  const title = team.id ? t('users.edit_of', { name: team.name }) : t('teams.add');
  return html`<form class="user-form" aria-label=${title} onSubmit=${(e) => { e.preventDefault(); onSave({ name, members, calendar_id: calendar || null }); }}>
    <h3>${title}</h3>
    <label>${t('teams.name')} <input value=${name} required maxlength="80" onInput=${(e) => setName(e.target.value)} /></label>
    ${calendars && html`<label>${t('teams.calendar')} <select value=${calendar} onChange=${(e) => setCalendar(e.target.value)}>
      <option value="">${t('teams.calendar_accounts')}</option>${calendars.items.map((c) => html`<option value=${c.id}>${c.name}</option>`)}</select></label>`}
    <fieldset><legend>${t('teams.members')}</legend>
      ${refs.users.filter((u) => u.active !== false).map((u) => html`<label class="check"><input type="checkbox" checked=${members.includes(u.id)}
        onChange=${(e) => setMembers(e.target.checked ? [...members, u.id] : members.filter((x) => x !== u.id))} /> ${u.name}</label>`)}
    </fieldset>
    <div class="dialog-actions"><button type="submit" class="primary">${t('action.save')}</button>
      <button type="button" onClick=${onCancel}>${t('action.cancel')}</button></div>
  </form>`;
}

export function Labels() {
  const [usage, setUsage] = useState({});
  const [editing, setEditing] = useState(null);
  const [merging, setMerging] = useState(null);
  const [deleting, setDeleting] = useState(null);
  const load = async () => {
    const r = await api('GET', '/api/v1/labels/usage');
    setUsage(Object.fromEntries(r.items.map((u) => [u.id, u.tickets])));
  };
  const [status, run, fail] = useRun(load);
  useEffect(() => { load().catch((e) => fail(e.message)); }, []);
  useEvents((kind) => { if (kind === 'refs') load().catch(() => {}); }, []);
  const save = (label, form) => run(
    () => (label.id ? api('PATCH', `/api/v1/labels/${label.id}`, form) : api('POST', '/api/v1/labels', form)),
    () => { setEditing(null); return t('admin.saved'); });
  return html`<${Section} id="labels-title" title=${t('admin.nav.labels')} hint=${t('labels.hint')}>
    ${refs.labels.length === 0 ? html`<p class="hint">${t('labels.none')}</p>` : html`<table class="labels"><thead><tr>
        <th scope="col">${t('labels.name')}</th><th scope="col">${t('labels.tickets')}</th><th></th></tr></thead>
      <tbody>${refs.labels.map((l) => html`<tr data-label=${l.id}>
        <td><span class="label" style=${l.color ? { '--label': l.color } : null}>${l.name}</span></td>
        <td>${usage[l.id] ?? '…'}</td>
        <td class="actions"><button type="button" class="small" aria-label=${t('users.edit_of', { name: l.name })} onClick=${() => setEditing(l)}>${t('accounts.edit')}</button>
          ${refs.labels.length > 1 && html`<button type="button" class="small" aria-label=${t('labels.merge_of', { name: l.name })} onClick=${() => setMerging(l)}>${t('labels.merge')}</button>`}
          <button type="button" class="small danger" aria-label=${t('labels.delete_of', { name: l.name })} onClick=${() => setDeleting(l)}>${t('admin.delete')}</button></td></tr>`)}</tbody></table>`}
    ${editing ? html`<${LabelForm} key=${editing.id ?? 'new'} label=${editing} onSave=${(form) => save(editing, form)} onCancel=${() => setEditing(null)} />`
      : html`<button type="button" class="small" onClick=${() => setEditing({ name: '', color: '#2f6fdb' })}>${t('labels.add')}</button>`}
    <${StatusLine} status=${status} />
    ${merging && html`<${MergeLabel} label=${merging} onCancel=${() => setMerging(null)}
      onMerge=${(into) => { const from = merging; setMerging(null); run(() => api('POST', `/api/v1/labels/${from.id}/merge`, { into: into.id }), (r) => t('labels.merged', { from: from.name, into: into.name, n: r.tickets })); }} />`}
    ${deleting && html`<${Dialog} labelledBy="label-delete-title" onClose=${() => setDeleting(null)}
        onSubmit=${(e) => { e.preventDefault(); const l = deleting; setDeleting(null); run(() => api('DELETE', `/api/v1/labels/${l.id}`), () => t('labels.deleted', { name: l.name })); }}>
      <h2 id="label-delete-title">${t('labels.delete_title', { name: deleting.name })}</h2>
      <p>${t('labels.delete_count', { n: usage[deleting.id] ?? 0 })}</p>
      <div class="dialog-actions"><button type="button" onClick=${() => setDeleting(null)}>${t('action.cancel')}</button>
        <button type="submit" class="primary danger">${t('admin.delete')}</button></div>
    <//>`}
  <//>`;
}

function LabelForm({ label, onSave, onCancel }) {
  const [name, setName] = useState(label.name);
  const [color, setColor] = useState(label.color ?? '#2f6fdb');
  const title = label.id ? t('users.edit_of', { name: label.name }) : t('labels.add');
  return html`<form class="user-form" aria-label=${title} onSubmit=${(e) => { e.preventDefault(); onSave({ name, color }); }}>
    <h3>${title}</h3>
    <label>${t('labels.name')} <input value=${name} required maxlength="60" onInput=${(e) => setName(e.target.value)} /></label>
    <label>${t('labels.color')} <input type="color" value=${color} onInput=${(e) => setColor(e.target.value)} /></label>
    <p><span class="label" style=${{ '--label': color }}>${name || t('labels.preview')}</span></p>
    <div class="dialog-actions"><button type="submit" class="primary">${t('action.save')}</button>
      <button type="button" onClick=${onCancel}>${t('action.cancel')}</button></div>
  </form>`;
}

function MergeLabel({ label, onMerge, onCancel }) {
  const others = refs.labels.filter((l) => l.id !== label.id);
  const [into, setInto] = useState(others[0]?.id);
  return html`<${Dialog} labelledBy="label-merge-title" onClose=${onCancel}
      onSubmit=${(e) => { e.preventDefault(); onMerge(others.find((l) => l.id === into)); }}>
    <h2 id="label-merge-title">${t('labels.merge_title', { name: label.name })}</h2>
    <p>${t('labels.merge_hint', { name: label.name })}</p>
    <label>${t('labels.merge_into')} <select value=${into} onChange=${(e) => setInto(e.target.value)}>
      ${others.map((l) => html`<option value=${l.id}>${l.name}</option>`)}</select></label>
    <div class="dialog-actions"><button type="button" onClick=${onCancel}>${t('action.cancel')}</button>
      <button type="submit" class="primary">${t('labels.merge')}</button></div>
  <//>`;
}

/** A sample ticket for the preview: what the variables become. */
const VARIABLES = ['customer.first_name', 'customer.name', 'agent.name', 'agent.first_name', 'ticket.number'];
const SAMPLE = { number: 1234, contact: { name: 'Josefa Muñoz Rojas' } }; // i18n-ok: a sample customer's name

/** Canned answers: administrators manage the shared ones; everyone their personal ones. */
export function Canned({ me, personalOnly = !me.permissions?.includes('settings.manage') }) {
  const [items, setItems] = useState(null);
  const [editing, setEditing] = useState(null);
  const load = async () => setItems((await api('GET', '/api/v1/canned_responses')).items);
  const [status, run, fail] = useRun(load);
  useEffect(() => { load().catch((e) => fail(e.message)); }, []);
  if (!items) return html`<p class="loading">${t('loading')}</p>`;
  const shown = personalOnly ? items.filter((c) => c.personal) : items;
  const save = (c, form) => run(
    () => (c.id ? api('PATCH', `/api/v1/canned_responses/${c.id}`, { title: form.title, shortcut: form.shortcut, text: form.text })
      : api('POST', '/api/v1/canned_responses', form)),
    () => { setEditing(null); return t('admin.saved'); });
  return html`<${Section} id="canned-title" title=${t(personalOnly ? 'canned.mine' : 'admin.nav.canned')} hint=${t('canned.hint')}>
    ${shown.length === 0 ? html`<p class="hint">${t('canned.none')}</p>` : html`<table class="canned"><thead><tr>
        <th scope="col">${t('canned.title')}</th><th scope="col">${t('canned.shortcut')}</th><th scope="col">${t('canned.kind')}</th><th></th></tr></thead>
      <tbody>${shown.map((c) => html`<tr data-canned=${c.id}><td>${c.title}</td><td>${c.shortcut ? `/${c.shortcut}` : '—'}</td>
        <td>${t(c.personal ? 'canned.personal' : 'canned.shared')}</td>
        <td class="actions"><button type="button" class="small" aria-label=${t('users.edit_of', { name: c.title })} onClick=${() => setEditing(c)}>${t('accounts.edit')}</button>
          <button type="button" class="small danger" aria-label=${t('canned.delete_of', { name: c.title })}
            onClick=${() => run(() => api('DELETE', `/api/v1/canned_responses/${c.id}`), () => t('canned.deleted', { name: c.title }))}>${t('admin.delete')}</button></td></tr>`)}</tbody></table>`}
    ${editing ? html`<${CannedForm} key=${editing.id ?? 'new'} canned=${editing} me=${me} personalOnly=${personalOnly}
        onSave=${(form) => save(editing, form)} onCancel=${() => setEditing(null)} />`
      : html`<button type="button" class="small" onClick=${() => setEditing({ title: '', shortcut: '', text: '', personal: personalOnly })}>${t('canned.add')}</button>`}
    <${StatusLine} status=${status} />
  <//>`;
}

function CannedForm({ canned, me, personalOnly, onSave, onCancel }) {
  const [form, setForm] = useState({ title: canned.title, shortcut: canned.shortcut ?? '', text: canned.text, personal: canned.personal });
  const set = (key) => (e) => setForm({ ...form, [key]: e.target.value });
  const title = canned.id ? t('users.edit_of', { name: canned.title }) : t('canned.add');
  return html`<form class="user-form" aria-label=${title} onSubmit=${(e) => { e.preventDefault(); onSave(form); }}>
    <h3>${title}</h3>
    <label>${t('canned.title')} <input value=${form.title} required maxlength="120" onInput=${set('title')} /></label>
    <label>${t('canned.shortcut')} <input value=${form.shortcut} maxlength="40" placeholder=${t('canned.shortcut_example')} onInput=${set('shortcut')} /></label>
    <label class="wide">${t('canned.text')} <textarea rows="4" required value=${form.text} onInput=${set('text')}></textarea></label>
    <p class="hint">${t('canned.variables')} ${VARIABLES.map((v) => html` <code>{{${v}}}</code>`)}</p>
    <div class="canned-preview" aria-label=${t('canned.preview')}><strong>${t('canned.preview')}:</strong> ${fillVariables(form.text, SAMPLE, me)}</div>
    ${!canned.id && !personalOnly && html`<label class="check"><input type="checkbox" checked=${form.personal}
      onChange=${(e) => setForm({ ...form, personal: e.target.checked })} /> ${t('canned.only_me')}</label>`}
    <div class="dialog-actions"><button type="submit" class="primary">${t('action.save')}</button>
      <button type="button" onClick=${onCancel}>${t('action.cancel')}</button></div>
  </form>`;
}

/** The labels of a ticket or a contact: chips to remove, a list to add one. */
export function LabelPicker({ value, onChange, label }) {
  const chosen = value.map((id) => refs.labels.find((l) => l.id === id)).filter(Boolean);
  const free = refs.labels.filter((l) => !value.includes(l.id));
  return html`<div class="label-picker" role="group" aria-label=${label}>
    ${chosen.map((l) => html`<span class="label" style=${l.color ? { '--label': l.color } : null}>${l.name}
      <button type="button" class="chip-x" aria-label=${t('labels.remove_of', { name: l.name })}
        onClick=${() => onChange(value.filter((id) => id !== l.id))}>×</button></span>`)}
    ${free.length > 0 && html`<select aria-label=${t('labels.add_to')} value="" onChange=${(e) => e.target.value && onChange([...value, e.target.value])}>
      <option value="">${t('labels.add_to')}</option>${free.map((l) => html`<option value=${l.id}>${l.name}</option>`)}</select>`}
  </div>`;
}
