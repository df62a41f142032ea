//! The one integration-test binary: every test drives the real `atiende` binary over HTTP.

mod harness;
mod mailserver;

mod acme;
mod assignment;
mod backup;
mod bad_input;
mod bench;
mod channels;
mod crash;
mod email;
mod events;
mod fake_vendor;
mod forms;
mod misc;
mod search;
mod security;
mod tickets;
mod users;
mod web;
