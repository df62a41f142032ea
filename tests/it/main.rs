//! The one integration-test binary: every test drives the real `atiende` binary over HTTP.
// The tests talk to a real server on the real clock (clippy.toml's Clock rule is the server's).
#![allow(clippy::disallowed_methods)]

mod harness;
mod mailserver;

mod acme;
mod assignment;
mod backup;
mod bad_input;
mod bench;
mod calendars;
mod channels;
mod contacts;
mod crash;
mod disk;
mod email;
mod events;
mod fake_graph;
mod fake_vendor;
mod fields;
mod forms;
mod misc;
mod reports;
mod search;
mod security;
mod tickets;
mod users;
mod web;
mod whatsapp;
