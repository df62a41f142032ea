// The second factor (AUTH-3): enrolment with the QR code the server draws, confirmed with a
// first code; the recovery codes shown once; new codes; turning it off. Also the
// administrators' setting of which roles must use it (Administración › Seguridad).
import { html, useEffect, useState } from './vendor/htm-preact-standalone-3.1.1.js';
import { api, t } from './lib.js';
import { Section, StatusLine, useStatus } from './admin-kit.js';

/** The enrolment flow and, once on, its controls. `required`: the role must use it. */
export function TwoFactor({ me, required = me.two_factor_setup_required, onEnrolled }) {
  const [on, setOn] = useState(me.two_factor);
  const [step, setStep] = useState(null); // null | 'password' | {enrolment} | {codes}
  const [action, setAction] = useState(null); // 'disable' | 'renew', asking the password
  const [status, ok, fail] = useStatus();
  const form = (f) => async (ev) => {
    ev.preventDefault();
    try { await f(Object.fromEntries(new FormData(ev.target))); } catch (e) { fail(e.message); }
  };
  const start = form(async (v) => setStep({ enrolment: await api('POST', '/api/v1/me/two_factor', { current_password: v.current_password }) }));
  const confirm = form(async (v) => {
    const r = await api('POST', '/api/v1/me/two_factor/confirm', { code: v.code });
    setOn(true);
    setStep({ codes: r.recovery_codes });
    ok(t('two_factor.enabled'));
  });
  const other = form(async (v) => {
    if (action === 'disable') {
      await api('DELETE', '/api/v1/me/two_factor', { current_password: v.current_password });
      setOn(false); setAction(null); ok(t('two_factor.disabled'));
    } else {
      const r = await api('POST', '/api/v1/me/two_factor/recovery_codes', { current_password: v.current_password });
      setAction(null); setStep({ codes: r.recovery_codes });
    }
  });
  const password = (submit, label) => html`<form class="user-form" aria-label=${label} onSubmit=${submit}>
    <label>${t('profile.current_password')} <input name="current_password" type="password" autocomplete="current-password" required /></label>
    <div class="dialog-actions"><button type="submit" class="primary">${label}</button></div></form>`;
  return html`<${Section} id="two-factor-title" title=${t('two_factor.title')} hint=${t('two_factor.hint')}>
    ${required && !on && html`<p class="notice" role="alert">${t('two_factor.required')}</p>`}
    ${step?.codes ? html`<div class="recovery" role="region" aria-label=${t('two_factor.codes_title')}>
        <p>${t('two_factor.codes_once')}</p>
        <ul class="recovery-codes">${step.codes.map((c) => html`<li><code>${c}</code></li>`)}</ul>
        <button type="button" class="primary" onClick=${() => { setStep(null); onEnrolled?.(); }}>${t('two_factor.codes_saved')}</button>
      </div>`
    : step?.enrolment ? html`<div class="enrol">
        <ol>
          <li>${t('two_factor.scan')}<br /><img class="qr" alt=${t('two_factor.qr_alt')}
            src=${`data:image/svg+xml;base64,${btoa(step.enrolment.qr_svg)}`} /></li>
          <li>${t('two_factor.or_type')} <code class="secret">${step.enrolment.secret}</code></li>
          <li><form class="inline-form" aria-label=${t('two_factor.confirm')} onSubmit=${confirm}>
            <label for="totp-code">${t('two_factor.code')}</label>
            <input id="totp-code" name="code" inputmode="numeric" autocomplete="one-time-code" required maxlength="7" />
            <button type="submit" class="primary">${t('two_factor.confirm')}</button></form></li>
        </ol></div>`
    : on ? html`<p class="ok">${t('two_factor.on')}</p>
        ${action ? password(other, t(action === 'disable' ? 'two_factor.disable' : 'two_factor.renew'))
          : html`<div class="dialog-actions start">
            <button type="button" class="small" onClick=${() => setAction('renew')}>${t('two_factor.renew')}</button>
            ${!required && html`<button type="button" class="small danger" onClick=${() => setAction('disable')}>${t('two_factor.disable')}</button>`}</div>`}`
    : step === 'password' ? password(start, t('two_factor.start'))
    : html`<p>${t('two_factor.off')}</p><button type="button" class="primary" onClick=${() => setStep('password')}>${t('two_factor.start')}</button>`}
    <${StatusLine} status=${status} />
  <//>`;
}

/** Administración › Seguridad: the roles that must sign in with a second factor. */
export function Security() {
  const [roles, setRoles] = useState(null);
  const [status, ok, fail] = useStatus();
  useEffect(() => { api('GET', '/api/v1/settings/two_factor').then((r) => setRoles(r.required_roles)).catch((e) => fail(e.message)); }, []);
  if (!roles) return html`<p class="loading">${t('loading')}</p><${StatusLine} status=${status} />`;
  const save = async (ev) => {
    ev.preventDefault();
    try { setRoles((await api('PUT', '/api/v1/settings/two_factor', { required_roles: roles })).required_roles); ok(t('admin.saved')); } catch (e) { fail(e.message); }
  };
  return html`<${Section} id="security-title" title=${t('admin.nav.security')} hint=${t('security.hint')}>
    <form aria-label=${t('security.required_roles')} onSubmit=${save}>
      <fieldset><legend>${t('security.required_roles')}</legend>
        ${['admin', 'supervisor', 'agent'].map((r) => html`<label class="check"><input type="checkbox" checked=${roles.includes(r)}
          onChange=${(e) => setRoles(e.target.checked ? [...roles, r] : roles.filter((x) => x !== r))} /> ${t(`role.${r}`)}</label>`)}
      </fieldset>
      <button type="submit" class="primary">${t('action.save')}</button>
    </form>
    <${StatusLine} status=${status} />
  <//>`;
}
