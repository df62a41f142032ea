// The agent's own connection state (ASSIGN-4), and the activity pings that keep it from
// changing to the idle state while they work.
import { html, useEffect, useState } from './vendor/htm-preact-standalone-3.1.1.js';
import { api, t } from './lib.js';

const PING_EVERY_MS = 60000;

export function StateSelector({ me }) {
  const [states, setStates] = useState([]);
  const [current, setCurrent] = useState(me.connection_state ?? '');
  const [error, setError] = useState('');
  useEffect(() => {
    api('GET', '/api/v1/connection_states').then((r) => setStates(r.items)).catch((e) => setError(e.message));
    // Any request counts as activity; a keypress or click sends one at most once a minute.
    let last = Date.now();
    const ping = () => {
      if (Date.now() - last < PING_EVERY_MS) return;
      last = Date.now();
      fetch('/api/v1/session').catch(() => {});
    };
    addEventListener('keydown', ping);
    addEventListener('pointerdown', ping);
    return () => { removeEventListener('keydown', ping); removeEventListener('pointerdown', ping); };
  }, []);
  const change = async (name) => {
    const before = current;
    setCurrent(name);
    try { const u = await api('PUT', '/api/v1/me/status', { state: name }); setCurrent(u.connection_state ?? ''); setError(''); } catch (e) { setCurrent(before); setError(e.message); }
  };
  const assignable = states.find((s) => s.name === current)?.assignable;
  return html`<span class="my-state">
    <span class=${`dot ${assignable ? 'on' : 'off'}`} aria-hidden="true"></span>
    <label class="visually-hidden" for="my-state">${t('menu.my_state')}</label>
    <select id="my-state" value=${current} title=${error || t('menu.my_state')} onChange=${(e) => change(e.target.value)}>
      ${!current && html`<option value="">—</option>`}
      ${states.map((s) => html`<option value=${s.name}>${s.name}</option>`)}
    </select></span>`;
}
