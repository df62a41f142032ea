//! The vendor's approved message templates (WhatsApp): the answers allowed once the
//! customer-service window is over. Fetched from the vendor when first asked for and when an
//! agent or admin refreshes them; kept in the store so the composer does not wait on Meta.

use crate::channels::driver;
use crate::domain::template::{Choice, TemplateSet, TemplateUse};
use crate::domain::{Account, Note, Ticket};
use crate::error::{AppError, AppResult};
use crate::store::{accounts, Store};

fn without_templates() -> AppError {
    AppError::invalid(
        "template",
        "no_templates",
        "this channel has no message templates",
    )
}

/// The account, if `may_see` lets the user see it (404 otherwise), on a channel with templates.
async fn account(store: &Store, account_id: u64, may_see: bool) -> AppResult<Account> {
    let account = store
        .read(move |txn| accounts::get(txn, account_id))
        .await?
        .filter(|a| a.deleted_at.is_none() && may_see)
        .ok_or_else(|| AppError::not_found("account"))?;
    if !driver(account.kind).has_templates() {
        return Err(without_templates());
    }
    Ok(account)
}

/// Asks the vendor for the account's templates now and keeps them. `Ok(Err(note))`: the
/// vendor refused (a revoked token …), said in the reader's language by the caller.
pub async fn sync(
    store: &Store,
    account_id: u64,
    may_see: bool,
) -> AppResult<Result<TemplateSet, Note>> {
    let account = account(store, account_id, may_see).await?;
    let templates = match driver(account.kind).templates(&account).await {
        Ok(t) => t,
        Err(note) => return Ok(Err(note)),
    };
    let set = TemplateSet {
        synced_at: store.now(),
        templates,
    };
    let kept = set.clone();
    store
        .write(move |txn, _fx| accounts::set_templates(txn, account_id, &kept))
        .await?;
    Ok(Ok(set))
}

/// The account's templates as last fetched; fetched now if they never were.
pub async fn list(
    store: &Store,
    account_id: u64,
    may_see: bool,
) -> AppResult<Result<TemplateSet, Note>> {
    account(store, account_id, may_see).await?;
    let stored = store
        .read(move |txn| accounts::templates(txn, account_id))
        .await?;
    match stored {
        Some(set) => Ok(Ok(set)),
        None => sync(store, account_id, may_see).await,
    }
}

/// The template an agent picked for an answer on `ticket`, checked and filled: what the
/// sender sends and the text the ticket shows.
pub async fn choose(
    store: &Store,
    ticket: &Ticket,
    choice: &Choice,
) -> AppResult<(TemplateUse, String)> {
    if !driver(ticket.channel).has_templates() {
        return Err(without_templates());
    }
    let set = match list(store, ticket.account_id, true).await? {
        Ok(set) => set,
        Err(note) => return Err(AppError::vendor("templates_unavailable", note.to_string())),
    };
    let template = set
        .templates
        .iter()
        .find(|t| t.name == choice.name && t.language == choice.language)
        .ok_or_else(|| {
            AppError::invalid(
                "template.name",
                "unknown_template",
                format!(
                    "the account has no template {} in {}",
                    choice.name, choice.language
                ),
            )
        })?;
    let used = template.fill(&choice.values)?;
    let text = template.render(&used.values);
    Ok((used, text))
}
