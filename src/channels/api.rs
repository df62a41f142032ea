//! The `api` channel: messages posted by the business's own systems through
//! `POST /api/v1/accounts/{id}/inbound`; answers are read back through the API, so an answer
//! is sent once it is stored.

use futures_util::future::BoxFuture;

use super::{ChannelDriver, SendContext};
use crate::domain::{Channel, DeliveryStatus, OutboxRow, Outcome};

pub struct Api;

impl ChannelDriver for Api {
    fn kind(&self) -> Channel {
        Channel::Api
    }
    /// Its send only hands the answer on inside Atiende (a mail row, a stored message).
    fn safe_to_repeat(&self) -> bool {
        true
    }
    fn deliver<'a>(&'a self, _: &'a SendContext, _: &'a OutboxRow) -> BoxFuture<'a, Outcome> {
        Box::pin(async {
            Outcome::Done {
                status: Some(DeliveryStatus::Sent),
                detail: None,
            }
        })
    }
}
