// First steps (seed 001): the first administrator sees what to do after the first-run page —
// connect a channel, invite the team, set up assignment — each step a button to its form,
// ticked when done, until all are done or the guide is hidden.
import { html, useEffect, useState } from './vendor/htm-preact-standalone-3.1.1.js';
import { api, CHANNEL_ICONS, refs, t } from './lib.js';

const KINDS = ['email', 'whatsapp', 'webchat', 'form'];

export function Guide({ me, onHidden }) {
  const [assigned, setAssigned] = useState(null);
  const shown = me.role === 'admin' && !me.guide_dismissed;
  useEffect(() => {
    if (shown) api('GET', '/api/v1/assignment').then((r) => setAssigned(r.items.length > 0)).catch(() => setAssigned(false));
  }, [shown]);
  if (!shown || assigned === null) return null;
  const channel = refs.accounts.some((a) => a.connected && !a.deleted_at && a.kind !== 'api');
  const team = refs.users.length > 1;
  const steps = [channel, team, assigned];
  if (steps.every(Boolean)) return null;
  const hide = async () => { onHidden(await api('PATCH', `/api/v1/users/${me.id}`, { guide_dismissed: true })); };
  const step = (done, n, title, body) => html`<li class=${done ? 'done' : ''}>
    <span class="step-mark" aria-hidden="true">${done ? '✓' : n}</span>
    <div><strong>${title}</strong>${done ? html` <span class="muted">${t('guide.done')}</span>` : ''}<div>${body}</div></div></li>`;
  return html`<section class="guide" aria-labelledby="guide-title">
    <header><h2 id="guide-title">${t('guide.title')}</h2>
      <button type="button" class="link" onClick=${hide}>${t('guide.hide')}</button></header>
    <ol>
      ${step(channel, 1, t('guide.channel'), html`<p class="hint">${t('guide.channel_hint')}</p>
        <div class="guide-buttons">${KINDS.map((k) => html`<a class="button small" href=${`#/admin/canales?nuevo=${k}`}>${CHANNEL_ICONS[k]} ${t(`channel.${k}`)}</a>`)}</div>`)}
      ${step(team, 2, t('guide.team'), html`<p class="hint">${t('guide.team_hint')}</p>
        <a class="button small" href="#/admin/usuarios?invitar=1">${t('users.invite')}</a>`)}
      ${step(assigned, 3, t('guide.assignment'), html`<p class="hint">${t('guide.assignment_hint')}</p>
        <a class="button small" href="#/admin/asignacion">${t('admin.nav.assignment')}</a>`)}
    </ol>
  </section>`;
}
