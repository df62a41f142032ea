//! A channel for the integration tests only (cargo feature `test-channel`; never in a release
//! build). It shows that a channel plugs in through `ChannelDriver` and one registry line and
//! gets, from the shared parts, its webhook route (in the OpenAPI document), outbox delivery
//! with retries and crash safety, a poller with health and backoff, and its place on /status.
//!
//! Its "vendor" is the fake in tests/it/fake_vendor.rs, with a wire format of its own kind:
//! - webhook: `POST /api/v1/channels/test/{account}/webhook`, body
//!   `{"messages": [{"id", "from", "name"?, "text"}]}`, signed with
//!   `X-Test-Signature: sha256=<hex HMAC-SHA256 of the raw body with the account's secret>`;
//! - send: `POST {base_url}/send` with `Authorization: Bearer <token>` and
//!   `{"idempotency_key", "to", "text"}`; 2xx sent, 5xx retried, 4xx refused;
//! - poll: `GET {base_url}/ping` with the same bearer token (health).

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use futures_util::future::BoxFuture;

use serde::Deserialize;

use super::host::{PollContext, PollSession, Polling};
use super::{ChannelDriver, Field, Input, SendContext, Settings};
use crate::domain::inbound::{ContactFacts, Inbound, Thread, VendorBatch};
use crate::domain::{
    settings_as, Account, Channel, DeliveryStatus, Note, OutboxRow, Outcome, Secret,
};
use crate::error::{AppError, AppResult};

pub struct TestChannel;

#[derive(Debug, Clone, Deserialize)]
struct TestSettings {
    base_url: String,
    /// Bearer token for the vendor's API.
    token: Secret,
    /// Signs the webhooks.
    secret: Secret,
    #[serde(default)]
    poll: bool,
}

static FIELDS: [Field; 4] = [
    Field::new("base_url", "accounts.host", Input::Text).required(),
    Field::new("token", "accounts.password", Input::Secret).required(),
    Field::new("secret", "accounts.password", Input::Secret).required(),
    Field::new("poll", "accounts.system_mail", Input::Checkbox),
];

fn settings(account: &Account) -> AppResult<TestSettings> {
    settings_as(&account.settings)
        .map_err(|e| AppError::invalid("settings", "invalid_setting", e.to_string()))
}

impl ChannelDriver for TestChannel {
    fn kind(&self) -> Channel {
        Channel::Test
    }

    fn fields(&self) -> &'static [Field] {
        &FIELDS
    }

    fn validate(&self, settings: &Settings) -> AppResult<()> {
        let s: TestSettings = settings_as(settings)
            .map_err(|e| AppError::invalid("settings", "invalid_setting", e.to_string()))?;
        if !s.base_url.starts_with("http://127.0.0.1:") {
            return Err(AppError::invalid(
                "settings.base_url",
                "invalid_setting",
                "the test vendor runs on loopback",
            ));
        }
        Ok(())
    }

    fn polling(&self, account: &Account) -> Polling {
        match settings(account) {
            Ok(s) if s.poll => Polling::Yes {
                fingerprint: super::fingerprint(account),
                session: Arc::new(Ping(s)),
            },
            Ok(_) => Polling::NotConfigured,
            Err(e) => Polling::Invalid(e.message),
        }
    }

    fn deliver<'a>(&'a self, ctx: &'a SendContext, row: &'a OutboxRow) -> BoxFuture<'a, Outcome> {
        Box::pin(send(ctx, row))
    }

    /// Signed like Meta's webhooks: `X-Test-Signature: sha256=<hex HMAC of the raw body>`.
    fn webhook(
        &self,
        account: &Account,
        _siblings: &[Account],
        headers: &HeaderMap,
        body: &[u8],
    ) -> Option<AppResult<VendorBatch>> {
        let check = || {
            let s = settings(account)?;
            super::require_signed(&s.secret, headers, "x-test-signature", body)?;
            Ok(VendorBatch {
                messages: parse(account.id, body),
                ..VendorBatch::default()
            })
        };
        Some(check())
    }
}

/// A vendor message, as the webhook carries it.
#[derive(Deserialize)]
struct VendorMessage {
    id: String,
    from: String,
    #[serde(default)]
    name: Option<String>,
    text: String,
}

#[derive(Deserialize)]
struct Payload {
    #[serde(default)]
    messages: Vec<VendorMessage>,
}

/// The vendor's payload as Inbound messages: no IO. An unreadable payload gives none.
fn parse(account_id: u64, body: &[u8]) -> Vec<Inbound> {
    let Ok(p) = serde_json::from_slice::<Payload>(body) else {
        return Vec::new();
    };
    p.messages
        .into_iter()
        .map(|m| Inbound {
            subject: None,
            files: Vec::new(),
            reply_to_external: None,
            account_id,
            external_id: m.id,
            contact_external_id: m.from.clone(),
            contact: ContactFacts {
                name: m.name,
                username: Some(m.from),
                ..Default::default()
            },
            text: m.text,
            public: false,
            reply_to: None,
            attachments: Vec::new(),
            sent_at: None,
            uploader: None,
            thread: Thread::ByContact,
            notes: Vec::new(),
        })
        .collect()
}

async fn send(ctx: &SendContext, row: &OutboxRow) -> Outcome {
    let (message, ticket, account, contact) = match ctx.answer(row).await {
        Ok(found) => found,
        Err(outcome) => return outcome,
    };
    let Some(s) = account.as_ref().and_then(|a| settings(a).ok()) else {
        return Outcome::Failed {
            error: Note::NotSetUp,
        };
    };
    let to = match super::recipient(contact, ticket.account_id) {
        Ok(to) => to,
        Err(outcome) => return outcome,
    };
    let client = reqwest::Client::new();
    let sent = client
        .post(format!("{}/send", s.base_url))
        .bearer_auth(s.token.expose())
        .timeout(Duration::from_secs(30))
        .json(&serde_json::json!({
            "idempotency_key": row.id.to_string(),
            "to": to,
            "text": message.text,
        }))
        .send()
        .await;
    match sent {
        Ok(r) if r.status().is_success() => Outcome::Done {
            status: Some(DeliveryStatus::Sent),
            detail: None,
        },
        Ok(r) if r.status().is_server_error() || r.status() == StatusCode::TOO_MANY_REQUESTS => {
            Outcome::Retry {
                error: Note::raw(format!("the vendor answered {}", r.status())),
            }
        }
        Ok(r) => Outcome::Failed {
            error: Note::raw(format!("the vendor refused it: {}", r.status())),
        },
        Err(e) => Outcome::Retry {
            error: Note::raw(e.to_string()),
        },
    }
}

/// The poller: the vendor's ping, once a second.
struct Ping(TestSettings);

impl PollSession for Ping {
    fn run<'a>(&'a self, ctx: &'a PollContext) -> BoxFuture<'a, AppResult<()>> {
        Box::pin(async move {
            let client = reqwest::Client::new();
            let mut stop = ctx.stop.clone();
            loop {
                let ok = client
                    .get(format!("{}/ping", self.0.base_url))
                    .bearer_auth(self.0.token.expose())
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await
                    .map_err(|e| AppError::internal(e.to_string()))?;
                if !ok.status().is_success() {
                    return Err(AppError::internal(format!(
                        "the vendor answered {}",
                        ok.status()
                    )));
                }
                ctx.health.connected(ctx.account_id);
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.wait_for(|s| *s) => return Ok(()),
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_vendor_payload_without_io() {
        let body = br#"{"messages": [{"id": "m1", "from": "u1", "name": "Ana", "text": "hola"},
            {"id": "m2", "from": "u2", "text": "chao"}], "other": true}"#;
        let got = parse(7, body);
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].account_id, got[0].external_id.as_str()), (7, "m1"));
        assert_eq!(got[0].contact.name.as_deref(), Some("Ana"));
        assert_eq!(got[1].contact_external_id, "u2");
        assert!(parse(7, b"not json").is_empty());
        assert!(parse(7, b"{}").is_empty());
    }
}
