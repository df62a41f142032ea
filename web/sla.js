// Administración › SLA (SLA-1, BEYOND-1): answer targets — the first response and the next ones
// (after the customer writes back) — counted on the clock or only in the account's business
// hours. Accounts choose theirs in their form; a change applies to the tickets already waiting.
import { html, useState } from './vendor/htm-preact-standalone-3.1.1.js';
import { api, t, useLoad, refs } from './lib.js';
import { SaveCancel, Section, StatusLine, useStatus } from './admin-kit.js';

/** "1 h 30 min" for minutes. */
export function minutesText(m) {
  if (m == null) return '';
  const h = Math.floor(m / 60);
  const rest = m % 60;
  return [h && t('sla.h', { n: h }), rest && t('sla.min', { n: rest })].filter(Boolean).join(' ');
}

export function SlaPolicies() {
  const [data, error, reload] = useLoad(() => api('GET', '/api/v1/sla_policies'), []);
  const [editing, setEditing] = useState(null);
  const [status, ok, fail] = useStatus();
  const save = async (p, body) => {
    try {
      await (p.id ? api('PATCH', `/api/v1/sla_policies/${p.id}`, body) : api('POST', '/api/v1/sla_policies', body));
      setEditing(null); await reload(); ok(t('admin.saved'));
    } catch (e) { fail(e.message); }
  };
  const remove = async (p) => {
    if (!confirm(t('sla.delete_confirm', { name: p.name }))) return;
    try { await api('DELETE', `/api/v1/sla_policies/${p.id}`); await reload(); ok(t('sla.deleted', { name: p.name })); } catch (e) { fail(e.message); }
  };
  const accountName = (id) => refs.accounts?.find((a) => a.id === id)?.name ?? id;
  return html`<${Section} id="sla-title" title=${t('admin.nav.sla')} hint=${t('sla.hint')}>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${data && (data.items.length === 0 ? html`<p class="hint">${t('sla.none')}</p>` : html`<table class="sla-policies"><thead><tr>
        <th scope="col">${t('sla.name')}</th><th scope="col">${t('sla.first')}</th><th scope="col">${t('sla.next')}</th>
        <th scope="col">${t('sla.counted')}</th><th scope="col">${t('sla.accounts')}</th><th></th></tr></thead>
      <tbody>${data.items.map((p) => html`<tr data-policy=${p.id}><td>${p.name}</td><td>${minutesText(p.first_response_minutes)}</td>
        <td>${minutesText(p.next_response_minutes ?? p.first_response_minutes)}</td>
        <td>${p.business_hours ? t('sla.business') : t('sla.calendar_time')}</td>
        <td>${p.accounts.map(accountName).join(', ') || '—'}</td>
        <td class="actions"><button type="button" class="small" aria-label=${t('admin.edit_of', { name: p.name })} onClick=${() => setEditing(p)}>${t('accounts.edit')}</button>
          <button type="button" class="small danger" aria-label=${t('sla.delete_of', { name: p.name })} onClick=${() => remove(p)}>${t('admin.delete')}</button></td></tr>`)}</tbody></table>`)}
    ${editing ? html`<${PolicyForm} key=${editing.id ?? 'new'} policy=${editing} onSave=${(body) => save(editing, body)} onCancel=${() => setEditing(null)} />`
      : html`<button type="button" class="small" onClick=${() => setEditing({ name: '', first_response_minutes: 180, next_response_minutes: null, business_hours: false })}>${t('sla.add')}</button>`}
    <${StatusLine} status=${status} />
  <//>`;
}

function PolicyForm({ policy, onSave, onCancel }) {
  const title = policy.id ? t('admin.edit_of', { name: policy.name }) : t('sla.add');
  const submit = (e) => {
    e.preventDefault();
    const f = Object.fromEntries(new FormData(e.target));
    const next = f.next.trim() === '' ? null : Number(f.next);
    onSave({ name: f.name, first_response_minutes: Number(f.first), next_response_minutes: next, business_hours: f.business === 'on' });
  };
  return html`<form class="user-form sla-form" aria-label=${title} onSubmit=${submit}>
    <h3>${title}</h3>
    <label>${t('sla.name')} <input name="name" required maxlength="80" defaultValue=${policy.name} /></label>
    <label>${t('sla.first_minutes')} <input name="first" type="number" min="1" max="525600" required defaultValue=${policy.first_response_minutes} /></label>
    <label>${t('sla.next_minutes')} <input name="next" type="number" min="1" max="525600" placeholder=${t('sla.next_same')} defaultValue=${policy.next_response_minutes ?? ''} /></label>
    <label class="check"><input type="checkbox" name="business" defaultChecked=${policy.business_hours} /> ${t('sla.business_hint')}</label>
    <p class="hint">${t('sla.pause_hint')}</p>
    <${SaveCancel} onCancel=${onCancel} />
  </form>`;
}
