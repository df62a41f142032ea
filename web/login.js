// Sign-in (AUTH-2) and first-run pages. The left side shows the latest release notes
// (docs/release-notes/, in the reader's language).
import { html, useEffect, useState } from './vendor/htm-preact-standalone-3.1.1.js';
import { api, lang, t } from './lib.js';

const CREATE_ADMIN = 'atiende admin create --email … --name …';

function Form({ title, fields, submit, onSubmit, children, autocomplete = {} }) {
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const send = async (ev) => {
    ev.preventDefault();
    setError('');
    setBusy(true);
    try { await onSubmit(Object.fromEntries(new FormData(ev.target))); } catch (e) { setError(e.message); }
    setBusy(false);
  };
  return html`<form class="auth-form" onSubmit=${send}>
    <h1>${title}</h1>
    ${children}
    ${fields.map(([name, type, label]) => html`<label for=${name}>${label}</label>
      <input id=${name} name=${name} type=${type} required minlength=${type === 'password' && autocomplete[name] === 'new-password' ? 8 : undefined}
        autocomplete=${autocomplete[name] ?? (type === 'password' ? 'current-password' : name)} />`)}
    <button type="submit" class="primary" disabled=${busy}>${submit}</button>
    <p class="error" role="alert">${error}</p>
  </form>`;
}

function Updates() {
  const [releases, setReleases] = useState([]);
  useEffect(() => { api('GET', `/api/v1/changelog?lang=${lang}`).then((r) => setReleases(r.releases)).catch(() => {}); }, []);
  return html`<section class="updates" aria-labelledby="updates-title">
    <h2 id="updates-title">${t('login.updates')}</h2>
    ${releases.map((r) => html`<article><h3>${r.title}</h3>
      <ul>${r.items.slice(0, 6).map((i) => html`<li>${i}</li>`)}</ul></article>`)}
  </section>`;
}

export function Login({ onSignedIn }) {
  const [forgot, setForgot] = useState(false);
  const [sent, setSent] = useState(false);
  // Email and password were right and the user has a second factor: its code comes next.
  const [pending, setPending] = useState(null);
  const signIn = async (v) => {
    try {
      const r = await api('POST', '/api/v1/session', { email: v.email, password: v.password });
      await onSignedIn(r.user, r.csrf_token);
    } catch (e) {
      if (e.code !== 'two_factor_required') throw e;
      setPending({ email: v.email, password: v.password });
    }
  };
  const withCode = async (v) => {
    const r = await api('POST', '/api/v1/session', { ...pending, totp: v.totp });
    await onSignedIn(r.user, r.csrf_token);
  };
  if (pending) {
    return html`<div class="auth">
      <${Updates} />
      <div class="auth-side">
        <${Form} title=${t('login.code_title')} submit=${t('login.submit')} onSubmit=${withCode}
          fields=${[['totp', 'text', t('login.code')]]} autocomplete=${{ totp: 'one-time-code' }}>
          <p class="hint">${t('login.code_help')}</p><//>
        <p><button type="button" class="link" onClick=${() => setPending(null)}>${t('login.code_back')}</button></p>
      </div>
    </div>`;
  }
  const requestLink = async (v) => {
    await api('POST', '/api/v1/password_resets', { email: v.reset_email });
    setSent(true);
  };
  return html`<div class="auth">
    <${Updates} />
    <div class="auth-side">
      <${Form} title=${t('login.title')} submit=${t('login.submit')} onSubmit=${signIn}
        fields=${[['email', 'email', t('field.email')], ['password', 'password', t('field.password')]]} />
      <p><button type="button" class="link" aria-expanded=${forgot} onClick=${() => setForgot(!forgot)}>${t('login.forgot')}</button></p>
      ${forgot && (sent ? html`<p class="ok" role="status">${t('login.reset_sent')}</p>`
        : html`<${Form} title=${t('login.reset_title')} submit=${t('login.reset_submit')} onSubmit=${requestLink}
            fields=${[['reset_email', 'email', t('field.email')]]} autocomplete=${{ reset_email: 'email' }}>
            <p class="hint">${t('login.forgot_help')}</p><//>`)}
      <nav class="auth-links">
        <a href=${`/ayuda?lang=${lang}`}>${t('login.help')}</a> · <a href="/api/openapi.json">${t('login.api')}</a> · <a href="/status">${t('login.status')}</a></nav>
    </div>
  </div>`;
}

export function FirstRun({ onSignedIn }) {
  const create = async (v) => {
    await api('POST', '/api/v1/setup', v);
    const r = await api('POST', '/api/v1/session', { email: v.email, password: v.password });
    await onSignedIn(r.user, r.csrf_token);
  };
  return html`<div class="auth"><${Updates} /><div class="auth-side">
    <${Form} title=${t('first_run.title')} submit=${t('first_run.submit')} onSubmit=${create}
      fields=${[['name', 'text', t('field.name')], ['email', 'email', t('field.email')],
        ['password', 'password', t('field.password_new')]]}>
      <p>${t('first_run.intro')}</p>
      <p class="hint">${t('first_run.cli')} <code>${CREATE_ADMIN}</code></p>
      <label for="public_url">${t('public_url.label')}</label>
      <input id="public_url" name="public_url" type="url" required value=${location.origin} />
      <p class="hint">${t('public_url.hint')}</p>
    <//>
  </div></div>`;
}

/** The page a mailed link opens (#/password/TOKEN): reset or invitation, then signed in. */
export function SetPassword({ token, onSignedIn }) {
  const [link, setLink] = useState(null);
  const [error, setError] = useState('');
  useEffect(() => {
    api('GET', `/api/v1/password_resets/${encodeURIComponent(token)}`).then(setLink).catch((e) => setError(e.message));
  }, [token]);
  const choose = async (v) => {
    await api('POST', `/api/v1/password_resets/${encodeURIComponent(token)}`, { password: v.new_password });
    const r = await api('POST', '/api/v1/session', { email: link.email, password: v.new_password });
    location.hash = '#/';
    await onSignedIn(r.user, r.csrf_token);
  };
  return html`<div class="auth"><${Updates} /><div class="auth-side">
    ${error ? html`<div class="auth-form"><p class="error" role="alert">${error}</p>
        <p><a href="#/" onClick=${() => { location.hash = ''; location.reload(); }}>${t('login.back')}</a></p></div>`
      : !link ? html`<p class="loading">${t('loading')}</p>`
      : html`<${Form} title=${t(link.purpose === 'invitation' ? 'password.welcome' : 'password.title', { name: link.name })}
          submit=${t('password.submit')} onSubmit=${choose}
          fields=${[['new_password', 'password', t('field.password_new')]]} autocomplete=${{ new_password: 'new-password' }}>
          <p class="hint">${link.email}</p><//>`}
  </div></div>`;
}
