// Mi perfil (#/perfil), for everyone: name, language and signature; the password and the email
// (each asks for the current password); where one is signed in («Cerrar las demás»); API
// tokens; the second factor.
import { html, useEffect, useState } from './vendor/htm-preact-standalone-3.1.1.js';
import { api, initials, refs, t, when } from './lib.js';
import { Section, StatusLine, useStatus } from './admin-kit.js';
import { TwoFactor } from './two-factor.js';
import { Canned } from './catalog.js';

export function Profile({ me, onSaved }) {
  return html`<main class="admin my-profile" aria-labelledby="profile-title">
    <h1 id="profile-title">${t('profile.title')}</h1>
    <${Photo} me=${me} onSaved=${onSaved} />
    <${Details} me=${me} onSaved=${onSaved} />
    <${Password} me=${me} />
    <${Email} me=${me} onSaved=${onSaved} />
    <${Notify} me=${me} onSaved=${onSaved} />
    ${me.role === 'admin' && me.guide_dismissed && html`<${GuideAgain} me=${me} onSaved=${onSaved} />`}
    <${TwoFactor} me=${me} />
    <${Canned} me=${me} personalOnly=${true} />
    <${Sessions} />
    <${Tokens} />
  </main>`;
}

/** The profile photo: any PNG, JPEG or WebP; the server keeps a small square of it. */
function Photo({ me, onSaved }) {
  const [status, ok, fail] = useStatus();
  const send = async (file) => {
    if (!file) return;
    try {
      const res = await fetch('/api/v1/me/avatar', { method: 'PUT', body: file, credentials: 'same-origin',
        headers: { 'content-type': file.type || 'application/octet-stream', 'x-csrf-token': me.csrf_token ?? '' } });
      const body = await res.json();
      if (!res.ok) throw new Error(body?.error?.code ? t(`error.${body.error.code}`) : t('error.generic'));
      onSaved(body); ok(t('admin.saved'));
    } catch (e) { fail(e.message); }
  };
  const remove = async () => { try { onSaved(await api('DELETE', '/api/v1/me/avatar')); ok(t('admin.saved')); } catch (e) { fail(e.message); } };
  return html`<${Section} id="profile-photo" title=${t('profile.photo')} hint=${t('profile.photo_hint')}>
    <div class="photo-row">
      ${me.avatar_url ? html`<img class="avatar-big" src=${me.avatar_url} alt=${t('profile.photo_of', { name: me.name })} />`
        : html`<span class="avatar avatar-big">${initials(me.name)}</span>`}
      <label class="button small">${t('profile.photo_choose')}
        <input type="file" accept="image/png,image/jpeg,image/webp" class="visually-hidden" onChange=${(e) => send(e.target.files[0])} /></label>
      ${me.avatar_url && html`<button type="button" class="small" onClick=${remove}>${t('profile.photo_remove')}</button>`}
    </div>
    <${StatusLine} status=${status} />
  <//>`;
}

function Details({ me, onSaved }) {
  const [form, setForm] = useState({ name: me.name, signature: me.signature ?? '', signatures: { ...(me.signatures ?? {}) } });
  const mailAccounts = refs.accounts.filter((a) => a.kind === 'email');
  const [status, ok, fail] = useStatus();
  const save = async (ev) => {
    ev.preventDefault();
    try { onSaved(await api('PATCH', `/api/v1/users/${me.id}`, form)); ok(t('admin.saved')); } catch (e) { fail(e.message); }
  };
  return html`<${Section} id="profile-details" title=${t('profile.details')}>
    <form class="user-form" aria-label=${t('profile.details')} onSubmit=${save}>
      <label>${t('users.name')} <input value=${form.name} required maxlength="120" onInput=${(e) => setForm({ ...form, name: e.target.value })} /></label>
      <label>${t('profile.signature')} <textarea rows="3" value=${form.signature} onInput=${(e) => setForm({ ...form, signature: e.target.value })}></textarea></label>
      ${mailAccounts.map((a) => html`<label>${t('profile.signature_for', { account: a.name })}
        <textarea rows="3" placeholder=${t('profile.signature_same')} value=${form.signatures[a.id] ?? ''}
          onInput=${(e) => setForm({ ...form, signatures: { ...form.signatures, [a.id]: e.target.value } })}></textarea></label>`)}
      <div class="dialog-actions"><button type="submit" class="primary">${t('action.save')}</button></div>
      <${StatusLine} status=${status} />
    </form>
  <//>`;
}

function Password({ me }) {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [status, ok, fail] = useStatus();
  const save = async (ev) => {
    ev.preventDefault();
    try {
      await api('PATCH', `/api/v1/users/${me.id}`, { password: next, current_password: current });
      setCurrent(''); setNext('');
      ok(t('profile.password_changed'));
    } catch (e) { fail(e.message); }
  };
  return html`<${Section} id="profile-password" title=${t('profile.password')} hint=${t('profile.password_hint')}>
    <form class="user-form" aria-label=${t('profile.password')} onSubmit=${save}>
      <label>${t('profile.current_password')} <input type="password" autocomplete="current-password" required value=${current} onInput=${(e) => setCurrent(e.target.value)} /></label>
      <label>${t('profile.new_password')} <input type="password" autocomplete="new-password" required minlength="8" value=${next} onInput=${(e) => setNext(e.target.value)} /></label>
      <div class="dialog-actions"><button type="submit" class="primary">${t('profile.change_password')}</button></div>
      <${StatusLine} status=${status} />
    </form>
  <//>`;
}

function Email({ me, onSaved }) {
  const [email, setEmail] = useState(me.email);
  const [current, setCurrent] = useState('');
  const [status, ok, fail] = useStatus();
  const save = async (ev) => {
    ev.preventDefault();
    try {
      onSaved(await api('PATCH', `/api/v1/users/${me.id}`, { email, current_password: current }));
      setCurrent('');
      ok(t('admin.saved'));
    } catch (e) { fail(e.message); }
  };
  return html`<${Section} id="profile-email" title=${t('profile.email')}>
    <form class="user-form" aria-label=${t('profile.email')} onSubmit=${save}>
      <label>${t('users.email')} <input type="email" required value=${email} onInput=${(e) => setEmail(e.target.value)} /></label>
      <label>${t('profile.current_password')} <input type="password" autocomplete="current-password" required value=${current} onInput=${(e) => setCurrent(e.target.value)} /></label>
      <div class="dialog-actions"><button type="submit" class="primary">${t('profile.change_email')}</button></div>
      <${StatusLine} status=${status} />
    </form>
  <//>`;
}

/** The first steps' guide, hidden once, can come back to the board. */
function GuideAgain({ me, onSaved }) {
  const [status, , fail] = useStatus();
  const show = async () => {
    try { onSaved(await api('PATCH', `/api/v1/users/${me.id}`, { guide_dismissed: false })); location.hash = '#/'; } catch (e) { fail(e.message); }
  };
  return html`<${Section} id="profile-guide" title=${t('guide.title')} hint=${t('guide.hidden_hint')}>
    <button type="button" onClick=${show}>${t('guide.show')}</button>
    <${StatusLine} status=${status} />
  <//>`;
}

/** How one hears of things: mail for mentions and assignments, a sound for the bell. */
function Notify({ me, onSaved }) {
  const [prefs, setPrefs] = useState(me.notify ?? { mention_email: true, assigned_email: true, sla_email: true, sound: true });
  const [status, ok, fail] = useStatus();
  const flip = async (key, value) => {
    const next = { ...prefs, [key]: value };
    setPrefs(next);
    try { onSaved(await api('PATCH', `/api/v1/users/${me.id}`, { notify: next })); ok(t('admin.saved')); } catch (e) { fail(e.message); }
  };
  return html`<${Section} id="profile-notify" title=${t('profile.notify')} hint=${t('profile.notify_hint')}>
    ${['mention_email', 'assigned_email', 'sla_email', 'sound'].map((k) => html`<label class="check block"><input type="checkbox" checked=${prefs[k]}
      onChange=${(e) => flip(k, e.target.checked)} /> ${t(`profile.notify_${k}`)}</label>`)}
    <${StatusLine} status=${status} />
  <//>`;
}

function Sessions() {
  const [items, setItems] = useState(null);
  const [status, ok, fail] = useStatus();
  const load = () => api('GET', '/api/v1/me/sessions').then((r) => setItems(r.items)).catch((e) => fail(e.message));
  useEffect(() => { load(); }, []);
  const run = async (f, done) => { try { const r = await f(); await load(); ok(done(r)); } catch (e) { fail(e.message); } };
  return html`<${Section} id="profile-sessions" title=${t('profile.sessions')} hint=${t('profile.sessions_hint')}>
    ${!items ? html`<p class="loading">${t('loading')}</p>` : html`<table class="sessions"><thead><tr>
        <th scope="col">${t('profile.device')}</th><th scope="col">${t('audit.origin')}</th>
        <th scope="col">${t('profile.signed_in_at')}</th><th scope="col">${t('profile.last_use')}</th><th></th></tr></thead>
      <tbody>${items.map((s) => html`<tr data-session=${s.id} class=${s.current ? 'current' : ''}>
        <td title=${s.user_agent ?? ''}>${s.device ?? '—'}${s.current ? html` <strong>(${t('profile.this_session')})</strong>` : ''}</td>
        <td>${s.ip ?? '—'}</td><td>${when(s.created_at)}</td><td>${s.last_seen_at ? when(s.last_seen_at) : '—'}</td>
        <td>${!s.current && html`<button type="button" class="small" aria-label=${t('profile.end_session_of', { device: s.device ?? s.id })}
          onClick=${() => run(() => api('DELETE', `/api/v1/me/sessions/${s.id}`), () => t('profile.session_ended'))}>${t('profile.end_session')}</button>`}</td>
      </tr>`)}</tbody></table>
      ${items.length > 1 && html`<button type="button" class="small danger"
        onClick=${() => run(() => api('POST', '/api/v1/me/sessions/end_others'), (r) => t('profile.others_ended', { n: r.ended }))}>${t('profile.end_others')}</button>`}`}
    <${StatusLine} status=${status} />
  <//>`;
}

/** API tokens: one's own (Mi perfil, where they are made), or with `all` everyone's, for an
 *  administrator to see and revoke (Administración › Tokens de API). */
export function Tokens({ all = false }) {
  const [items, setItems] = useState(null);
  const [name, setName] = useState('');
  const [days, setDays] = useState('90');
  const [shown, setShown] = useState(null); // the token just created, shown once
  const [status, ok, fail] = useStatus();
  const load = () => api('GET', `/api/v1/tokens${all ? '?all=true' : ''}`).then((r) => setItems(r.items)).catch((e) => fail(e.message));
  useEffect(() => { load(); }, []);
  const create = async (ev) => {
    ev.preventDefault();
    const expiry = days ? { expires_in_days: Number(days) } : {};
    try { setShown(await api('POST', '/api/v1/tokens', { name, ...expiry })); setName(''); await load(); } catch (e) { fail(e.message); }
  };
  const revoke = async (tok) => {
    try { await api('DELETE', `/api/v1/tokens/${tok.id}`); await load(); ok(t('profile.token_revoked', { name: tok.name })); } catch (e) { fail(e.message); }
  };
  return html`<${Section} id=${all ? 'all-tokens' : 'profile-tokens'} title=${t(all ? 'admin.nav.tokens' : 'profile.tokens')} hint=${t(all ? 'tokens.all_hint' : 'profile.tokens_hint')}>
    ${items && (items.length === 0 ? html`<p class="hint">${t(all ? 'tokens.none' : 'profile.no_tokens')}</p>` : html`<table class="tokens"><tbody>
      ${items.map((tok) => html`<tr><td>${tok.name}</td>${all && html`<td>${tok.user_name}</td>`}<td>${when(tok.created_at)}</td>
        <td>${tok.expires_at ? t('profile.token_expires', { at: when(tok.expires_at) }) : t('profile.token_never')}</td>
        <td><button type="button" class="small danger" aria-label=${t('profile.revoke_of', { name: tok.name })} onClick=${() => revoke(tok)}>${t('profile.revoke')}</button></td></tr>`)}
    </tbody></table>`)}
    ${shown && html`<p class="notice" role="status">${t('profile.token_once')} <code class="token">${shown.token}</code></p>`}
    ${!all && html`<form class="inline-form" onSubmit=${create}>
      <label for="token-name">${t('profile.token_name')}</label>
      <input id="token-name" required maxlength="100" value=${name} onInput=${(e) => setName(e.target.value)} />
      <label for="token-days">${t('profile.token_expiry')}</label>
      <select id="token-days" value=${days} onChange=${(e) => setDays(e.target.value)}>
        ${[['30', 'profile.days_30'], ['90', 'profile.days_90'], ['365', 'profile.days_365'], ['', 'profile.token_never']].map(([v, k]) => html`<option value=${v}>${t(k)}</option>`)}
      </select>
      <button type="submit" class="small">${t('profile.create_token')}</button>
    </form>`}
    <${StatusLine} status=${status} />
  <//>`;
}
