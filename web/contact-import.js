// Importar contactos (ORG-3, seed 002): a CSV is chosen, its columns mapped (guessed from the
// headers first), a preview shows the first rows and every bad row with why, and only then are
// the good rows written. The error report downloads as a CSV to fix and import again.
import { html, useState } from './vendor/htm-preact-standalone-3.1.1.js';
import { api, refs, t } from './lib.js';

const TARGETS = ['', 'name', 'rut', 'email', 'phone', 'notes', 'influencer', 'labels'];

async function send(file, mapping, dryRun) {
  const form = new FormData();
  form.append('file', file);
  if (mapping) form.append('mapping', JSON.stringify(mapping));
  form.append('dry_run', String(dryRun));
  return api('POST', '/api/v1/contacts/import', form);
}

/** A row error in the user's language. */
export const rowError = (e) => t(`import.code.${e.code}`, { value: e.value });

function reportCsv(errors) {
  const cell = (s) => (/[",;\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);
  const lines = [[t('import.line'), t('import.column'), t('import.problem')].join(',')];
  for (const e of errors) lines.push([String(e.line), e.column ?? '', rowError(e)].map(cell).join(','));
  return new Blob([`\ufeff${lines.join('\r\n')}\r\n`], { type: 'text/csv' });
}

export function ContactImport({ onDone }) {
  const [file, setFile] = useState(null);
  const [report, setReport] = useState(null); // the last preview or result
  const [mapping, setMapping] = useState(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const run = async (f, m, dryRun) => {
    setBusy(true); setError('');
    try {
      const r = await send(f, m, dryRun);
      setReport(r); setMapping(r.mapping);
      if (!dryRun) onDone?.();
    } catch (e) { setError(e.message); }
    setBusy(false);
  };
  const choose = (e) => { const f = e.target.files[0]; setFile(f); setReport(null); if (f) run(f, null, true); };
  const targets = [...TARGETS.map((v) => [v, v ? t(`import.target.${v}`) : t('import.skip')]),
    ...refs.fields.filter((f) => f.target === 'contact').map((f) => [`field:${f.id}`, f.name])];
  const done = report && !report.dry_run;
  const download = () => {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(reportCsv(report.errors));
    a.download = t('import.report_file');
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  };
  return html`<section class="contact-import" aria-labelledby="import-title">
    <h2 id="import-title">${t('import.title')}</h2>
    <p class="hint">${t('import.hint')}</p>
    <label>${t('import.file')} <input type="file" accept=".csv,text/csv" onChange=${choose} /></label>
    ${busy && html`<p class="muted" role="status">${t('import.working')}</p>`}
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${report && mapping && html`
      ${!done && html`<table class="import-mapping"><caption>${t('import.mapping')}</caption>
        <thead><tr><th scope="col">${t('import.column')}</th><th scope="col">${t('import.goes_to')}</th></tr></thead>
        <tbody>${report.columns.map((c) => html`<tr><td>${c}</td><td><select aria-label=${t('import.goes_to_of', { column: c })} value=${mapping[c] ?? ''}
          onChange=${(e) => setMapping({ ...mapping, [c]: e.target.value })}>${targets.map(([v, name]) => html`<option value=${v}>${name}</option>`)}</select></td></tr>`)}</tbody></table>
        <button type="button" class="small" disabled=${busy} onClick=${() => run(file, mapping, true)}>${t('import.check_again')}</button>`}
      <p role="status" class="import-summary">${done
        ? t('import.result', { created: report.created, updated: report.updated, unchanged: report.unchanged, bad: report.errors.length })
        : t('import.summary', { rows: report.rows, good: report.rows - report.errors.length, bad: report.errors.length })}</p>
      ${!done && report.preview.length > 0 && html`<table class="import-preview"><caption>${t('import.preview')}</caption>
        <thead><tr>${['name', 'rut', 'email', 'phone'].map((k) => html`<th scope="col">${t(`import.target.${k}`)}</th>`)}</tr></thead>
        <tbody>${report.preview.slice(0, 5).map((r) => html`<tr>${['name', 'rut', 'email', 'phone'].map((k) => html`<td>${r[k] ?? ''}</td>`)}</tr>`)}</tbody></table>`}
      ${report.errors.length > 0 && html`<table class="import-errors"><caption>${t('import.errors')}</caption>
        <thead><tr><th scope="col">${t('import.line')}</th><th scope="col">${t('import.column')}</th><th scope="col">${t('import.problem')}</th></tr></thead>
        <tbody>${report.errors.slice(0, 50).map((e) => html`<tr><td>${e.line}</td><td>${e.column ?? ''}</td><td>${rowError(e)}</td></tr>`)}</tbody></table>
        ${report.errors.length > 50 && html`<p class="muted">${t('import.more_errors', { n: report.errors.length - 50 })}</p>`}
        <button type="button" class="small" onClick=${download}>${t('import.download_report')}</button>`}
      ${!done && report.rows > report.errors.length && html`<button type="button" class="primary" disabled=${busy}
        onClick=${() => run(file, mapping, false)}>${t('import.go', { n: report.rows - report.errors.length })}</button>`}`}
  </section>`;
}
