// Contactos (ORG-3, seed 002): every customer the agent may see, filtered (words, label,
// channel, influencer, a profile field, created and last-contact ranges), sorted, a page at a
// time; filters saved as segments; the list exported as CSV; spreadsheets imported with a
// column mapping, a preview and an error report. A customer's page (#/contactos/<id>) shows
// their editable profile, their other profiles and possible duplicates, and their tickets.
import { html, useState } from './vendor/htm-preact-standalone-3.1.1.js';
import { api, byId, CHANNEL_ICONS, query, refs, t, useLoad, when } from './lib.js';
import { Customer, Omnichannel } from './ticket-tabs.js';
import { Dialog } from './dialog.js';
import { ContactImport } from './contact-import.js';

export function Contacts({ id, me }) {
  return id ? html`<${ContactPage} key=${id} id=${id} />` : html`<${ContactList} me=${me} />`;
}

const SORTS = ['created_desc', 'created_asc', 'last_contact_desc', 'last_contact_asc', 'name_asc', 'name_desc'];
const EMPTY = { q: '', label: '', channel: '', influencer: '', field_id: '', field_value: '', created_from: '', created_to: '', last_from: '', last_to: '', sort: 'created_desc' };

/** A day typed in a date input as the instant its local midnight starts; `end` = the next day's. */
function dayStart(day, end = false) {
  if (!day) return '';
  const d = new Date(`${day}T00:00:00`);
  if (end) d.setDate(d.getDate() + 1);
  return d.toISOString();
}
/** Back from an instant to the day a date input shows. */
function dayOf(iso, end = false) {
  if (!iso) return '';
  const d = new Date(Date.parse(iso) - (end ? 1 : 0));
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

/** The form's values as the list's query parameters (what a segment keeps). */
export function toQuery(f) {
  return Object.fromEntries(Object.entries({
    q: f.q.trim(), label: f.label, channel: f.channel, influencer: f.influencer,
    field: f.field_id && f.field_value ? `${f.field_id}:${f.field_value}` : '',
    created_from: dayStart(f.created_from), created_to: dayStart(f.created_to, true),
    last_contact_from: dayStart(f.last_from), last_contact_to: dayStart(f.last_to, true),
    sort: f.sort === 'created_desc' ? '' : f.sort,
  }).filter(([, v]) => v !== ''));
}
function fromQuery(q) {
  const [fieldId, ...rest] = (q.field ?? '').split(':');
  return { ...EMPTY, q: q.q ?? '', label: q.label ?? '', channel: q.channel ?? '', influencer: q.influencer ?? '',
    field_id: q.field ? fieldId : '', field_value: rest.join(':'),
    created_from: dayOf(q.created_from), created_to: dayOf(q.created_to, true),
    last_from: dayOf(q.last_contact_from), last_to: dayOf(q.last_contact_to, true), sort: q.sort ?? 'created_desc' };
}

function ContactList({ me }) {
  const [draft, setDraft] = useState(EMPTY);
  const [applied, setApplied] = useState({});
  const [segment, setSegment] = useState('');
  const [saving, setSaving] = useState(false);
  const [importing, setImporting] = useState(false);
  const [creating, setCreating] = useState(false);
  const [pages, setPages] = useState([]); // extra pages, after the first
  const key = JSON.stringify(applied);
  const [first, error, reload] = useLoad(() => { setPages([]); return api('GET', `/api/v1/contacts?${query({ ...applied, limit: 50 })}`); }, [key]);
  const [segments, , reloadSegments] = useLoad(() => api('GET', '/api/v1/segments'), []);
  const last = pages.length ? pages[pages.length - 1] : first;
  const more = async () => setPages([...pages, await api('GET', `/api/v1/contacts?${query({ ...applied, limit: 50, cursor: last.next_cursor })}`)]);
  const items = first ? [first, ...pages].flatMap((p) => p.items) : [];
  const set = (k) => (e) => setDraft({ ...draft, [k]: e.target.value });
  const apply = (f) => { setDraft(f); setApplied(toQuery(f)); };
  const pick = (id) => {
    setSegment(id);
    const s = segments?.items.find((x) => x.id === id);
    apply(s ? fromQuery(s.query) : EMPTY);
  };
  const chosen = segments?.items.find((x) => x.id === segment);
  const remove = async () => { await api('DELETE', `/api/v1/segments/${chosen.id}`); setSegment(''); reloadSegments(); };
  const profileFields = refs.fields.filter((f) => f.target === 'contact');
  const field = profileFields.find((f) => f.id === draft.field_id);
  const channels = [...new Set(refs.accounts.map((a) => a.kind))];
  return html`<main class="admin contacts" aria-labelledby="contacts-title">
    <h1 id="contacts-title">${t('contacts.title')}</h1>
    <div class="segment-bar">
      <label>${t('segments.title')} <select value=${segment} onChange=${(e) => pick(e.target.value)}>
        <option value="">${t('segments.all')}</option>
        ${(segments?.items ?? []).map((s) => html`<option value=${s.id}>${s.name}${s.shared ? ` (${t('segments.shared')})` : ''}</option>`)}</select></label>
      ${chosen && (chosen.owner_id === me?.id || me?.role === 'admin') && html`<button type="button" class="small danger" onClick=${remove}>${t('segments.delete')}</button>`}
      <a class="button small" href=${`/api/v1/contacts/export?${query(applied)}`} download>${t('contacts.export')}</a>
      <a class="button small" href=${`/api/v1/contacts/export?${query({ ...applied, format: 'xlsx' })}`} download>${t('contacts.export_xlsx')}</a>
      <button type="button" class="small" onClick=${() => setImporting(!importing)} aria-expanded=${importing}>${t('import.open')}</button>
      <button type="button" class="small" onClick=${() => setCreating(true)}>${t('contacts.new')}</button>
    </div>
    ${creating && html`<${NewContact} onCancel=${() => setCreating(false)} />`}
    ${importing && html`<${ContactImport} onDone=${reload} />`}
    <form class="contact-filters" role="search" aria-label=${t('contacts.filters')} onSubmit=${(e) => { e.preventDefault(); setSegment(''); apply(draft); }}>
      <label>${t('contacts.search')} <input type="search" value=${draft.q} placeholder=${t('contacts.search_hint')} onInput=${set('q')} /></label>
      <label>${t('ticket.labels')} <select value=${draft.label} onChange=${set('label')}><option value="">${t('filter.any')}</option>
        ${refs.labels.map((l) => html`<option value=${l.id}>${l.name}</option>`)}</select></label>
      <label>${t('contacts.channel')} <select value=${draft.channel} onChange=${set('channel')}><option value="">${t('filter.any')}</option>
        ${channels.map((c) => html`<option value=${c}>${CHANNEL_ICONS[c] ?? ''} ${t(`channel.${c}`)}</option>`)}</select></label>
      <label>${t('customer.influencer')} <select value=${draft.influencer} onChange=${set('influencer')}><option value="">${t('filter.any')}</option>
        <option value="true">${t('filter.yes')}</option><option value="false">${t('filter.no')}</option></select></label>
      ${profileFields.length > 0 && html`<label>${t('contacts.field')} <select value=${draft.field_id} onChange=${(e) => setDraft({ ...draft, field_id: e.target.value, field_value: '' })}>
        <option value="">${t('filter.any')}</option>${profileFields.map((f) => html`<option value=${f.id}>${f.name}</option>`)}</select></label>`}
      ${field && (field.options.length > 0 || field.kind === 'yes_no'
        ? html`<label>${t('contacts.field_value')} <select value=${draft.field_value} onChange=${set('field_value')}><option value=""></option>
          ${(field.kind === 'yes_no' ? [['true', t('filter.yes')], ['false', t('filter.no')]] : field.options.map((o) => [o, o])).map(([v, name]) => html`<option value=${v}>${name}</option>`)}</select></label>`
        : html`<label>${t('contacts.field_value')} <input type=${field.kind === 'date' ? 'date' : 'text'} value=${draft.field_value} onInput=${set('field_value')} /></label>`)}
      <label>${t('contacts.created_from')} <input type="date" value=${draft.created_from} onInput=${set('created_from')} /></label>
      <label>${t('contacts.created_to')} <input type="date" value=${draft.created_to} onInput=${set('created_to')} /></label>
      <label>${t('contacts.last_from')} <input type="date" value=${draft.last_from} onInput=${set('last_from')} /></label>
      <label>${t('contacts.last_to')} <input type="date" value=${draft.last_to} onInput=${set('last_to')} /></label>
      <label>${t('contacts.sort')} <select value=${draft.sort} onChange=${set('sort')}>
        ${SORTS.map((s) => html`<option value=${s}>${t(`contacts.sort.${s}`)}</option>`)}</select></label>
      <div class="filter-actions"><button type="submit" class="primary small">${t('contacts.find')}</button>
        <button type="button" class="small" onClick=${() => { setSegment(''); apply(EMPTY); }}>${t('contacts.clear')}</button>
        <button type="button" class="small" onClick=${() => setSaving(true)}>${t('segments.save')}</button></div>
    </form>
    ${saving && html`<${SaveSegment} q=${toQuery(draft)} onCancel=${() => setSaving(false)}
      onSaved=${(s) => { setSaving(false); reloadSegments(); setSegment(s.id); apply(fromQuery(s.query)); }} />`}
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${first && items.length === 0 && html`<p class="empty">${t('contacts.none')}</p>`}
    ${items.length > 0 && html`<table class="contacts-table">
      <thead><tr><th>${t('customer.name')}</th><th>${t('form.rut')}</th><th>${t('customer.email')}</th><th>${t('customer.phone')}</th><th>${t('contacts.channels')}</th><th>${t('contacts.last_contact')}</th><th>${t('customer.since')}</th></tr></thead>
      <tbody>${items.map((c) => html`<tr>
        <td><a href=${`#/contactos/${c.id}`}>${c.name}</a>${c.influencer ? ' ⭐' : ''}${c.linked.length > 0 ? html` <span class="chip" title=${t('contacts.linked')}>🔗 ${c.linked.length}</span>` : ''}
          ${c.labels.map((id) => byId(refs.labels, id)).filter(Boolean).map((l) => html` <span class="label" style=${l.color ? { '--label': l.color } : null}>${l.name}</span>`)}</td>
        <td>${c.rut_formatted ?? ''}</td><td>${c.email ?? ''}</td><td>${c.phone ?? ''}</td>
        <td>${c.identities.map((i) => CHANNEL_ICONS[byId(refs.accounts, i.account_id)?.kind] ?? '').join(' ')}</td>
        <td>${when(c.last_contact_at)}</td><td>${when(c.created_at)}</td></tr>`)}</tbody></table>`}
    ${last?.next_cursor && html`<button type="button" class="small" onClick=${more}>${t('contacts.more')}</button>`}
  </main>`;
}

/** Someone who never wrote, typed in by hand: created, then opened on their page. */
function NewContact({ onCancel }) {
  const [form, setForm] = useState({ name: '', rut: '', email: '', phone: '' });
  const [error, setError] = useState('');
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });
  const submit = async (e) => {
    e.preventDefault();
    try { const c = await api('POST', '/api/v1/contacts', form); location.hash = `#/contactos/${c.id}`; } catch (err) { setError(err.message); }
  };
  return html`<${Dialog} labelledBy="new-contact-title" onClose=${onCancel} onSubmit=${submit}>
    <h2 id="new-contact-title">${t('contacts.new')}</h2>
    <label>${t('customer.name')} <input required maxlength="200" value=${form.name} onInput=${set('name')} /></label>
    <label>${t('form.rut')} <input maxlength="20" placeholder="12.345.678-5" value=${form.rut} onInput=${set('rut')} /></label>
    <label>${t('customer.email')} <input type="email" maxlength="254" value=${form.email} onInput=${set('email')} /></label>
    <label>${t('customer.phone')} <input type="tel" maxlength="40" value=${form.phone} onInput=${set('phone')} /></label>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    <div class="dialog-actions"><button type="button" onClick=${onCancel}>${t('action.cancel')}</button>
      <button type="submit" class="primary">${t('action.save')}</button></div>
  <//>`;
}

function SaveSegment({ q, onSaved, onCancel }) {
  const [name, setName] = useState('');
  const [shared, setShared] = useState(false);
  const [error, setError] = useState('');
  const submit = async (e) => {
    e.preventDefault();
    try { onSaved(await api('POST', '/api/v1/segments', { name, query: q, shared })); } catch (err) { setError(err.message); }
  };
  return html`<${Dialog} labelledBy="segment-title" onClose=${onCancel} onSubmit=${submit}>
    <h2 id="segment-title">${t('segments.save')}</h2>
    <p class="hint">${t('segments.hint')}</p>
    <label>${t('segments.name')} <input required maxlength="80" value=${name} onInput=${(e) => setName(e.target.value)} /></label>
    <label class="check"><input type="checkbox" checked=${shared} onChange=${(e) => setShared(e.target.checked)} /> ${t('segments.share')}</label>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    <div class="dialog-actions"><button type="button" onClick=${onCancel}>${t('action.cancel')}</button>
      <button type="submit" class="primary">${t('action.save')}</button></div>
  <//>`;
}

function ContactPage({ id }) {
  const [tickets, error] = useLoad(() => api('GET', `/api/v1/contacts/${id}/tickets`), [id]);
  return html`<main class="admin contact-page" aria-labelledby="contact-title">
    <p><a href="#/contactos">← ${t('contacts.title')}</a></p>
    <h1 id="contact-title">${t('contacts.customer')}</h1>
    <div class="contact-columns">
      <section aria-label=${t('tabs.customer')}><${Customer} contactId=${id} /></section>
      <section aria-labelledby="contact-omni"><h2 id="contact-omni">${t('tabs.omnichannel')}</h2><${Omnichannel} contactId=${id} /></section>
      <section aria-labelledby="contact-tickets"><h2 id="contact-tickets">${t('contacts.tickets')}</h2>
        ${error && html`<p class="error" role="alert">${error}</p>`}
        ${tickets && (tickets.items.length === 0 ? html`<p class="empty">${t('ticket.no_previous')}</p>`
          : html`<ul class="previous">${tickets.items.map((tk) => html`<li><a href=${`#/t/${tk.number}`}>#${tk.number}</a>
            <span class=${`state state-${tk.state}`}>${t(`state.${tk.state}`)}</span> <span class="muted">${CHANNEL_ICONS[tk.channel] ?? ''} ${when(tk.updated_at)}</span>
            ${tk.subject && html`<div class="ticket-subject">${tk.subject}</div>`}<div class="excerpt">${tk.excerpt}</div></li>`)}</ul>`)}
      </section>
    </div>
  </main>`;
}
