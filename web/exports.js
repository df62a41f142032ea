// Administración › Exportaciones (REPORT-4, seed 004): large exports of tickets, messages
// (with the customer's influencer flag) or contacts for a period and a filter, written by the
// server in the background; the list shows the rows written so far and, once done, a download
// link kept for a week.
import { html, useEffect, useState } from './vendor/htm-preact-standalone-3.1.1.js';
import { api, lang, query, refs, t, when } from './lib.js';
import { Section, StatusLine, useStatus } from './admin-kit.js';

const KINDS = ['tickets', 'messages', 'contacts'];
const count = (n) => Number(n).toLocaleString(lang === 'en' ? 'en-GB' : 'es-CL');
const kb = (bytes) => t('exports.size_kb', { n: count(Math.max(1, Math.round(bytes / 1024))) });

/** The list's query string for the form's choices. */
function filterOf(kind, f) {
  const day = (d, end) => (d ? `${d}T${end ? '23:59:59' : '00:00:00'}${offset()}` : '');
  if (kind === 'contacts') return query({ label: f.label });
  const range = { created_from: day(f.from), created_to: day(f.to, true) };
  if (kind === 'messages') return query({ ...range, account: f.account });
  return query({ ...range, account: f.account, state: f.state });
}

/** The browser's UTC offset as "-03:00": a day's start is the user's midnight. */
function offset() {
  const m = -new Date().getTimezoneOffset();
  const sign = m < 0 ? '-' : '+';
  const abs = Math.abs(m);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

export function Exports() {
  const [jobs, setJobs] = useState(null);
  const [kind, setKind] = useState('tickets');
  const [status, ok, fail] = useStatus();
  const load = () => api('GET', '/api/v1/exports').then((d) => setJobs(d.items)).catch((e) => fail(e.message));
  useEffect(() => { load(); }, []);
  // While one runs, ask again every second for its progress.
  const running = jobs?.some((j) => j.state === 'running');
  useEffect(() => {
    if (!running) return undefined;
    const timer = setInterval(load, 1000);
    return () => clearInterval(timer);
  }, [running]);
  const start = async (e) => {
    e.preventDefault();
    const f = Object.fromEntries(new FormData(e.target));
    try {
      await api('POST', '/api/v1/exports', { kind, format: f.format, filter: filterOf(kind, f) });
      ok(t('exports.started'));
      await load();
    } catch (err) { fail(err.message); }
  };
  const remove = async (j) => {
    try { await api('DELETE', `/api/v1/exports/${j.id}`); await load(); } catch (err) { fail(err.message); }
  };
  return html`<${Section} id="exports-title" title=${t('admin.nav.exports')} hint=${t('exports.hint')}>
    <form class="user-form export-form" aria-label=${t('exports.new')} onSubmit=${start}>
      <h3>${t('exports.new')}</h3>
      <label>${t('exports.kind')} <select name="kind" value=${kind} onChange=${(e) => setKind(e.target.value)}>
        ${KINDS.map((k) => html`<option value=${k}>${t(`exports.kind.${k}`)}</option>`)}</select></label>
      ${kind !== 'contacts' && html`<label>${t('reports.from')} <input type="date" name="from" /></label>
        <label>${t('reports.to')} <input type="date" name="to" /></label>
        <label>${t('exports.account')} <select name="account"><option value="">${t('exports.all_accounts')}</option>
          ${refs.accounts.map((a) => html`<option value=${a.id}>${a.name}</option>`)}</select></label>`}
      ${kind === 'tickets' && html`<label>${t('exports.state')} <select name="state">
        <option value="open,closed,ignored">${t('exports.all_states')}</option>
        ${['open', 'closed', 'ignored'].map((s) => html`<option value=${s}>${t(`state.${s}`)}</option>`)}</select></label>`}
      ${kind === 'contacts' && html`<label>${t('exports.label')} <select name="label"><option value="">${t('exports.any_label')}</option>
          ${refs.labels.map((l) => html`<option value=${l.id}>${l.name}</option>`)}</select></label>`}
      <label>${t('exports.format')} <select name="format"><option value="xlsx">${t('exports.format.xlsx')}</option><option value="csv">${t('exports.format.csv')}</option></select></label>
      <button type="submit" class="primary">${t('exports.start')}</button>
    </form>
    <${StatusLine} status=${status} />
    ${jobs && (jobs.length === 0 ? html`<p class="hint">${t('exports.none')}</p>` : html`<table class="compact export-jobs"><thead><tr>
        <th scope="col">${t('exports.what')}</th><th scope="col">${t('exports.requested')}</th><th scope="col">${t('exports.state')}</th>
        <th scope="col">${t('exports.rows')}</th><th scope="col">${t('exports.file')}</th><th></th></tr></thead>
      <tbody>${jobs.map((j) => html`<tr data-export=${j.id}>
        <td>${t(`exports.kind.${j.kind}`)} <span class="hint">${j.filter}</span></td>
        <td>${when(j.created_at)}</td>
        <td>${j.state === 'running' ? html`<progress aria-label=${t('exports.running')}></progress> ${t('exports.running')}`
          : j.state === 'done' ? t('exports.done') : html`<span class="error">${t('exports.failed')}</span> <span class="hint">${t(j.interrupted ? 'exports.interrupted' : 'exports.failed_hint')}</span>`}</td>
        <td>${count(j.rows)}</td>
        <td>${j.download_url ? html`<a href=${j.download_url} download=${j.file_name}>${j.file_name}</a> <span class="hint">${kb(j.bytes)} · ${t('exports.until', { date: when(j.expires_at) })}</span>` : '—'}</td>
        <td><button type="button" class="small danger" aria-label=${t('exports.delete_of', { name: j.file_name })} onClick=${() => remove(j)}>${t('admin.delete')}</button></td>
      </tr>`)}</tbody></table>`)}
  <//>`;
}
