//! Watches the free space of the data dir's disk: the administrators hear by mail when it runs
//! low (before writes fail), and once more after a time it was full (the store refused writes
//! then, and took them again by itself once space was back; see `store::slot`).

use std::time::Duration;

use crate::state::AppState;
use crate::store::disk;

/// How the disk stands now, for /status and the job below.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Ok,
    Low,
    Full,
}

pub fn level(state: &AppState) -> (Level, Option<disk::Space>) {
    let space = disk::space(&state.config.data_dir);
    if state.store.disk_state() == crate::store::slot::DiskState::Full {
        return (Level::Full, space);
    }
    let low =
        space.is_some_and(|s| s.free < disk::low_threshold(state.config.low_space_bytes, s.total));
    (if low { Level::Low } else { Level::Ok }, space)
}

pub async fn run(state: AppState) {
    let mut shutdown = state.shutdown.clone();
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    let mut warned = false;
    let mut reported_spell = state.store.last_full_spell();
    let dir = state.config.data_dir.display().to_string();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        let (level, space) = level(&state);
        match level {
            Level::Low if !warned => {
                let free = space.map_or(0, |s| s.free);
                tracing::warn!(free, "the data dir's disk is running out of space");
                let (dir, now) = (dir.clone(), state.store.now());
                let sent = state
                    .store
                    .write(move |txn, _| crate::mail::notify::disk_low(txn, &dir, free, now))
                    .await;
                warned = sent.is_ok();
            }
            // Warned again only after the disk had room again in between.
            Level::Ok => warned = false,
            _ => {}
        }
        let spell = state.store.last_full_spell();
        if let Some(s) = spell.filter(|s| Some(*s) != reported_spell) {
            if let Some(to) = s.to {
                let (dir, now) = (dir.clone(), state.store.now());
                let sent = state
                    .store
                    .write(move |txn, _| crate::mail::notify::disk_full(txn, &dir, s.from, to, now))
                    .await;
                if sent.is_ok() {
                    reported_spell = spell;
                }
            }
        }
    }
}
