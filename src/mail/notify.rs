//! OPS-6 notifications, in the app's bell (`store::notifications`) and by mail, both written in
//! the transaction of the change that causes them:
//! an agent mentioned in a comment, a ticket assigned to an agent by someone else, an account
//! whose vendor refuses it or reports trouble (CHAN-12: to the administrators), the disk
//! running out of space (to the administrators).

use crate::domain::NotificationKind;
use crate::store::notifications::{self, New};
use crate::store::{Effects, WriteTransaction};

use crate::domain::{Millis, Ticket};
use crate::error::AppResult;
use crate::store::{accounts, contacts, users};

fn ticket_link(base: &str, number: u64) -> String {
    format!("{base}/#/t/{number}")
}

/// Tells each mentioned colleague (not the author, only active users).
#[allow(clippy::too_many_arguments)] // the comment's facts, as the caller has them
pub fn mentioned(
    txn: &WriteTransaction,
    fx: &mut Effects,
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
        notifications::add(
            txn,
            fx,
            New {
                user_id: u.id,
                kind: NotificationKind::Mention,
                ticket_number: Some(number),
                actor: actor.1,
                text: comment,
            },
            now,
        )?;
        if !u.notify.mention_email {
            continue;
        }
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

/// Tells the new assignee when someone else assigned them the ticket.
pub fn assigned(
    txn: &WriteTransaction,
    fx: &mut Effects,
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
    notifications::add(
        txn,
        fx,
        New {
            user_id: u.id,
            kind: NotificationKind::Assigned,
            ticket_number: Some(after.number),
            actor: actor.1,
            text: &format!("{customer}: {}", after.last_message_excerpt),
        },
        now,
    )?;
    if !u.notify.assigned_email {
        return Ok(());
    }
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

/// A waiting customer's answer is nearly due or past due (SLA-1, OPS-6): the assignee and the
/// supervisors hear of it in the bell, and by mail when they chose to.
pub fn sla(
    txn: &WriteTransaction,
    fx: &mut Effects,
    base: &str,
    t: &Ticket,
    breached: bool,
    now: Millis,
) -> AppResult<()> {
    let customer = contacts::get_w(txn, t.contact_id)?
        .map(|c| c.name)
        .unwrap_or_default();
    let to = users::list_w(txn)?.into_iter().filter(|u| {
        u.active && (Some(u.id) == t.assignee_id || u.role == crate::domain::Role::Supervisor)
    });
    let (kind, template) = if breached {
        (NotificationKind::SlaBreached, "sla_breached")
    } else {
        (NotificationKind::SlaWarning, "sla_warning")
    };
    for u in to {
        notifications::add(
            txn,
            fx,
            New {
                user_id: u.id,
                kind,
                ticket_number: Some(t.number),
                actor: &customer,
                text: &t.last_message_excerpt,
            },
            now,
        )?;
        if !u.notify.sla_email {
            continue;
        }
        let mail = super::templates::render(
            template,
            &u.language,
            &u.email,
            &[
                ("name", &u.name),
                ("number", &t.number.to_string()),
                ("customer", &customer),
                ("excerpt", &t.last_message_excerpt),
                ("link", &ticket_link(base, t.number)),
            ],
        )?;
        super::queue_system(txn, mail, now)?;
    }
    Ok(())
}

/// Mails every active administrator template `name`, with the values each one's language needs.
fn to_admins(
    txn: &WriteTransaction,
    name: &str,
    values: &dyn Fn(&str) -> Vec<(&'static str, String)>,
    now: Millis,
) -> AppResult<()> {
    let admins = users::list_w(txn)?
        .into_iter()
        .filter(|u| u.active && u.role == crate::domain::Role::Admin);
    for u in admins {
        let mut filled: Vec<(&str, &str)> = vec![("name", &u.name)];
        let values = values(&u.language);
        filled.extend(values.iter().map(|(k, v)| (*k, v.as_str())));
        let mail = super::templates::render(name, &u.language, &u.email, &filled)?;
        super::queue_system(txn, mail, now)?;
    }
    Ok(())
}

/// The disk holding the data dir is nearly full (`free` bytes left), before writes fail.
pub fn disk_low(txn: &WriteTransaction, dir: &str, free: u64, now: Millis) -> AppResult<()> {
    let free = format!("{:.0} MB", free as f64 / 1e6);
    to_admins(
        txn,
        "disk_low",
        &|_| vec![("dir", dir.to_string()), ("free", free.clone())],
        now,
    )
}

/// The disk was full from `from` to `to`: the writes of that time were refused (the
/// channels' vendors retry theirs), and it may fill again.
pub fn disk_full(
    txn: &WriteTransaction,
    dir: &str,
    from: Millis,
    to: Millis,
    now: Millis,
) -> AppResult<()> {
    let at = |ms: Millis| {
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_default()
    };
    to_admins(
        txn,
        "disk_full",
        &|_| vec![("dir", dir.to_string()), ("from", at(from)), ("to", at(to))],
        now,
    )
}

/// Mails every active administrator what an account's vendor said (a revoked token, the
/// number's quality flagged), in each one's language.
pub fn channel_alert(
    txn: &WriteTransaction,
    fx: &mut Effects,
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
        let problem = crate::locale::render(&u.language, problem);
        notifications::add(
            txn,
            fx,
            New {
                user_id: u.id,
                kind: NotificationKind::ChannelAlert,
                ticket_number: None,
                actor: &account.name,
                text: &problem,
            },
            now,
        )?;
    }
    to_admins(
        txn,
        "channel_alert",
        &|lang| {
            vec![
                ("account", account.name.clone()),
                ("channel", account.kind.as_str().to_string()),
                ("problem", crate::locale::render(lang, problem)),
            ]
        },
        now,
    )
}
