// The board (BOARD-1..4): the user's own columns of tickets, saved on the server, updated live.
import { html, useEffect, useRef, useState } from './vendor/htm-preact-standalone-3.1.1.js';
import { api, beep, byId, CHANNEL_ICONS, EVENT, initials, query, refs, since, slaLevel, slaTitle, STREAM, t, useEvents, useTick } from './lib.js';
import { ColumnEditor } from './column-editor.js';
import { hasDraft } from './drafts.js';

const PAGE = 30;
const LIVE = new Set([EVENT.TICKET_CREATED, EVENT.TICKET_UPDATED, EVENT.MESSAGE_CREATED, STREAM.RESET]);

function defaultColumns() {
  return [
    { id: 'mine', filters: { state: 'open', assignee: 'me' } },
    { id: 'unassigned', filters: { state: 'open', assignee: 'none' } },
    { id: 'important', filters: { state: 'open', important: 'true' } },
    { id: 'open', filters: { state: 'open' } },
  ].map((c) => ({ name: '', sort: 'updated_desc', sound: false, notify: false, auto_refresh: false, ...c }));
}

/** A column's name; the default columns (saved with no name) are named in the user's language. */
export function columnName(col) {
  if (col.name) return col.name;
  const key = `board.default.${col.id}`;
  const name = t(key);
  return name === key ? t('column.untitled') : name;
}

/** A column is rebuilt (and reloaded) when what it lists changes, not when a toggle does. */
const columnKey = (col) => JSON.stringify([col.id, col.kind ?? 'tickets', col.sort,
  Object.entries(col.filters).sort(([a], [b]) => a.localeCompare(b))]);

export function Board({ me, openNumber }) {
  const [columns, setColumns] = useState(null);
  const [editing, setEditing] = useState(null); // null, 'new' or a column id
  const [error, setError] = useState('');

  useEffect(() => {
    api('GET', '/api/v1/me/board')
      .then((b) => setColumns(b.columns ?? defaultColumns()))
      .catch((e) => setError(e.message));
  }, []);

  // The ticket panel takes the right of the screen: the column of the card opened slides
  // into what is left of the board, so the agent keeps seeing where they are.
  useEffect(() => {
    if (!openNumber) return;
    const card = document.querySelector(`.card.active[data-number="${openNumber}"]`);
    card?.closest('.column')?.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  }, [openNumber]);

  // Saves go to the server one at a time, in order; the screen shows the latest wish at once
  // and falls back to what the server last confirmed if a save fails.
  const latest = useRef(null);
  const confirmed = useRef(null);
  const queue = useRef(Promise.resolve());
  const saves = useRef(0);
  if (columns && !latest.current) { latest.current = columns; confirmed.current = columns; }
  const save = (next) => {
    latest.current = next;
    setColumns(next);
    setError('');
    const seq = ++saves.current;
    const run = queue.current.then(async () => {
      try {
        const saved = await api('PUT', '/api/v1/me/board', { columns: next });
        confirmed.current = saved.columns;
        if (seq === saves.current) { latest.current = saved.columns; setColumns(saved.columns); }
      } catch (e) {
        if (seq === saves.current) { latest.current = confirmed.current; setColumns(confirmed.current); }
        setError(e.message);
        throw e;
      }
    });
    queue.current = run.catch(() => {});
    return run;
  };
  const update = (col) => save(latest.current.map((c) => (c.id === col.id ? col : c))).catch(() => {});
  const remove = (col) => {
    if (confirm(t('column.remove_confirm', { name: columnName(col) }))) save(latest.current.filter((c) => c.id !== col.id)).catch(() => {});
  };
  const move = (col, delta) => {
    const i = latest.current.findIndex((c) => c.id === col.id);
    const j = i + delta;
    if (j < 0 || j >= latest.current.length) return;
    const next = [...latest.current];
    [next[i], next[j]] = [next[j], next[i]];
    save(next).catch(() => {});
  };

  if (!columns) return html`<main class="board"><p class="loading">${error || t('loading')}</p></main>`;
  const editingCol = editing && editing !== 'new' ? columns.find((c) => c.id === editing) : null;
  return html`<main class="board" aria-label=${t('board.title')}>
    ${error && html`<p class="error board-error" role="alert">${error}</p>`}
    <div class="columns">
      ${columns.map((col, i) => html`<${Column} key=${columnKey(col)} col=${col}
        first=${i === 0} last=${i === columns.length - 1} openNumber=${openNumber} me=${me}
        onChange=${update} onEdit=${() => setEditing(col.id)} onRemove=${() => remove(col)} onMove=${(d) => move(col, d)} />`)}
      <div class="add-column">
        <button type="button" onClick=${() => setEditing('new')}>+ ${t('board.add_column')}</button>
      </div>
    </div>
    ${editing && html`<${ColumnEditor} col=${editingCol}
      onCancel=${() => setEditing(null)}
      onSave=${async (col) => {
        await save(editingCol ? latest.current.map((c) => (c.id === col.id ? col : c)) : [...latest.current, col]);
        setEditing(null);
      }} />`}
  </main>`;
}

function Column({ col, first, last, openNumber, me, onChange, onEdit, onRemove, onMove }) {
  const [items, setItems] = useState(null);
  const [cursor, setCursor] = useState(null);
  const [pending, setPending] = useState(null); // a fresh first page, shown on click
  const [newCount, setNewCount] = useState(0);
  const [error, setError] = useState('');
  // Mass actions (TICK-11): cards picked in this column, or every ticket it matches.
  const [selecting, setSelecting] = useState(false);
  const [picked, setPicked] = useState(new Set());
  const [allMatching, setAllMatching] = useState(false);
  const lastPicked = useRef(null);
  const list = useRef(null);
  const hovered = useRef(false);
  const loadingMore = useRef(false);
  const timer = useRef(null);
  const shown = useRef([]);
  useTick(30000);

  const messages = col.kind === 'messages';
  const key = messages ? (x) => x.id : (x) => x.number;
  const cursorRef = useRef(null);
  // Bumped whenever the list is replaced: answers to requests made before are dropped, so a
  // late page 2 never lands on a fresh page 1 and an older first page never wins.
  const generation = useRef(0);
  const refreshSeq = useRef(0);
  const announced = useRef(0);
  const fetchPage = (after) => (messages
    ? api('GET', `/api/v1/messages?${query({ ...col.filters, limit: PAGE, cursor: after })}`)
    : api('GET', `/api/v1/tickets?${query({ ...col.filters, sort: col.sort, limit: PAGE, cursor: after })}`));

  /** Loads further pages while the list does not fill the column yet (a message page may be
   * short: the server examines a bounded number of messages per page). */
  const fill = async () => {
    for (let i = 0; i < 5 && cursorRef.current && !loadingMore.current; i++) {
      const el = list.current;
      if (el && el.scrollHeight > el.clientHeight + 200) return;
      await loadMore();
    }
  };
  const apply = (page) => {
    generation.current += 1;
    announced.current = 0;
    loadingMore.current = false;
    setItems(page.items);
    shown.current = page.items;
    cursorRef.current = page.next_cursor;
    setPending(null);
    setNewCount(0);
    if (list.current) list.current.scrollTop = 0;
    requestAnimationFrame(fill);
  };
  useEffect(() => { fetchPage().then(apply).catch((e) => setError(e.message)); }, []);

  const loadMore = async () => {
    if (!cursorRef.current || loadingMore.current) return;
    const gen = generation.current;
    loadingMore.current = true;
    try {
      const page = await fetchPage(cursorRef.current);
      if (gen !== generation.current) return;
      const have = new Set(shown.current.map(key));
      const merged = [...shown.current, ...page.items.filter((x) => !have.has(key(x)))];
      shown.current = merged;
      cursorRef.current = page.next_cursor;
      setItems(merged);
    } catch (e) { setError(e.message); } finally { if (gen === generation.current) loadingMore.current = false; }
  };

  const refresh = async () => {
    const seq = ++refreshSeq.current;
    let fresh;
    try { fresh = await fetchPage(); } catch (e) { setError(e.message); return; }
    if (seq !== refreshSeq.current) return;
    setError('');
    const before = new Map(shown.current.map((x) => [key(x), x.updated_at]));
    const changed = fresh.items.filter((x) => !before.has(key(x)) || before.get(key(x)) !== x.updated_at).length;
    const freshKeys = new Set(fresh.items.map(key));
    // Tickets that left the first page for another reason than being pushed down by new ones
    // (closed, reassigned…) are changes too.
    const horizon = shown.current.slice(0, Math.max(0, fresh.items.length - changed));
    const gone = horizon.filter((x) => !freshKeys.has(key(x))).length;
    // A card whose ticket is still in the column shows what it now holds (a label, a team, an
    // assignee) where it is; moving cards and new ones wait for the «nuevos» banner.
    const freshByKey = new Map(fresh.items.map((x) => [key(x), x]));
    const same = (x) => freshByKey.get(key(x)) ?? null;
    if (shown.current.some((x) => { const f = same(x); return f && JSON.stringify(f) !== JSON.stringify(x); })) {
      shown.current = shown.current.map((x) => same(x) ?? x);
      setItems(shown.current);
    }
    if (changed + gone === 0) return;
    // Sound and notification once per new interaction, not again for ones already announced.
    if (changed > announced.current) notifyNew(col, changed - announced.current);
    announced.current = changed;
    // Applying at once only when nobody is reading the column: a card never jumps under the cursor.
    const atTop = !list.current || list.current.scrollTop < 4;
    if (col.auto_refresh && atTop && !hovered.current) { apply(fresh); return; }
    setPending(fresh);
    setNewCount(changed + gone);
  };
  useEvents((kind) => {
    if (!LIVE.has(kind)) return;
    clearTimeout(timer.current);
    timer.current = setTimeout(refresh, 300);
  }, [col]);
  useEffect(() => () => clearTimeout(timer.current), []);

  const onScroll = (ev) => {
    const el = ev.target;
    if (el.scrollTop + el.clientHeight >= el.scrollHeight - 200) loadMore().then(fill);
  };

  const toggle = (field) => async () => {
    if (field === 'notify' && !col.notify && 'Notification' in window && Notification.permission === 'default') {
      await Notification.requestPermission();
    }
    onChange({ ...col, [field]: !col[field] });
  };
  const newest = col.sort.endsWith('_desc');
  const flipSort = () => onChange({ ...col, sort: col.sort.replace(newest ? '_desc' : '_asc', newest ? '_asc' : '_desc') });

  const name = columnName(col);
  const pick = (number, range) => {
    const next = new Set(picked);
    if (range && lastPicked.current !== null && items) {
      const keys = items.map((x) => x.number);
      const [a, b] = [keys.indexOf(lastPicked.current), keys.indexOf(number)].sort((x, y) => x - y);
      if (a >= 0) for (const n of keys.slice(a, b + 1)) next.add(n);
    } else if (next.has(number)) next.delete(number);
    else next.add(number);
    lastPicked.current = number;
    setAllMatching(false);
    setPicked(next);
  };
  const stopSelecting = () => { setSelecting(false); setPicked(new Set()); setAllMatching(false); };
  return html`<section class="column" aria-label=${name} data-column=${col.id}>
    <header class="column-head">
      <h2>${name}</h2>
      <div class="column-tools">
        <button type="button" class="icon" title=${t('column.move_left')} aria-label=${t('column.move_left')} disabled=${first} onClick=${() => onMove(-1)}>‹</button>
        <button type="button" class="icon" title=${t('column.move_right')} aria-label=${t('column.move_right')} disabled=${last} onClick=${() => onMove(1)}>›</button>
        ${!messages && html`<button type="button" class=${selecting ? 'icon on' : 'icon'} aria-pressed=${selecting} title=${t('bulk.select')} aria-label=${t('bulk.select')}
          onClick=${() => (selecting ? stopSelecting() : setSelecting(true))}>☑</button>`}
        ${['csv', 'xlsx'].map((format) => html`<a class="icon" download title=${t(`board.export_${format}`)} aria-label=${t(`board.export_${format}_of`, { name })}
          href=${messages ? `/api/v1/messages/export?${query({ ...col.filters, format })}` : `/api/v1/tickets/export?${query({ ...col.filters, sort: col.sort, format })}`}>${format === 'csv' ? '⤓' : '⊞'}</a>`)}
        <button type="button" class="icon" title=${t('column.edit')} aria-label=${t('column.edit')} onClick=${onEdit}>✎</button>
        <button type="button" class="icon" title=${t('column.remove')} aria-label=${t('column.remove')} onClick=${onRemove}>×</button>
      </div>
    </header>
    ${selecting && html`<${BulkBar} col=${col} picked=${picked} allMatching=${allMatching} shown=${items?.length ?? 0}
      onAll=${() => { setAllMatching(true); setPicked(new Set(items?.map((x) => x.number) ?? [])); }}
      onDone=${() => { setPicked(new Set()); setAllMatching(false); fetchPage().then(apply).catch(() => {}); }}
      onCancel=${stopSelecting} />`}
    ${newCount > 0 && html`<button type="button" class="new-bar" onClick=${() => apply(pending)}>
      ${t('column.new', { n: newCount })}</button>`}
    <div class="cards" ref=${list} onScroll=${onScroll}
      onMouseEnter=${() => { hovered.current = true; }} onMouseLeave=${() => { hovered.current = false; }}>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${items === null ? html`<p class="loading">${t('loading')}</p>`
        : items.length === 0 && !cursorRef.current ? html`<p class="empty">${t('column.empty')}</p>`
        : messages ? items.map((m) => html`<${MessageCard} key=${m.id} m=${m} active=${m.ticket_number === openNumber} />`)
        : items.map((tk) => html`<${Card} key=${tk.number} ticket=${tk} me=${me} active=${tk.number === openNumber}
            selecting=${selecting} picked=${allMatching || picked.has(tk.number)} onPick=${pick} />`)}
    </div>
    <footer class="column-foot">
      <button type="button" class=${col.sound ? 'icon on' : 'icon'} aria-pressed=${col.sound} title=${t('column.sound')} aria-label=${t('column.sound')} onClick=${toggle('sound')}>${col.sound ? '🔔' : '🔕'}</button>
      <button type="button" class=${col.notify ? 'icon on' : 'icon'} aria-pressed=${col.notify} title=${t('column.notify')} aria-label=${t('column.notify')} onClick=${toggle('notify')}>🖥</button>
      ${!messages && html`<button type="button" class="icon" title=${t('column.sort')} aria-label=${t('column.sort')} onClick=${flipSort}>${newest ? t('column.newest') : t('column.oldest')}</button>`}
      <button type="button" class=${col.auto_refresh ? 'icon on' : 'icon'} aria-pressed=${col.auto_refresh} title=${t('column.auto_refresh')} aria-label=${t('column.auto_refresh')} onClick=${toggle('auto_refresh')}>⟳</button>
      <button type="button" class="icon" title=${t('column.top')} aria-label=${t('column.top')} onClick=${() => { if (list.current) list.current.scrollTop = 0; }}>⤒</button>
    </footer>
  </section>`;
}

function notifyNew(col, n) {
  if (col.sound) beep();
  if (col.notify && 'Notification' in window && Notification.permission === 'granted') {
    new Notification(columnName(col), { body: t('column.new', { n }), tag: `atiende-${col.id}` });
  }
}

/** A card of a message column: one message, linking to its ticket. */
function MessageCard({ m, active }) {
  const account = byId(refs.accounts, m.account_id);
  return html`<a class=${`card message-card ${m.direction}${active ? ' active' : ''}`} href=${`#/t/${m.ticket_number}`} data-message=${m.id} data-number=${m.ticket_number}>
    <div class="card-top">
      <span class="channel" title=${t(`channel.${m.channel}`)} aria-label=${t(`channel.${m.channel}`)}>${CHANNEL_ICONS[m.channel] || '•'}</span>
      <span class="account">${account?.name ?? ''}</span>
      ${!m.public && html`<span class="lock" title=${t('ticket.private_message')} aria-label=${t('ticket.private_message')}>🔒</span>`}
      <span class="number">#${m.ticket_number}</span>
    </div>
    <div class="customer">${m.direction === 'inbound' ? m.author.name : `${m.author.name} → ${m.contact_name}`}</div>
    <div class="excerpt">${m.text}</div>
    <div class="card-bottom">
      <span class="muted">${t(`direction.${m.direction}`)} · ${since(m.created_at)}</span>
      ${m.attachments.length > 0 && html`<span title=${t('composer.attach')}>📎 ${m.attachments.length}</span>`}
      <span class=${`state state-${m.ticket_state}`}>${t(`state.${m.ticket_state}`)}</span>
    </div>
  </a>`;
}

const SENTIMENTS = ['positive', 'neutral', 'negative'];

/** What to do with the picked cards (or every ticket the column matches): one bulk call. */
function BulkBar({ col, picked, allMatching, shown, onAll, onDone, onCancel }) {
  const [sentiment, setSentiment] = useState('');
  const [busy, setBusy] = useState(false);
  const [status, setStatus] = useState({ ok: '', error: '', undo: null });
  const count = picked.size;
  const run = async (action, extra = {}, undo = null) => {
    setBusy(true);
    const target = allMatching ? { filter: { ...col.filters, sort: col.sort } } : { numbers: [...picked] };
    try {
      const r = await api('POST', '/api/v1/tickets/bulk', { ...target, action, ...extra });
      // TICK-9: tickets still missing a mandatory typification stay open, and are named.
      const skipped = r.skipped.length > 0 ? t('bulk.skipped', { n: r.skipped.length, numbers: r.skipped.map((x) => `#${x.number}`).join(', ') }) : '';
      setStatus({ ok: t(`bulk.done_${action}`, { n: r.updated.length }), error: skipped, undo: undo && { ...undo, numbers: r.updated } });
      onDone();
    } catch (e) { setStatus({ ok: '', error: e.message, undo: null }); }
    setBusy(false);
  };
  const undo = async () => {
    const u = status.undo;
    try {
      await api('POST', '/api/v1/tickets/bulk', { numbers: u.numbers, action: u.action, label_id: u.label_id });
      setStatus({ ok: t('bulk.undone'), error: '', undo: null });
      onDone();
    } catch (e) { setStatus({ ok: '', error: e.message, undo: null }); }
  };
  const pickOne = (label, options, f) => html`<select aria-label=${label} value="" disabled=${busy || (!count && !allMatching)}
    onChange=${(e) => { const v = e.target.value; e.target.value = ''; if (v) f(v === '-' ? null : v); }}>
    <option value="">${label}</option>${options.map(([v, name]) => html`<option value=${v}>${name}</option>`)}</select>`;
  const final = sentiment ? { sentiment_final: sentiment } : {};
  return html`<div class="bulk-bar" role="toolbar" aria-label=${t('bulk.title')}>
    <div class="bulk-count">${allMatching ? t('bulk.all_matching') : t('bulk.picked', { n: count })}
      ${!allMatching && shown > 0 && html` · <button type="button" class="link" onClick=${onAll}>${t('bulk.pick_all')}</button>`}</div>
    <div class="bulk-actions">
      <select aria-label=${t('bulk.sentiment')} value=${sentiment} onChange=${(e) => setSentiment(e.target.value)}>
        <option value="">${t('bulk.sentiment')}</option>${SENTIMENTS.map((s) => html`<option value=${s}>${t(`sentiment.${s}`)}</option>`)}</select>
      <button type="button" class="small primary" disabled=${busy || (!count && !allMatching)} onClick=${() => run('close', final)}>${t('ticket.close')}</button>
      <button type="button" class="small" disabled=${busy || (!count && !allMatching)} onClick=${() => run('ignore', final)}>${t('ticket.ignore')}</button>
      ${pickOne(t('bulk.assign'), [['-', t('ticket.unassigned')], ...refs.users.filter((u) => u.active !== false).map((u) => [u.id, u.name])],
        (id) => run('assign', { assignee_id: id }))}
      ${refs.teams.length > 0 && pickOne(t('bulk.team'), [['-', t('ticket.no_team')], ...refs.teams.map((x) => [x.id, x.name])],
        (id) => run('team', { team_id: id }))}
      ${refs.labels.length > 0 && pickOne(t('bulk.add_label'), refs.labels.map((l) => [l.id, l.name]),
        (id) => run('label', { label_id: id }, { action: 'unlabel', label_id: id }))}
      ${refs.labels.length > 0 && pickOne(t('bulk.remove_label'), refs.labels.map((l) => [l.id, l.name]),
        (id) => run('unlabel', { label_id: id }, { action: 'label', label_id: id }))}
      <button type="button" class="small" onClick=${onCancel}>${t('action.cancel')}</button>
    </div>
    ${busy && html`<p class="muted" role="status">${t('bulk.working')}</p>`}
    ${status.ok && html`<p class="ok" role="status">${status.ok}
      ${status.undo && html` <button type="button" class="link" onClick=${undo}>${t('bulk.undo')}</button>`}</p>`}
    <p class="error" role="alert">${status.error}</p>
  </div>`;
}

export function Card({ ticket, me, active, selecting = false, picked = false, onPick }) {
  const account = byId(refs.accounts, ticket.account_id);
  const assignee = ticket.assignee_id && byId(refs.users, ticket.assignee_id);
  const sla = slaLevel(ticket);
  const onClick = selecting ? (e) => { e.preventDefault(); onPick(ticket.number, e.shiftKey); } : undefined;
  return html`<a class=${`card${active ? ' active' : ''}${ticket.reply_status === 'pending' ? ' pending' : ''}${picked ? ' picked' : ''}`}
      href=${`#/t/${ticket.number}`} data-number=${ticket.number} onClick=${onClick} aria-pressed=${selecting ? picked : undefined}>
    <div class="card-top">
      ${selecting && html`<span class="pick" aria-hidden="true">${picked ? '☑' : '☐'}</span>`}
      <span class="channel" title=${t(`channel.${ticket.channel}`)} aria-label=${t(`channel.${ticket.channel}`)}>${CHANNEL_ICONS[ticket.channel] || '•'}</span>
      <span class="account">${account?.name ?? ''}</span>
      ${ticket.kind === 'private' && html`<span class="lock" title=${t('ticket.private')} aria-label=${t('ticket.private')}>🔒</span>`}
      ${ticket.important && html`<span class="pin" title=${t('ticket.important')} aria-label=${t('ticket.important')}>📌</span>`}
      ${me && hasDraft(me, ticket.number) && html`<span class="draft-mark" title=${t('draft.on_card')}>✎ ${t('draft.on_card')}</span>`}
      <span class="number">#${ticket.number}</span>
    </div>
    <div class="customer">${ticket.contact.name}</div>
    ${ticket.subject && html`<div class="subject">${ticket.subject}</div>`}
    <div class="excerpt">${ticket.excerpt}</div>
    <div class="card-bottom">
      ${ticket.state !== 'open' ? html`<span class=${`state state-${ticket.state}`}>${t(`state.${ticket.state}`)}</span>`
        : ticket.waiting_since ? html`<span class=${`wait sla-${sla}`} title=${slaTitle(ticket)}>⏱ ${since(ticket.waiting_since)}</span>`
        : html`<span class="wait sla-none">${t('ticket.answered')}</span>`}
      ${ticket.team_id && byId(refs.teams, ticket.team_id) && html`<span class="team" title=${t('ticket.team')}>👥 ${byId(refs.teams, ticket.team_id).name}</span>`}
      ${ticket.labels.map((id) => { const l = byId(refs.labels, id); return l && html`<span class="label" style=${l.color ? { '--label': l.color } : null}>${l.name}</span>`; })}
      ${assignee?.avatar_url ? html`<img class="avatar" src=${assignee.avatar_url} alt="" title=${assignee.name} />`
        : assignee ? html`<span class="avatar" title=${assignee.name}>${initials(assignee.name)}</span>`
        : html`<span class="avatar none" title=${t('ticket.unassigned')}>–</span>`}
    </div>
  </a>`;
}
