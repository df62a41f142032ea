// Reply drafts (TICK-7), per user and ticket, kept in this browser: the text, the files already
// uploaded for it and the message it answers survive switching tickets, Esc and reloads, and
// leave only when sent or discarded (after a question).
const PREFIX = 'atiende-draft:';
const key = (me, number) => `${PREFIX}${me.id}:${number}`;

// The tickets this user has a draft for, read from storage once (cards ask on every render).
let marked = null; // { user, numbers: Set }
function numbersOf(me) {
  if (marked?.user !== me.id) {
    const numbers = new Set();
    try {
      const mine = `${PREFIX}${me.id}:`;
      for (let i = 0; i < localStorage.length; i++) {
        const k = localStorage.key(i);
        if (k?.startsWith(mine)) numbers.add(Number(k.slice(mine.length)));
      }
    } catch { /* storage off: no drafts kept */ }
    marked = { user: me.id, numbers };
  }
  return marked.numbers;
}

export function loadDraft(me, number) {
  try { return JSON.parse(localStorage.getItem(key(me, number)) ?? 'null'); } catch { return null; }
}

export const isEmpty = (d) => !d || (!d.text?.trim() && !(d.files?.length) && !d.replyTo);

export function saveDraft(me, number, draft) {
  const numbers = numbersOf(me);
  try {
    if (isEmpty(draft)) { localStorage.removeItem(key(me, number)); numbers.delete(number); }
    else { localStorage.setItem(key(me, number), JSON.stringify(draft)); numbers.add(number); }
  } catch { /* storage full or off: the draft lives as long as the page */ }
}

export const hasDraft = (me, number) => numbersOf(me).has(number);

/** What a draft keeps of the message it answers (enough to show "answering …"). */
export const replyRef = (m) => m && { id: m.id, author: { name: m.author?.name ?? '' }, text: (m.text ?? '').slice(0, 200) };
