// Espacio en disco (issue 21) for administrators: what the database takes on disk, the last
// compaction (nightly or asked for) and "compact now". While one runs the screen follows it.
import { html, useEffect, useState } from './vendor/htm-preact-standalone-3.1.1.js';
import { api, errorText, lang, t, when } from './lib.js';
import { Section, StatusLine, useStatus } from './admin-kit.js';
import { mb } from './backups.js';

const seconds = (s) => (s ?? 0).toLocaleString(lang === 'en' ? 'en-GB' : 'es-CL', { maximumFractionDigits: 1 });

/** Why a compaction failed, in the user's language when its code is one people meet. */
const failure = (c) => errorText({ error: { code: c.error_code, message: c.error } });

function Outcome({ c }) {
  const by = c.by ?? t('storage.nightly');
  if (c.state === 'running') return html`<span class="compaction-running">${t('storage.running', { at: when(c.started_at), by })}</span>`;
  if (c.state === 'failed') return html`<span class="compaction-failed">${t('storage.failed', { at: when(c.finished_at ?? c.started_at), by, error: failure(c) })}</span>`;
  return html`<span class="compaction-done">${t('storage.result', {
    at: when(c.finished_at ?? c.started_at), by, before: mb(c.before.on_disk), after: mb(c.after?.on_disk ?? 0),
    repack: seconds(c.repack_seconds), pause: seconds(c.pause_seconds),
  })}</span>`;
}

export function Storage() {
  const [data, setData] = useState(null);
  const [status, ok, fail] = useStatus();
  const running = data?.compaction?.state === 'running';
  const load = () => api('GET', '/api/v1/storage').then(setData).catch((e) => fail(e.message));
  useEffect(() => { load(); }, []);
  // Follows a compaction until it ends, then says how it went.
  useEffect(() => {
    if (!running) return undefined;
    const timer = setInterval(async () => {
      try {
        const next = await api('GET', '/api/v1/storage');
        setData(next);
        const c = next.compaction;
        if (c?.state === 'done') ok(t('storage.done', { before: mb(c.before.on_disk), after: mb(c.after?.on_disk ?? 0) }));
        if (c?.state === 'failed') fail(failure(c));
      } catch (e) {
        fail(e.message);
      }
    }, 2000);
    return () => clearInterval(timer);
  }, [running]);
  const now = async () => {
    try {
      const started = await api('POST', '/api/v1/storage/compact', {});
      ok('');
      setData({ ...data, compaction: started });
    } catch (e) {
      fail(e.message);
      await load();
    }
  };
  return html`<${Section} id="storage-title" title=${t('storage.title')} hint=${t('storage.hint')}>
    ${data && html`<dl class="storage-facts">
      <dt>${t('storage.database')}</dt>
      <dd class="database-size">${t('storage.size', { on_disk: mb(data.database.on_disk), length: mb(data.database.length) })}</dd>
      <dt>${t('storage.last')}</dt>
      <dd class="last-compaction">${data.compaction ? html`<${Outcome} c=${data.compaction} />` : t('storage.never')}</dd>
    </dl>`}
    <button type="button" class="compact-now" onClick=${now} disabled=${!data || running}>${t(running ? 'storage.compacting' : 'storage.now')}</button>
    <${StatusLine} status=${status} />
  </${Section}>`;
}
