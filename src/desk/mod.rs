//! Use cases, written once against the store's API: what happens when a customer writes
//! (`ingest`), and what an agent does to a ticket (`tickets`: answer, change, comment and
//! mention, merge, bulk changes; `templates`: the vendor's approved answers) with the notifications each one sends. Handlers, channels and
//! automation call these; none of them opens a transaction of its own for these actions.
//!
//! Each use case is one store write (one transaction, group-committed by the writer): the
//! record changes, the history, the outbox rows and the events commit together or not at all.

pub mod contacts;
pub mod ingest;
pub mod sla;
pub mod templates;
pub mod tickets;
