//! Users, sessions and API tokens.

use redb::{ReadTransaction, ReadableTable, ReadableTableMetadata, WriteTransaction};

use super::tables::*;
use super::{codec, event, next_id, Effects};
use crate::domain::ticket::unassign_on_deactivation;
use crate::domain::*;
use crate::error::{AppError, AppResult};

pub fn get(txn: &ReadTransaction, id: u64) -> AppResult<Option<User>> {
    codec::get(&txn.open_table(USER_ID_TO_USER)?, id)
}

pub fn get_w(txn: &WriteTransaction, id: u64) -> AppResult<Option<User>> {
    codec::get(&txn.open_table(USER_ID_TO_USER)?, id)
}

pub fn by_email(txn: &ReadTransaction, email: &str) -> AppResult<Option<User>> {
    let idx = txn.open_table(EMAIL_TO_USER_ID)?;
    let id = idx
        .get(email.trim().to_lowercase().as_str())?
        .map(|g| g.value());
    match id {
        Some(id) => get(txn, id),
        None => Ok(None),
    }
}

pub fn list(txn: &ReadTransaction) -> AppResult<Vec<User>> {
    codec::all(&txn.open_table(USER_ID_TO_USER)?)
}

pub fn list_w(txn: &WriteTransaction) -> AppResult<Vec<User>> {
    codec::all(&txn.open_table(USER_ID_TO_USER)?)
}

pub fn count(txn: &ReadTransaction) -> AppResult<u64> {
    Ok(txn.open_table(USER_ID_TO_USER)?.len()?)
}

pub fn count_w(txn: &WriteTransaction) -> AppResult<u64> {
    Ok(txn.open_table(USER_ID_TO_USER)?.len()?)
}

pub struct NewUser {
    pub email: String,
    pub name: String,
    pub role: Role,
    pub password_hash: String,
    pub language: String,
    /// Mailed an invitation (their password is random until they use the link).
    pub invited: bool,
}

pub fn create(
    txn: &WriteTransaction,
    fx: &mut Effects,
    u: &NewUser,
    now: Millis,
) -> AppResult<User> {
    let email = u.email.trim().to_lowercase();
    {
        let idx = txn.open_table(EMAIL_TO_USER_ID)?;
        if idx.get(email.as_str())?.is_some() {
            return Err(AppError::conflict(
                "email_taken",
                format!("a user with email {email} already exists"),
            )
            .with_field("email"));
        }
    }
    let id = next_id(txn, "user")?;
    let user = User {
        id,
        email: email.clone(),
        name: u.name.trim().to_string(),
        role: u.role,
        password_hash: u.password_hash.clone(),
        active: true,
        language: u.language.clone(),
        signature: None,
        signatures: Default::default(),
        avatar_url: None,
        avatar_sha: None,
        connection_state: None,
        created_at: now,
        deactivated_at: None,
        invited: u.invited,
        last_sign_in_at: None,
        totp_secret: None,
        totp_pending: None,
        totp_last_step: 0,
        recovery_codes: Vec::new(),
        guide_dismissed: false,
        notify: Default::default(),
    };
    put(txn, &user)?;
    txn.open_table(EMAIL_TO_USER_ID)?
        .insert(email.as_str(), id)?;
    let mut e = event(EventKind::UserCreated);
    e.user_id = Some(id);
    fx.emit(e);
    Ok(user)
}

pub fn put(txn: &WriteTransaction, user: &User) -> AppResult<()> {
    super::auth_writes::mark();
    txn.open_table(USER_ID_TO_USER)?
        .insert(user.id, codec::encode(user)?.as_slice())?;
    super::assignment::refresh_agent(txn, user)
}

/// Saves an edited user, keeping the email index in step.
pub fn update(
    txn: &WriteTransaction,
    fx: &mut Effects,
    before: &User,
    after: &User,
) -> AppResult<()> {
    if before.email != after.email {
        let mut idx = txn.open_table(EMAIL_TO_USER_ID)?;
        if idx.get(after.email.as_str())?.is_some() {
            return Err(AppError::conflict(
                "email_taken",
                format!("a user with email {} already exists", after.email),
            )
            .with_field("email"));
        }
        idx.remove(before.email.as_str())?;
        idx.insert(after.email.as_str(), after.id)?;
    }
    put(txn, after)?;
    let mut e = event(EventKind::UserUpdated);
    e.user_id = Some(after.id);
    fx.emit(e);
    Ok(())
}

/// AUTH-4: deactivate, sign out everywhere, and un-assign their open tickets of the last
/// 5 days. Returns the numbers of the tickets put back in the pool.
pub fn deactivate(
    txn: &WriteTransaction,
    fx: &mut Effects,
    user_id: u64,
    actor_id: u64,
    now: Millis,
) -> AppResult<Vec<u64>> {
    let mut user = get_w(txn, user_id)?.ok_or_else(|| AppError::not_found("user"))?;
    user.active = false;
    user.deactivated_at = Some(now);
    let had_state = user.connection_state.take().is_some();
    put(txn, &user)?;
    if had_state {
        super::report::state_changed(txn, user_id, None, now)?;
    }
    end_sessions(txn, user_id, None)?;
    {
        super::auth_writes::mark();
        let mut tokens = txn.open_table(TOKEN_HASH_TO_TOKEN)?;
        tokens.retain(|_, v| {
            codec::decode::<ApiToken>(v)
                .map(|t| t.user_id != user_id)
                .unwrap_or(true)
        })?;
    }
    // Open tickets assigned to them, created in the last 5 days: the assignee index scanned
    // by creation time from now − 5 days.
    let candidates = {
        let q = super::index::TicketQuery {
            states: vec![TicketState::Open],
            assignee: Some(Some(user_id)),
            created_from: Some(now - 5 * DAY_MS),
            sort: Some(super::index::Sort::CreatedAsc),
            limit: usize::MAX - 1,
            ..Default::default()
        };
        super::tickets::query_in_write(txn, &q, now)?
    };
    let mut released = Vec::new();
    for t in candidates {
        if !unassign_on_deactivation(&t, user_id, now) {
            continue;
        }
        let mut after = t.clone();
        after.assignee_id = None;
        super::tickets::save(txn, Some(&t), &after)?;
        super::tickets::add_history(
            txn,
            t.number,
            Some(actor_id),
            "unassigned",
            Note::UnassignedDeactivated {
                agent: user.name.clone(),
            },
            now,
        )?;
        let mut e = event(EventKind::TicketUpdated);
        e.ticket_number = Some(t.number);
        e.account_id = Some(t.account_id);
        fx.emit(e);
        released.push(t.number);
    }
    // Released tickets go back to the pool: where agents are on auto-assignment, at once.
    let mut accounts: Vec<u64> = Vec::new();
    for n in &released {
        if let Some(t) = super::tickets::get_w(txn, *n)? {
            if !accounts.contains(&t.account_id) {
                accounts.push(t.account_id);
            }
        }
    }
    super::assignment::drain(txn, fx, &accounts, now)?;
    let mut e = event(EventKind::UserUpdated);
    e.user_id = Some(user_id);
    fx.emit(e);
    Ok(released)
}

const TWO_FACTOR_ROLES: &str = "two_factor_roles";

/// The roles whose users must use a second factor (an administrator's setting).
pub fn two_factor_roles(txn: &ReadTransaction) -> AppResult<Vec<Role>> {
    Ok(super::meta_get(txn, TWO_FACTOR_ROLES)?
        .map(|v| {
            String::from_utf8_lossy(&v)
                .split(',')
                .filter_map(Role::parse)
                .collect()
        })
        .unwrap_or_default())
}

pub fn set_two_factor_roles(txn: &WriteTransaction, roles: &[Role]) -> AppResult<()> {
    let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    super::meta_put(txn, TWO_FACTOR_ROLES, names.join(",").as_bytes())
}

/// Records a sign-in (the users screen shows the last one).
pub fn signed_in(txn: &WriteTransaction, user_id: u64, now: Millis) -> AppResult<()> {
    if let Some(mut user) = get_w(txn, user_id)? {
        user.last_sign_in_at = Some(now);
        put(txn, &user)?;
    }
    Ok(())
}

/// Lets a deactivated user sign in and be assigned again (their tickets stay where they went).
pub fn reactivate(txn: &WriteTransaction, fx: &mut Effects, user_id: u64) -> AppResult<User> {
    let mut user = get_w(txn, user_id)?.ok_or_else(|| AppError::not_found("user"))?;
    user.active = true;
    user.deactivated_at = None;
    put(txn, &user)?;
    let mut e = event(EventKind::UserUpdated);
    e.user_id = Some(user_id);
    fx.emit(e);
    Ok(user)
}

/// Signs a user out of every session but `keep` (a session token hash).
pub fn end_sessions(txn: &WriteTransaction, user_id: u64, keep: Option<&str>) -> AppResult<()> {
    super::auth_writes::mark();
    let mut sessions = txn.open_table(SESSION_HASH_TO_SESSION)?;
    sessions.retain(|k, v| {
        Some(k) == keep
            || codec::decode::<Session>(v)
                .map(|s| s.user_id != user_id)
                .unwrap_or(true)
    })?;
    Ok(())
}

fn sessions_in(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    user_id: u64,
) -> AppResult<Vec<(String, Session)>> {
    let mut out = Vec::new();
    for row in table.iter()? {
        let (k, v) = row?;
        let s: Session = codec::decode(v.value())?;
        if s.user_id == user_id {
            out.push((k.value().to_string(), s));
        }
    }
    Ok(out)
}

/// A user's sessions, by their token hash.
pub fn sessions_of(txn: &ReadTransaction, user_id: u64) -> AppResult<Vec<(String, Session)>> {
    sessions_in(&txn.open_table(SESSION_HASH_TO_SESSION)?, user_id)
}

/// The same, inside the writer's transaction.
pub fn sessions_of_w(txn: &WriteTransaction, user_id: u64) -> AppResult<Vec<(String, Session)>> {
    sessions_in(&txn.open_table(SESSION_HASH_TO_SESSION)?, user_id)
}

/// Records a session's last use. No sign-in changes, so what is cached about it stays valid.
pub fn touch_session(txn: &WriteTransaction, token_hash: &str, at: Millis) -> AppResult<()> {
    let mut table = txn.open_table(SESSION_HASH_TO_SESSION)?;
    let found: Option<Session> = match table.get(token_hash)? {
        Some(g) => Some(codec::decode(g.value())?),
        None => None,
    };
    if let Some(mut s) = found {
        s.last_seen_at = Some(at);
        table.insert(token_hash, codec::encode(&s)?.as_slice())?;
    }
    Ok(())
}

pub fn create_session(
    txn: &WriteTransaction,
    token_hash: &str,
    session: &Session,
) -> AppResult<()> {
    super::auth_writes::mark();
    txn.open_table(SESSION_HASH_TO_SESSION)?
        .insert(token_hash, codec::encode(session)?.as_slice())?;
    Ok(())
}

pub fn delete_session(txn: &WriteTransaction, token_hash: &str) -> AppResult<()> {
    super::auth_writes::mark();
    txn.open_table(SESSION_HASH_TO_SESSION)?
        .remove(token_hash)?;
    Ok(())
}

pub fn session(txn: &ReadTransaction, token_hash: &str) -> AppResult<Option<Session>> {
    let t = txn.open_table(SESSION_HASH_TO_SESSION)?;
    let s = match t.get(token_hash)? {
        Some(g) => Some(codec::decode(g.value())?),
        None => None,
    };
    Ok(s)
}

pub fn create_token(
    txn: &WriteTransaction,
    token_hash: &str,
    user_id: u64,
    name: &str,
    now: Millis,
    expires_at: Option<Millis>,
) -> AppResult<ApiToken> {
    super::auth_writes::mark();
    let token = ApiToken {
        id: next_id(txn, "api_token")?,
        user_id,
        name: name.to_string(),
        created_at: now,
        expires_at,
    };
    txn.open_table(TOKEN_HASH_TO_TOKEN)?
        .insert(token_hash, codec::encode(&token)?.as_slice())?;
    Ok(token)
}

/// A user's API tokens (every user's with None), oldest first (their hashes stay here).
pub fn tokens_of(txn: &ReadTransaction, user_id: Option<u64>) -> AppResult<Vec<ApiToken>> {
    let mut out: Vec<ApiToken> = Vec::new();
    for row in txn.open_table(TOKEN_HASH_TO_TOKEN)?.iter()? {
        let t: ApiToken = codec::decode(row?.1.value())?;
        if user_id.is_none_or(|u| t.user_id == u) {
            out.push(t);
        }
    }
    out.sort_by_key(|t| t.id);
    Ok(out)
}

/// Revokes token `id` of a user (of anyone with None: an administrator); the token revoked,
/// or None when there is no such token.
pub fn revoke_token(
    txn: &WriteTransaction,
    user_id: Option<u64>,
    id: u64,
) -> AppResult<Option<ApiToken>> {
    super::auth_writes::mark();
    let mut table = txn.open_table(TOKEN_HASH_TO_TOKEN)?;
    let mut found = None;
    table.retain(|_, v| match codec::decode::<ApiToken>(v) {
        Ok(t) if t.id == id && user_id.is_none_or(|u| t.user_id == u) => {
            found = Some(t);
            false
        }
        _ => true,
    })?;
    Ok(found)
}

/// Ends every API token of a user: a password change or reset ends them with the sessions
/// (a stolen token must not outlive the password it was made with).
pub fn end_tokens(txn: &WriteTransaction, user_id: u64) -> AppResult<()> {
    super::auth_writes::mark();
    txn.open_table(TOKEN_HASH_TO_TOKEN)?.retain(|_, v| {
        codec::decode::<ApiToken>(v)
            .map(|t| t.user_id != user_id)
            .unwrap_or(true)
    })?;
    Ok(())
}

pub fn token(txn: &ReadTransaction, token_hash: &str) -> AppResult<Option<ApiToken>> {
    let t = txn.open_table(TOKEN_HASH_TO_TOKEN)?;
    let s = match t.get(token_hash)? {
        Some(g) => Some(codec::decode(g.value())?),
        None => None,
    };
    Ok(s)
}

/// The user's saved board; `None` until they first save one.
pub fn board(txn: &ReadTransaction, user_id: u64) -> AppResult<Option<Board>> {
    codec::get(&txn.open_table(USER_ID_TO_BOARD)?, user_id)
}

pub fn save_board(txn: &WriteTransaction, user_id: u64, board: &Board) -> AppResult<()> {
    let mut t = txn.open_table(USER_ID_TO_BOARD)?;
    t.insert(user_id, codec::encode(board)?.as_slice())?;
    Ok(())
}

/// Stores a one-time password link (by its hash); earlier links of the user stay valid until
/// they expire or one is used.
pub fn create_password_token(
    txn: &WriteTransaction,
    token_hash: &str,
    token: &PasswordToken,
) -> AppResult<()> {
    txn.open_table(LINK_HASH_TO_PASSWORD_TOKEN)?
        .insert(token_hash, codec::encode(token)?.as_slice())?;
    Ok(())
}

pub fn password_token(
    txn: &ReadTransaction,
    token_hash: &str,
    now: Millis,
) -> AppResult<Option<PasswordToken>> {
    let t = txn.open_table(LINK_HASH_TO_PASSWORD_TOKEN)?;
    let found: Option<PasswordToken> = match t.get(token_hash)? {
        Some(g) => Some(codec::decode(g.value())?),
        None => None,
    };
    Ok(found.filter(|t| t.expires_at > now))
}

/// Uses a link: sets the password, ends the user's sessions, and removes every link of the
/// user (one use, and an older leaked link dies with it).
pub fn use_password_token(
    txn: &WriteTransaction,
    fx: &mut Effects,
    token_hash: &str,
    password_hash: &str,
    now: Millis,
) -> AppResult<Option<User>> {
    let mut table = txn.open_table(LINK_HASH_TO_PASSWORD_TOKEN)?;
    let token: Option<PasswordToken> = match table.get(token_hash)? {
        Some(g) => Some(codec::decode(g.value())?),
        None => None,
    };
    let Some(token) = token.filter(|t| t.expires_at > now) else {
        return Ok(None);
    };
    let mut stale = Vec::new();
    for row in table.iter()? {
        let (k, v) = row?;
        let t: PasswordToken = codec::decode(v.value())?;
        if t.user_id == token.user_id || t.expires_at <= now {
            stale.push(k.value().to_string());
        }
    }
    for k in stale {
        table.remove(k.as_str())?;
    }
    drop(table);
    let Some(before) = get_w(txn, token.user_id)?.filter(|u| u.active) else {
        return Ok(None);
    };
    let mut after = before.clone();
    after.password_hash = password_hash.to_string();
    after.invited = false;
    update(txn, fx, &before, &after)?;
    end_sessions(txn, after.id, None)?;
    end_tokens(txn, after.id)?;
    Ok(Some(after))
}
