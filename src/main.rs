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
mod channels;

mod cli;
mod config;
mod demo;
mod desk;
mod disk_watch;
mod domain;
mod error;
#[cfg(test)]
mod fuzz;
mod health;
mod http;
mod jobs;
mod locale;
#[cfg(test)]
mod locale_lint;
mod mail;
mod maintenance;
mod metrics;
mod outbox;
mod process;
mod search;
mod state;
mod store;
mod tls;

/// mimalloc instead of the system allocator: the writer thread spends a tenth of its time
/// allocating and freeing (pages, keys, records), and mimalloc's thread-local free lists cut
/// the server's CPU per ingested message by 15–30% in the bench (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `purge_delay` option (its index in the C enum; the Rust bindings name only some).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> std::process::ExitCode {
    // Freed memory goes back to the OS at once instead of after 1 s: with its default the
    // loaded bench server held 165 MB instead of 120 MB (the limit is 150 MB).
    // SAFETY: sets a tuning option of the allocator before anything else runs; any value is valid.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    // No transparent huge pages: mimalloc asks for them on its arena, and a 2 MB page stays
    // resident while anything in it lives. Without them the loaded 1M-ticket server held
    // ~25 MB less after 500 SSE clients left, and the idle demo ~10 MB less, at no measured CPU
    // cost (docs/performance.md). What mimalloc's start-up already faulted in stays as it is;
    // a kernel without this prctl answers an error and nothing changes.
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE only sets a flag on this process's memory; it takes no pointer.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0)
    };
    // Everything Atiende writes (database, attachments, index, keys, backups) is for its own
    // user only, whatever umask it was started with: the data holds mail passwords, password
    // hashes and every customer's messages.
    // SAFETY: umask only sets the process's file creation mask; it cannot fail.
    unsafe { libc::umask(0o077) };
    cli::main()
}
