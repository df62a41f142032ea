// Shared pieces of the agent app: API calls, translations, reference data, live events.
import { useEffect, useRef, useState } from './vendor/htm-preact-standalone-3.1.1.js';
import { EVENT, STREAM } from './events.js';

// ---------- translations ----------
let strings = {};
export let lang = 'es';

export async function loadLocale(wanted) {
  lang = wanted === 'en' ? 'en' : 'es';
  const res = await fetch(new URL(`./locales/${lang}.json`, import.meta.url));
  strings = await res.json();
  document.documentElement.lang = lang;
}

/** A translated string; `{name}` placeholders are filled from `vars`. A count `n` of 1 reads
 *  the key's `.one` form when it has one ("1 ticket", not "1 tickets"). */
export const t = (key, vars = {}) =>
  ((Number(vars.n) === 1 && strings[`${key}.one`]) || strings[key] || key).replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ''));

/** A stored note ({code, params}: history, delivery details, reading notes) in the user's language. */
export function note(n) {
  if (!n) return '';
  if (typeof n === 'string') return n;
  const vars = {};
  for (const [k, v] of Object.entries(n.params ?? {})) vars[k] = v && typeof v === 'object' && v.code ? note(v) : v;
  return t(`note.${n.code}`, vars);
}

// ---------- API ----------
let csrf = null;
export const setCsrf = (token) => { csrf = token; };

/** The server's message, or ours in the user's language for the codes people meet. */
export function errorText(body) {
  const code = body?.error?.code;
  const key = `error.${code}`;
  if (code && strings[key]) return strings[key];
  return body?.error?.message || t('error.generic');
}

export class ApiError extends Error {
  constructor(status, body) {
    super(errorText(body));
    this.status = status;
    this.code = body?.error?.code;
    this.field = body?.error?.field;
  }
}

export async function api(method, path, body, options = {}) {
  const headers = {};
  if (csrf && method !== 'GET') headers['x-csrf-token'] = csrf;
  let payload;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) { headers['content-type'] = 'application/json'; payload = JSON.stringify(body); }
  const res = await fetch(path, { method, headers, body: payload, credentials: 'same-origin', ...options });
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (res.status === 401 && path !== '/api/v1/session') onSignedOut?.();
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}
let onSignedOut = null;
export const whenSignedOut = (f) => { onSignedOut = f; };

export const query = (params) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  return q.toString();
};

// ---------- reference data (accounts, users, labels, teams, canned responses, fields) ----------
export const refs = { accounts: [], users: [], labels: [], teams: [], canned: [], fields: [] };

export async function loadRefs() {
  const [accounts, users, labels, teams, canned, fields] = await Promise.all([
    api('GET', '/api/v1/accounts'), api('GET', '/api/v1/users'), api('GET', '/api/v1/labels'),
    api('GET', '/api/v1/teams'), api('GET', '/api/v1/canned_responses'), api('GET', '/api/v1/fields'),
  ]);
  Object.assign(refs, { accounts: accounts.items, users: users.items, labels: labels.items,
    teams: teams.items, canned: canned.items, fields: fields.items });
}
export const byId = (list, id) => list.find((x) => x.id === id);

// ---------- small helpers ----------
/** The languages Atiende speaks, each named in itself (the same in every locale). */
export const LANGUAGES = { es: 'Español', en: 'English' };

export const CHANNEL_ICONS = {
  email: '✉', webchat: '💬', form: '📝', whatsapp: '🟢', facebook: '📘', instagram: '📷', x: '𝕏',
  x_search: '𝕏', appstore: '🍎', playstore: '▶', api: '⚙',
};

export const initials = (name = '') =>
  name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join('');

/** "5 min", "3 h", "2 d" since an RFC 3339 time. */
export function since(iso, now = Date.now()) {
  if (!iso) return '';
  const mins = Math.max(0, Math.floor((now - Date.parse(iso)) / 60000));
  if (mins < 60) return t('time.minutes', { n: mins });
  if (mins < 60 * 24) return t('time.hours', { n: Math.floor(mins / 60) });
  return t('time.days', { n: Math.floor(mins / 1440) });
}

export const when = (iso) => new Date(iso).toLocaleString(lang === 'en' ? 'en-GB' : 'es-CL',
  { dateStyle: 'short', timeStyle: 'short' });

/** SLA colour of a waiting ticket: ok, warn (past half the SLA), late (breached). */
export function slaLevel(ticket, now = Date.now()) {
  if (!ticket.waiting_since || ticket.state !== 'open') return 'none';
  if (ticket.sla_breached) return 'late';
  if (!ticket.sla_minutes) return 'ok';
  // The server's due time counts business hours when the account says so.
  if (ticket.sla_due_at) {
    const left = Date.parse(ticket.sla_due_at) - now;
    if (left < 0) return 'late';
    return left <= ticket.sla_minutes * 30000 ? 'warn' : 'ok';
  }
  const mins = (now - Date.parse(ticket.waiting_since)) / 60000;
  if (mins >= ticket.sla_minutes) return 'late';
  return mins >= ticket.sla_minutes / 2 ? 'warn' : 'ok';
}

/**
 * What `fetcher` answers, loaded again whenever `deps` change; returns
 * [data, error, reload, setData]. Only the newest load lands: a slow answer for older deps
 * never overwrites a newer one.
 */
export function useLoad(fetcher, deps) {
  const [data, setData] = useState(null);
  const [error, setError] = useState('');
  const latest = useRef(0);
  const reload = () => {
    const mine = ++latest.current;
    return fetcher()
      .then((d) => { if (mine === latest.current) { setData(d); setError(''); } })
      .catch((e) => { if (mine === latest.current) setError(e.message); });
  };
  useEffect(() => { reload(); }, deps);
  return [data, error, reload, setData];
}

/** Re-renders every `ms` (waiting times keep counting). */
export function useTick(ms) {
  const [, set] = useState(0);
  useEffect(() => { const id = setInterval(() => set((n) => n + 1), ms); return () => clearInterval(id); }, [ms]);
}

/** A short beep (no sound file needed). */
export function beep() {
  try {
    const ctx = new AudioContext();
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = 880;
    gain.gain.value = 0.08;
    osc.connect(gain).connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 0.15);
    osc.onended = () => ctx.close();
  } catch { /* no audio device: stay silent */ }
}

// ---------- live events (one EventSource for the whole app) ----------
const listeners = new Set();
let source = null;
// The event names come from the server's own list (domain::events), never retyped here.
export { EVENT, STREAM };
export const LIVE_KINDS = [EVENT.TICKET_CREATED, EVENT.TICKET_UPDATED, EVENT.MESSAGE_CREATED, EVENT.MESSAGE_UPDATED,
  EVENT.COMMENT_CREATED, EVENT.MENTION_CREATED, EVENT.NOTIFICATION_CREATED, EVENT.PRESENCE_CHANGED, EVENT.TICKET_VIEWING, EVENT.TICKET_TYPING,
  EVENT.TICKET_LEFT, EVENT.VISITOR_TYPING, STREAM.RESET];
export const PRESENCE_KINDS = new Set([EVENT.TICKET_VIEWING, EVENT.TICKET_TYPING, EVENT.TICKET_LEFT, EVENT.VISITOR_TYPING]);

const REFS_KINDS = [EVENT.LABEL_UPDATED, EVENT.LABEL_DELETED, EVENT.TEAM_UPDATED, EVENT.TEAM_DELETED,
  EVENT.CANNED_RESPONSE_UPDATED, EVENT.CANNED_RESPONSE_DELETED, EVENT.USER_CREATED, EVENT.USER_UPDATED,
  EVENT.ACCOUNT_UPDATED, EVENT.FIELD_UPDATED, EVENT.FIELD_DELETED];
let refsTimer = null;
let lastEventId = null;
let retry = null;
const dispatch = (kind, data) => { for (const f of listeners) f(kind, data); };

export function startEvents() {
  if (source) return;
  // After a closed stream, resume after the last event seen: the server replays what was missed.
  source = new EventSource(lastEventId ? `/api/v1/events?last_event_id=${lastEventId}` : '/api/v1/events');
  source.addEventListener(STREAM.READY, (ev) => { lastEventId = ev.data; });
  for (const kind of LIVE_KINDS) {
    source.addEventListener(kind, (ev) => {
      if (kind === STREAM.RESET) { lastEventId = ev.data; dispatch(kind, {}); return; }
      if (ev.lastEventId) lastEventId = ev.lastEventId;
      dispatch(kind, JSON.parse(ev.data));
    });
  }
  // Someone changed the shared lists (labels, teams, canned answers, users, accounts): fetch
  // them again, once for a burst, and tell the app to draw with them ('refs').
  for (const kind of REFS_KINDS) source.addEventListener(kind, () => {
    clearTimeout(refsTimer);
    refsTimer = setTimeout(() => loadRefs().then(() => dispatch('refs', {})).catch(() => {}), 250);
  });
  // The server dropped events for this slow stream: reconnect and have them replayed.
  source.addEventListener(STREAM.LAGGED, () => { stopStream(); startEvents(); });
  source.onerror = () => {
    // While CONNECTING the browser retries by itself; CLOSED (a 401, a 502…) is final.
    if (!source || source.readyState !== EventSource.CLOSED) return;
    stopStream();
    retry = setTimeout(async () => {
      const state = await fetch('/api/v1/session').then((r) => r.json()).catch(() => null);
      if (state && !state.me) onSignedOut?.();
      else startEvents();
    }, 3000);
  };
}
function stopStream() { source?.close(); source = null; clearTimeout(retry); }
export function stopEvents() { stopStream(); lastEventId = null; }

export function useEvents(handler, deps = []) {
  useEffect(() => {
    listeners.add(handler);
    return () => listeners.delete(handler);
  }, deps);
}

/** Seed 004's SLA tooltip: how long the customer has waited, the target, and the time left
 *  (or how late it is), said against the business hours when the SLA counts them. */
export function slaTitle(ticket, now = Date.now()) {
  const waited = since(ticket.waiting_since, now);
  if (!ticket.sla_minutes || !ticket.sla_due_at) return t('ticket.waiting_for', { waited });
  const left = Date.parse(ticket.sla_due_at) - now;
  const span = (ms) => since(new Date(now - Math.abs(ms)).toISOString(), now);
  const target = t(ticket.sla_business_hours ? 'sla.target_business' : 'sla.target', { n: ticket.sla_minutes });
  return `${t('ticket.waiting_for', { waited })} · ${target} · ${left >= 0 ? t('sla.left', { left: span(left) }) : t('sla.late', { late: span(left) })}`;
}
