// The search box (BOARD-5): ticket number, customer name, username, email, phone, RUT, text.
import { html, useEffect, useRef, useState } from './vendor/htm-preact-standalone-3.1.1.js';
import { api, CHANNEL_ICONS, query, t } from './lib.js';

/** The words around what matched, the matching words marked; else the ticket's last message. */
function Excerpt({ ticket, match }) {
  if (!match) return html`<span class="muted excerpt">${ticket.excerpt}</span>`;
  const chars = Array.from(match.text);
  const parts = [];
  let at = 0;
  for (const [from, to] of match.marks) {
    parts.push(chars.slice(at, from).join(''), html`<mark>${chars.slice(from, to).join('')}</mark>`);
    at = to;
  }
  parts.push(chars.slice(at).join(''));
  return html`<span class="excerpt match">${parts}</span>`;
}

export function SearchBox() {
  const [q, setQ] = useState('');
  const [result, setResult] = useState(null);
  const [error, setError] = useState('');
  const timer = useRef(null);
  const seq = useRef(0);

  useEffect(() => {
    clearTimeout(timer.current);
    // Any answer still on its way is for an older query: it must not land.
    const mine = ++seq.current;
    const text = q.trim();
    if (!text) { setResult(null); setError(''); return undefined; }
    timer.current = setTimeout(async () => {
      try {
        const r = await api('GET', `/api/v1/search?${query({ q: text, limit: 20 })}`);
        if (mine === seq.current) { setResult(r); setError(''); }
      } catch (e) { if (mine === seq.current) setError(e.message); }
    }, 200);
    return () => clearTimeout(timer.current);
  }, [q]);

  const close = () => { seq.current += 1; setQ(''); setResult(null); setError(''); };
  const onKey = (ev) => {
    if (ev.key === 'Escape') { close(); ev.target.blur(); }
    if (ev.key === 'Enter') {
      // The server's best match: the number typed, the newest ticket of the RUT or email
      // typed, else the newest open ticket found.
      const typed = q.trim().match(/^#?(\d+)$/);
      const best = result?.best ?? (typed && typed[1]);
      if (best) { location.hash = `#/t/${best}`; close(); }
    }
  };
  return html`<div class="search" role="search">
    <label class="visually-hidden" for="search">${t('search.label')}</label>
    <input id="search" type="search" autocomplete="off" placeholder=${t('search.placeholder')}
      value=${q} onInput=${(e) => setQ(e.target.value)} onKeyDown=${onKey} />
    ${(result || error) && html`<div class="search-results" role="listbox" aria-label=${t('search.results')}>
      ${error && html`<p class="error">${error}</p>`}
      ${result && result.tickets.length === 0 && result.contacts.length === 0 && html`<p class="empty">${t('search.nothing')}</p>`}
      ${result?.contacts.length > 0 && html`<h3>${t('search.contacts')}</h3>`}
      ${result?.contacts.map((c) => html`<div class="result contact-result" role="option">
        <strong>${c.name}</strong> ${c.rut_formatted && html`<span class="rut">${t('form.rut')} ${c.rut_formatted}</span>`}
        <span class="muted">${[c.email, c.phone].filter(Boolean).join(' · ')}</span></div>`)}
      ${result?.tickets.length > 0 && html`<h3>${t('search.tickets')}</h3>`}
      ${result?.tickets.map((tk) => html`<a class="result" role="option" href=${`#/t/${tk.number}`} onClick=${close}>
        <span>${CHANNEL_ICONS[tk.channel] || '•'}</span> <strong>#${tk.number}</strong> ${tk.contact.name}
        <span class=${`state state-${tk.state}`}>${t(`state.${tk.state}`)}</span>
        ${tk.subject && html`<span class="result-subject">${tk.subject}</span>`}
        <${Excerpt} ticket=${tk} match=${result.matches?.find((m) => m.number === tk.number)} /></a>`)}
    </div>`}
  </div>`;
}
