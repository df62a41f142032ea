//! The `api` channel: messages posted by the business's own systems through
//! `POST /api/v1/accounts/{id}/inbound`; answers are read back through the API.

use super::ChannelDriver;
use crate::domain::Channel;

pub struct Api;

impl ChannelDriver for Api {
    fn kind(&self) -> Channel {
        Channel::Api
    }
}
