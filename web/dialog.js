// A modal dialog: focus moves in, Tab stays in, Esc closes it (and nothing behind it).
import { html, useEffect, useRef } from './vendor/htm-preact-standalone-3.1.1.js';

const FOCUSABLE = 'button:not([disabled]), [href], input:not([disabled]):not([type="hidden"]), select, textarea, [tabindex]:not([tabindex="-1"])';

export function Dialog({ labelledBy, onClose, onSubmit, className = '', children }) {
  const box = useRef(null);
  useEffect(() => {
    const before = document.activeElement;
    const first = box.current?.querySelector('[autofocus]') ?? box.current?.querySelector(FOCUSABLE);
    first?.focus();
    return () => before?.focus?.();
  }, []);
  const onKeyDown = (ev) => {
    if (ev.key === 'Escape') { ev.stopPropagation(); ev.preventDefault(); onClose(); return; }
    if (ev.key !== 'Tab') { ev.stopPropagation(); return; } // no board shortcuts behind a dialog
    const all = [...box.current.querySelectorAll(FOCUSABLE)];
    if (all.length === 0) return;
    const [first, last] = [all[0], all[all.length - 1]];
    if (ev.shiftKey && document.activeElement === first) { last.focus(); ev.preventDefault(); }
    else if (!ev.shiftKey && document.activeElement === last) { first.focus(); ev.preventDefault(); }
  };
  const Tag = onSubmit ? 'form' : 'div';
  return html`<div class="dialog-backdrop" onClick=${onClose}>
    <${Tag} class=${`dialog ${className}`} role="dialog" aria-modal="true" aria-labelledby=${labelledBy} ref=${box}
      onSubmit=${onSubmit} onKeyDown=${onKeyDown} onClick=${(e) => e.stopPropagation()}>${children}<//>
  </div>`;
}
