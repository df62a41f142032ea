// The reply box: text, emoji, attachments, and canned responses by the book icon or by `/`.
import { html, useEffect, useRef, useState } from './vendor/htm-preact-standalone-3.1.1.js';
import { api, refs, t } from './lib.js';
import { TemplatePicker } from './templates.js';
import { Dialog } from './dialog.js';
import { isEmpty, loadDraft, replyRef, saveDraft } from './drafts.js';

const EMOJI = ['🙂', '😊', '😀', '🙏', '👍', '👋', '🎉', '❤️', '😅', '😔', '🤔', '✅', '📦', '🚚', '💳', '📞'];

/** Fills {{customer.name}}, {{customer.first_name}}, {{agent.name}}, {{ticket.number}}. */
export function fillVariables(text, ticket, me) {
  const vars = {
    'customer.name': ticket.contact.name,
    'customer.first_name': ticket.contact.name.split(/\s+/)[0] ?? '',
    'agent.name': me.name,
    'agent.first_name': me.name.split(/\s+/)[0] ?? '',
    'ticket.number': String(ticket.number),
  };
  return text.replace(/\{\{\s*([\w.]+)\s*\}\}/g, (all, k) => vars[k] ?? all);
}

/** The `/word` being typed just before the caret, if any. */
function slashWord(text, caret) {
  const m = text.slice(0, caret).match(/(?:^|\s)\/([\p{L}\p{N}_-]*)$/u);
  return m ? { word: m[1], start: caret - m[1].length - 1 } : null;
}

export function Composer({ ticket, me, replyTo, onClearReply, onSent, onTyping }) {
  const [saved] = useState(() => loadDraft(me, ticket.number));
  const [text, setText] = useState(saved?.text ?? '');
  const [files, setFiles] = useState(saved?.files ?? []);
  const [discarding, setDiscarding] = useState(false);
  const draft = { text, files, replyTo: replyRef(replyTo) };
  useEffect(() => { saveDraft(me, ticket.number, draft); }, [text, files, replyTo]);
  // The effect above removes the emptied draft.
  const discard = () => { setText(''); setFiles([]); onClearReply(); setDiscarding(false); };
  const [picker, setPicker] = useState(null); // 'emoji' | 'canned'
  const [slash, setSlash] = useState(null);
  const [active, setActive] = useState(0);
  const [busy, setBusy] = useState(false);
  const [uploading, setUploading] = useState(0);
  const [error, setError] = useState('');
  // WhatsApp after 24 hours: only an approved template (the server says so too).
  const windowOver = ticket.reply_window_ends_at && Date.parse(ticket.reply_window_ends_at) < Date.now();
  const [refused, setRefused] = useState(false);
  const [templates, setTemplates] = useState(false);
  const area = useRef(null);
  const fileInput = useRef(null);

  const matches = (filter) => {
    const f = filter.toLowerCase();
    return refs.canned.filter((c) => !f || (c.shortcut ?? '').toLowerCase().startsWith(f) || c.title.toLowerCase().includes(f));
  };
  const cannedList = slash ? matches(slash.word) : refs.canned;

  const insert = (snippet, from, to) => {
    const el = area.current;
    const start = from ?? el?.selectionStart ?? text.length;
    const end = to ?? el?.selectionEnd ?? text.length;
    const next = text.slice(0, start) + snippet + text.slice(end);
    setText(next);
    requestAnimationFrame(() => { if (el) { el.focus(); el.selectionStart = el.selectionEnd = start + snippet.length; } });
  };
  const useCanned = (c) => {
    const filled = fillVariables(c.text, ticket, me);
    if (slash) insert(filled, slash.start, area.current?.selectionStart ?? text.length);
    else insert(filled);
    setSlash(null);
    setPicker(null);
  };
  const lastTyping = useRef(0);
  const onInput = (ev) => {
    setText(ev.target.value);
    if (Date.now() - lastTyping.current > 3000) { lastTyping.current = Date.now(); onTyping?.(); }
    const s = slashWord(ev.target.value, ev.target.selectionStart);
    setSlash(s && matches(s.word).length ? s : null);
    setActive(0);
  };
  const onKeyDown = (ev) => {
    if (slash) {
      if (ev.key === 'ArrowDown') { setActive((a) => Math.min(a + 1, cannedList.length - 1)); ev.preventDefault(); }
      if (ev.key === 'ArrowUp') { setActive((a) => Math.max(a - 1, 0)); ev.preventDefault(); }
      if (ev.key === 'Enter' || ev.key === 'Tab') { if (cannedList[active]) { useCanned(cannedList[active]); ev.preventDefault(); } }
      if (ev.key === 'Escape') { setSlash(null); ev.stopPropagation(); }
      return;
    }
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) send();
  };
  const upload = async (ev) => {
    setError('');
    const chosen = [...ev.target.files];
    ev.target.value = '';
    setUploading((n) => n + chosen.length);
    for (const file of chosen) {
      const form = new FormData();
      form.append('file', file);
      try { const up = await api('POST', '/api/v1/uploads', form); setFiles((f) => [...f, up]); } catch (e) { setError(`${file.name}: ${e.message}`); }
      setUploading((n) => n - 1);
    }
  };
  const send = async (ev) => {
    ev?.preventDefault();
    if ((!text.trim() && files.length === 0) || busy || uploading > 0) return;
    setBusy(true);
    setError('');
    try {
      const m = await api('POST', `/api/v1/tickets/${ticket.number}/messages`,
        { text, reply_to: replyTo?.id ?? null, attachment_ids: files.map((f) => f.id) });
      setText('');
      setFiles([]);
      onSent(m);
    } catch (e) {
      if (e.code === 'outside_window') setRefused(true);
      setError(e.message);
    }
    setBusy(false);
  };
  if (templates) {
    return html`<div class="composer"><${TemplatePicker} ticket=${ticket}
      onCancel=${() => setTemplates(false)} onSent=${(m) => { setTemplates(false); onSent(m); }} /></div>`;
  }
  const closed = windowOver || refused;

  return html`<form class="composer" onSubmit=${send}>
    ${replyTo && html`<div class="replying">${t('composer.replying_to', { name: replyTo.author.name })}: <em>${replyTo.text.slice(0, 80)}</em>
      <button type="button" class="link" onClick=${onClearReply} aria-label=${t('action.cancel')}>×</button></div>`}
    ${closed && html`<p class="notice window-over">${t('templates.window_over')}
      <button type="button" class="small" onClick=${() => { setError(''); setTemplates(true); }}>${t('templates.choose')}</button></p>`}
    <label class="visually-hidden" for="reply-text">${t('composer.label')}</label>
    <textarea id="reply-text" ref=${area} rows="3" placeholder=${t('composer.placeholder')} value=${text}
      onInput=${onInput} onKeyDown=${onKeyDown}></textarea>
    ${(slash || picker === 'canned') && html`<ul class="canned-list" role="listbox" aria-label=${t('composer.canned')}>
      ${cannedList.length === 0 && html`<li class="empty">${t('composer.no_canned')}</li>`}
      ${cannedList.map((c, i) => html`<li role="option" aria-selected=${slash ? i === active : false}
          class=${slash && i === active ? 'active' : ''} onMouseDown=${(e) => { e.preventDefault(); useCanned(c); }}>
        <strong>${c.title}</strong>${c.shortcut && html` <code>/${c.shortcut}</code>`}<span class="muted"> ${c.text.slice(0, 70)}</span></li>`)}
    </ul>`}
    ${picker === 'emoji' && html`<div class="emoji-list" role="listbox" aria-label=${t('composer.emoji')}>
      ${EMOJI.map((e) => html`<button type="button" class="emoji" onClick=${() => { insert(e); setPicker(null); }}>${e}</button>`)}</div>`}
    ${files.length > 0 && html`<ul class="files">${files.map((f) => html`<li>📎 ${f.name}
      <button type="button" class="link" aria-label=${t('composer.remove_file', { name: f.name })} onClick=${() => setFiles((all) => all.filter((x) => x.id !== f.id))}>×</button></li>`)}</ul>`}
    <div class="composer-bar">
      <button type="button" class="icon" title=${t('composer.emoji')} aria-label=${t('composer.emoji')} onClick=${() => setPicker(picker === 'emoji' ? null : 'emoji')}>🙂</button>
      <button type="button" class="icon" title=${t('composer.attach')} aria-label=${t('composer.attach')} onClick=${() => fileInput.current?.click()}>📎</button>
      <input type="file" ref=${fileInput} multiple hidden onChange=${upload} data-testid="attach-input" />
      <button type="button" class="icon" title=${t('composer.canned')} aria-label=${t('composer.canned')} onClick=${() => setPicker(picker === 'canned' ? null : 'canned')}>📖</button>
      <span class="hint">${t('composer.hint')}</span>
      ${uploading > 0 && html`<span class="muted" role="status">${t('composer.uploading', { n: uploading })}</span>`}
      ${!isEmpty(draft) && html`<button type="button" class="small link" onClick=${() => setDiscarding(true)}>${t('draft.discard')}</button>`}
      <button type="submit" class="primary" disabled=${busy || uploading > 0 || (!text.trim() && files.length === 0)}>${t('composer.send')}</button>
    </div>
    <p class="error" role="alert">${error}</p>
    ${discarding && html`<${Dialog} labelledBy="discard-title" onClose=${() => setDiscarding(false)}>
      <h2 id="discard-title">${t('draft.discard_title')}</h2>
      <p>${t(files.length ? 'draft.discard_body' : 'draft.discard_body_text', { n: files.length })}</p>
      <div class="dialog-actions">
        <button type="button" onClick=${() => setDiscarding(false)}>${t('draft.keep')}</button>
        <button type="button" class="danger" onClick=${discard}>${t('draft.discard')}</button>
      </div>
    <//>`}
  </form>`;
}
