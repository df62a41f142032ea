//! Kinds listed but not connectable yet (WhatsApp, Facebook, Instagram, X, the app stores):
//! admins see them as coming; the demo's sample accounts of these kinds show as not connected.

use super::{Availability, ChannelDriver};
use crate::domain::Channel;

pub struct Coming(pub Channel);

impl ChannelDriver for Coming {
    fn kind(&self) -> Channel {
        self.0
    }
    fn availability(&self) -> Availability {
        Availability::Coming
    }
}
