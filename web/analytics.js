// Analítica (REPORT-1..5): tickets and messages over a period compared with the one before,
// by creation or by last update (seed 004), durations on the clock or in business hours;
// a breakdown by channel, account, agent, team, label or typification option that drills into
// one value; typification statistics down to the tickets; time per connection state. Charts
// are SVG drawn here, each with its table beside it. Agents see their own figures.
import { html, useState } from './vendor/htm-preact-standalone-3.1.1.js';
import { api, t, query, useLoad, lang } from './lib.js';
import { Dialog } from './dialog.js';

const PERIODS = ['today', 'yesterday', '7d', '30d', 'custom'];
const DIMS = ['channel', 'account', 'agent', 'team', 'label', 'option'];
const METRICS = [
  ['tickets', (f) => f.tickets, 'count'],
  ['resolved', (f) => f.resolved, 'count'],
  ['replies', (f) => f.replies, 'count'],
  ['first_response', (f) => f.first_response.median, 'duration'],
  ['next_response', (f) => f.next_response.median, 'duration'],
  ['resolution', (f) => f.resolution.median, 'duration'],
  ['sla_compliance', (f) => (f.sla_compliance == null ? null : f.sla_compliance * 100), 'percent'],
];

/** "3 min", "2 h 5 min", "1 d 4 h" for seconds. */
export function duration(secs) {
  if (secs == null) return '—';
  if (secs < 60) return t('reports.seconds', { n: secs });
  const mins = Math.round(secs / 60);
  if (mins < 60) return t('time.minutes', { n: mins });
  const h = Math.floor(mins / 60);
  if (h < 24) return [t('time.hours', { n: h }), mins % 60 ? t('time.minutes', { n: mins % 60 }) : ''].filter(Boolean).join(' ');
  const d = Math.floor(h / 24);
  return [t('time.days', { n: d }), h % 24 ? t('time.hours', { n: h % 24 }) : ''].filter(Boolean).join(' ');
}

const number = (n) => (n == null ? '—' : Number(n).toLocaleString(lang === 'en' ? 'en-GB' : 'es-CL', { maximumFractionDigits: 1 }));
const percent = (x) => (x == null ? '—' : `${number(x)} %`);
const show = (v, kind) => (kind === 'duration' ? duration(v) : kind === 'percent' ? percent(v) : number(v));
const hours = (ms) => duration(Math.round(ms / 1000));
const dayLabel = (iso) => new Date(`${iso}T12:00:00`).toLocaleDateString(lang === 'en' ? 'en-GB' : 'es-CL', { day: 'numeric', month: 'short' });

/** Change against the previous period, as "+12 %" (better or worse is for the reader). */
function Delta({ now, before }) {
  if (now == null || before == null || before === 0) return null;
  const d = ((now - before) / before) * 100;
  const text = `${d > 0 ? '+' : ''}${number(d)} %`;
  return html`<span class=${`delta ${d > 0 ? 'up' : d < 0 ? 'down' : ''}`} title=${t('reports.vs_previous')}>${text}</span>`;
}

/** Bars (counts) or a line (durations, percentages) over the days, with the values as a table. */
export function DayChart({ days, metric }) {
  const [key, get, kind] = METRICS.find((m) => m[0] === metric) ?? METRICS[0];
  const values = days.map((d) => get(d.figures));
  const max = Math.max(1, ...values.filter((v) => v != null));
  const w = 600;
  const h = 140;
  const step = w / Math.max(1, days.length);
  const y = (v) => h - 16 - ((v ?? 0) / max) * (h - 30);
  const label = t(`reports.metric.${key}`);
  const line = kind !== 'count';
  const points = values.map((v, i) => (v == null ? null : `${(i + 0.5) * step},${y(v)}`)).filter(Boolean).join(' ');
  return html`<figure class="chart-with-table">
    <svg class="chart" role="img" aria-label=${t('reports.chart_of', { metric: label })} viewBox=${`0 0 ${w} ${h}`}>
      <line x1="0" x2=${w} y1=${h - 16} y2=${h - 16} class="axis" />
      ${line ? html`<polyline class="line" points=${points} />` : null}
      ${values.map((v, i) => (line
        ? v != null && html`<circle class="dot" cx=${(i + 0.5) * step} cy=${y(v)} r="3"><title>${days[i].date}: ${show(v, kind)}</title></circle>`
        : html`<rect class="bar" x=${i * step + 2} width=${Math.max(2, step - 4)} y=${y(v)} height=${Math.max(0, h - 16 - y(v))}><title>${days[i].date}: ${show(v, kind)}</title></rect>`))}
    </svg>
    <figcaption>${label}</figcaption>
    <table class="compact day-table"><thead><tr><th scope="col">${t('reports.day')}</th><th scope="col">${label}</th></tr></thead>
      <tbody>${days.map((d, i) => html`<tr><td>${dayLabel(d.date)}</td><td>${show(values[i], kind)}</td></tr>`)}</tbody></table>
  </figure>`;
}

/** Horizontal bars: tickets per row of the breakdown, each named. */
function RowBars({ rows }) {
  if (!rows.length) return null;
  const max = Math.max(1, ...rows.map((r) => r.figures.tickets));
  const h = rows.length * 22 + 4;
  const width = (r) => Math.max(1, (r.figures.tickets / max) * 180);
  const short = (name) => (name.length > 22 ? `${name.slice(0, 21)}…` : name);
  return html`<svg class="chart rows-chart" role="img" aria-label=${t('reports.tickets_per_row')} viewBox=${`0 0 360 ${h}`}>
    ${rows.map((r, i) => html`<g><text x="0" y=${i * 22 + 16}>${short(r.name)}</text>
      <rect class="bar" x="140" y=${i * 22 + 4} height="16" width=${width(r)}><title>${r.name}: ${r.figures.tickets}</title></rect>
      <text x=${144 + width(r)} y=${i * 22 + 16}>${r.figures.tickets}</text></g>`)}
  </svg>`;
}

function Kpi({ label, value, before, kind = 'count', sub }) {
  return html`<div class="kpi" role="group" aria-label=${label}>
    <span class="kpi-label">${label}</span>
    <strong class="kpi-value">${show(value, kind)}</strong>
    ${sub && html`<span class="hint">${sub}</span>`}
    <${Delta} now=${value} before=${before} />
  </div>`;
}

function Summary({ report, onDrill, metric, setMetric }) {
  const f = report.totals;
  const p = report.previous;
  const m = report.messages;
  const pm = report.previous_messages;
  return html`<div class="kpis">
      <${Kpi} label=${t('reports.metric.tickets')} value=${f.tickets} before=${p.tickets} sub=${t('reports.open_resolved', { open: f.open, resolved: f.resolved })} />
      ${m && html`<${Kpi} label=${t('reports.received')} value=${m.received} before=${pm?.received} />`}
      ${m && html`<${Kpi} label=${t('reports.sent')} value=${m.sent} before=${pm?.sent} />`}
      <${Kpi} label=${t('reports.metric.first_response')} value=${f.first_response.median} before=${p.first_response.median} kind="duration" sub=${t('reports.p90', { value: duration(f.first_response.p90) })} />
      <${Kpi} label=${t('reports.metric.next_response')} value=${f.next_response.median} before=${p.next_response.median} kind="duration" sub=${t('reports.p90', { value: duration(f.next_response.p90) })} />
      <${Kpi} label=${t('reports.metric.resolution')} value=${f.resolution.median} before=${p.resolution.median} kind="duration" sub=${t('reports.p90', { value: duration(f.resolution.p90) })} />
      <${Kpi} label=${t('reports.replies_per_ticket')} value=${f.replies_per_ticket} before=${p.replies_per_ticket} />
      <${Kpi} label=${t('reports.metric.sla_compliance')} value=${f.sla_compliance == null ? null : f.sla_compliance * 100} before=${p.sla_compliance == null ? null : p.sla_compliance * 100} kind="percent" sub=${t('reports.sla_counts', { met: f.sla_met, missed: f.sla_missed })} />
    </div>
    <div class="chart-controls">
      <label>${t('reports.chart_metric')} <select value=${metric} onChange=${(e) => setMetric(e.target.value)}>
        ${METRICS.map(([k]) => html`<option value=${k}>${t(`reports.metric.${k}`)}</option>`)}</select></label>
    </div>
    <${DayChart} days=${report.days} metric=${metric} />
    <h3>${t('reports.by_title', { by: t(`reports.by.${report.by}`) })}</h3>
    ${report.rows.length === 0 ? html`<p class="empty">${t('reports.no_tickets')}</p>` : html`<div class="chart-with-table">
      <${RowBars} rows=${report.rows} />
      <table class="compact breakdown"><thead><tr>
        <th scope="col">${t(`reports.by.${report.by}`)}</th><th scope="col">${t('reports.metric.tickets')}</th><th scope="col">${t('reports.metric.resolved')}</th>
        <th scope="col">${t('reports.metric.first_response')}</th><th scope="col">${t('reports.p90_short')}</th><th scope="col">${t('reports.metric.resolution')}</th>
        <th scope="col">${t('reports.replies_per_ticket')}</th><th scope="col">${t('reports.metric.sla_compliance')}</th>
        <th scope="col">${t('reports.received')}</th><th scope="col">${t('reports.sent')}</th></tr></thead>
        <tbody>${report.rows.map((r) => html`<tr data-value=${r.value}>
          <th scope="row">${onDrill ? html`<button type="button" class="link" onClick=${() => onDrill(r)}>${r.name}</button>` : r.name}</th>
          <td>${number(r.figures.tickets)}</td><td>${number(r.figures.resolved)}</td>
          <td>${duration(r.figures.first_response.median)}</td><td>${duration(r.figures.first_response.p90)}</td>
          <td>${duration(r.figures.resolution.median)}</td><td>${number(r.figures.replies_per_ticket)}</td>
          <td>${percent(r.figures.sla_compliance == null ? null : r.figures.sla_compliance * 100)}</td>
          <td>${number(r.messages?.received)}</td><td>${number(r.messages?.sent)}</td></tr>`)}</tbody></table></div>`}
    ${f.sentiment.length > 0 && html`<h3>${t('reports.sentiment')}</h3>
      <table class="compact sentiment"><thead><tr><th scope="col">${t('reports.sentiment_from')}</th><th scope="col">${t('reports.sentiment_to')}</th><th scope="col">${t('reports.metric.tickets')}</th></tr></thead>
        <tbody>${f.sentiment.map((s) => html`<tr><td>${t(`reports.sentiment.${s.from ?? 'none'}`)}</td><td>${t(`reports.sentiment.${s.to ?? 'none'}`)}</td><td>${number(s.tickets)}</td></tr>`)}</tbody></table>`}`;
}

/** The tickets behind one count: the ticket list filtered the same way. */
function TicketsOf({ title, filter, onClose }) {
  const [data, error] = useLoad(() => api('GET', `/api/v1/tickets?${query({ ...filter, limit: 100 })}`), [JSON.stringify(filter)]);
  return html`<${Dialog} labelledBy="drill-title" onClose=${onClose}>
    <h2 id="drill-title">${title}</h2>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${!data ? html`<p class="loading">${t('loading')}</p>` : data.items.length === 0 ? html`<p class="empty">${t('reports.no_tickets')}</p>`
      : html`<ul class="drill-list">${data.items.map((x) => html`<li><a href=${`#/t/${x.number}`} onClick=${onClose}>#${x.number} · ${x.contact?.name ?? ''} — ${x.subject ?? x.last_message_excerpt ?? ''}</a></li>`)}</ul>`}
    ${data?.next_cursor && html`<p class="hint">${t('reports.first_hundred')}</p>`}
    <button type="button" onClick=${onClose}>${t('action.close_dialog')}</button>
  <//>`;
}

function Typifications({ params }) {
  const [data, error] = useLoad(() => api('GET', `/api/v1/reports/typifications?${query(params)}`), [JSON.stringify(params)]);
  const [drill, setDrill] = useState(null);
  if (error) return html`<p class="error" role="alert">${error}</p>`;
  if (!data) return html`<p class="loading">${t('loading')}</p>`;
  if (!data.fields.length) return html`<p class="empty">${t('reports.no_typifications')}</p>`;
  const range = params.base === 'updated' ? { updated_from: data.from_instant, updated_to: data.to_instant } : { created_from: data.from_instant, created_to: data.to_instant };
  const open = (f, o, channel) => setDrill({
    title: [f.name, o.label, channel && t(`channel.${channel}`)].filter(Boolean).join(' · '),
    filter: { ...range, field: `${f.field_id}:${o.option}`, channel, state: 'open,closed,ignored' },
  });
  return html`<div class="typifications">
    ${data.fields.map((f) => {
      const channels = [...new Set(f.options.flatMap((o) => o.channels.map((c) => c.channel)))];
      const max = Math.max(1, ...f.options.map((o) => o.tickets));
      return html`<section class="typification" data-field=${f.field_id}><h3>${f.name}</h3>
        <table class="compact"><thead><tr><th scope="col">${t('reports.option')}</th><th scope="col">${t('reports.total')}</th>
          ${channels.map((c) => html`<th scope="col">${t(`channel.${c}`)}</th>`)}</tr></thead>
          <tbody>${f.options.map((o) => html`<tr data-option=${o.option}><th scope="row">${o.label}
              <svg class="inline-bar" aria-hidden="true" viewBox="0 0 100 8"><rect class="bar" width=${(o.tickets / max) * 100} height="8" /></svg></th>
            <td>${o.tickets ? html`<button type="button" class="bubble" aria-label=${t('reports.see_tickets_of', { option: o.label, n: o.tickets })} onClick=${() => open(f, o)}>${o.tickets}</button>` : '0'}</td>
            ${channels.map((c) => { const n = o.channels.find((x) => x.channel === c)?.tickets ?? 0;
              return html`<td>${n ? html`<button type="button" class="bubble" aria-label=${t('reports.see_tickets_of_channel', { option: o.label, channel: t(`channel.${c}`), n })} onClick=${() => open(f, o, c)}>${n}</button>` : '0'}</td>`; })}
          </tr>`)}</tbody></table></section>`;
    })}
    ${drill && html`<${TicketsOf} title=${drill.title} filter=${drill.filter} onClose=${() => setDrill(null)} />`}
  </div>`;
}

function AgentStatesReport({ params }) {
  const [data, error] = useLoad(() => api('GET', `/api/v1/reports/agent_states?${query(params)}`), [JSON.stringify(params)]);
  if (error) return html`<p class="error" role="alert">${error}</p>`;
  if (!data) return html`<p class="loading">${t('loading')}</p>`;
  if (!data.agents.length) return html`<p class="empty">${t('reports.no_states')}</p>`;
  const ms = (list, s) => list.find((x) => x.state === s)?.ms ?? 0;
  return html`<table class="compact agent-states"><thead><tr><th scope="col">${t('reports.by.agent')}</th>
      ${data.states.map((s) => html`<th scope="col">${s}</th>`)}</tr></thead>
    <tbody>${data.agents.map((a) => html`<tr><th scope="row">${a.name}</th>${data.states.map((s) => html`<td>${hours(ms(a.totals, s))}</td>`)}</tr>
      ${a.days.map((d) => html`<tr class="day-row"><td>${dayLabel(d.date)}</td>${data.states.map((s) => html`<td>${hours(ms(d.states, s))}</td>`)}</tr>`)}`)}</tbody></table>`;
}

function TimeZone({ me }) {
  const [data, , reload] = useLoad(() => api('GET', '/api/v1/reports/settings'), []);
  const [status, setStatus] = useState('');
  if (!data || me.role !== 'admin') return data ? html`<p class="hint">${t('reports.time_zone_is', { zone: data.time_zone })}</p>` : null;
  const save = async (e) => {
    e.preventDefault();
    const zone = new FormData(e.target).get('zone');
    try { await api('PATCH', '/api/v1/reports/settings', { time_zone: zone }); await reload(); setStatus(t('admin.saved')); } catch (err) { setStatus(err.message); }
  };
  return html`<form class="inline-form time-zone" onSubmit=${save}>
    <label>${t('reports.time_zone')} <input name="zone" list="zones" defaultValue=${data.time_zone} required /></label>
    <datalist id="zones">${['America/Santiago', 'America/Punta_Arenas', 'America/Lima', 'America/Bogota', 'America/Mexico_City', 'America/Argentina/Buenos_Aires', 'America/Sao_Paulo', 'Europe/Madrid', 'UTC'].map((z) => html`<option value=${z} />`)}</datalist>
    <button type="submit" class="small">${t('action.save')}</button> <span role="status">${status}</span>
  </form>`;
}

export function Analytics({ me }) {
  const supervisor = me.role === 'admin' || me.role === 'supervisor';
  const [tab, setTab] = useState('summary');
  const [period, setPeriod] = useState('7d');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [base, setBase] = useState('created');
  const [business, setBusiness] = useState(false);
  const [by, setBy] = useState('channel');
  const [drill, setDrill] = useState(null);
  const [metric, setMetric] = useState('tickets');
  const periodParams = period === 'custom' ? { period, from, to, base } : { period, base };
  const params = { ...periodParams, by, value: drill?.value, business_hours: business };
  const ready = period !== 'custom' || from;
  const [report, error] = useLoad(() => (ready && tab === 'summary' ? api('GET', `/api/v1/reports/tickets?${query(params)}`) : Promise.resolve(null)),
    [JSON.stringify(params), tab]);
  const file = (path, p, format) => `${path}?${query({ ...p, format })}`;
  const current = tab === 'summary' ? ['/api/v1/reports/tickets', params] : tab === 'typifications' ? ['/api/v1/reports/typifications', periodParams] : ['/api/v1/reports/agent_states', periodParams];
  const tabs = supervisor ? ['summary', 'typifications', 'states'] : ['summary', 'states'];
  return html`<section class="analytics" aria-labelledby="analytics-title">
    <header class="analytics-head">
      <h2 id="analytics-title">${t('reports.title')}</h2>
      ${!supervisor && html`<p class="hint">${t('reports.own_figures')}</p>`}
      <div class="tabs" role="tablist">${tabs.map((k) => html`<button type="button" role="tab" aria-selected=${tab === k} class=${tab === k ? 'on' : ''} onClick=${() => setTab(k)}>${t(`reports.tab.${k}`)}</button>`)}</div>
    </header>
    <div class="analytics-bar" role="group" aria-label=${t('reports.filters')}>
      <label>${t('reports.period')} <select value=${period} onChange=${(e) => setPeriod(e.target.value)}>
        ${PERIODS.map((p) => html`<option value=${p}>${t(`reports.period.${p}`)}</option>`)}</select></label>
      ${period === 'custom' && html`<label>${t('reports.from')} <input type="date" value=${from} onChange=${(e) => setFrom(e.target.value)} /></label>
        <label>${t('reports.to')} <input type="date" value=${to} onChange=${(e) => setTo(e.target.value)} /></label>`}
      ${tab !== 'states' && html`<fieldset class="base"><legend>${t('reports.base')}</legend>
        ${['created', 'updated'].map((b) => html`<label><input type="radio" name="base" value=${b} checked=${base === b} onChange=${() => setBase(b)} /> ${t(`reports.base.${b}`)}</label>`)}</fieldset>`}
      ${tab === 'summary' && html`<label><input type="checkbox" checked=${business} onChange=${(e) => setBusiness(e.target.checked)} /> ${t('reports.business_hours')}</label>`}
      ${tab === 'summary' && supervisor && html`<label>${t('reports.by_label')} <select value=${by} onChange=${(e) => { setBy(e.target.value); setDrill(null); }}>
        ${DIMS.map((d) => html`<option value=${d}>${t(`reports.by.${d}`)}</option>`)}</select></label>`}
      <span class="downloads">
        <a class="button small" href=${file(current[0], current[1], 'csv')} download>${t('reports.download_csv')}</a>
        <a class="button small" href=${file(current[0], current[1], 'xlsx')} download>${t('reports.download_xlsx')}</a>
      </span>
    </div>
    ${tab === 'summary' && html`
      ${drill && html`<p class="drill"><button type="button" class="link" onClick=${() => setDrill(null)}>${t('reports.all')}</button> › <strong>${t(`reports.by.${by}`)}: ${drill.name}</strong></p>`}
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${!ready ? html`<p class="hint">${t('reports.choose_dates')}</p>` : !report ? html`<p class="loading">${t('loading')}</p>`
        : html`<p class="hint period-note">${t('reports.period_note', { from: report.from, to: report.to, previous_from: report.previous_from, previous_to: report.previous_to, zone: report.time_zone })}</p>
          <${Summary} report=${report} metric=${metric} setMetric=${setMetric} onDrill=${supervisor && !drill ? (r) => setDrill(r) : null} />`}`}
    ${tab === 'typifications' && ready && html`<${Typifications} params=${periodParams} />`}
    ${tab === 'states' && ready && html`<${AgentStatesReport} params=${periodParams} />`}
    ${supervisor && html`<${TimeZone} me=${me} />`}
  </section>`;
}
