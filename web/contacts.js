// Contactos (ORG-3): every customer the agent may see, searched by name, RUT, email, phone or
// username, a page at a time; a customer's page (#/contactos/<id>) with their editable
// profile, their other profiles and possible duplicates, and their tickets on every profile.
import { html, useState } from './vendor/htm-preact-standalone-3.1.1.js';
import { api, byId, CHANNEL_ICONS, query, refs, t, useLoad, when } from './lib.js';
import { Customer, Omnichannel } from './ticket-tabs.js';

export function Contacts({ id }) {
  return id ? html`<${ContactPage} key=${id} id=${id} />` : html`<${ContactList} />`;
}

function ContactList() {
  const [q, setQ] = useState('');
  const [typed, setTyped] = useState('');
  const [pages, setPages] = useState([]); // extra pages, after the first
  const [first, error] = useLoad(() => { setPages([]); return api('GET', `/api/v1/contacts?${query({ q, limit: 50 })}`); }, [q]);
  const last = pages.length ? pages[pages.length - 1] : first;
  const more = async () => setPages([...pages, await api('GET', `/api/v1/contacts?${query({ limit: 50, cursor: last.next_cursor })}`)]);
  const items = first ? [first, ...pages].flatMap((p) => p.items) : [];
  return html`<main class="admin contacts" aria-labelledby="contacts-title">
    <h1 id="contacts-title">${t('contacts.title')}</h1>
    <form class="inline-form" role="search" onSubmit=${(e) => { e.preventDefault(); setQ(typed.trim()); }}>
      <label for="contacts-q">${t('contacts.search')}</label>
      <input id="contacts-q" type="search" value=${typed} placeholder=${t('contacts.search_hint')} onInput=${(e) => setTyped(e.target.value)} />
      <button type="submit" class="small">${t('contacts.find')}</button>
    </form>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${first && items.length === 0 && html`<p class="empty">${t('contacts.none')}</p>`}
    ${items.length > 0 && html`<table class="contacts-table">
      <thead><tr><th>${t('customer.name')}</th><th>${t('form.rut')}</th><th>${t('customer.email')}</th><th>${t('customer.phone')}</th><th>${t('contacts.channels')}</th><th>${t('customer.since')}</th></tr></thead>
      <tbody>${items.map((c) => html`<tr>
        <td><a href=${`#/contactos/${c.id}`}>${c.name}</a>${c.influencer ? ' ⭐' : ''}${c.linked.length > 0 ? html` <span class="chip" title=${t('contacts.linked')}>🔗 ${c.linked.length}</span>` : ''}</td>
        <td>${c.rut_formatted ?? ''}</td><td>${c.email ?? ''}</td><td>${c.phone ?? ''}</td>
        <td>${c.identities.map((i) => CHANNEL_ICONS[byId(refs.accounts, i.account_id)?.kind] ?? '').join(' ')}</td>
        <td>${when(c.created_at)}</td></tr>`)}</tbody></table>`}
    ${last?.next_cursor && html`<button type="button" class="small" onClick=${more}>${t('contacts.more')}</button>`}
  </main>`;
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
