// Pieces the administration pages share: a titled section and a save-status line.
import { html, useState } from './vendor/htm-preact-standalone-3.1.1.js';
import { t } from './lib.js';

/** A form's Cancel and Save buttons. */
export const SaveCancel = ({ onCancel }) => html`<div class="dialog-actions">
  <button type="button" onClick=${onCancel}>${t('action.cancel')}</button>
  <button type="submit" class="primary">${t('action.save')}</button>
</div>`;

export function Section({ id, title, hint, children }) {
  return html`<section class="admin-section" aria-labelledby=${id}>
    <h2 id=${id}>${title}</h2>${hint && html`<p class="hint">${hint}</p>`}${children}</section>`;
}

export function useStatus() {
  const [status, setStatus] = useState({ ok: '', error: '' });
  return [status, (ok) => setStatus({ ok, error: '' }), (error) => setStatus({ ok: '', error })];
}

export const StatusLine = ({ status }) => html`<p class="error" role="alert">${status.error}</p>
  ${status.ok && html`<p class="ok" role="status">${status.ok}</p>`}`;
