//! Sending through the account's SMTP server (lettre over rustls).

use std::time::Duration;

use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::settings::{EmailSettings, Security, Server};
use crate::store::blobs::Blobs;
use crate::store::mail::Outgoing;

/// RFC 3834 §5: marks Atiende's automatic mail so other robots do not answer it.
#[derive(Clone)]
struct AutoSubmitted(&'static str);

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted(if s == "auto-replied" {
            "auto-replied"
        } else {
            "auto-generated"
        }))
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.to_string())
    }
}

/// Keeps other responders quiet about our automatic mail (Microsoft's header).
#[derive(Clone)]
struct SuppressAutoResponse;

impl Header for SuppressAutoResponse {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Auto-Response-Suppress")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(SuppressAutoResponse)
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "All".to_string())
    }
}

/// Why a send failed, and whether trying again can help.
#[derive(Debug)]
pub struct SendError {
    pub message: String,
    pub permanent: bool,
}

impl SendError {
    fn permanent(message: impl Into<String>) -> SendError {
        SendError {
            message: message.into(),
            permanent: true,
        }
    }
}

pub fn transport(server: &Server) -> Result<AsyncSmtpTransport<Tokio1Executor>, SendError> {
    let port = server.port_or(465, 587);
    let builder = match server.security {
        Security::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&server.host),
        Security::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&server.host),
        Security::Plain => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
            server.host.clone(),
        )),
    }
    .map_err(|e| SendError::permanent(format!("SMTP server {}: {e}", server.host)))?;
    let mut builder = builder.port(port).timeout(Some(Duration::from_secs(30)));
    if let Some(user) = server.username.as_ref().filter(|u| !u.is_empty()) {
        builder = builder.credentials(Credentials::new(
            user.clone(),
            server
                .password
                .as_ref()
                .map(|p| p.expose().to_string())
                .unwrap_or_default(),
        ));
    }
    Ok(builder.build())
}

fn mailbox(address: &str, name: Option<&str>) -> Result<Mailbox, SendError> {
    let email = address
        .parse()
        .map_err(|e| SendError::permanent(format!("invalid address {address}: {e}")))?;
    // A display name with a line break would end the header (lettre refuses to build it).
    let name = name.map(crate::domain::one_line).filter(|n| !n.is_empty());
    Ok(Mailbox::new(name, email))
}

/// Builds the RFC 5322 message: threading headers, reply token, attachments.
pub fn build(
    out: &Outgoing,
    settings: &EmailSettings,
    blobs: &Blobs,
) -> Result<lettre::Message, SendError> {
    let mut b = lettre::Message::builder()
        .from(mailbox(&settings.address, settings.from_name.as_deref())?)
        .to(mailbox(&out.to, out.to_name.as_deref())?)
        .subject(crate::domain::one_line(&out.subject))
        .message_id(Some(format!("<{}>", out.message_id)))
        .user_agent(format!("Atiende {}", env!("CARGO_PKG_VERSION")));
    if let Some(reply_to) = &out.reply_to {
        b = b.reply_to(mailbox(reply_to, settings.from_name.as_deref())?);
    }
    if let Some(id) = &out.in_reply_to {
        b = b.in_reply_to(format!("<{id}>"));
    }
    if !out.references.is_empty() {
        let refs: Vec<String> = out.references.iter().map(|r| format!("<{r}>")).collect();
        b = b.references(refs.join(" "));
    }
    if let Some(kind) = out.auto_submitted {
        b = b.header(AutoSubmitted(kind)).header(SuppressAutoResponse);
    }
    let text = SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .body(out.text.clone());
    let built = if out.attachments.is_empty() {
        b.singlepart(text)
    } else {
        let mut mixed = MultiPart::mixed().singlepart(text);
        for a in &out.attachments {
            let bytes = blobs.get(&a.sha256).map_err(|e| {
                SendError::permanent(format!("attachment {}: {}", a.name, e.message))
            })?;
            let ct = ContentType::parse(&a.content_type).unwrap_or(
                ContentType::parse("application/octet-stream")
                    .map_err(|e| SendError::permanent(e.to_string()))?,
            );
            mixed = mixed.singlepart(Attachment::new(a.name.clone()).body(bytes, ct));
        }
        b.multipart(mixed)
    };
    built.map_err(|e| SendError::permanent(format!("cannot build the mail: {e}")))
}

/// Hands the message to the SMTP server.
pub async fn send(server: &Server, message: lettre::Message) -> Result<(), SendError> {
    let transport = transport(server)?;
    match transport.send(message).await {
        Ok(_) => Ok(()),
        Err(e) => Err(SendError {
            permanent: e.is_permanent(),
            message: describe(&e),
        }),
    }
}

/// The server's own words when there are some (agents and admins read this).
fn describe(e: &lettre::transport::smtp::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Account, Channel};

    /// Security finding 12: a customer named with a line break made every reply to them fail
    /// (lettre refused, or panicked on, the header).
    #[test]
    fn a_line_break_in_a_name_or_subject_stays_out_of_the_headers() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::new(dir.path().to_path_buf()).unwrap();
        let settings = EmailSettings {
            address: "soporte@tienda.cl".into(),
            from_name: Some("Tienda\r\nBcc: robo@example.com".into()),
            signature: None,
            imap: None,
            smtp: None,
            max_message_kb: None,
            poll_seconds: None,
            use_idle: None,
            initial_import: None,
            system_mail: false,
        };
        let out = Outgoing {
            account: Account {
                id: 1,
                kind: Channel::Email,
                name: "Soporte".into(),
                settings: Default::default(),
                created_at: 0,
                deleted_at: None,
            },
            to: "cliente@example.com".into(),
            to_name: Some("Juan\r\nBcc: otro@example.com\n".into()),
            subject: "Re: hola\r\nBcc: x@example.com".into(),
            text: "respuesta".into(),
            message_id: "1.abc@tienda.cl".into(),
            in_reply_to: None,
            references: vec![],
            reply_to: None,
            attachments: vec![],
            auto_submitted: None,
        };
        let mail = build(&out, &settings, &blobs).unwrap();
        let text = String::from_utf8(mail.formatted()).unwrap();
        let headers = text.split("\r\n\r\n").next().unwrap();
        assert!(!headers.to_lowercase().contains("\r\nbcc:"), "{headers}");
        assert!(
            headers.contains("\r\nSubject: Re: hola Bcc: x@example.com\r\n"),
            "{headers}"
        );
        let to = headers.lines().find(|l| l.starts_with("To: ")).unwrap();
        assert!(to.ends_with(" <cliente@example.com>"), "{headers}");
    }
}
