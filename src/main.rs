//! `atiende`: thin entry point; everything happens in `cli` and `app`.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod app;
mod auth;
mod bench;
mod bus;
mod cli;
mod config;
mod demo;
mod domain;
mod error;
mod http;
mod search;
mod state;
mod store;

fn main() -> std::process::ExitCode {
    cli::main()
}
