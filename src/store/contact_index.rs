//! The contacts list index (Contactos, ORG-3). Every contact has a few keys in `CONTACT_INDEX`:
//!
//! ```text
//! sort:u8 | dimension:u8 | dimension value:u64 BE | order:u64 BE | contact id:u64 BE
//! ```
//!
//! `sort` is 1 for creation time, 2 for last contact and 3 for name (`order` = the first eight
//! bytes of the folded name). Every contact has an "all" key per sort; by creation and last
//! contact it also has one per label, channel, influencer (when true) and choice-field value,
//! so a list filtered by one of those reads only the contacts that have it, already in order.
//! Filters the chosen dimension does not cover are checked on the record, and a page reads at
//! most `MAX_SCAN` rows before it ends with a cursor: no page ever walks every contact.

use std::collections::HashMap;

use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::codec;
use super::tables::*;
use super::tickets::Access;
use crate::domain::fields;
use crate::domain::*;
use crate::error::{AppError, AppResult};

const KEY_LEN: usize = 26;
/// Rows a page reads at most; past that it ends early with a cursor.
pub const MAX_SCAN: usize = 5_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContactSort {
    #[default]
    CreatedDesc,
    CreatedAsc,
    LastContactDesc,
    LastContactAsc,
    NameAsc,
    NameDesc,
}

impl ContactSort {
    pub fn parse(s: &str) -> Option<ContactSort> {
        Some(match s {
            "created_desc" => ContactSort::CreatedDesc,
            "created_asc" => ContactSort::CreatedAsc,
            "last_contact_desc" => ContactSort::LastContactDesc,
            "last_contact_asc" => ContactSort::LastContactAsc,
            "name_asc" => ContactSort::NameAsc,
            "name_desc" => ContactSort::NameDesc,
            _ => return None,
        })
    }
    fn code(self) -> u8 {
        match self {
            ContactSort::CreatedDesc | ContactSort::CreatedAsc => 1,
            ContactSort::LastContactDesc | ContactSort::LastContactAsc => 2,
            ContactSort::NameAsc | ContactSort::NameDesc => 3,
        }
    }
    fn descending(self) -> bool {
        matches!(
            self,
            ContactSort::CreatedDesc | ContactSort::LastContactDesc | ContactSort::NameDesc
        )
    }
}

const DIM_ALL: u8 = 0;
const DIM_LABEL: u8 = 1;
const DIM_CHANNEL: u8 = 2;
const DIM_INFLUENCER: u8 = 3;
const DIM_FIELD: u8 = 4;

/// When the customer last wrote (creation, for those who never did).
pub fn last_contact(c: &Contact) -> Millis {
    c.last_contact_at.max(c.created_at)
}

/// The first eight bytes of the name, lower-cased without accents, as a sortable number.
fn name_order(name: &str) -> u64 {
    let mut bytes = [0u8; 8];
    let folded = crate::domain::fold(name);
    for (slot, b) in bytes.iter_mut().zip(folded.bytes()) {
        *slot = b;
    }
    u64::from_be_bytes(bytes)
}

fn key(sort: u8, dim: u8, value: u64, order: u64, id: u64) -> [u8; KEY_LEN] {
    let mut k = [0u8; KEY_LEN];
    k[0] = sort;
    k[1] = dim;
    k[2..10].copy_from_slice(&value.to_be_bytes());
    k[10..18].copy_from_slice(&order.to_be_bytes());
    k[18..26].copy_from_slice(&id.to_be_bytes());
    k
}

/// Every key of `c`; `channel_of` names the channel of an account.
pub fn keys_of(c: &Contact, channel_of: &impl Fn(u64) -> Option<Channel>) -> Vec<[u8; KEY_LEN]> {
    let mut dims: Vec<(u8, u64)> = Vec::new();
    for l in &c.labels {
        dims.push((DIM_LABEL, *l));
    }
    for i in &c.identities {
        if let Some(ch) = channel_of(i.account_id) {
            let d = (DIM_CHANNEL, u64::from(ch.code()));
            if !dims.contains(&d) {
                dims.push(d);
            }
        }
    }
    if c.influencer {
        dims.push((DIM_INFLUENCER, 1));
    }
    for h in fields::value_hashes(&c.fields) {
        dims.push((DIM_FIELD, h));
    }
    let mut keys = vec![
        key(1, DIM_ALL, 0, c.created_at as u64, c.id),
        key(2, DIM_ALL, 0, last_contact(c) as u64, c.id),
        key(3, DIM_ALL, 0, name_order(&c.name), c.id),
    ];
    for (dim, value) in dims {
        keys.push(key(1, dim, value, c.created_at as u64, c.id));
        keys.push(key(2, dim, value, last_contact(c) as u64, c.id));
    }
    keys
}

/// The channel of each account (a few rows: read once per change or list).
pub fn channels(accounts: &[Account]) -> HashMap<u64, Channel> {
    accounts.iter().map(|a| (a.id, a.kind)).collect()
}

/// An account record as far as the index needs it.
#[derive(serde::Deserialize)]
struct KindOf {
    kind: Channel,
}

/// Keeps the index of one contact: `before` (None for a new one) → `after`.
pub fn update(txn: &WriteTransaction, before: Option<&Contact>, after: &Contact) -> AppResult<()> {
    let accounts_touched: Vec<u64> = after
        .identities
        .iter()
        .chain(before.iter().flat_map(|b| b.identities.iter()))
        .map(|i| i.account_id)
        .collect();
    let mut kinds: HashMap<u64, Channel> = HashMap::new();
    if !accounts_touched.is_empty() {
        let t = txn.open_table(ACCOUNT_ID_TO_ACCOUNT)?;
        for id in accounts_touched {
            if let std::collections::hash_map::Entry::Vacant(e) = kinds.entry(id) {
                // Only the kind is read: an account's settings are skipped, not built.
                if let Some(a) = codec::get::<KindOf>(&t, id)? {
                    e.insert(a.kind);
                }
            }
        }
    }
    let channel_of = |id: u64| kinds.get(&id).copied();
    let old = before.map(|b| keys_of(b, &channel_of)).unwrap_or_default();
    let new = keys_of(after, &channel_of);
    if old == new {
        return Ok(());
    }
    let mut table = txn.open_table(CONTACT_INDEX)?;
    for k in old.iter().filter(|k| !new.contains(k)) {
        table.remove(k.as_slice())?;
    }
    for k in new.iter().filter(|k| !old.contains(k)) {
        table.insert(k.as_slice(), ())?;
    }
    Ok(())
}

/// (order, contact id) of the last contact a page showed.
pub type Cursor = (u64, u64);

/// What the Contactos screen asks for.
#[derive(Debug, Clone, Default)]
pub struct ContactQuery {
    pub label: Option<u64>,
    pub channel: Option<Channel>,
    pub influencer: Option<bool>,
    /// (field id, wanted value).
    pub field: Option<(String, String)>,
    pub created_from: Option<Millis>,
    pub created_to: Option<Millis>,
    pub last_from: Option<Millis>,
    pub last_to: Option<Millis>,
    pub sort: ContactSort,
    /// (order, id) of the last contact of the previous page.
    pub after: Option<(u64, u64)>,
    pub limit: usize,
}

impl ContactQuery {
    /// Whether `c` passes every filter (`kinds`: each account's channel).
    pub fn matches(&self, c: &Contact, kinds: &HashMap<u64, Channel>) -> bool {
        let within = |t: Millis, from: Option<Millis>, to: Option<Millis>| {
            from.is_none_or(|f| t >= f) && to.is_none_or(|x| t < x)
        };
        self.label.is_none_or(|l| c.labels.contains(&l))
            && self.channel.is_none_or(|ch| {
                c.identities
                    .iter()
                    .any(|i| kinds.get(&i.account_id) == Some(&ch))
            })
            && self.influencer.is_none_or(|i| c.influencer == i)
            && self.field.as_ref().is_none_or(|(f, want)| {
                c.fields
                    .get(f)
                    .is_some_and(|v| fields::value_matches(v, want))
            })
            && within(c.created_at, self.created_from, self.created_to)
            && within(last_contact(c), self.last_from, self.last_to)
    }

    /// The dimension read: the one that probably holds the fewest contacts.
    fn dimension(&self) -> (u8, u64) {
        if self.sort.code() == 3 {
            return (DIM_ALL, 0);
        }
        if let Some((f, v)) = &self.field {
            return (DIM_FIELD, fields::value_hash(f, v));
        }
        if let Some(l) = self.label {
            return (DIM_LABEL, l);
        }
        if self.influencer == Some(true) {
            return (DIM_INFLUENCER, 1);
        }
        if let Some(ch) = self.channel {
            return (DIM_CHANNEL, u64::from(ch.code()));
        }
        (DIM_ALL, 0)
    }

    /// The order range a page may read (the sort's own time filter bounds the scan).
    fn order_range(&self) -> (u64, u64) {
        let (from, to) = match self.sort.code() {
            1 => (self.created_from, self.created_to),
            2 => (self.last_from, self.last_to),
            _ => (None, None),
        };
        (
            from.map_or(0, |f| f.max(0) as u64),
            to.map_or(u64::MAX, |t| (t.max(0) as u64).saturating_sub(1)),
        )
    }
}

/// One page of contacts `access` may see, in the query's order, and the cursor of the next
/// page when something may be left.
pub fn list(
    txn: &ReadTransaction,
    q: &ContactQuery,
    access: &Access,
) -> AppResult<(Vec<Contact>, Option<Cursor>)> {
    let kinds = channels(&super::accounts::list(txn)?);
    let index = txn.open_table(CONTACT_INDEX)?;
    let records = txn.open_table(CONTACT_ID_TO_CONTACT)?;
    let (dim, value) = q.dimension();
    let sort = q.sort.code();
    let (mut lo, mut hi) = q.order_range();
    let (mut lo_id, mut hi_id) = (0, u64::MAX);
    // A field value's key is a hash; the record check below makes a match exact.
    if let Some((order, id)) = q.after {
        if q.sort.descending() {
            (hi, hi_id) = (order, id.saturating_sub(1));
            if id == 0 {
                hi = hi.saturating_sub(1);
                hi_id = u64::MAX;
            }
        } else {
            (lo, lo_id) = (order, id.saturating_add(1));
        }
    }
    if lo > hi {
        return Ok((Vec::new(), None));
    }
    let start = key(sort, dim, value, lo, lo_id);
    let end = key(sort, dim, value, hi, hi_id);
    let range = index.range(start.as_slice()..=end.as_slice())?;
    let rows: Box<dyn Iterator<Item = _>> = if q.sort.descending() {
        Box::new(range.rev())
    } else {
        Box::new(range)
    };
    let mut out = Vec::new();
    for (scanned, row) in rows.enumerate() {
        let (k, _) = row?;
        let k = k.value();
        let order = read_u64(k, 10)?;
        let id = read_u64(k, 18)?;
        if out.len() == q.limit || scanned == MAX_SCAN {
            // Something is left: the next page starts after the last row read.
            let resume = if out.len() == q.limit {
                out.last().map(|c: &Contact| (order_of(q.sort, c), c.id))
            } else {
                None
            };
            return Ok((out, Some(resume.unwrap_or(step_back(q.sort, order, id)))));
        }
        let Some(c) = codec::get::<Contact>(&records, id)? else {
            continue;
        };
        if q.matches(&c, &kinds) && super::contacts::may_see(txn, &c, access)? {
            out.push(c);
        }
    }
    Ok((out, None))
}

/// The cursor that makes the next page start at (order, id) itself.
fn step_back(sort: ContactSort, order: u64, id: u64) -> (u64, u64) {
    if sort.descending() {
        match id.checked_add(1) {
            Some(next) => (order, next),
            None => (order.saturating_add(1), 0),
        }
    } else {
        match id.checked_sub(1) {
            Some(prev) => (order, prev),
            None => (order.saturating_sub(1), u64::MAX),
        }
    }
}

fn order_of(sort: ContactSort, c: &Contact) -> u64 {
    match sort.code() {
        1 => c.created_at as u64,
        2 => last_contact(c) as u64,
        _ => name_order(&c.name),
    }
}

fn read_u64(k: &[u8], at: usize) -> AppResult<u64> {
    k.get(at..at + 8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| AppError::internal("short contact index key"))
}

/// Builds the whole index (schema 11, and `atiende` repair paths).
pub fn rebuild(txn: &WriteTransaction) -> AppResult<u64> {
    let kinds = channels(&super::accounts::list_w(txn)?);
    let channel_of = |id: u64| kinds.get(&id).copied();
    let mut index = txn.open_table(CONTACT_INDEX)?;
    index.retain(|_, _| false)?;
    let records = txn.open_table(CONTACT_ID_TO_CONTACT)?;
    let mut n = 0;
    for row in records.iter()? {
        let (_, v) = row?;
        let c: Contact = codec::decode(v.value())?;
        for k in keys_of(&c, &channel_of) {
            index.insert(k.as_slice(), ())?;
        }
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_without_accents_or_case() {
        assert!(name_order("álvaro") < name_order("Beatriz"));
        assert!(name_order("Zoe") > name_order("yolanda"));
        assert_eq!(name_order("Ana"), name_order("ana"));
    }

    #[test]
    fn a_page_resumes_where_it_stopped() {
        assert_eq!(step_back(ContactSort::CreatedDesc, 5, 9), (5, 10));
        assert_eq!(step_back(ContactSort::CreatedAsc, 5, 9), (5, 8));
        assert_eq!(step_back(ContactSort::CreatedAsc, 5, 0), (4, u64::MAX));
    }
}
