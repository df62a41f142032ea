// First-run and sign-in page. The full agent app (board, ticket view) builds on this.
const app = document.getElementById('app');
let strings = {};
let csrf = null;

const t = (key, vars = {}) =>
  (strings[key] || key).replace(/\{(\w+)\}/g, (_, k) => vars[k] ?? '');

async function loadLocale(lang) {
  const res = await fetch(`/assets/locales/${lang === 'en' ? 'en' : 'es'}.json?v=0.1.0`);
  strings = await res.json();
  document.documentElement.lang = lang === 'en' ? 'en' : 'es';
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function field(name, type, labelKey) {
  return [el('label', { for: name }, t(labelKey)), el('input', { id: name, name, type, required: '' })];
}

async function api(method, path, body) {
  const headers = { 'content-type': 'application/json' };
  if (csrf) headers['x-csrf-token'] = csrf;
  const res = await fetch(path, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const data = res.status === 204 ? null : await res.json();
  if (!res.ok) throw new Error(data?.error?.message || t('error.generic'));
  return data;
}

function form(titleKey, fields, submitKey, onSubmit, extra = []) {
  const error = el('p', { class: 'error', role: 'alert' });
  const f = el('form', {}, ...fields.flat(), el('button', { type: 'submit' }, t(submitKey)), error);
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    try { await onSubmit(Object.fromEntries(new FormData(f))); } catch (e) { error.textContent = e.message; }
  });
  app.replaceChildren(el('h1', {}, t(titleKey)), ...extra, f);
}

function firstRun() {
  form('first_run.title', [field('name', 'text', 'field.name'), field('email', 'email', 'field.email'),
    field('password', 'password', 'field.password')], 'first_run.submit',
  async (v) => { await api('POST', '/api/v1/setup', v); await signIn(v); },
  [el('p', {}, t('first_run.intro')), el('p', { class: 'hint' }, t('first_run.cli'), ' ',
    el('code', {}, 'atiende admin create --email … --name …'))]);
}

async function signIn(v) {
  const r = await api('POST', '/api/v1/session', { email: v.email, password: v.password });
  csrf = r.csrf_token;
  await home(r.user);
}

function login() {
  form('login.title', [field('email', 'email', 'field.email'), field('password', 'password', 'field.password')],
    'login.submit', signIn);
}

async function home(user) {
  await loadLocale(user.language);
  const out = el('button', { type: 'button', onclick: async () => { await api('DELETE', '/api/v1/session'); csrf = null; login(); } }, t('home.sign_out'));
  app.replaceChildren(el('h1', {}, 'Atiende'), el('p', {}, t('home.signed_in', { name: user.name })),
    el('p', { class: 'hint' }, t('home.board_soon')), out);
}

async function start() {
  await loadLocale(navigator.language?.startsWith('en') ? 'en' : 'es');
  const setup = await (await fetch('/api/v1/setup')).json();
  if (setup.needs_admin) return firstRun();
  const me = await fetch('/api/v1/me');
  if (me.ok) { const m = await me.json(); csrf = m.csrf_token; return home(m); }
  login();
}

start();
