// Backups (OPS-3) for administrators: the last backup and what the backup dir holds, the
// schedule, and "back up now". Restores stay on the command line (`atiende restore`): they
// go into an empty data dir with the server stopped.
import { html, useEffect, useState } from './vendor/htm-preact-standalone-3.1.1.js';
import { api, lang, t, when } from './lib.js';
import { Section, StatusLine, useStatus } from './admin-kit.js';

/** Bytes as megabytes in the user's language (also the disk space screen's). */
export const mb = (bytes) => t('backups.size_mb', {
  n: (bytes / 1e6).toLocaleString(lang === 'en' ? 'en-GB' : 'es-CL', { maximumFractionDigits: 1, minimumFractionDigits: 1 }),
});

export function Backups() {
  const [data, setData] = useState(null);
  const [busy, setBusy] = useState(false);
  const [status, ok, fail] = useStatus();
  const load = () => api('GET', '/api/v1/backups').then(setData).catch((e) => fail(e.message));
  useEffect(() => { load(); }, []);
  const now = async () => {
    setBusy(true);
    try {
      const made = await api('POST', '/api/v1/backups', {});
      ok(t('backups.done', { file: made.file }));
      await load();
    } catch (e) {
      fail(e.message);
      await load();
    } finally {
      setBusy(false);
    }
  };
  const last = data?.last;
  return html`<${Section} id="backups-title" title=${t('backups.title')} hint=${t('backups.hint')}>
    ${data && html`<dl class="backup-facts">
      <dt>${t('backups.last')}</dt>
      <dd class="last-backup">${!last ? t('backups.never')
        : last.error ? t('backups.failed', { at: when(last.at), error: last.error })
          : `${when(last.at)} — ${last.file || t('backups.by_command')} (${mb(last.bytes)})`}</dd>
      <dt>${t('backups.schedule')}</dt>
      <dd>${data.every_hours ? t('backups.every', { hours: data.every_hours, keep: data.keep, dir: data.dir }) : t('backups.off')}</dd>
    </dl>
    <table class="backup-files"><caption>${t('backups.files')}</caption>
      <thead><tr><th scope="col">${t('backups.file')}</th><th scope="col">${t('backups.size')}</th></tr></thead>
      <tbody>${data.files.length === 0
        ? html`<tr><td colspan="2" class="muted">${t('backups.none')}</td></tr>`
        : [...data.files].reverse().map((f) => html`<tr><td><code>${f.name}</code></td><td>${mb(f.bytes)}</td></tr>`)}</tbody>
    </table>`}
    <button type="button" onClick=${now} disabled=${busy}>${t(busy ? 'backups.running' : 'backups.now')}</button>
    <${StatusLine} status=${status} />
  </${Section}>`;
}
