// The ticket view (TICK-*): conversation, reply box, actions and the side tabs.
import { html, useEffect, useRef, useState } from './vendor/htm-preact-standalone-3.1.1.js';
import { api, byId, CHANNEL_ICONS, EVENT, note, PRESENCE_KINDS, refs, STREAM, t, useEvents, useTick, when } from './lib.js';
import { LabelPicker } from './catalog.js';
import { ticketSeen } from './bell.js';
import { Composer } from './composer.js';
import { SidePanel } from './ticket-tabs.js';
import { Dialog } from './dialog.js';
import { loadDraft } from './drafts.js';
import { scheduleMerge } from './merge.js';

const FACES = { positive: '🙂', neutral: '😐', negative: '🙁' };

export function TicketView({ number, me }) {
  const [ticket, setTicket] = useState(null);
  const [messages, setMessages] = useState([]);
  const [error, setError] = useState('');
  // The message being answered comes back with the ticket's draft.
  const [replyTo, setReplyTo] = useState(() => loadDraft(me, number)?.replyTo ?? null);
  const [closing, setClosing] = useState(null); // 'closed' | 'ignored' while asking the final sentiment
  const [merging, setMerging] = useState(false);
  const [tab, setTab] = useState('customer');
  const [bump, setBump] = useState(0); // reloads the side tabs on live changes
  const convo = useRef(null);

  // Only the newest load may land: a slow answer never overwrites a newer one.
  const loads = useRef(0);
  const later = useRef(null);
  const load = async () => {
    const seq = ++loads.current;
    try {
      const [tk, ms] = await Promise.all([api('GET', `/api/v1/tickets/${number}`), api('GET', `/api/v1/tickets/${number}/messages`)]);
      if (seq !== loads.current) return;
      setTicket(tk);
      setMessages(ms.items);
      setError('');
    } catch (e) { if (seq === loads.current) setError(e.message); }
  };
  useEffect(() => () => clearTimeout(later.current), []);
  useEffect(() => { load(); ticketSeen(number); }, [number]);
  useEffect(() => { if (convo.current) convo.current.scrollTop = convo.current.scrollHeight; }, [messages.length]);
  const others = usePresence(number, me);
  useEvents((kind, ev) => {
    if (PRESENCE_KINDS.has(kind)) return;
    // One action brings several events (ticket.updated, message.created…): load once.
    if (kind === STREAM.RESET || ev.ticket_number === number) {
      clearTimeout(later.current);
      later.current = setTimeout(() => { load(); setBump((b) => b + 1); }, 150);
    }
  }, [number]);
  useEffect(() => {
    const on = (ev) => {
      if (ev.detail === 'r') document.getElementById('reply-text')?.focus();
      if (ev.detail === 'c') { setTab('comments'); setTimeout(() => document.getElementById('comment-text')?.focus(), 50); }
      if (ev.detail === 'e' && ticket?.state === 'open') setClosing('closed');
    };
    document.addEventListener('atiende:key', on);
    return () => document.removeEventListener('atiende:key', on);
  }, [ticket]);

  const patch = async (body) => {
    const seq = ++loads.current;
    try {
      const tk = await api('PATCH', `/api/v1/tickets/${number}`, body);
      if (seq === loads.current) setTicket(tk);
      setError('');
    } catch (e) { setError(e.message); }
  };

  if (!ticket) {
    return html`<aside class="ticket" aria-label=${t('ticket.title', { number })}>
      <a class="close-view" href="#/" aria-label=${t('action.close_view')}>×</a>
      <p class=${error ? 'error' : 'loading'}>${error || t('loading')}</p></aside>`;
  }
  // A merged ticket is read-only: what it said lives in the one it went into.
  if (ticket.merged_into) {
    return html`<aside class="ticket merged" aria-label=${t('ticket.title', { number })}>
      <header class="ticket-head">
        <div class="ticket-title">
          <h2>#${ticket.number} · ${ticket.contact.name}</h2>
          <span class="state state-closed">${t('merge.merged')}</span>
          <a class="close-view" href="#/" aria-label=${t('action.close_view')}>×</a>
        </div>
        <p class="notice merged-into">${t('ticket.merged_into')} <a href=${`#/t/${ticket.merged_into}`}>#${ticket.merged_into}</a>.</p>
      </header>
    </aside>`;
  }
  const account = byId(refs.accounts, ticket.account_id);
  const canReopen = me.permissions?.includes('tickets.reopen') ?? ['admin', 'supervisor'].includes(me.role);
  return html`<aside class="ticket" aria-label=${t('ticket.title', { number })}>
    <header class="ticket-head">
      <div class="ticket-title">
        <h2>#${ticket.number} · ${ticket.contact.name}</h2>
        <span class=${`state state-${ticket.state}`}>${t(`state.${ticket.state}`)}</span>
        ${ticket.kind === 'private' && html`<span class="lock" title=${t('ticket.private')}>🔒</span>`}
        <a class="close-view" href="#/" aria-label=${t('action.close_view')}>×</a>
      </div>
      ${ticket.subject && html`<p class="ticket-subject"><span class="visually-hidden">${t('form.subject')}: </span>${ticket.subject}</p>`}
      <div class="ticket-meta">
        <span title=${t('ticket.answers_from')}>${CHANNEL_ICONS[ticket.channel] || '•'} ${t(`channel.${ticket.channel}`)} · ${account?.name ?? ''}</span>
        <label>${t('ticket.assignee')}
          <select aria-label=${t('ticket.assignee')} value=${ticket.assignee_id ?? ''} onChange=${(e) => patch({ assignee_id: e.target.value || null })}>
            <option value="">${t('ticket.unassigned')}</option>
            ${refs.users.filter((u) => u.active !== false).map((u) => html`<option value=${u.id}>${u.name}</option>`)}
          </select></label>
        ${ticket.assignee_id !== me.id && html`<button type="button" class="small" onClick=${() => patch({ assignee_id: me.id })}>${t('ticket.assign_me')}</button>`}
        ${refs.teams.length > 0 && html`<label>${t('ticket.team')}
          <select aria-label=${t('ticket.team')} value=${ticket.team_id ?? ''} onChange=${(e) => patch({ team_id: e.target.value || null })}>
            <option value="">${t('ticket.no_team')}</option>
            ${refs.teams.map((team) => html`<option value=${team.id}>${team.name}</option>`)}
          </select></label>`}
        <${LabelPicker} label=${t('ticket.labels')} value=${ticket.labels} onChange=${(labels) => patch({ labels })} />
        <button type="button" class=${ticket.important ? 'small on' : 'small'} aria-pressed=${ticket.important}
          onClick=${() => patch({ important: !ticket.important })}>📌 ${t(ticket.important ? 'ticket.unmark_important' : 'ticket.mark_important')}</button>
        <label>${t('ticket.sentiment_initial')}
          <select value=${ticket.sentiment_initial ?? ''} onChange=${(e) => patch({ sentiment_initial: e.target.value || null })}>
            <option value="">–</option>${Object.entries(FACES).map(([k, f]) => html`<option value=${k}>${f} ${t(`sentiment.${k}`)}</option>`)}
          </select></label>
        ${ticket.sentiment_final && html`<span title=${t('ticket.sentiment_final')}>${t('ticket.sentiment_final')}: ${FACES[ticket.sentiment_final]}</span>`}
      </div>
      <div class="ticket-actions">
        ${ticket.state === 'open' ? html`
          <button type="button" class="primary small" onClick=${() => setClosing('closed')}>${t('ticket.close')}</button>
          <button type="button" class="small" onClick=${() => setClosing('ignored')}>${t('ticket.ignore')}</button>`
          : canReopen && html`<button type="button" class="small" onClick=${() => patch({ state: 'open' })}>${t('ticket.reopen')}</button>`}
        <button type="button" class="small" onClick=${() => setMerging(true)}>${t('ticket.merge')}</button>
        <a class="button small" href=${`/api/v1/tickets/${ticket.number}/transcript`} target="_blank" rel="noopener">${t('ticket.transcript')}</a>
      </div>
      ${others.length > 0 && html`<p class="presence" aria-live="polite">${others.map((o) => html`<span class=${o.typing ? 'typing' : ''}>
        ${o.customer ? t('presence.customer_typing') : t(o.typing ? 'presence.typing' : 'presence.viewing', { name: byId(refs.users, o.id)?.name ?? o.id })}</span>`)}</p>`}
      ${error && html`<p class="error" role="alert">${error}</p>`}
    </header>
    <div class="ticket-body">
      <div class="conversation-pane">
        <ol class="conversation" ref=${convo} aria-label=${t('ticket.conversation')}>
          ${messages.map((m) => html`<${Message} key=${m.id} m=${m} all=${messages} ticket=${ticket} onReply=${() => setReplyTo(m)} />`)}
        </ol>
        <${Composer} ticket=${ticket} me=${me} replyTo=${replyTo} onClearReply=${() => setReplyTo(null)}
          onTyping=${() => sendPresence(number, 'typing')}
          onSent=${(m) => { setMessages((list) => [...list, m]); setReplyTo(null); }} />
      </div>
      <${SidePanel} ticket=${ticket} tab=${tab} setTab=${setTab} bump=${bump} me=${me} />
    </div>
    ${closing && html`<${FinalSentiment} state=${closing} onCancel=${() => setClosing(null)}
      onDone=${async (sentiment) => { await patch({ state: closing, ...(sentiment ? { sentiment_final: sentiment } : {}) }); setClosing(null); }} />`}
    ${merging && html`<${MergeDialog} ticket=${ticket} onCancel=${() => setMerging(false)} />`}
  </aside>`;
}

const sendPresence = (number, state) => api('POST', `/api/v1/tickets/${number}/presence`, { state }, { keepalive: true }).catch(() => {});

/** TICK-12: who else has this ticket open, and who is typing. Announces the user too. */
function usePresence(number, me) {
  const [seen, setSeen] = useState({}); // user id → { until, typingUntil }
  useTick(3000);
  useEffect(() => {
    sendPresence(number, 'viewing');
    const beat = setInterval(() => sendPresence(number, 'viewing'), 20000);
    const leave = () => sendPresence(number, 'left');
    addEventListener('pagehide', leave);
    return () => { clearInterval(beat); removeEventListener('pagehide', leave); leave(); };
  }, [number]);
  useEvents((kind, ev) => {
    if (!PRESENCE_KINDS.has(kind) || ev.ticket_number !== number || ev.user_id === me.id) return;
    const now = Date.now();
    if (kind === EVENT.VISITOR_TYPING) {
      // The web chat visitor is typing (they have no user id).
      setSeen((s) => ({ ...s, customer: { until: now + 6000, typingUntil: now + 6000, customer: true } }));
      return;
    }
    setSeen((s) => {
      const next = { ...s };
      if (kind === EVENT.TICKET_LEFT) delete next[ev.user_id];
      else next[ev.user_id] = { until: now + 50000, typingUntil: kind === EVENT.TICKET_TYPING ? now + 6000 : (s[ev.user_id]?.typingUntil ?? 0) };
      return next;
    });
    // A newcomer learns who was already here at their next heartbeat; answer at once instead.
    if (kind === EVENT.TICKET_VIEWING && !seen[ev.user_id]) sendPresence(number, 'viewing');
  }, [number, seen]);
  const now = Date.now();
  return Object.entries(seen).filter(([, v]) => v.until > now).map(([id, v]) => ({ id, typing: v.typingUntil > now, customer: v.customer }));
}

function Message({ m, all, onReply, ticket }) {
  const quoted = m.reply_to && all.find((x) => x.id === m.reply_to);
  const [asHtml, setAsHtml] = useState(false);
  const [error, setError] = useState('');
  const mail = m.mail;
  const resend = async () => {
    try { await api('POST', `/api/v1/tickets/${ticket.number}/messages/${m.id}/resend`, {}); setError(''); } catch (e) { setError(e.message); }
  };
  return html`<li class=${`message ${m.direction}${m.public ? '' : ' private'}`} data-message=${m.id}>
    <div class="message-head">
      <strong>${m.author.name}</strong>
      ${!m.public && html`<span class="lock" title=${t('ticket.private_message')} aria-label=${t('ticket.private_message')}>🔒</span>`}
      <time datetime=${m.created_at}>${when(m.created_at)}</time>
      ${m.direction === 'outbound' && m.status && html`<${Delivery} status=${m.status} />`}
      ${m.template && html`<span class="badge" title=${t('templates.sent_as', { name: m.template.name })}>${t('templates.badge')}</span>`}
      ${mail?.html && html`<button type="button" class="link small" aria-pressed=${asHtml} onClick=${() => setAsHtml(!asHtml)}>${t(asHtml ? 'mail.as_text' : 'mail.as_html')}</button>`}
      <button type="button" class="link small" onClick=${onReply}>${t('ticket.reply_to')}</button>
    </div>
    ${mail?.subject && m.direction === 'inbound' && html`<div class="mail-subject">${mail.subject}</div>`}
    ${m.status_detail && html`<p class=${`delivery-detail ${m.status}`}>${m.status_detail}
      ${m.status === 'failed' && html` <button type="button" class="small" onClick=${resend}>${t('mail.resend')}</button>`}</p>`}
    <p class="error" role="alert">${error}</p>
    ${quoted && html`<blockquote class="quoted">${quoted.text.slice(0, 140)}</blockquote>`}
    ${asHtml ? html`<iframe class="mail-html" title=${t('mail.as_html')} sandbox="allow-same-origin" srcdoc=${mail.html}></iframe>`
      : html`<div class="message-text">${m.text}</div>`}
    ${mail?.quoted && !asHtml && html`<details class="mail-quoted"><summary>${t('mail.quoted')}</summary><pre>${mail.quoted}</pre></details>`}
    ${mail?.notes?.length > 0 && html`<p class="notice">${mail.notes.map(note).join(' · ')}</p>`}
    ${m.notes?.length > 0 && html`<p class="notice">${m.notes.map(note).join(' · ')}</p>`}
    ${m.reaction && html`<span class="reaction" title=${t('message.reaction')}>${m.reaction}</span>`}
    ${m.attachments.length > 0 && html`<div class="attachments">
      ${m.attachments.map((a) => (a.content_type.startsWith('image/')
        ? html`<a href=${a.url} target="_blank" rel="noopener"><img src=${a.url} alt=${a.name} loading="lazy" /></a>`
        : a.content_type.startsWith('audio/')
          ? html`<audio controls preload="none" src=${a.url} aria-label=${a.name}></audio>`
          : a.content_type.startsWith('video/')
            ? html`<video controls preload="none" src=${a.url} aria-label=${a.name}></video>`
            : html`<a class="file" href=${a.url} target="_blank" rel="noopener">📎 ${a.name}</a>`))}</div>`}
  </li>`;
}

function FinalSentiment({ state, onDone, onCancel }) {
  return html`<${Dialog} labelledBy="fs-title" onClose=${onCancel}>
      <h2 id="fs-title">${t(state === 'closed' ? 'ticket.close' : 'ticket.ignore')}</h2>
      <p>${t('ticket.final_sentiment_question')}</p>
      <div class="faces">
        ${Object.entries(FACES).map(([k, f]) => html`<button type="button" class="face" aria-label=${t(`sentiment.${k}`)} onClick=${() => onDone(k)}>${f}<span>${t(`sentiment.${k}`)}</span></button>`)}
      </div>
      <div class="dialog-actions">
        <button type="button" onClick=${onCancel}>${t('action.cancel')}</button>
        <button type="button" class="primary" onClick=${() => onDone(null)}>${t('ticket.close_without_sentiment')}</button>
      </div>
    <//>`;
}

function MergeDialog({ ticket, onCancel }) {
  const [previous, setPrevious] = useState(null);
  const [into, setInto] = useState(null); // the ticket picked: asked about before anything happens
  const [assignee, setAssignee] = useState(ticket.assignee_id ?? '');
  const [error, setError] = useState('');
  useEffect(() => { api('GET', `/api/v1/tickets/${ticket.number}/previous`).then((r) => setPrevious(r.items.filter((x) => x.number !== ticket.number))).catch((e) => setError(e.message)); }, []);
  const confirm = (ev) => {
    ev.preventDefault();
    // The current assignee stays unless another was chosen.
    const chosen = assignee === (ticket.assignee_id ?? '') ? undefined : (assignee || null);
    scheduleMerge(ticket.number, into.number, chosen);
    onCancel();
  };
  const side = (tk, label) => html`<div class="merge-side">
    <h3>${label}</h3>
    <p><strong>#${tk.number}</strong> · ${t(`state.${tk.state}`)} · ${when(tk.updated_at)}</p>
    ${tk.subject && html`<p class="ticket-subject">${tk.subject}</p>`}
    <p class="muted">${tk.excerpt}</p>
    <p class="muted">${t('merge.messages', { n: tk.message_count })} · ${tk.assignee_id ? byId(refs.users, tk.assignee_id)?.name ?? '' : t('ticket.unassigned')}</p></div>`;
  if (into) {
    return html`<${Dialog} labelledBy="merge-title" onClose=${onCancel} onSubmit=${confirm}>
      <h2 id="merge-title">${t('merge.confirm_title', { number: ticket.number, into: into.number })}</h2>
      <p>${t('merge.confirm_body', { number: ticket.number, into: into.number })}</p>
      <div class="merge-sides">${side(ticket, t('merge.this'))}<span aria-hidden="true">→</span>${side(into, t('merge.into'))}</div>
      <label>${t('merge.assignee')}
        <select value=${assignee} onChange=${(e) => setAssignee(e.target.value)}>
          <option value="">${t('ticket.unassigned')}</option>
          ${refs.users.filter((u) => u.active !== false).map((u) => html`<option value=${u.id}>${u.name}</option>`)}
        </select></label>
      <div class="dialog-actions">
        <button type="button" onClick=${() => setInto(null)}>${t('merge.back')}</button>
        <button type="submit" class="primary">${t('merge.do', { into: into.number })}</button>
      </div>
    <//>`;
  }
  return html`<${Dialog} labelledBy="merge-title" onClose=${onCancel}>
      <h2 id="merge-title">${t('ticket.merge_title', { number: ticket.number })}</h2>
      ${previous === null ? html`<p class="loading">${t('loading')}</p>`
        : previous.length === 0 ? html`<p class="empty">${t('ticket.no_previous')}</p>`
        : html`<ul class="pick">${previous.map((p) => html`<li><button type="button" onClick=${() => setInto(p)}>
            #${p.number} · ${t(`state.${p.state}`)} · ${when(p.updated_at)} — ${p.excerpt}</button></li>`)}</ul>`}
      <p class="error" role="alert">${error}</p>
      <div class="dialog-actions"><button type="button" onClick=${onCancel}>${t('action.cancel')}</button></div>
    <//>`;
}

/** Where an answer is: ✓ sent, ✓✓ delivered, blue ✓✓ read (as WhatsApp shows it); words for the rest. */
function Delivery({ status }) {
  const ticks = { sent: '✓', delivered: '✓✓', read: '✓✓' }[status];
  const label = t(`delivery.${status}`);
  return ticks
    ? html`<span class=${`delivery ticks ${status}`} title=${label} aria-label=${label} data-status=${status}>${ticks}</span>`
    : html`<span class=${`delivery ${status}`} data-status=${status}>${label}</span>`;
}
