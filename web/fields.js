// Fields the administrator defines (seed 003): "Datos de perfil" on customers and "Datos del
// ticket" (typifications, TICK-9). The forms are drawn from the definitions in refs.fields;
// a value is kept under its field's id. Administración › Campos defines them.
import { html, useState } from './vendor/htm-preact-standalone-3.1.1.js';
import { api, loadRefs, refs, t } from './lib.js';
import { SaveCancel, Section, StatusLine, useStatus } from './admin-kit.js';

export const KINDS = ['choice', 'multi', 'yes_no', 'text', 'number', 'date'];

/** The definitions of `target` ('contact' or 'ticket') that apply on these accounts. */
export const fieldsFor = (target, accounts) => refs.fields.filter((f) => f.target === target
  && (f.accounts.length === 0 || f.accounts.some((a) => accounts.includes(a))));

/** A stored value as people read it. */
export function shown(f, v) {
  if (v === undefined || v === null) return '—';
  if (f.kind === 'yes_no') return t(v ? 'filter.yes' : 'filter.no');
  if (Array.isArray(v)) return v.join(', ');
  return String(v);
}

/** Read-only rows of a definition list. */
export const FieldRows = ({ target, accounts, values }) => fieldsFor(target, accounts)
  .map((f) => html`<dt>${f.name}</dt><dd data-field=${f.id}>${shown(f, values[f.id])}</dd>`);

/** What the form sends for every shown field: a value, or null to empty it. */
export const toPatch = (defs, form) => Object.fromEntries(defs.map((f) => {
  const v = form[f.id];
  const empty = v === undefined || v === '' || (Array.isArray(v) && v.length === 0);
  if (empty) return [f.id, null];
  if (f.kind === 'yes_no') return [f.id, v === true || v === 'true'];
  return [f.id, v];
}));

/** One input per field; `required` marks mandatory ones as the browser should enforce them. */
export function FieldInputs({ defs, form, setForm, required = false }) {
  const set = (id, v) => setForm({ ...form, [id]: v });
  return defs.map((f) => {
    const v = form[f.id];
    const label = html`${f.name}${f.mandatory && html` <span class="mandatory" title=${t('fields.mandatory')}>*</span>`}`;
    const req = required && f.mandatory;
    if (f.kind === 'multi') {
      const picked = Array.isArray(v) ? v : [];
      return html`<fieldset class="field-multi" data-field=${f.id}><legend>${label}</legend>
        ${f.options.map((o) => html`<label class="check"><input type="checkbox" checked=${picked.includes(o)}
          onChange=${(e) => set(f.id, e.target.checked ? [...picked, o] : picked.filter((x) => x !== o))} /> ${o}</label>`)}</fieldset>`;
    }
    if (f.kind === 'choice' || f.kind === 'yes_no') {
      const options = f.kind === 'choice' ? f.options.map((o) => [o, o]) : [['true', t('filter.yes')], ['false', t('filter.no')]];
      const value = v === undefined || v === null ? '' : String(v);
      return html`<label data-field=${f.id}>${label} <select required=${req} value=${value} onChange=${(e) => set(f.id, e.target.value)}>
        <option value="">—</option>${options.map(([val, text]) => html`<option value=${val}>${text}</option>`)}</select></label>`;
    }
    const type = { number: 'number', date: 'date' }[f.kind] ?? 'text';
    return html`<label data-field=${f.id}>${label} <input type=${type} step=${type === 'number' ? 'any' : undefined} required=${req}
      maxlength=${type === 'text' ? 2000 : undefined} value=${v ?? ''} onInput=${(e) => set(f.id, e.target.value)} /></label>`;
  });
}

/** "Datos del ticket": the typifications of the ticket's account, saved together. */
export function TicketFields({ ticket }) {
  const defs = fieldsFor('ticket', [ticket.account_id]);
  const [form, setForm] = useState(ticket.fields);
  const [status, ok, fail] = useStatus();
  if (defs.length === 0) return html`<p class="notice">${t('data.no_fields')}</p>`;
  const empty = defs.filter((f) => f.mandatory && ticket.fields[f.id] === undefined);
  const save = async (ev) => {
    ev.preventDefault();
    try { await api('PATCH', `/api/v1/tickets/${ticket.number}`, { fields: toPatch(defs, form) }); ok(t('admin.saved')); } catch (e) { fail(e.message); }
  };
  return html`<form class="ticket-fields" aria-label=${t('data.title')} onSubmit=${save}>
    ${empty.length > 0 && ticket.state === 'open' && html`<p class="notice">${t('data.mandatory_missing', { names: empty.map((f) => f.name).join(', ') })}</p>`}
    <${FieldInputs} defs=${defs} form=${form} setForm=${setForm} />
    <div class="dialog-actions"><button type="submit" class="primary">${t('action.save')}</button></div>
    <${StatusLine} status=${status} />
  </form>`;
}

/** Administración › Campos: profile fields and typifications. */
export function Fields() {
  const [editing, setEditing] = useState(null);
  const [status, ok, fail] = useStatus();
  const run = async (f, done) => { try { await f(); await loadRefs(); setEditing(null); ok(done); } catch (e) { fail(e.message); } };
  const save = (field, form) => run(() => (field.id ? api('PATCH', `/api/v1/fields/${field.id}`, form) : api('POST', '/api/v1/fields', form)), t('admin.saved'));
  const table = (target) => {
    const list = refs.fields.filter((f) => f.target === target);
    return html`<h3>${t(`fields.target.${target}`)}</h3>
      ${list.length === 0 ? html`<p class="hint">${t('fields.none')}</p>` : html`<table class="fields"><thead><tr>
        <th scope="col">${t('fields.name')}</th><th scope="col">${t('fields.kind')}</th><th scope="col">${t('fields.scope')}</th>
        <th scope="col">${t('fields.mandatory')}</th><th></th></tr></thead>
        <tbody>${list.map((f) => html`<tr data-field=${f.id}><td>${f.name}</td><td>${t(`fields.kind.${f.kind}`)}${f.options.length > 0 && html` <span class="muted">(${f.options.join(', ')})</span>`}</td>
          <td>${f.accounts.length === 0 ? t('fields.all_accounts') : f.accounts.map((a) => refs.accounts.find((x) => x.id === a)?.name ?? a).join(', ')}</td>
          <td>${t(f.mandatory ? 'filter.yes' : 'filter.no')}</td>
          <td class="actions"><button type="button" class="small" aria-label=${t('admin.edit_of', { name: f.name })} onClick=${() => setEditing(f)}>${t('accounts.edit')}</button>
            <button type="button" class="small danger" aria-label=${t('fields.delete_of', { name: f.name })}
              onClick=${() => confirm(t('fields.delete_confirm', { name: f.name })) && run(() => api('DELETE', `/api/v1/fields/${f.id}`), t('fields.deleted', { name: f.name }))}>${t('admin.delete')}</button></td></tr>`)}</tbody></table>`}
      ${!editing && html`<button type="button" class="small" onClick=${() => setEditing({ target, kind: 'choice', name: '', options: [], accounts: [], mandatory: false })}>${t(`fields.add.${target}`)}</button>`}`;
  };
  return html`<${Section} id="fields-title" title=${t('admin.nav.fields')} hint=${t('fields.hint')}>
    ${table('ticket')}
    ${table('contact')}
    ${editing && html`<${FieldForm} key=${editing.id ?? 'new'} field=${editing} onSave=${(form) => save(editing, form)} onCancel=${() => setEditing(null)} />`}
    <${StatusLine} status=${status} />
  <//>`;
}

function FieldForm({ field, onSave, onCancel }) {
  const [form, setForm] = useState({ name: field.name, kind: field.kind, options: field.options.join('\n'), accounts: field.accounts, mandatory: field.mandatory });
  const set = (k, v) => setForm({ ...form, [k]: v });
  const title = field.id ? t('admin.edit_of', { name: field.name }) : t(`fields.add.${field.target}`);
  const submit = (e) => {
    e.preventDefault();
    const body = { name: form.name, options: form.options.split('\n').map((o) => o.trim()).filter(Boolean), accounts: form.accounts, mandatory: form.mandatory };
    if (!field.id) Object.assign(body, { target: field.target, kind: form.kind });
    onSave(body);
  };
  const withOptions = form.kind === 'choice' || form.kind === 'multi';
  return html`<form class="user-form" aria-label=${title} onSubmit=${submit}>
    <h3>${title}</h3>
    <label>${t('fields.name')} <input value=${form.name} required maxlength="60" onInput=${(e) => set('name', e.target.value)} /></label>
    <label>${t('fields.kind')} <select value=${form.kind} disabled=${!!field.id} onChange=${(e) => set('kind', e.target.value)}>
      ${KINDS.map((k) => html`<option value=${k}>${t(`fields.kind.${k}`)}</option>`)}</select></label>
    ${withOptions && html`<label>${t('fields.options')} <textarea rows="4" required value=${form.options} onInput=${(e) => set('options', e.target.value)}></textarea></label>
      <p class="hint">${t('fields.options_hint')}</p>`}
    <fieldset><legend>${t('fields.scope')}</legend>
      <p class="hint">${t('fields.scope_hint')}</p>
      ${refs.accounts.map((a) => html`<label class="check"><input type="checkbox" checked=${form.accounts.includes(a.id)}
        onChange=${(e) => set('accounts', e.target.checked ? [...form.accounts, a.id] : form.accounts.filter((x) => x !== a.id))} /> ${a.name}</label>`)}
    </fieldset>
    <label class="check"><input type="checkbox" checked=${form.mandatory} onChange=${(e) => set('mandatory', e.target.checked)} /> ${t(`fields.mandatory_hint.${field.target}`)}</label>
    <${SaveCancel} onCancel=${onCancel} />
  </form>`;
}
