// The side tabs of the ticket view: customer, ticket data, omnichannel, comments, context,
// escalation, previous tickets and history. Tabs whose data arrives later say so plainly.
import { html, useRef, useState } from './vendor/htm-preact-standalone-3.1.1.js';
import { api, byId, CHANNEL_ICONS, refs, t, useLoad, when } from './lib.js';
import { LabelPicker } from './catalog.js';
import { SaveCancel, StatusLine, useStatus } from './admin-kit.js';
import { FieldInputs, FieldRows, fieldsFor, TicketFields, toPatch } from './fields.js';

/** The accounts a customer wrote to (profile fields may apply to some only). */
const accountsOf = (c) => c.identities.map((i) => i.account_id);

const TABS = ['customer', 'data', 'omnichannel', 'comments', 'context', 'escalation', 'previous', 'history'];

const Loading = ({ error }) => html`<p class=${error ? 'error' : 'loading'}>${error || t('loading')}</p>`;

export function SidePanel({ ticket, tab, setTab, bump, me }) {
  return html`<section class="side">
    <div class="tabs" role="tablist" aria-label=${t('tabs.label')}>
      ${TABS.map((id) => html`<button type="button" role="tab" id=${`tab-${id}`} aria-selected=${tab === id}
        aria-controls="tab-panel" class=${tab === id ? 'tab active' : 'tab'} onClick=${() => setTab(id)}>${t(`tabs.${id}`)}</button>`)}
    </div>
    <div class="tab-panel" id="tab-panel" role="tabpanel" aria-labelledby=${`tab-${tab}`}>
      ${tab === 'customer' && html`<${Customer} contactId=${ticket.contact.id} />`}
      ${tab === 'data' && html`<${TicketData} ticket=${ticket} />`}
      ${tab === 'omnichannel' && html`<${Omnichannel} contactId=${ticket.contact.id} />`}
      ${tab === 'comments' && html`<${Comments} number=${ticket.number} bump=${bump} me=${me} />`}
      ${tab === 'context' && html`<p class="notice">${t(ticket.kind === 'private' ? 'context.private' : 'context.not_yet')}</p>`}
      ${tab === 'escalation' && html`<${Escalation} number=${ticket.number} />`}
      ${tab === 'previous' && html`<${Previous} number=${ticket.number} />`}
      ${tab === 'history' && html`<${History} number=${ticket.number} bump=${bump} />`}
    </div>
  </section>`;
}

export function Customer({ contactId }) {
  const [c, error, , setC] = useLoad(() => api('GET', `/api/v1/contacts/${contactId}`), [contactId]);
  const [saveError, setSaveError] = useState('');
  const [editing, setEditing] = useState(false);
  if (!c) return html`<${Loading} error=${error} />`;
  const flip = async () => {
    try { setC(await api('PATCH', `/api/v1/contacts/${contactId}`, { influencer: !c.influencer })); setSaveError(''); } catch (e) { setSaveError(e.message); setC({ ...c }); }
  };
  const setLabels = async (labels) => {
    try { setC(await api('PATCH', `/api/v1/contacts/${contactId}`, { labels })); setSaveError(''); } catch (e) { setSaveError(e.message); }
  };
  if (editing) return html`<${CustomerForm} c=${c} onCancel=${() => setEditing(false)} onSaved=${(next) => { setC(next); setEditing(false); }} />`;
  return html`<p class="error" role="alert">${saveError}</p>
  <button type="button" class="small" onClick=${() => setEditing(true)}>${t('customer.edit')}</button>
  <dl class="profile">
    <dt>${t('customer.name')}</dt><dd>${c.name}</dd>
    <dt>${t('form.rut')}</dt><dd>${c.rut_formatted ?? '—'}</dd>
    <dt>${t('customer.email')}</dt><dd>${[c.email, ...c.more_emails].filter(Boolean).join(', ') || '—'}</dd>
    <dt>${t('customer.phone')}</dt><dd>${[c.phone, ...c.more_phones].filter(Boolean).join(', ') || '—'}</dd>
    ${c.notes && html`<dt>${t('customer.notes')}</dt><dd class="notes">${c.notes}</dd>`}
    <dt>${t('customer.influencer')}</dt>
    <dd><label class="check"><input type="checkbox" aria-label=${t('customer.influencer')} checked=${c.influencer} onChange=${flip} /> ${t(c.influencer ? 'filter.yes' : 'filter.no')}</label></dd>
    <dt>${t('ticket.labels')}</dt>
    <dd><${LabelPicker} label=${t('customer.labels')} value=${c.labels} onChange=${setLabels} /></dd>
    <${FieldRows} target="contact" accounts=${accountsOf(c)} values=${c.fields} />
    <dt>${t('customer.identities')}</dt>
    <dd><ul>${c.identities.map((i) => html`<li>${byId(refs.accounts, i.account_id)?.name ?? i.account_id}: ${i.username || i.external_id}</li>`)}</ul></dd>
    <dt>${t('customer.since')}</dt><dd>${when(c.created_at)}</dd>
  </dl>`;
}

function TicketData({ ticket }) {
  return html`<div>
    <${TicketFields} key=${ticket.number} ticket=${ticket} />
    <dl class="profile">
      <dt>${t('data.created')}</dt><dd>${when(ticket.created_at)}</dd>
      <dt>${t('data.first_response')}</dt><dd>${ticket.first_response_at ? when(ticket.first_response_at) : '—'}</dd>
      <dt>${t('data.sla')}</dt><dd>${ticket.sla_minutes ? t(ticket.sla_business_hours ? 'sla.target_business' : 'sla.target', { n: ticket.sla_minutes }) : t('data.no_sla')}
        ${ticket.sla_due_at && html`<div class="muted">${t('sla.due', { when: when(ticket.sla_due_at) })}</div>`}</dd>
      <dt>${t('data.messages')}</dt><dd>${ticket.message_count}</dd>
      ${ticket.previous_number && html`<dt>${t('data.follows')}</dt><dd><a href=${`#/t/${ticket.previous_number}`}>#${ticket.previous_number}</a></dd>`}
    </dl>
  </div>`;
}

/** The customer's facts, editable by any agent: the RUT is checked (its check digit) by the
 *  server, which says what is wrong in the agent's language. */
function CustomerForm({ c, onCancel, onSaved }) {
  const [form, setForm] = useState({ name: c.name, rut: c.rut_formatted ?? '', email: c.email ?? '', phone: c.phone ?? '', notes: c.notes ?? '',
    more_emails: c.more_emails.join(', '), more_phones: c.more_phones.join(', ') });
  const defs = fieldsFor('contact', accountsOf(c));
  const [values, setValues] = useState(c.fields);
  const [status, , fail] = useStatus();
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });
  const save = async (ev) => {
    ev.preventDefault();
    const split = (v) => v.split(/[,;\n]/).map((x) => x.trim()).filter(Boolean);
    const body = { ...form, more_emails: split(form.more_emails), more_phones: split(form.more_phones) };
    if (defs.length > 0) body.fields = toPatch(defs, values);
    try { onSaved(await api('PATCH', `/api/v1/contacts/${c.id}`, body)); } catch (e) { fail(e.message); }
  };
  return html`<form class="customer-form" aria-label=${t('customer.edit')} onSubmit=${save}>
    <label>${t('customer.name')} <input required maxlength="200" value=${form.name} onInput=${set('name')} /></label>
    <label>${t('form.rut')} <input maxlength="20" placeholder="12.345.678-5" value=${form.rut} onInput=${set('rut')} /></label>
    <label>${t('customer.email')} <input type="email" maxlength="254" value=${form.email} onInput=${set('email')} /></label>
    <label>${t('customer.phone')} <input type="tel" maxlength="40" value=${form.phone} onInput=${set('phone')} /></label>
    <label>${t('customer.more_emails')} <input maxlength="1000" value=${form.more_emails} onInput=${set('more_emails')} /></label>
    <label>${t('customer.more_phones')} <input maxlength="500" value=${form.more_phones} onInput=${set('more_phones')} /></label>
    <p class="hint">${t('customer.more_hint')}</p>
    <label>${t('customer.notes')} <textarea rows="3" maxlength="5000" value=${form.notes} onInput=${set('notes')}></textarea></label>
    <${FieldInputs} defs=${defs} form=${values} setForm=${setValues} required=${true} />
    <${SaveCancel} onCancel=${onCancel} />
    <${StatusLine} status=${status} />
  </form>`;
}

/** ORG-4: the customer's other profiles (the same person elsewhere), to unlink one linked by
 *  mistake; and "Posibles duplicados" (the same email or phone), to link or dismiss. */
export function Omnichannel({ contactId }) {
  const [data, error, reload] = useLoad(async () => {
    const [c, dups] = await Promise.all([api('GET', `/api/v1/contacts/${contactId}`), api('GET', `/api/v1/contacts/${contactId}/duplicates`)]);
    const linked = await Promise.all(c.linked.filter((id) => id !== contactId).map((id) => api('GET', `/api/v1/contacts/${id}`)));
    return { linked, dups: dups.items };
  }, [contactId]);
  const [status, ok, fail] = useStatus();
  const act = async (method, path, body, done) => {
    try { await api(method, path, body); await reload(); ok(done); } catch (e) { fail(e.message); }
  };
  if (!data) return html`<${Loading} error=${error} />`;
  const profile = (c) => html`<strong>${c.name}</strong>
    ${c.identities.map((i) => { const a = byId(refs.accounts, i.account_id); return html` <span class="chip">${CHANNEL_ICONS[a?.kind] ?? ''} ${i.username || i.external_id}</span>`; })}`;
  return html`<div class="omnichannel">
    ${data.linked.length === 0 ? html`<p class="notice">${t('omnichannel.none')}</p>`
      : html`<ul class="linked">${data.linked.map((c) => html`<li>${profile(c)}
        <button type="button" class="small link" aria-label=${t('omnichannel.unlink_of', { name: c.name })}
          onClick=${() => act('DELETE', `/api/v1/contacts/${c.id}/link`, undefined, t('omnichannel.unlinked', { name: c.name }))}>${t('omnichannel.unlink')}</button></li>`)}</ul>`}
    ${data.dups.length > 0 && html`<section class="duplicates" aria-labelledby="dups-title">
      <h3 id="dups-title">${t('omnichannel.duplicates')}</h3>
      <ul class="linked">${data.dups.map((d) => html`<li>${profile(d.contact)}
        <span class="muted"> · ${d.shared.map((s) => t(`omnichannel.shared_${s}`)).join(', ')}</span>
        <div class="row-actions">
          <button type="button" class="small" onClick=${() => act('POST', `/api/v1/contacts/${contactId}/link`, { contact_id: d.contact.id }, t('omnichannel.linked', { name: d.contact.name }))}>${t('omnichannel.link')}</button>
          <button type="button" class="small link" onClick=${() => act('POST', `/api/v1/contacts/${contactId}/not_same`, { contact_id: d.contact.id }, t('omnichannel.dismissed'))}>${t('omnichannel.not_same')}</button>
        </div></li>`)}</ul></section>`}
    <${StatusLine} status=${status} />
  </div>`;
}

/** The `@name` being typed just before the caret, if any. */
function mentionWord(text, caret) {
  const m = text.slice(0, caret).match(/(?:^|\s)@([\p{L}\p{N}._-]*)$/u);
  return m ? { word: m[1], start: caret - m[1].length - 1 } : null;
}

function Comments({ number, bump }) {
  const [list, error, reload] = useLoad(() => api('GET', `/api/v1/tickets/${number}/comments`), [number, bump]);
  const [text, setText] = useState('');
  const [mention, setMention] = useState(null);
  // The colleagues picked from the @ list: mentions are sent by id, never guessed from the text.
  const [picked, setPicked] = useState([]);
  const [sendError, setSendError] = useState('');
  const [sending, setSending] = useState(false);
  const area = useRef(null);
  const people = mention ? refs.users.filter((u) => u.active !== false && u.name.toLowerCase().includes(mention.word.toLowerCase())).slice(0, 6) : [];
  const pick = (u) => {
    const caret = area.current?.selectionStart ?? text.length;
    setText(`${text.slice(0, mention.start)}@${u.name} ${text.slice(caret)}`);
    setPicked((list) => (list.some((p) => p.id === u.id) ? list : [...list, u]));
    setMention(null);
    area.current?.focus();
  };
  const send = async (ev) => {
    ev.preventDefault();
    if (!text.trim() || sending) return;
    setSending(true);
    const mentions = picked.filter((u) => text.includes(`@${u.name}`)).map((u) => u.id);
    try {
      await api('POST', `/api/v1/tickets/${number}/comments`, { text, mentions });
      setText(''); setPicked([]); setSendError(''); reload();
    } catch (e) { setSendError(e.message); }
    setSending(false);
  };
  return html`<div class="comments">
    ${!list ? html`<${Loading} error=${error} />` : list.items.length === 0 ? html`<p class="empty">${t('comments.none')}</p>`
      : html`<ol>${list.items.map((c) => html`<li class="comment"><div class="message-head"><strong>${byId(refs.users, c.user_id)?.name ?? c.user_id}</strong>
          <time datetime=${c.created_at}>${when(c.created_at)}</time></div><div class="message-text">${c.text}</div></li>`)}</ol>`}
    <form onSubmit=${send}>
      <label class="visually-hidden" for="comment-text">${t('comments.label')}</label>
      <textarea id="comment-text" ref=${area} rows="2" placeholder=${t('comments.placeholder')} value=${text}
        onInput=${(e) => { setText(e.target.value); setMention(mentionWord(e.target.value, e.target.selectionStart)); }}
        onKeyDown=${(e) => { if (mention && people[0] && (e.key === 'Enter' || e.key === 'Tab')) { e.preventDefault(); pick(people[0]); } }}></textarea>
      ${mention && people.length > 0 && html`<ul class="canned-list" role="listbox" aria-label=${t('comments.mention')}>
        ${people.map((u) => html`<li role="option" onMouseDown=${(e) => { e.preventDefault(); pick(u); }}>@${u.name}</li>`)}</ul>`}
      <button type="submit" class="small" disabled=${sending}>${t('comments.add')}</button>
      <p class="error" role="alert">${sendError}</p>
    </form>
  </div>`;
}

function Previous({ number }) {
  const [list, error] = useLoad(() => api('GET', `/api/v1/tickets/${number}/previous`), [number]);
  if (!list) return html`<${Loading} error=${error} />`;
  const others = list.items.filter((x) => x.number !== number);
  if (others.length === 0) return html`<p class="empty">${t('ticket.no_previous')}</p>`;
  return html`<ul class="previous">${others.map((p) => html`<li><a href=${`#/t/${p.number}`}>#${p.number}</a>
    <span class=${`state state-${p.state}`}>${t(`state.${p.state}`)}</span> <span class="muted">${when(p.updated_at)}</span>
    <div class="excerpt">${p.excerpt}</div></li>`)}</ul>`;
}

function History({ number, bump }) {
  const [list, error] = useLoad(() => api('GET', `/api/v1/tickets/${number}/history`), [number, bump]);
  if (!list) return html`<${Loading} error=${error} />`;
  return html`<ol class="history">${list.items.map((h) => html`<li><time datetime=${h.at}>${when(h.at)}</time>
    <strong>${h.actor_id ? byId(refs.users, h.actor_id)?.name ?? h.actor_id : t('history.system')}</strong>
    <span>${t(`history.${h.action}`)}</span> <span class="muted">${h.detail}</span></li>`)}</ol>`;
}

/** TICK-10: mail the ticket (last 100 messages, customer and ticket data) to someone. */
function Escalation({ number }) {
  const [status, ok, fail] = useStatus();
  const send = async (ev) => {
    ev.preventDefault();
    const f = Object.fromEntries(new FormData(ev.target));
    try {
      const r = await api('POST', `/api/v1/tickets/${number}/escalate`, { to: f.to, note: f.note || null });
      ok(t('escalation.queued', { n: r.messages, to: f.to }));
      ev.target.reset();
    } catch (e) { fail(e.message); }
  };
  return html`<form class="escalation" onSubmit=${send}>
    <p class="hint">${t('escalation.hint')}</p>
    <label for="escalate-to">${t('escalation.to')}</label><input id="escalate-to" name="to" type="email" required />
    <label for="escalate-note">${t('escalation.note')}</label><textarea id="escalate-note" name="note" rows="3" maxlength="5000"></textarea>
    <button type="submit" class="primary small">${t('escalation.send')}</button>
    <${StatusLine} status=${status} />
  </form>`;
}
