//! The stored schema version and the ordered steps that bring an older data dir up to date.
//! Each step runs in its own write transaction together with the version bump, so a crash
//! mid-migration leaves the previous version intact.

use redb::{Database, ReadableTable, WriteTransaction};

use super::tables::*;
use crate::error::{AppError, AppResult};

/// Version 1: the first layout (records, no ticket list index).
/// Version 2: adds `ticket_index`, built from the ticket records.
/// Version 3: `ticket_index` gains waiting-time keys (SLA filter): rebuilt.
/// Version 4: assignment: `agents` rows (loads counted from the tickets),
/// `assignment_by_account`, default connection states.
/// Version 5: email: the secret that signs reply tokens (mail tables are new and empty).
/// Version 6: `ticket_index` keeps fewer keys per ticket (see `index`): rebuilt.
pub const CURRENT: u64 = 6;

type Step = fn(&WriteTransaction) -> AppResult<()>;

/// `STEPS[i]` migrates from version `i + 1` to `i + 2`.
const STEPS: [Step; 5] = [v1_to_v2, v2_to_v3, v3_to_v4, v4_to_v5, v5_to_v6];

fn v5_to_v6(txn: &WriteTransaction) -> AppResult<()> {
    let n = super::index::rebuild(txn)?;
    tracing::info!(
        tickets = n,
        "migration 5→6: ticket index rebuilt with fewer keys per ticket"
    );
    Ok(())
}

fn v4_to_v5(txn: &WriteTransaction) -> AppResult<()> {
    super::mail::ensure_secret(txn)?;
    tracing::info!("migration 4→5: email threading secret created");
    Ok(())
}

fn v3_to_v4(txn: &WriteTransaction) -> AppResult<()> {
    super::assignment::seed_states(txn)?;
    super::assignment::rebuild_modes_by_account(txn)?;
    let users = super::assignment::rebuild_loads(txn)?;
    tracing::info!(
        users,
        "migration 3→4: agent loads counted, connection states added"
    );
    Ok(())
}

fn v2_to_v3(txn: &WriteTransaction) -> AppResult<()> {
    let n = super::index::rebuild(txn)?;
    tracing::info!(
        tickets = n,
        "migration 2→3: ticket index rebuilt with waiting-time keys"
    );
    Ok(())
}

fn v1_to_v2(txn: &WriteTransaction) -> AppResult<()> {
    let n = super::index::rebuild(txn)?;
    tracing::info!(tickets = n, "migration 1→2: ticket list index built");
    Ok(())
}

pub fn stored_version(txn: &WriteTransaction) -> AppResult<Option<u64>> {
    let meta = txn.open_table(META)?;
    let v = meta
        .get("schema_version")?
        .map(|g| version_from_bytes(g.value()));
    Ok(v)
}

/// The stored form of the schema version (8 bytes, big-endian; anything else reads as 0).
pub fn version_from_bytes(raw: &[u8]) -> u64 {
    <[u8; 8]>::try_from(raw).map_or(0, u64::from_be_bytes)
}

pub fn set_version(txn: &WriteTransaction, v: u64) -> AppResult<()> {
    let mut meta = txn.open_table(META)?;
    meta.insert("schema_version", v.to_be_bytes().as_slice())?;
    Ok(())
}

pub fn migrate(db: &Database) -> AppResult<()> {
    let txn = db.begin_write()?;
    create_all(&txn)?;
    let version = stored_version(&txn)?;
    match version {
        None => {
            // A new data dir starts at the current layout.
            super::assignment::seed_states(&txn)?;
            super::mail::ensure_secret(&txn)?;
            set_version(&txn, CURRENT)?;
            txn.commit()?;
            return Ok(());
        }
        Some(v) if v > CURRENT => {
            return Err(AppError::internal(format!(
                "this data dir has schema version {v}, newer than this atiende ({CURRENT}); \
                 run a newer atiende or restore a backup"
            )));
        }
        Some(_) => txn.commit()?,
    }
    let mut v = version.unwrap_or(CURRENT);
    while v < CURRENT {
        let txn = db.begin_write()?;
        let step = STEPS
            .get((v - 1) as usize)
            .ok_or_else(|| AppError::internal(format!("no migration from schema {v}")))?;
        step(&txn)?;
        set_version(&txn, v + 1)?;
        txn.commit()?;
        tracing::info!(from = v, to = v + 1, "schema migrated");
        v += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ticket::{new_ticket, NewTicket};
    use crate::domain::*;
    use crate::store::codec;
    use crate::store::index::{list, TicketQuery};
    use redb::ReadableDatabase;

    /// Writes a data dir the way schema 1 did: records only, no ticket index.
    fn write_v1(db: &Database) {
        let txn = db.begin_write().unwrap();
        {
            let mut meta = txn.open_table(META).unwrap();
            meta.insert("schema_version", 1u64.to_be_bytes().as_slice())
                .unwrap();
            // Agent 7 on auto-assignment on account 1.
            txn.open_table(USER_ACCOUNT_TO_MODE)
                .unwrap()
                .insert((7, 1), 2u8)
                .unwrap();
            let mut tickets = txn.open_table(NUMBER_TO_TICKET).unwrap();
            for number in 1..=3u64 {
                let mut t = new_ticket(NewTicket {
                    number,
                    account: (1, Channel::Email),
                    contact_id: number,
                    public: false,
                    influencer: false,
                    previous: None,
                    now: 1_000 * number as i64,
                });
                if number == 2 {
                    t.state = TicketState::Closed;
                }
                // Agent 7 has two assigned tickets: #1 open and awaiting reply, #2 closed.
                if number <= 2 {
                    t.assignee_id = Some(7);
                }
                tickets
                    .insert(number, codec::encode(&t).unwrap().as_slice())
                    .unwrap();
            }
        }
        txn.commit().unwrap();
    }

    #[test]
    fn opens_a_schema_1_data_dir_and_builds_the_index() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join("atiende.redb")).unwrap();
        write_v1(&db);
        migrate(&db).unwrap();
        let txn = db.begin_write().unwrap();
        assert_eq!(stored_version(&txn).unwrap(), Some(CURRENT));
        txn.abort().unwrap();
        let r = db.begin_read().unwrap();
        let q = TicketQuery {
            states: vec![TicketState::Open],
            limit: 10,
            ..Default::default()
        };
        let (open, more) = list(&r, &q, 0).unwrap();
        assert!(!more);
        assert_eq!(
            open.iter().map(|t| t.number).collect::<Vec<_>>(),
            vec![3, 1],
            "newest update first, closed #2 left out"
        );
        // Schema 4: the agent's load was counted, and the default states exist.
        assert_eq!(crate::store::assignment::load(&r, 7).unwrap(), (1, 1));
        let by_account = r.open_table(ACCOUNT_USER_TO_MODE).unwrap();
        assert_eq!(by_account.get((1, 7)).unwrap().map(|g| g.value()), Some(2));
        let states = crate::store::assignment::states(&r).unwrap();
        assert_eq!(states.len(), 4);
        assert!(states.iter().any(|s| s.name == "Conectado" && s.assignable));
        assert_eq!(
            crate::store::assignment::settings(&r)
                .unwrap()
                .on_sign_in
                .as_deref(),
            Some("Conectado")
        );
        // Migrating again is a no-op.
        drop(r);
        migrate(&db).unwrap();
    }

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join("atiende.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        create_all(&txn).unwrap();
        set_version(&txn, CURRENT + 1).unwrap();
        txn.commit().unwrap();
        let err = migrate(&db).unwrap_err();
        assert!(err.message.contains("newer"));
    }
}
