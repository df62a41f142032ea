//! Accounts (connected channel identities) and who may work on them (ASSIGN-1).

use std::collections::HashSet;

use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::tables::*;
use super::{codec, event, next_id, Effects};
use crate::domain::*;
use crate::error::{AppError, AppResult};

pub fn get(txn: &ReadTransaction, id: u64) -> AppResult<Option<Account>> {
    codec::get(&txn.open_table(ACCOUNT_ID_TO_ACCOUNT)?, id)
}

/// Live (not deleted) accounts.
pub fn list(txn: &ReadTransaction) -> AppResult<Vec<Account>> {
    let all: Vec<Account> = codec::all(&txn.open_table(ACCOUNT_ID_TO_ACCOUNT)?)?;
    Ok(all.into_iter().filter(|a| a.deleted_at.is_none()).collect())
}

/// Live accounts, inside a write.
pub fn list_w(txn: &WriteTransaction) -> AppResult<Vec<Account>> {
    let all: Vec<Account> = codec::all(&txn.open_table(ACCOUNT_ID_TO_ACCOUNT)?)?;
    Ok(all.into_iter().filter(|a| a.deleted_at.is_none()).collect())
}

pub fn create(
    txn: &WriteTransaction,
    fx: &mut Effects,
    kind: Channel,
    name: &str,
    settings: serde_json::Map<String, serde_json::Value>,
    now: Millis,
) -> AppResult<Account> {
    let account = Account {
        id: next_id(txn, "account")?,
        kind,
        name: name.to_string(),
        settings,
        created_at: now,
        deleted_at: None,
    };
    put(txn, fx, &account)?;
    Ok(account)
}

pub fn put(txn: &WriteTransaction, fx: &mut Effects, account: &Account) -> AppResult<()> {
    // An account's settings are a channel's credentials: caches keyed by the auth
    // generation (the webhooks' account list) read them again.
    super::auth_writes::mark();
    txn.open_table(ACCOUNT_ID_TO_ACCOUNT)?
        .insert(account.id, codec::encode(account)?.as_slice())?;
    let mut e = event(EventKind::AccountUpdated);
    e.account_id = Some(account.id);
    fx.emit(e);
    Ok(())
}

/// A live account or a 404.
pub fn require_w(txn: &WriteTransaction, id: u64) -> AppResult<Account> {
    get_w(txn, id)?.ok_or_else(|| AppError::not_found("account"))
}

/// A live account, if there is one.
pub fn get_w(txn: &WriteTransaction, id: u64) -> AppResult<Option<Account>> {
    Ok(
        codec::get::<Account>(&txn.open_table(ACCOUNT_ID_TO_ACCOUNT)?, id)?
            .filter(|a| a.deleted_at.is_none()),
    )
}

/// A user's (account, mode) rows, from either kind of transaction's table.
fn modes_in(
    t: &impl ReadableTable<(u64, u64), u8>,
    user_id: u64,
) -> AppResult<Vec<(u64, AssignMode)>> {
    let mut out = Vec::new();
    for row in t.range((user_id, 0)..=(user_id, u64::MAX))? {
        let (k, v) = row?;
        out.push((k.value().1, AssignMode::from_code(v.value())));
    }
    Ok(out)
}

pub fn modes_of_user_w(txn: &WriteTransaction, user_id: u64) -> AppResult<Vec<(u64, AssignMode)>> {
    modes_in(&txn.open_table(USER_ACCOUNT_TO_MODE)?, user_id)
}

pub fn modes_of_user(txn: &ReadTransaction, user_id: u64) -> AppResult<Vec<(u64, AssignMode)>> {
    modes_in(&txn.open_table(USER_ACCOUNT_TO_MODE)?, user_id)
}

/// The accounts an agent may see: those they are enabled on (manual or auto).
pub fn visible_to(txn: &ReadTransaction, user_id: u64) -> AppResult<HashSet<u64>> {
    Ok(modes_of_user(txn, user_id)?
        .into_iter()
        .filter(|(_, m)| *m != AssignMode::Disabled)
        .map(|(a, _)| a)
        .collect())
}

pub fn all_modes(txn: &ReadTransaction) -> AppResult<Vec<(u64, u64, AssignMode)>> {
    let t = txn.open_table(USER_ACCOUNT_TO_MODE)?;
    let mut out = Vec::new();
    for row in t.iter()? {
        let (k, v) = row?;
        let (u, a) = k.value();
        out.push((u, a, AssignMode::from_code(v.value())));
    }
    Ok(out)
}

pub fn set_mode(
    txn: &WriteTransaction,
    user_id: u64,
    account_id: u64,
    mode: AssignMode,
) -> AppResult<()> {
    let mut t = txn.open_table(USER_ACCOUNT_TO_MODE)?;
    let mut by_account = txn.open_table(ACCOUNT_USER_TO_MODE)?;
    if mode == AssignMode::Disabled {
        t.remove((user_id, account_id))?;
        by_account.remove((account_id, user_id))?;
    } else {
        t.insert((user_id, account_id), mode.code())?;
        by_account.insert((account_id, user_id), mode.code())?;
    }
    super::assignment::modes_changed(account_id);
    Ok(())
}

/// The account's message templates as last fetched from its vendor (None: never fetched).
pub fn templates(
    txn: &ReadTransaction,
    account_id: u64,
) -> AppResult<Option<crate::domain::template::TemplateSet>> {
    codec::get(&txn.open_table(ACCOUNT_TO_TEMPLATES)?, account_id)
}

/// Replaces the account's templates with what the vendor listed now.
pub fn set_templates(
    txn: &WriteTransaction,
    account_id: u64,
    set: &crate::domain::template::TemplateSet,
) -> AppResult<()> {
    require_w(txn, account_id)?;
    txn.open_table(ACCOUNT_TO_TEMPLATES)?
        .insert(account_id, codec::encode(set)?.as_slice())?;
    Ok(())
}
