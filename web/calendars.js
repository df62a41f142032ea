// Administración › Horarios (SLA-2): business-hours calendars — a time zone of the tz database,
// open periods per weekday, and holidays (one day, or every year), with Chile's public
// holidays offered as a starting list. Each shows whether it is open now and when it opens next.
import { html, useState } from './vendor/htm-preact-standalone-3.1.1.js';
import { api, t, useLoad, when } from './lib.js';
import { SaveCancel, Section, StatusLine, useStatus } from './admin-kit.js';

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const ZONES = ['America/Santiago', 'America/Punta_Arenas', 'Pacific/Easter', 'America/Argentina/Buenos_Aires',
  'America/Lima', 'America/Bogota', 'America/Mexico_City', 'America/Montevideo', 'America/Sao_Paulo', 'UTC'];

/** "09:00-13:00, 14:00-18:00" ↔ [["09:00","13:00"],["14:00","18:00"]]. */
const periodsText = (periods = []) => periods.map(([a, b]) => `${a}-${b}`).join(', ');
const parsePeriods = (text) => text.split(',').map((p) => p.trim()).filter(Boolean)
  .map((p) => p.split(/\s*[-–]\s*/)).map(([a, b]) => [a ?? '', b ?? '']);

export function Calendars() {
  const [data, error, reload] = useLoad(() => api('GET', '/api/v1/calendars'), []);
  const [editing, setEditing] = useState(null);
  const [status, ok, fail] = useStatus();
  const save = async (cal, body) => {
    try {
      await (cal.id ? api('PATCH', `/api/v1/calendars/${cal.id}`, body) : api('POST', '/api/v1/calendars', body));
      setEditing(null); await reload(); ok(t('admin.saved'));
    } catch (e) { fail(e.message); }
  };
  const remove = async (cal) => {
    if (!confirm(t('calendars.delete_confirm', { name: cal.name }))) return;
    try { await api('DELETE', `/api/v1/calendars/${cal.id}`); await reload(); ok(t('calendars.deleted', { name: cal.name })); } catch (e) { fail(e.message); }
  };
  const office = { name: '', time_zone: 'America/Santiago', holidays: [],
    week: Object.fromEntries(DAYS.slice(0, 5).map((d) => [d, [['09:00', '18:00']]])) };
  return html`<${Section} id="calendars-title" title=${t('admin.nav.calendars')} hint=${t('calendars.hint')}>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${data && (data.items.length === 0 ? html`<p class="hint">${t('calendars.none')}</p>` : html`<table class="calendars"><thead><tr>
        <th scope="col">${t('calendars.name')}</th><th scope="col">${t('calendars.zone')}</th><th scope="col">${t('calendars.now')}</th><th></th></tr></thead>
      <tbody>${data.items.map((c) => html`<tr data-calendar=${c.id}><td>${c.name}</td><td>${c.time_zone}</td>
        <td>${c.open_now ? t('calendars.open') : c.next_open ? t('calendars.opens', { when: when(c.next_open) }) : t('calendars.closed')}</td>
        <td class="actions"><button type="button" class="small" aria-label=${t('admin.edit_of', { name: c.name })} onClick=${() => setEditing(c)}>${t('accounts.edit')}</button>
          <button type="button" class="small danger" aria-label=${t('calendars.delete_of', { name: c.name })} onClick=${() => remove(c)}>${t('admin.delete')}</button></td></tr>`)}</tbody></table>`)}
    ${editing ? html`<${CalendarForm} key=${editing.id ?? 'new'} cal=${editing} onSave=${(body) => save(editing, body)} onCancel=${() => setEditing(null)} />`
      : html`<button type="button" class="small" onClick=${() => setEditing(office)}>${t('calendars.add')}</button>`}
    <${StatusLine} status=${status} />
  <//>`;
}

function CalendarForm({ cal, onSave, onCancel }) {
  const [name, setName] = useState(cal.name);
  const [zone, setZone] = useState(cal.time_zone);
  const [week, setWeek] = useState(Object.fromEntries(DAYS.map((d) => [d, periodsText(cal.week[d])])));
  const [holidays, setHolidays] = useState(cal.holidays);
  const [error, setError] = useState('');
  const title = cal.id ? t('admin.edit_of', { name: cal.name }) : t('calendars.add');
  const addChile = async () => {
    try {
      const r = await api('GET', '/api/v1/calendars/holidays/cl');
      const known = new Set(holidays.map((h) => h.date));
      setHolidays([...holidays, ...r.items.filter((h) => !known.has(h.date))]);
    } catch (e) { setError(e.message); }
  };
  const setHoliday = (i, k, v) => setHolidays(holidays.map((h, j) => (j === i ? { ...h, [k]: v } : h)));
  const submit = (e) => {
    e.preventDefault();
    const w = Object.fromEntries(DAYS.map((d) => [d, parsePeriods(week[d])]).filter(([, p]) => p.length > 0));
    onSave({ name, time_zone: zone, week: w, holidays: holidays.filter((h) => h.date.trim()) });
  };
  return html`<form class="user-form calendar-form" aria-label=${title} onSubmit=${submit}>
    <h3>${title}</h3>
    <label>${t('calendars.name')} <input required maxlength="80" value=${name} onInput=${(e) => setName(e.target.value)} /></label>
    <label>${t('calendars.zone')} <input list="tz-list" required value=${zone} onInput=${(e) => setZone(e.target.value)} /></label>
    <datalist id="tz-list">${ZONES.map((z) => html`<option value=${z} />`)}</datalist>
    <fieldset><legend>${t('calendars.week')}</legend>
      <p class="hint">${t('calendars.week_hint')}</p>
      ${DAYS.map((d) => html`<label class="day">${t(`day.${d}`)} <input value=${week[d]} placeholder=${t('calendars.closed_day')}
        onInput=${(e) => setWeek({ ...week, [d]: e.target.value })} /></label>`)}
    </fieldset>
    <fieldset><legend>${t('calendars.holidays')}</legend>
      <p class="hint">${t('calendars.holidays_hint')}</p>
      <table class="holidays"><tbody>${holidays.map((h, i) => html`<tr>
        <td><input aria-label=${t('calendars.holiday_date')} value=${h.date} size="10" onInput=${(e) => setHoliday(i, 'date', e.target.value)} /></td>
        <td><input aria-label=${t('calendars.holiday_name')} value=${h.name} maxlength="80" onInput=${(e) => setHoliday(i, 'name', e.target.value)} /></td>
        <td><button type="button" class="small" aria-label=${t('calendars.holiday_remove', { name: h.name || h.date })} onClick=${() => setHolidays(holidays.filter((_, j) => j !== i))}>×</button></td></tr>`)}</tbody></table>
      <button type="button" class="small" onClick=${() => setHolidays([...holidays, { date: '', name: '' }])}>${t('calendars.holiday_add')}</button>
      <button type="button" class="small" onClick=${addChile}>${t('calendars.add_chile')}</button>
    </fieldset>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    <${SaveCancel} onCancel=${onCancel} />
  </form>`;
}
