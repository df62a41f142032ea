// WhatsApp's approved templates: what an agent may send once the customer's 24-hour window is
// over. A list from the account (refreshable), a form for the chosen one's variables, and a
// preview of what the customer will read.
import { html, useEffect, useState } from './vendor/htm-preact-standalone-3.1.1.js';
import { api, t } from './lib.js';

const key = (v) => `${v.part}:${v.name}`;

/** The template's text with the values typed so far (empty ones stay as {{…}}). */
export function renderTemplate(tpl, values) {
  const fill = (text, part) => text.replace(/\{\{\s*([\p{L}\p{N}_]+)\s*\}\}/gu,
    (all, name) => values[`${part}:${name}`]?.trim() || all);
  return [tpl.header && fill(tpl.header, 'header'), fill(tpl.body, 'body'), tpl.footer].filter(Boolean).join('\n\n');
}

export function TemplatePicker({ ticket, onSent, onCancel }) {
  const [list, setList] = useState(null);
  const [chosen, setChosen] = useState(null);
  const [values, setValues] = useState({});
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const path = `/api/v1/accounts/${ticket.account_id}/templates`;
  const load = async (refresh) => {
    setError('');
    try { setList((await api(refresh ? 'POST' : 'GET', refresh ? `${path}/sync` : path, refresh ? {} : undefined)).items); }
    catch (e) { setError(e.message); setList((l) => l ?? []); }
  };
  useEffect(() => { load(false); }, [ticket.account_id]);
  const choose = (tpl) => { setChosen(tpl); setValues({}); setError(''); };
  const complete = chosen && chosen.variables.every((v) => values[key(v)]?.trim());
  const send = async (ev) => {
    ev.preventDefault();
    if (!complete || busy) return;
    setBusy(true);
    setError('');
    try {
      const m = await api('POST', `/api/v1/tickets/${ticket.number}/messages`, {
        template: {
          name: chosen.name, language: chosen.language,
          values: chosen.variables.map((v) => ({ part: v.part, name: v.name, value: values[key(v)].trim() })),
        },
      });
      onSent(m);
    } catch (e) { setError(e.message); }
    setBusy(false);
  };
  const usable = (tpl) => tpl.status === 'APPROVED' && !tpl.unsupported;
  return html`<div class="templates" data-testid="templates">
    <div class="templates-head">
      <strong>${t('templates.title')}</strong>
      <button type="button" class="link small" onClick=${() => load(true)}>${t('templates.refresh')}</button>
      <button type="button" class="link small" onClick=${onCancel}>${t('action.cancel')}</button>
    </div>
    ${list === null && html`<p class="muted" role="status">${t('templates.loading')}</p>`}
    ${list?.length === 0 && !error && html`<p class="muted">${t('templates.none')}</p>`}
    ${!chosen && list?.length > 0 && html`<ul class="template-list" role="listbox" aria-label=${t('templates.title')}>
      ${list.map((tpl) => html`<li role="option" aria-selected="false" aria-disabled=${!usable(tpl)}>
        <button type="button" class="link" disabled=${!usable(tpl)} onClick=${() => choose(tpl)}>
          <strong>${tpl.name}</strong> <span class="muted">${tpl.language} · ${t(`templates.category_${tpl.category.toLowerCase()}`)}</span></button>
        ${tpl.status !== 'APPROVED' && html` <span class="muted">${t('templates.not_approved', { status: tpl.status })}</span>`}
        ${tpl.unsupported && html` <span class="muted">${t('templates.unsupported')}</span>`}
        <div class="muted small">${tpl.body.slice(0, 90)}</div></li>`)}</ul>`}
    ${chosen && html`<form class="template-form" onSubmit=${send}>
      <p class="template-chosen"><strong>${chosen.name}</strong><span class="muted">${chosen.language}</span>
        <button type="button" class="link small" onClick=${() => setChosen(null)}>${t('templates.other')}</button></p>
      ${chosen.variables.map((v) => html`<label class="field">
        <span>${t(v.part === 'header' ? 'templates.var_header' : 'templates.var_body', { name: v.name })}</span>
        <input type="text" value=${values[key(v)] ?? ''} placeholder=${v.example ?? ''} required
          onInput=${(e) => setValues({ ...values, [key(v)]: e.target.value })} /></label>`)}
      <p class="template-preview-label muted">${t('templates.preview')}</p>
      <div class="template-preview" data-testid="template-preview">${renderTemplate(chosen, values)}</div>
      <button type="submit" class="primary" disabled=${!complete || busy}>${t('templates.send')}</button>
    </form>`}
    <p class="error" role="alert">${error}</p>
  </div>`;
}
