// The bell (issue 16, item 8): @mentions, tickets assigned to me and (administrators) channels
// that fail, live from the event stream; each opens its ticket and is then read.
import { html, useEffect, useState } from './vendor/htm-preact-standalone-3.1.1.js';
import { api, beep, EVENT, since, t, useEvents } from './lib.js';

const ICONS = { mention: '@', assigned: '👤', channel_alert: '⚠', sla_warning: '⏳', sla_breached: '⏰' };

/** Marks a ticket's notifications read (the ticket view calls it when it opens). */
export async function ticketSeen(number) {
  const r = await api('POST', '/api/v1/me/notifications/read', { ticket_number: number }).catch(() => null);
  if (r?.marked) document.dispatchEvent(new CustomEvent('atiende:bell'));
}

export function Bell({ me }) {
  const [bell, setBell] = useState({ items: [], unread: 0 });
  const [open, setOpen] = useState(false);
  const load = () => api('GET', '/api/v1/me/notifications').then(setBell).catch(() => {});
  useEffect(() => {
    load();
    const again = () => load();
    document.addEventListener('atiende:bell', again);
    return () => document.removeEventListener('atiende:bell', again);
  }, []);
  useEvents((kind) => {
    if (kind !== EVENT.NOTIFICATION_CREATED) return;
    if (me?.notify?.sound !== false) beep();
    load();
  }, [me?.notify?.sound]);
  const pick = async (n) => {
    setOpen(false);
    if (!n.read) await api('POST', '/api/v1/me/notifications/read', { id: n.id }).catch(() => {});
    load();
    location.hash = n.ticket_number ? `#/t/${n.ticket_number}` : '#/admin/canales';
  };
  const label = bell.unread ? t('bell.unread', { n: bell.unread }) : t('bell.title');
  return html`<div class="bell">
    <button type="button" class="ghost bell-button" aria-label=${label} title=${label} aria-expanded=${open}
      onClick=${() => setOpen(!open)}>🔔${bell.unread > 0 && html`<span class="badge" aria-hidden="true">${bell.unread}</span>`}</button>
    ${open && html`<div class="bell-list" role="region" aria-label=${t('bell.title')}>
      <div class="bell-head"><strong>${t('bell.title')}</strong>
        ${bell.unread > 0 && html`<button type="button" class="link" onClick=${async () => { await api('POST', '/api/v1/me/notifications/read', { all: true }); load(); }}>${t('bell.read_all')}</button>`}</div>
      ${bell.items.length === 0 ? html`<p class="hint">${t('bell.empty')}</p>` : html`<ul>
        ${bell.items.map((n) => html`<li class=${n.read ? 'read' : 'unread'}>
          <button type="button" class="bell-item" onClick=${() => pick(n)}>
            <span class="bell-icon" aria-hidden="true">${ICONS[n.kind] ?? '•'}</span>
            <span><strong>${t(`bell.${n.kind}`, { actor: n.actor, number: n.ticket_number ?? '' })}</strong>
              <span class="bell-text">${n.text}</span>
              <span class="muted">${since(n.at)}</span></span>
          </button></li>`)}</ul>`}
    </div>`}
  </div>`;
}
