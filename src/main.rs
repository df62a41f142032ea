//! `atiende`: thin entry point; everything happens in `cli` and `app`.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod app;
mod auth;
mod backup;
mod bench;
mod bus;
mod chat;
mod cli;
mod config;
mod demo;
mod domain;
mod error;
mod health;
mod http;
mod mail;
mod metrics;
mod search;
mod state;
mod store;
mod tls;

fn main() -> std::process::ExitCode {
    limit_malloc_arenas();
    cli::main()
}

/// glibc gives each thread that allocates its own 64 MiB arena; with the tokio and blocking
/// pools that doubled the resident set in the bench (292 → 132 MB). Two arenas are plenty for
/// a process whose heavy work is one writer and one indexer thread.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    // SAFETY: mallopt only tunes the allocator; it is called before any thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}
