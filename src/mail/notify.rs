//! OPS-6 notifications by mail, queued in the transaction of the change that causes them:
//! an agent mentioned in a comment, a ticket assigned to an agent by someone else, an account
//! whose vendor refuses it or reports trouble (CHAN-12: to the administrators).

use crate::store::WriteTransaction;

use crate::domain::{Millis, Ticket};
use crate::error::AppResult;
use crate::store::{accounts, contacts, users};

fn ticket_link(base: &str, number: u64) -> String {
    format!("{base}/#/t/{number}")
}

/// Mails each mentioned colleague (not the author, only active users).
pub fn mentioned(
    txn: &WriteTransaction,
    base: &str,
    number: u64,
    actor: (u64, &str),
    comment: &str,
    mentions: &[u64],
    now: Millis,
) -> AppResult<()> {
    for id in mentions.iter().filter(|id| **id != actor.0) {
        let Some(u) = users::get_w(txn, *id)?.filter(|u| u.active) else {
            continue;
        };
        let mail = super::templates::render(
            "mention",
            &u.language,
            &u.email,
            &[
                ("name", &u.name),
                ("actor", actor.1),
                ("number", &number.to_string()),
                ("comment", comment),
                ("link", &ticket_link(base, number)),
            ],
        )?;
        super::queue_system(txn, mail, now)?;
    }
    Ok(())
}

/// Mails the new assignee when someone else assigned them the ticket.
pub fn assigned(
    txn: &WriteTransaction,
    base: &str,
    before: Option<&Ticket>,
    after: &Ticket,
    actor: (u64, &str),
    now: Millis,
) -> AppResult<()> {
    let Some(assignee) = after.assignee_id else {
        return Ok(());
    };
    if assignee == actor.0 || before.and_then(|b| b.assignee_id) == Some(assignee) {
        return Ok(());
    }
    let Some(u) = users::get_w(txn, assignee)?.filter(|u| u.active) else {
        return Ok(());
    };
    let customer = contacts::get_w(txn, after.contact_id)?
        .map(|c| c.name)
        .unwrap_or_default();
    let mail = super::templates::render(
        "assigned",
        &u.language,
        &u.email,
        &[
            ("name", &u.name),
            ("actor", actor.1),
            ("number", &after.number.to_string()),
            ("customer", &customer),
            ("excerpt", &after.last_message_excerpt),
            ("link", &ticket_link(base, after.number)),
        ],
    )?;
    super::queue_system(txn, mail, now).map(|_| ())
}

/// Mails every active administrator what an account's vendor said (a revoked token, the
/// number's quality flagged), in each one's language.
pub fn channel_alert(
    txn: &WriteTransaction,
    account_id: u64,
    problem: &crate::domain::Note,
    now: Millis,
) -> AppResult<()> {
    let Some(account) = accounts::get_w(txn, account_id)? else {
        return Ok(());
    };
    let admins = users::list_w(txn)?
        .into_iter()
        .filter(|u| u.active && u.role == crate::domain::Role::Admin);
    for u in admins {
        let mail = super::templates::render(
            "channel_alert",
            &u.language,
            &u.email,
            &[
                ("name", &u.name),
                ("account", &account.name),
                ("channel", account.kind.as_str()),
                ("problem", &crate::locale::render(&u.language, problem)),
            ],
        )?;
        super::queue_system(txn, mail, now)?;
    }
    Ok(())
}
