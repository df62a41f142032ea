// The dialog that adds or edits a board column: its name, filters and sort (BOARD-1).
import { html, useState } from './vendor/htm-preact-standalone-3.1.1.js';
import { refs, t } from './lib.js';
import { columnName } from './board.js';
import { Dialog } from './dialog.js';
import { SaveCancel } from './admin-kit.js';

const STATES = ['open', 'closed', 'ignored'];
const CHANNELS = ['email', 'webchat', 'form', 'whatsapp', 'facebook', 'instagram', 'x', 'x_search', 'appstore', 'playstore', 'api'];

const csv = (v) => (v ? v.split(',').filter(Boolean) : []);
/** `2026-11-23` ↔ RFC 3339 at the start (or end) of that local day. */
const toIso = (day, end) => (day ? new Date(`${day}T${end ? '23:59:59' : '00:00:00'}`).toISOString() : '');
const toDay = (iso) => {
  if (!iso) return '';
  const d = new Date(iso);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
};

function Checks({ name, options, value, onChange }) {
  const chosen = csv(value);
  const flip = (v) => onChange((chosen.includes(v) ? chosen.filter((x) => x !== v) : [...chosen, v]).join(','));
  return html`<div class="checks" role="group" aria-label=${t(`filter.${name}`)}>
    ${options.map(([v, label]) => html`<label class="check"><input type="checkbox" name=${name} value=${v}
      checked=${chosen.includes(v)} onChange=${() => flip(v)} /> ${label}</label>`)}
  </div>`;
}

export function ColumnEditor({ col, onSave, onCancel }) {
  const [name, setName] = useState(col?.name ?? '');
  const [filters, setFilters] = useState(col?.filters ?? { state: 'open' });
  const [sort, setSort] = useState(col?.sort ?? 'updated_desc');
  const [kind, setKind] = useState(col?.kind ?? 'tickets');
  const changeKind = (k) => { setKind(k); setFilters(k === 'tickets' ? { state: 'open' } : { direction: 'inbound' }); };
  const [error, setError] = useState('');
  const set = (key) => (value) => setFilters((f) => {
    const next = { ...f, [key]: value };
    if (value === '' || value === undefined) delete next[key];
    return next;
  });
  const input = (key) => (ev) => set(key)(ev.target.value);
  const submit = async (ev) => {
    ev.preventDefault();
    setError('');
    const id = col?.id ?? `c${Date.now().toString(36)}`;
    try {
      const clean = { ...filters };
      if (clean.field && clean.field.endsWith(':')) delete clean.field;
      await onSave({ sound: false, notify: false, auto_refresh: false, ...col, id, name, kind, filters: clean,
        sort: kind === 'messages' ? 'updated_desc' : sort });
    } catch (e) { setError(e.message); }
  };
  const kinds = new Set(refs.accounts.map((a) => a.kind));
  // TICK-9: a typification's value (`{field id}:{value}`).
  const typifications = refs.fields.filter((f) => f.target === 'ticket');
  const [fieldId, ...rest] = (filters.field ?? '').split(':');
  const fieldValue = rest.join(':');
  const field = typifications.find((f) => f.id === fieldId);
  const select = (key, options) => html`<select id=${`f-${key}`} name=${key} value=${filters[key] ?? ''} onChange=${input(key)}>
    ${options.map(([v, label]) => html`<option value=${v}>${label}</option>`)}</select>`;
  const dates = (key) => html`<div class="range">
    <input type="date" aria-label=${t(`filter.${key}_from`)} value=${toDay(filters[`${key}_from`])} onChange=${(e) => set(`${key}_from`)(toIso(e.target.value, false))} />
    <span>–</span>
    <input type="date" aria-label=${t(`filter.${key}_to`)} value=${toDay(filters[`${key}_to`])} onChange=${(e) => set(`${key}_to`)(toIso(e.target.value, true))} />
  </div>`;

  return html`<${Dialog} className="column-editor" labelledBy="col-title" onClose=${onCancel} onSubmit=${submit}>
      <h2 id="col-title">${col ? t('column.edit') : t('board.add_column')}</h2>
      <label for="col-name">${t('column.name')}</label>
      <input id="col-name" name="name" autofocus required=${!col} maxlength="60" value=${name}
        placeholder=${col ? columnName(col) : ''} onInput=${(e) => setName(e.target.value)} />
      <fieldset><legend>${t('column.kind')}</legend>
        <div class="checks" role="radiogroup" aria-label=${t('column.kind')}>
          ${['tickets', 'messages'].map((k) => html`<label class="check"><input type="radio" name="kind" value=${k}
            checked=${kind === k} onChange=${() => changeKind(k)} /> ${t(`column.kind_${k}`)}</label>`)}
        </div></fieldset>
      ${kind === 'tickets' && html`<fieldset><legend>${t('filter.state')}</legend>
        <${Checks} name="state" value=${filters.state} onChange=${set('state')} options=${STATES.map((s) => [s, t(`state.${s}`)])} /></fieldset>`}
      <fieldset><legend>${t('filter.channel')}</legend>
        <${Checks} name="channel" value=${filters.channel} onChange=${set('channel')}
          options=${CHANNELS.filter((c) => kinds.has(c)).map((c) => [c, t(`channel.${c}`)])} /></fieldset>
      <fieldset><legend>${t('filter.account')}</legend>
        <${Checks} name="account" value=${filters.account} onChange=${set('account')} options=${refs.accounts.map((a) => [a.id, a.name])} /></fieldset>
      ${kind === 'messages' ? html`<div class="grid2">
        <label for="f-direction">${t('filter.direction')}</label>
        ${select('direction', [['', t('filter.any')], ['inbound', t('direction.inbound')], ['outbound', t('direction.outbound')]])}
        <label for="f-public">${t('filter.public')}</label>
        ${select('public', [['', t('filter.any')], ['true', t('filter.public_yes')], ['false', t('filter.public_no')]])}
      </div>` : html`<div class="grid2">
        <label for="f-assignee">${t('filter.assignee')}</label>
        ${select('assignee', [['', t('filter.anyone')], ['me', t('filter.me')], ['none', t('filter.nobody')], ...refs.users.map((u) => [u.id, u.name])])}
        <label for="f-team">${t('filter.team')}</label>
        ${select('team', [['', t('filter.any')], ['none', t('filter.no_team')], ...refs.teams.map((x) => [x.id, x.name])])}
        <label for="f-label">${t('filter.label')}</label>
        ${select('label', [['', t('filter.any')], ...refs.labels.map((x) => [x.id, x.name])])}
        ${typifications.length > 0 && html`<label for="f-field">${t('filter.field')}</label>
        <div class="range"><select id="f-field" value=${fieldId} onChange=${(e) => set('field')(e.target.value ? `${e.target.value}:` : '')}>
            <option value="">${t('filter.any')}</option>${typifications.map((f) => html`<option value=${f.id}>${f.name}</option>`)}</select>
          ${field && (field.options.length > 0 || field.kind === 'yes_no'
            ? html`<select aria-label=${t('filter.field_value')} value=${fieldValue} onChange=${(e) => set('field')(`${field.id}:${e.target.value}`)}>
                <option value=""></option>${(field.kind === 'yes_no' ? [['true', t('filter.yes')], ['false', t('filter.no')]] : field.options.map((o) => [o, o])).map(([v, label]) => html`<option value=${v}>${label}</option>`)}</select>`
            : html`<input aria-label=${t('filter.field_value')} value=${fieldValue} onInput=${(e) => set('field')(`${field.id}:${e.target.value}`)} />`)}</div>`}
        <label for="f-answered">${t('filter.answered')}</label>
        ${select('answered', [['', t('filter.any')], ['false', t('filter.not_answered')], ['true', t('filter.answered_yes')]])}
        <label for="f-important">${t('filter.important')}</label>
        ${select('important', [['', t('filter.any')], ['true', t('filter.yes')], ['false', t('filter.no')]])}
        <label for="f-sla_breached">${t('filter.sla_breached')}</label>
        ${select('sla_breached', [['', t('filter.any')], ['true', t('filter.yes')], ['false', t('filter.no')]])}
        <label for="f-q">${t('filter.text')}</label>
        <input id="f-q" name="q" value=${filters.q ?? ''} onInput=${input('q')} />
        <label>${t('filter.created')}</label>${dates('created')}
        <label>${t('filter.updated')}</label>${dates('updated')}
        <label for="col-sort">${t('filter.sort')}</label>
        <select id="col-sort" value=${sort} onChange=${(e) => setSort(e.target.value)}>
          ${['updated_desc', 'updated_asc', 'created_desc', 'created_asc'].map((s) => html`<option value=${s}>${t(`sort.${s}`)}</option>`)}
        </select>
      </div>`}
      <p class="error" role="alert">${error}</p>
      <${SaveCancel} onCancel=${onCancel} />
  <//>`;
}
