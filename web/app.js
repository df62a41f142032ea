// The agent app: sign-in, then the board of columns with the ticket view beside it.
import { html, render, useEffect, useState } from './vendor/htm-preact-standalone-3.1.1.js';
import { api, LANGUAGES, loadLocale, loadRefs, setCsrf, startEvents, stopEvents, t, useEvents, whenSignedOut, lang } from './lib.js';
import { Login, FirstRun, SetPassword } from './login.js';
import { Board } from './board.js';
import { TicketView } from './ticket.js';
import { MergeNotice } from './merge.js';
import { Contacts } from './contacts.js';
import { Analytics } from './analytics.js';
import { SearchBox } from './search.js';
import { Dialog } from './dialog.js';
import { Admin, adminSections } from './admin.js';
import { StateSelector } from './presence.js';
import { Profile } from './profile.js';
import { Bell } from './bell.js';
import { Guide } from './guide.js';
import { TwoFactor } from './two-factor.js';

const root = document.getElementById('app');

function useHashRoute() {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  const m = hash.match(/^#\/t\/(\d+)/);
  const admin = hash.match(/^#\/admin(?:\/([\w-]+))?(?:\?(.*))?/);
  const contacts = hash.match(/^#\/contactos(?:\/(\d+))?/);
  return { ticket: m ? Number(m[1]) : null, admin: Boolean(admin), section: admin?.[1],
    params: Object.fromEntries(new URLSearchParams(admin?.[2] ?? '')), profile: hash.startsWith('#/perfil'),
    contacts: contacts ? { id: contacts[1] ?? null } : null, analytics: hash.startsWith('#/analitica') };
}

const SHORTCUTS = [['j / k', 'keys.move'], ['Enter', 'keys.open'], ['r', 'keys.reply'], ['c', 'keys.comment'],
  ['e', 'keys.close'], ['/', 'keys.search'], ['Esc', 'keys.escape'], ['?', 'keys.help']];

function typingInField(ev) {
  const el = ev.target;
  return el.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName);
}

/** Global keys: j/k between cards, / search, ? help; r, c, e go to the open ticket. */
function useShortcuts(setHelp) {
  useEffect(() => {
    const on = (ev) => {
      if (ev.key === 'Escape') {
        setHelp(false);
        // The first Esc leaves a text field, the next one closes the ticket.
        if (typingInField(ev)) ev.target.blur();
        else if (location.hash.startsWith('#/t/')) location.hash = '#/';
        return;
      }
      if (typingInField(ev) || ev.ctrlKey || ev.metaKey || ev.altKey) return;
      if (document.querySelector('[aria-modal="true"]')) return;
      if (ev.key === '?') { setHelp((h) => !h); return; }
      if (ev.key === '/') { ev.preventDefault(); document.getElementById('search')?.focus(); return; }
      if (ev.key === 'j' || ev.key === 'k') {
        // Down and up the column one is in: the focused card's, else the open ticket's.
        const from = document.activeElement?.closest?.('.card') ?? document.querySelector('.card.active');
        const column = from?.closest('.column') ?? document.querySelector('.column');
        const cards = column ? [...column.querySelectorAll('.card')] : [];
        if (!cards.length) return;
        const at = cards.indexOf(from);
        const next = at < 0 ? 0 : ev.key === 'j' ? Math.min(cards.length - 1, at + 1) : Math.max(0, at - 1);
        cards[next].focus();
        cards[next].scrollIntoView({ block: 'nearest', inline: 'nearest' });
        ev.preventDefault();
        return;
      }
      if (['r', 'c', 'e'].includes(ev.key)) {
        document.dispatchEvent(new CustomEvent('atiende:key', { detail: ev.key }));
        ev.preventDefault();
      }
    };
    addEventListener('keydown', on);
    return () => removeEventListener('keydown', on);
  }, []);
}

/** What everyone must know about the server (its disk is full) and what administrators must
 * act on (the disk runs low, no public address): from /api/v1/status, asked every minute. */
function ServiceBanner({ me }) {
  const [status, setStatus] = useState(null);
  useEffect(() => {
    let live = true;
    const ask = () => fetch('/api/v1/status', { credentials: 'same-origin' })
      .then((r) => r.json()).then((s) => live && setStatus(s)).catch(() => {});
    ask();
    const timer = setInterval(ask, 60_000);
    return () => { live = false; clearInterval(timer); };
  }, []);
  if (!status) return null;
  const notes = [];
  if (status.disk === 'full') notes.push(t('service.disk_full'));
  else if (status.disk === 'low') notes.push(t('service.disk_low'));
  if (status.public_url_missing && me.role === 'admin') notes.push(t('service.public_url_missing'));
  if (!notes.length) return null;
  return html`<div class="service-banner notice" role="alert">
    ${notes.map((n) => html`<p>${n}</p>`)}
    <a href="/status" target="_blank" rel="noopener">${t('service.status_link')}</a>
  </div>`;
}

function Shell({ me, onSignOut, onLanguage, onProfile }) {
  const { ticket: open, admin, section, params, profile, contacts, analytics } = useHashRoute();
  const mayAdminister = adminSections(me).length > 0;
  // The shared lists changed (someone added a label, a team…): draw again with them.
  const [, setRefsSeen] = useState(0);
  useEvents((kind) => { if (kind === 'refs') setRefsSeen((n) => n + 1); }, []);
  const [help, setHelp] = useState(false);
  useShortcuts(setHelp);
  return html`<div class="shell">
    <header class="topbar">
      <a class="brand" href="#/">Atiende</a>
      <${SearchBox} />
      <div class="me">
        <label class="visually-hidden" for="language">${t('menu.language')}</label>
        <select id="language" value=${lang} onChange=${(e) => onLanguage(e.target.value)}>
          ${Object.entries(LANGUAGES).map(([code, name]) => html`<option value=${code}>${name}</option>`)}
        </select>
        <${StateSelector} me=${me} />
        <${Bell} me=${me} />
        <a class="ghost-link" href=${contacts ? '#/' : '#/contactos'}>${t(contacts ? 'menu.board' : 'menu.contacts')}</a>
        <a class="ghost-link" href=${analytics ? '#/' : '#/analitica'}>${t(analytics ? 'menu.board' : 'menu.analytics')}</a>
        ${(admin || mayAdminister) && html`<a class="ghost-link" href=${admin ? '#/' : '#/admin'}>${t(admin ? 'menu.board' : 'menu.admin')}</a>`}
        <button type="button" class="ghost" title=${t('keys.help')} onClick=${() => setHelp(!help)}>?</button>
        <a class="who" href="#/perfil" title=${t('profile.title')}>${me.name}</a>
        <button type="button" class="ghost" onClick=${onSignOut}>${t('menu.sign_out')}</button>
      </div>
    </header>
    <${ServiceBanner} me=${me} />
    <${MergeNotice} />
    <div class=${open ? 'workspace with-ticket' : 'workspace'}>
      ${profile ? html`<${Profile} me=${me} onSaved=${onProfile} />`
        : contacts ? html`<${Contacts} id=${contacts.id} me=${me} />`
        : analytics ? html`<${Analytics} me=${me} />`
        : admin ? html`<${Admin} me=${me} section=${section} params=${params} />`
        : html`<div class="board-area"><${Guide} me=${me} onHidden=${onProfile} /><${Board} me=${me} openNumber=${open} /></div>`}
      ${open && html`<${TicketView} key=${open} number=${open} me=${me} />`}
    </div>
    ${help && html`<${Dialog} labelledBy="keys-title" onClose=${() => setHelp(false)}>
        <h2 id="keys-title">${t('keys.title')}</h2>
        <dl class="keys">${SHORTCUTS.map(([k, label]) => html`<dt><kbd>${k}</kbd></dt><dd>${t(label)}</dd>`)}</dl>
        <p><a href=${`/ayuda?lang=${lang}`} target="_blank" rel="noopener">${t('login.help')}</a></p>
        <button type="button" onClick=${() => setHelp(false)}>${t('action.close_dialog')}</button>
      <//>`}
  </div>`;
}

function App({ initial }) {
  const [me, setMe] = useState(initial.me);
  const [screen, setScreen] = useState(initial.screen);
  const [, setLang] = useState(lang);
  const [fatal, setFatal] = useState('');

  const enter = async (user, csrf) => {
    setCsrf(csrf);
    // The sign-in answer has no permissions; /me has them.
    if (!user.permissions) user = await api('GET', '/api/v1/me');
    await loadLocale(user.language);
    // The role signs in with a second factor and this user has none: that comes first.
    if (user.two_factor_setup_required) { setMe(user); setScreen('enrol'); return; }
    await loadRefs();
    startEvents();
    setMe(user);
    setScreen('app');
  };
  useEffect(() => {
    if (initial.screen === 'boot') enter(initial.me, initial.csrf).catch((e) => setFatal(e.message));
  }, []);
  useEffect(() => whenSignedOut(() => { stopEvents(); setScreen('login'); }), []);
  // A mailed link opened in a tab that already shows the sign-in page.
  const [token, setToken] = useState(initial.token);
  useEffect(() => {
    const on = () => {
      const link = location.hash.match(/^#\/password\/([\w-]+)/);
      if (link && screen !== 'app') { setToken(link[1]); setScreen('password'); }
    };
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, [screen]);

  const signOut = async () => {
    await api('DELETE', '/api/v1/session').catch(() => {});
    stopEvents();
    setCsrf(null);
    location.hash = '';
    setScreen('login');
  };
  const changeLanguage = async (language) => {
    const user = await api('PATCH', `/api/v1/users/${me.id}`, { language });
    await loadLocale(user.language);
    setMe({ ...me, ...user });
    setLang(user.language);
  };

  if (fatal) return html`<${Fatal} message=${fatal} />`;
  if (screen === 'first-run') return html`<${FirstRun} onSignedIn=${enter} />`;
  if (screen === 'login') return html`<${Login} onSignedIn=${enter} />`;
  if (screen === 'password') return html`<${SetPassword} key=${token} token=${token} onSignedIn=${enter} />`;
  if (screen === 'enrol' && me) {
    return html`<main class="auth enrol-required"><div class="auth-side">
      <${TwoFactor} me=${me} required=${true} onEnrolled=${async () => enter(await api('GET', '/api/v1/me'), me.csrf_token)} />
      <p><button type="button" class="link" onClick=${signOut}>${t('menu.sign_out')}</button></p></div></main>`;
  }
  if (screen !== 'app' || !me) return html`<p class="loading">${t('loading')}</p>`;
  return html`<${Shell} key=${lang} me=${me} onSignOut=${signOut} onLanguage=${changeLanguage}
    onProfile=${(user) => setMe({ ...me, ...user })} />`;
}

function Fatal({ message }) {
  return html`<div class="fatal" role="alert"><p>${t('error.start')}</p><p class="muted">${message}</p>
    <button type="button" class="primary" onClick=${() => location.reload()}>${t('action.retry')}</button></div>`;
}

async function start() {
  try {
    await loadLocale(navigator.language?.startsWith('en') ? 'en' : 'es');
    const setup = await (await fetch('/api/v1/setup')).json();
    let initial = { screen: setup.needs_admin ? 'first-run' : 'login' };
    const link = location.hash.match(/^#\/password\/([\w-]+)/);
    if (link && !setup.needs_admin) initial = { screen: 'password', token: link[1] };
    else if (!setup.needs_admin) {
      const { me } = await (await fetch('/api/v1/session')).json();
      if (me) initial = { screen: 'boot', me, csrf: me.csrf_token };
    }
    // "boot" shows a loading line until the user's locale and reference data are in.
    render(html`<${App} initial=${initial} />`, root);
  } catch (e) {
    render(html`<${Fatal} message=${e.message} />`, root);
  }
}

start();
