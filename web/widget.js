// Atiende web chat widget (CHAN-2). Paste on a site:
//   <script src="https://soporte.tienda.cl/widget.js" data-account="3" async></script>
// Plain JS, no framework. It lives in a shadow root (the host page's styles and ours
// never meet), styles go through a constructed stylesheet (allowed under a strict CSP), and
// the only global is window.AtiendeChat.
(function () {
  'use strict';
  if (window.AtiendeChat) return;
  var script = document.currentScript;
  if (!script || !script.dataset.account) return;
  var account = script.dataset.account;
  var base = new URL(script.src, location.href).origin;
  var lang = (script.dataset.lang || navigator.language || 'es').slice(0, 2) === 'en' ? 'en' : 'es';
  // The strings come from the locale files: the server writes them in when it serves /widget.js.
  var TEXTS = /*locale*/ {};
  var TEXT = TEXTS[lang] || {};
  var t = function (k, v) { return (TEXT[k] || k).replace(/\{(\w+)\}/g, function (_, n) { return v && v[n] != null ? v[n] : ''; }); };
  // The account's own words for "closed" or "nobody there", else ours in the visitor's language.
  // When the chat is closed and the server knows when it opens, the visitor reads that too.
  var opensAt = function (iso) {
    return new Date(iso).toLocaleString(lang === 'en' ? 'en-GB' : 'es-CL', { weekday: 'long', day: 'numeric', month: 'long', hour: '2-digit', minute: '2-digit' });
  };
  var noticeOf = function (f) {
    var text = f.notice || (f.notice_code ? t('notice_' + f.notice_code) : '');
    return f.next_open ? text + ' ' + t('opens_at', { when: opensAt(f.next_open) }) : text;
  };
  var KEY = 'atiende-chat:' + base + ':' + account;
  var EMOJI = ['😀', '🙂', '😉', '😍', '🙏', '👍', '👋', '🎉', '😢', '😡', '❤️', '✅'];
  var CSS = [
    ':host{all:initial}',
    '*{box-sizing:border-box;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}',
    '.bubble{position:fixed;right:20px;bottom:20px;min-width:56px;height:56px;padding:0 12px;border-radius:28px;border:0;background:#2357c6;color:#fff;font-size:26px;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25);z-index:2147483000}',
    '.panel{position:fixed;right:20px;bottom:88px;width:340px;max-width:calc(100vw - 40px);height:480px;max-height:calc(100vh - 110px);background:#fff;color:#1d2433;border-radius:12px;box-shadow:0 8px 28px rgba(0,0,0,.28);display:flex;flex-direction:column;overflow:hidden;z-index:2147483000;font-size:14px}',
    '.panel[hidden]{display:none}',
    'header{background:#2357c6;color:#fff;padding:10px 12px;display:flex;align-items:center;gap:8px}',
    'header h2{font-size:15px;margin:0;flex:1}',
    'header button{background:none;border:0;color:#fff;font-size:20px;cursor:pointer}',
    '.notice{background:#fff8e6;border-bottom:1px solid #f0dca8;padding:6px 10px;font-size:13px}',
    '.notice:empty{display:none}',
    '.welcome{margin:10px 10px 0;padding:7px 10px;border-radius:10px;background:#eef1f6;align-self:flex-start}',
    '.welcome:empty{display:none}',
    'form.pre{padding:12px;display:flex;flex-direction:column;gap:6px;overflow:auto}',
    'label{font-size:13px}',
    'input,textarea{font-size:14px;padding:7px 8px;border:1px solid #b9c2d0;border-radius:6px;width:100%}',
    'button.primary{background:#2357c6;color:#fff;border:0;border-radius:6px;padding:8px 12px;font-weight:600;cursor:pointer}',
    'ol{list-style:none;margin:0;padding:10px;flex:1;overflow:auto;display:flex;flex-direction:column;gap:6px}',
    'li{max-width:82%;padding:7px 10px;border-radius:10px;white-space:pre-wrap;overflow-wrap:anywhere}',
    'li.inbound{align-self:flex-end;background:#2357c6;color:#fff}',
    'li.outbound{align-self:flex-start;background:#eef1f6}',
    'li small{display:block;font-size:11px;opacity:.75;margin-top:2px}',
    'li a{color:inherit}',
    'li img{max-width:100%;border-radius:6px;display:block}',
    '.typing{font-size:12px;color:#5b6577;padding:0 10px 4px;min-height:16px}',
    '.error{color:#b42318;font-size:13px;padding:0 10px}',
    '.error:empty{display:none}',
    '.compose{display:flex;gap:6px;padding:8px;border-top:1px solid #dde2ea;align-items:flex-end}',
    '.compose textarea{resize:none;height:38px}',
    '.icon{background:none;border:0;font-size:20px;cursor:pointer;padding:4px}',
    '.emoji{display:flex;flex-wrap:wrap;gap:2px;padding:4px 8px;border-top:1px solid #dde2ea}',
    '.emoji[hidden]{display:none}'
  ].join('\n');

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k.slice(0, 2) === 'on') e.addEventListener(k.slice(2), attrs[k]);
      else if (attrs[k] !== false && attrs[k] != null) e.setAttribute(k, attrs[k] === true ? '' : attrs[k]);
    }
    (children || []).forEach(function (c) { if (c) e.appendChild(c); });
    return e;
  }

  /** Chilean RUT check digit (modulo 11). */
  function validRut(raw) {
    var s = String(raw).replace(/[.\s]/g, '').toUpperCase();
    var m = s.match(/^(\d{1,9})-?([\dK])$/);
    if (!m) return false;
    var sum = 0, mul = 2, body = m[1];
    for (var i = body.length - 1; i >= 0; i--) { sum += Number(body[i]) * mul; mul = mul === 7 ? 2 : mul + 1; }
    var d = 11 - (sum % 11);
    return (d === 11 ? '0' : d === 10 ? 'K' : String(d)) === m[2];
  }

  var host = el('div', { 'data-atiende-chat': account });
  var root = host.attachShadow({ mode: 'open' });
  try {
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    root.adoptedStyleSheets = [sheet];
  } catch (e) { root.appendChild(el('style', { text: CSS })); }

  var token = null;
  try { token = localStorage.getItem(KEY); } catch (e) { /* storage blocked: session only */ }
  var socket = null, retry = 0, retryTimer = null, session = null, maxKb = 1024, lastTyping = 0, typingTimer = null;
  var messages = [];

  var titleEl = el('h2', { text: t('title') });
  var notice = el('div', { class: 'notice', role: 'status' });
  var welcome = el('p', { class: 'welcome' });
  var log = el('ol', { 'aria-live': 'polite' });
  var typing = el('div', { class: 'typing', 'aria-live': 'polite' });
  var error = el('p', { class: 'error', role: 'alert' });
  var text = el('textarea', { 'aria-label': t('placeholder'), placeholder: t('placeholder'), rows: '1' });
  var fileInput = el('input', { type: 'file', hidden: true, 'aria-label': t('file') });
  var emojiBox = el('div', { class: 'emoji', hidden: true });
  EMOJI.forEach(function (em) {
    emojiBox.appendChild(el('button', { type: 'button', class: 'icon', text: em, onclick: function () { text.value += em; text.focus(); } }));
  });
  var compose = el('form', { class: 'compose', onsubmit: function (ev) { ev.preventDefault(); sendText(); } }, [
    el('button', { type: 'button', class: 'icon', 'aria-label': t('emoji'), text: '🙂', onclick: function () { emojiBox.hidden = !emojiBox.hidden; } }),
    el('button', { type: 'button', class: 'icon', 'aria-label': t('file'), text: '📎', onclick: function () { fileInput.click(); } }),
    fileInput, text, el('button', { type: 'submit', class: 'primary', text: t('send') })
  ]);
  var pre = el('form', { class: 'pre', onsubmit: function (ev) { ev.preventDefault(); start(); } }, [
    el('p', { text: t('intro') }),
    el('label', { for: 'ac-name', text: t('name') }), el('input', { id: 'ac-name', name: 'name', required: true, maxlength: '120', autocomplete: 'name' }),
    el('label', { for: 'ac-email', text: t('email') }), el('input', { id: 'ac-email', name: 'email', type: 'email', maxlength: '254', autocomplete: 'email' }),
    el('label', { for: 'ac-rut', text: t('rut') }), el('input', { id: 'ac-rut', name: 'rut', maxlength: '20', placeholder: '12.345.678-5' }),
    el('button', { type: 'submit', class: 'primary', text: t('start') })
  ]);
  var panel = el('section', { class: 'panel', hidden: true, role: 'dialog', 'aria-label': t('title') }, [
    el('header', {}, [titleEl, el('button', { type: 'button', 'aria-label': t('close'), text: '×', onclick: function () { toggle(false); } })]),
    notice, welcome, pre, log, typing, error, emojiBox, compose
  ]);
  var bubble = el('button', { type: 'button', class: 'bubble', 'aria-label': t('open'), text: '💬', onclick: function () { toggle(panel.hidden); } });
  root.appendChild(panel);
  root.appendChild(bubble);

  function showChat(on) {
    pre.hidden = on;
    pre.style.display = on ? 'none' : '';
    log.style.display = on ? '' : 'none';
    compose.style.display = on ? '' : 'none';
    typing.style.display = on ? '' : 'none';
  }
  showChat(false);

  var unread = 0;
  function badge() {
    bubble.textContent = unread ? '💬 ' + unread : '💬';
    bubble.setAttribute('aria-label', unread ? t('open') + ' (' + unread + ')' : t('open'));
  }

  function toggle(open) {
    panel.hidden = !open;
    // The server counts an answer as seen (and does not mail it) only while the panel is open.
    if (socket && socket.readyState === 1) socket.send(JSON.stringify({ type: 'visible', open: !!open }));
    if (open) {
      unread = 0;
      badge();
      if (token && !socket) connect();
      (pre.hidden ? text : pre.querySelector('input')).focus();
      markRead();
    }
  }

  function render() {
    log.textContent = '';
    messages.forEach(function (m) {
      var li = el('li', { class: m.direction, 'data-id': m.id });
      if (m.text) li.appendChild(document.createTextNode(m.text));
      (m.attachments || []).forEach(function (a) {
        var url = base + a.url + '?token=' + encodeURIComponent(token);
        li.appendChild(a.content_type.indexOf('image/') === 0
          ? el('a', { href: url, target: '_blank', rel: 'noopener' }, [el('img', { src: url, alt: a.name })])
          : el('a', { href: url, target: '_blank', rel: 'noopener', text: '📎 ' + a.name }));
      });
      var who = m.direction === 'inbound' ? t('you') : (m.author || t('agent'));
      var mark = m.direction === 'inbound' && m.read ? ' · ✓✓ ' + t('read') : '';
      li.appendChild(el('small', { text: who + mark }));
      log.appendChild(li);
    });
    log.scrollTop = log.scrollHeight;
  }

  function upsert(m) {
    for (var i = 0; i < messages.length; i++) if (messages[i].id === m.id) { m.read = messages[i].read; messages[i] = m; render(); return; }
    messages.push(m);
    if (m.direction === 'outbound') {
      typing.textContent = '';
      if (panel.hidden) { unread += 1; badge(); }
    }
    render();
    markRead();
  }

  function markRead() {
    if (panel.hidden || !socket || socket.readyState !== 1) return;
    var last = null;
    messages.forEach(function (m) { if (m.direction === 'outbound') last = m.id; });
    if (last) socket.send(JSON.stringify({ type: 'read', up_to: last }));
  }

  function send(frame) {
    if (!socket || socket.readyState !== 1) { error.textContent = t('offline'); return false; }
    socket.send(JSON.stringify(frame));
    return true;
  }

  function id() { return Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 10); }

  function sendText() {
    var v = text.value.trim();
    if (!v) return;
    // The next keystroke starts a new "typing" notice.
    if (send({ type: 'message', client_id: id(), text: v })) { text.value = ''; error.textContent = ''; lastTyping = 0; }
  }

  fileInput.addEventListener('change', function () {
    var f = fileInput.files && fileInput.files[0];
    fileInput.value = '';
    if (!f) return;
    if (f.size > maxKb * 1024) { error.textContent = t('too_large', { kb: maxKb }); return; }
    var reader = new FileReader();
    reader.onload = function () {
      var data = String(reader.result).split(',')[1] || '';
      if (send({ type: 'file', client_id: id(), name: f.name, content_type: f.type || 'application/octet-stream', data: data })) error.textContent = '';
    };
    reader.readAsDataURL(f);
  });

  text.addEventListener('keydown', function (ev) { if (ev.key === 'Enter' && !ev.shiftKey) { ev.preventDefault(); sendText(); } });
  text.addEventListener('input', function () {
    var now = Date.now();
    if (now - lastTyping > 2000) { lastTyping = now; send({ type: 'typing' }); }
  });

  function start() {
    var f = new FormData(pre);
    var name = String(f.get('name') || '').trim(), email = String(f.get('email') || '').trim(), rut = String(f.get('rut') || '').trim();
    if (!name) { error.textContent = t('need_name'); return; }
    if (email && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) { error.textContent = t('bad_email'); return; }
    if (rut && !validRut(rut)) { error.textContent = t('bad_rut'); return; }
    error.textContent = '';
    session = { type: 'start', name: name, email: email || null, rut: rut || null };
    connect();
  }

  function connect() {
    clearTimeout(retryTimer);
    var ws = new WebSocket(base.replace(/^http/, 'ws') + '/api/v1/chat/' + encodeURIComponent(account) + '/ws');
    socket = ws;
    ws.onopen = function () {
      ws.send(JSON.stringify(token ? { type: 'hello', token: token } : session));
    };
    ws.onmessage = function (ev) {
      var f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      if (f.type === 'session') {
        retry = 0;
        if (f.token) { token = f.token; try { localStorage.setItem(KEY, token); } catch (e) { /* session only */ } }
        maxKb = f.max_file_kb || maxKb;
        titleEl.textContent = f.title || t('title');
        notice.textContent = noticeOf(f);
        welcome.textContent = f.welcome || '';
        messages = f.messages || [];
        error.textContent = '';
        showChat(true);
        render();
        ws.send(JSON.stringify({ type: 'visible', open: !panel.hidden }));
        markRead();
      } else if (f.type === 'message') {
        upsert(f.message);
      } else if (f.type === 'typing') {
        typing.textContent = t('typing', { name: f.name || t('agent') });
        clearTimeout(typingTimer);
        typingTimer = setTimeout(function () { typing.textContent = ''; }, 6000);
      } else if (f.type === 'read') {
        messages.forEach(function (m) { if (m.direction === 'inbound') m.read = true; });
        render();
      } else if (f.type === 'status') {
        notice.textContent = noticeOf(f);
      } else if (f.type === 'error') {
        if (f.code === 'session_expired') {
          token = null;
          try { localStorage.removeItem(KEY); } catch (e) { /* ignore */ }
          showChat(false);
        }
        // The visitor reads their language, never the server's English words.
        error.textContent = f.code === 'file_too_large' ? t('too_large', { kb: maxKb })
          : Object.prototype.hasOwnProperty.call(TEXT, f.code) ? t(f.code) : t('error');
      }
    };
    ws.onclose = function () {
      if (socket !== ws) return;
      socket = null;
      // Reconnect while there is a conversation to follow.
      if (token) {
        retry = Math.min(retry + 1, 6);
        error.textContent = panel.hidden ? '' : t('offline');
        retryTimer = setTimeout(connect, 500 * Math.pow(2, retry - 1));
      }
    };
  }

  window.AtiendeChat = { open: function () { toggle(true); }, close: function () { toggle(false); } };
  (document.body || document.documentElement).appendChild(host);
  // A returning visitor follows their conversation (and gets answers) from the first moment.
  if (token) connect();
})();
