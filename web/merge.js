// TICK-7 merging, with a short undo: after the agent confirms, the merge waits a few seconds
// (a notice with «Deshacer» and the time left) and is then sent — or at once when the page goes
// away, so a confirmed merge is never lost. One merge waits at a time.
import { html, useEffect, useState } from './vendor/htm-preact-standalone-3.1.1.js';
import { api, t, useTick } from './lib.js';

const UNDO_MS = 6000;
let pending = null; // { number, into, body, ends, timer }
let failed = null; // { number, into, error }
const listeners = new Set();
const tell = () => listeners.forEach((f) => f({ pending, failed }));

async function send({ leaving = false } = {}) {
  const p = pending;
  if (!p) return;
  clearTimeout(p.timer);
  pending = null;
  tell();
  try {
    await api('POST', `/api/v1/tickets/${p.number}/merge`, p.body, leaving ? { keepalive: true } : {});
    // The agent followed the conversation: it goes on in the survivor.
    if (!leaving && location.hash === `#/t/${p.number}`) location.hash = `#/t/${p.into}`;
  } catch (e) {
    failed = { number: p.number, into: p.into, error: e.message };
    tell();
  }
}

/** Merges `number` into `into` after the undo time; `assigneeId` undefined keeps the current one. */
export function scheduleMerge(number, into, assigneeId) {
  if (pending) send();
  failed = null;
  const body = assigneeId === undefined ? { into } : { into, assignee_id: assigneeId };
  pending = { number, into, body, ends: Date.now() + UNDO_MS };
  pending.timer = setTimeout(() => send(), UNDO_MS);
  tell();
}

function undoMerge() {
  if (!pending) return;
  clearTimeout(pending.timer);
  pending = null;
  tell();
}

addEventListener('pagehide', () => { if (pending) send({ leaving: true }); });

/** The waiting merge (number, into) or null, kept up to date. */
function usePendingMerge() {
  const [state, setState] = useState({ pending, failed });
  useEffect(() => { listeners.add(setState); return () => listeners.delete(setState); }, []);
  return state;
}

/** A waiting merge with its seconds left (the only part that ticks). */
function Pending({ p }) {
  useTick(500);
  const left = Math.max(0, Math.ceil((p.ends - Date.now()) / 1000));
  return html`<div class="merge-notice notice" role="status">
    <span>${t('merge.pending', { number: p.number, into: p.into, n: left })}</span>
    <button type="button" class="small" onClick=${undoMerge}>${t('merge.undo')}</button></div>`;
}

/** The notice of a waiting (or failed) merge, wherever the agent is. */
export function MergeNotice() {
  const { pending: p, failed: f } = usePendingMerge();
  if (p) return html`<${Pending} p=${p} />`;
  if (f) {
    return html`<div class="merge-notice notice error" role="alert">
      <span>${t('merge.failed', { number: f.number, into: f.into })} ${f.error}</span>
      <button type="button" class="link" onClick=${() => { failed = null; tell(); }} aria-label=${t('action.close_dialog')}>×</button></div>`;
  }
  return null;
}
