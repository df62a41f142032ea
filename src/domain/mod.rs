//! Pure domain types and rules: no IO, no clock reads (time comes in as a parameter).

pub mod assign;
pub mod clock;
pub mod hours;
pub mod model;
pub mod rut;
pub mod ticket;

pub use clock::{Clock, Millis, OffsetClock, SystemClock, DAY_MS};
pub use model::*;
