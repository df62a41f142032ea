//! What happened and why, stored as a code and its parameters: history entries, assignment
//! reasons, delivery details and a mail's reading notes. Readers see it in their own language:
//! `locale::render` and the web app's `note()` both read `note.<code>` from the locale files.
//!
//! Rows written before schema 8 hold Spanish sentences; `Note::from_legacy` maps each sentence
//! Atiende wrote back to its code (anything else is kept as `raw` text).

use serde::{Deserialize, Deserializer, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "code", content = "params", rename_all = "snake_case")]
pub enum Note {
    // ----- history of a ticket
    Created,
    CreatedFollowing {
        previous: u64,
    },
    AssignedOnReply {
        agent: String,
    },
    AssignedOnReplyFrom {
        agent: String,
        previous: String,
    },
    StateReopened {
        by: String,
    },
    StateClosed {
        by: String,
    },
    StateIgnored {
        by: String,
    },
    MarkedImportant,
    UnmarkedImportant,
    AssignedSelf {
        agent: String,
    },
    AssignedManual {
        agent: String,
        by: String,
    },
    UnassignedManual {
        by: String,
    },
    TeamSet {
        team: String,
    },
    TeamCleared,
    LabelsChanged,
    FieldsUpdated,
    MergedFrom {
        ticket: u64,
        by: String,
    },
    MergedInto {
        ticket: u64,
        by: String,
    },
    UnassignedDeactivated {
        agent: String,
    },
    Escalated {
        by: String,
        recipient: String,
    },
    // ----- the assignment engine's reasons
    AssignedRelationship {
        agent: String,
        days: i64,
    },
    AssignedRoundRobin {
        agent: String,
        candidates: u64,
    },
    AssignedLeastPending {
        agent: String,
        pending: u64,
        candidates: u64,
    },
    NoAutoAssign {
        account: String,
    },
    NoAgentAvailable {
        account: String,
    },
    AllAtCap {
        available: u64,
        account: String,
        cap: u64,
    },
    NoCandidates,
    // ----- delivery of an answer
    Retrying {
        attempt: u64,
        /// A note itself (the OpenAPI schema stops here rather than recurse).
        #[schema(value_type = Object)]
        error: Box<Note>,
    },
    Interrupted,
    SentByMail,
    NoEmailForChat,
    Bounced {
        detail: String,
    },
    NoSmtpAccount,
    AccountWithoutSmtp,
    TicketGone,
    CustomerWithoutEmail,
    ChannelNotConnected,
    CustomerWithoutIdentity,
    /// A vendor's refusal: its error code and title (WhatsApp 131047 …).
    VendorError {
        code: i64,
        title: String,
    },
    // ----- what a customer's message carries
    /// A kind of message Atiende does not show yet (stored, never refused to the vendor).
    Unsupported {
        kind: String,
    },
    /// The ad or post that brought the customer.
    Referral {
        headline: String,
        url: String,
    },
    /// A WhatsApp photo, voice note, video, document or sticker.
    WaMedia {
        kind: String,
    },
    /// A notice from WhatsApp itself (the customer changed number …).
    WaSystem,
    /// The account lacks settings its channel needs (ids, token, secret).
    NotSetUp,
    /// The access token was refused (Graph 190): a new one is needed.
    WaTokenInvalid,
    /// The token lost a permission on the number or the business account (Graph 10, 200–299).
    WaPermissionLost,
    /// Meta knows no such number, or will not show it to this token (Graph 100).
    WaWrongId,
    /// The vendor's server could not be reached (the network's own words in `detail`).
    VendorUnreachable {
        detail: String,
    },
    /// The account's settings cannot be read (incomplete, or written by hand wrongly).
    SettingsInvalid,
    /// A mail server (or another a channel talks to) turned the connection away.
    ServerRefused,
    /// It did not answer in time.
    ServerTimeout,
    /// Its name is not known (a typo in the server's name, or no network).
    ServerNotFound,
    /// The secure connection failed (a certificate, or the wrong security setting).
    ServerTlsFailed,
    /// It refused the user name or the password.
    ServerLoginRefused,
    /// Anything else went wrong with it (the server's own words in the details).
    ServerFailed,
    /// A vendor's rate limit: tried again by itself after a pause.
    RateLimited {
        seconds: u64,
    },
    /// Meta flagged the number's quality (customers block or report it).
    WaQualityFlagged {
        limit: String,
    },
    /// The quality recovered.
    WaQualityRestored {
        limit: String,
    },
    /// The daily limit of new conversations went down / up.
    WaLimitDown {
        limit: String,
    },
    WaLimitUp {
        limit: String,
    },
    /// Meta changed something about the business account (a restriction, a review …).
    WaAccountUpdate {
        event: String,
    },
    /// The customer edited it; what it said before.
    Edited {
        previous: String,
    },
    /// The customer deleted it on their side.
    Revoked,
    // ----- reading a mail
    MailTooLarge {
        size_kb: u64,
        limit_kb: u64,
    },
    HtmlTooLarge,
    NoText,
    /// Its sender's address cannot be read: no answer can reach them by mail.
    UnanswerableSender,
    Unreadable,
    /// Words from elsewhere, shown as they are: a vendor's or a mail server's answer, or an
    /// old sentence this version does not know.
    Raw {
        text: String,
    },
}

impl Note {
    pub fn raw(text: impl Into<String>) -> Note {
        Note::Raw { text: text.into() }
    }

    /// The locale key's suffix (`note.<code>`).
    #[cfg(test)]
    pub fn code(&self) -> String {
        match serde_json::to_value(self) {
            Ok(v) => v["code"].as_str().unwrap_or("raw").to_string(),
            Err(_) => "raw".into(),
        }
    }

    /// The sentences schema 7 and earlier stored, back to their codes.
    pub fn from_legacy(s: &str) -> Note {
        legacy(s).unwrap_or_else(|| Note::raw(s))
    }
}

/// For logs: the raw words, or the code and its parameters.
impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Note::Raw { text } => f.write_str(text),
            other => match serde_json::to_string(other) {
                Ok(s) => f.write_str(&s),
                Err(_) => f.write_str("?"),
            },
        }
    }
}

fn num<T: std::str::FromStr>(s: &str) -> Option<T> {
    s.trim().parse().ok()
}

fn legacy(s: &str) -> Option<Note> {
    let s = s.trim();
    let fixed = match s {
        "ticket creado por mensaje del cliente" => Some(Note::Created),
        "marcado importante" => Some(Note::MarkedImportant),
        "desmarcado importante" => Some(Note::UnmarkedImportant),
        "sin equipo" => Some(Note::TeamCleared),
        "etiquetas cambiadas" => Some(Note::LabelsChanged),
        "datos del ticket actualizados" => Some(Note::FieldsUpdated),
        "sin asignar: sin candidatos" => Some(Note::NoCandidates),
        "enviado por correo al cliente" => Some(Note::SentByMail),
        "sin correo para enviarlo: el cliente lo verá si vuelve al chat (o conecta una cuenta de correo)" => {
            Some(Note::NoEmailForChat)
        }
        "el envío se interrumpió (el servidor se detuvo): puede que no haya salido; reenvíalo si hace falta" => {
            Some(Note::Interrupted)
        }
        "no hay una cuenta de correo con servidor SMTP para enviarlo" => Some(Note::NoSmtpAccount),
        "la cuenta no tiene servidor SMTP configurado" => Some(Note::AccountWithoutSmtp),
        "el ticket ya no existe" => Some(Note::TicketGone),
        "el cliente no tiene dirección de correo" => Some(Note::CustomerWithoutEmail),
        "la cuenta no está conectada: este canal todavía no envía respuestas" => {
            Some(Note::ChannelNotConnected)
        }
        "la versión HTML es demasiado grande para mostrarla; se guarda el texto" => {
            Some(Note::HtmlTooLarge)
        }
        "el mensaje no tiene texto" => Some(Note::NoText),
        "no se pudo leer el formato del mensaje; se guarda el texto crudo" => {
            Some(Note::Unreadable)
        }
        _ => None,
    };
    if fixed.is_some() {
        return fixed;
    }
    if let Some(rest) = s.strip_prefix("ticket creado por mensaje del cliente (sigue a #") {
        return Some(Note::CreatedFollowing {
            previous: num(rest.strip_suffix(')')?)?,
        });
    }
    for (word, make) in [
        ("reabierto: ", state_reopened as fn(String) -> Note),
        ("cerrado: ", state_closed),
        ("ignorado: ", state_ignored),
    ] {
        if let Some(by) = s.strip_prefix(word) {
            return Some(make(by.to_string()));
        }
    }
    if let Some(rest) = s.strip_prefix("asignado a ") {
        return assigned(rest);
    }
    if let Some(rest) = s.strip_prefix("sin asignar: ") {
        return unassigned(rest);
    }
    if let Some(team) = s.strip_prefix("asignado al equipo ") {
        return Some(Note::TeamSet { team: team.into() });
    }
    if let Some(rest) = s.strip_prefix('#') {
        let (n, by) = rest.split_once(" fusionado en este ticket por ")?;
        return Some(Note::MergedFrom {
            ticket: num(n)?,
            by: by.into(),
        });
    }
    if let Some(rest) = s.strip_prefix("fusionado en #") {
        let (n, by) = rest.split_once(" por ")?;
        return Some(Note::MergedInto {
            ticket: num(n)?,
            by: by.into(),
        });
    }
    if let Some((by, recipient)) = s.split_once(" escaló el ticket por correo a ") {
        return Some(Note::Escalated {
            by: by.into(),
            recipient: recipient.into(),
        });
    }
    if let Some(rest) = s.strip_prefix("intento ") {
        let (n, error) = rest.split_once(" falló, se reintentará: ")?;
        return Some(Note::Retrying {
            attempt: num(n)?,
            error: Box::new(Note::from_legacy(error)),
        });
    }
    if let Some(detail) = s.strip_prefix("rebotado: ") {
        return Some(Note::Bounced {
            detail: detail.into(),
        });
    }
    if let Some(rest) = s.strip_prefix("mensaje de ") {
        let (size, rest) = rest.split_once(" KB supera el límite de ")?;
        let limit = rest.strip_suffix(" KB: se guardaron solo los encabezados")?;
        return Some(Note::MailTooLarge {
            size_kb: num(size)?,
            limit_kb: num(limit)?,
        });
    }
    None
}

fn state_reopened(by: String) -> Note {
    Note::StateReopened { by }
}
fn state_closed(by: String) -> Note {
    Note::StateClosed { by }
}
fn state_ignored(by: String) -> Note {
    Note::StateIgnored { by }
}

/// "asignado a {agent}: {why}"
fn assigned(rest: &str) -> Option<Note> {
    let (agent, why) = rest.split_once(": ")?;
    let agent = agent.to_string();
    if why == "respondió el ticket" {
        return Some(Note::AssignedOnReply { agent });
    }
    if let Some(prev) = why.strip_prefix("respondió el ticket (antes usuario ") {
        return Some(Note::AssignedOnReplyFrom {
            agent,
            previous: format!("#{}", prev.strip_suffix(')')?),
        });
    }
    if why == "se lo asignó a sí mismo" {
        return Some(Note::AssignedSelf { agent });
    }
    if let Some(by) = why.strip_prefix("manual, por ") {
        return Some(Note::AssignedManual {
            agent,
            by: by.into(),
        });
    }
    if let Some(days) = why.strip_prefix("relación ejecutivo-cliente (atendió hace ") {
        return Some(Note::AssignedRelationship {
            agent,
            days: num(days.strip_suffix(" días)")?)?,
        });
    }
    if let Some(n) = why.strip_prefix("round-robin, ") {
        return Some(Note::AssignedRoundRobin {
            agent,
            candidates: num(n.strip_suffix(" candidatos")?)?,
        });
    }
    if let Some(rest) = why.strip_prefix("menos tickets sin responder (") {
        let (pending, n) = rest.split_once("), ")?;
        return Some(Note::AssignedLeastPending {
            agent,
            pending: num(pending)?,
            candidates: num(n.strip_suffix(" candidatos")?)?,
        });
    }
    None
}

/// "sin asignar: {why}"
fn unassigned(why: &str) -> Option<Note> {
    if let Some(by) = why.strip_prefix("manual, por ") {
        return Some(Note::UnassignedManual { by: by.into() });
    }
    if let Some(agent) = why.strip_suffix(" fue desactivado") {
        return Some(Note::UnassignedDeactivated {
            agent: agent.into(),
        });
    }
    if let Some(account) = why.strip_prefix("nadie tiene autoasignación en ") {
        return Some(Note::NoAutoAssign {
            account: account.into(),
        });
    }
    if let Some(account) = why.strip_prefix("ningún ejecutivo disponible en ") {
        return Some(Note::NoAgentAvailable {
            account: account.into(),
        });
    }
    if let Some(rest) = why.strip_prefix("los ") {
        let (available, rest) = rest.split_once(" ejecutivos disponibles en ")?;
        let (account, cap) = rest.rsplit_once(" tienen el máximo de ")?;
        return Some(Note::AllAtCap {
            available: num(available)?,
            account: account.into(),
            cap: num(cap.strip_suffix(" tickets abiertos")?)?,
        });
    }
    None
}

/// Reads a note as stored now, or a sentence an older version stored in its place.
fn note_or_sentence<'de, D: Deserializer<'de>>(d: D) -> Result<Note, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Stored {
        Note(Note),
        Sentence(String),
    }
    Ok(match Stored::deserialize(d)? {
        Stored::Note(n) => n,
        Stored::Sentence(s) => Note::from_legacy(&s),
    })
}

/// `#[serde(deserialize_with)]` helpers for fields that held sentences before schema 8.
pub mod stored {
    use serde::{Deserialize, Deserializer};

    use super::Note;

    #[derive(Deserialize)]
    struct Wrap(#[serde(deserialize_with = "super::note_or_sentence")] Note);

    pub fn one<'de, D: Deserializer<'de>>(d: D) -> Result<Note, D::Error> {
        super::note_or_sentence(d)
    }

    pub fn option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Note>, D::Error> {
        Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
    }

    pub fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Note>, D::Error> {
        Ok(Vec::<Wrap>::deserialize(d)?
            .into_iter()
            .map(|w| w.0)
            .collect())
    }
}

/// `#[serde(serialize_with)]` helpers for notes inside positional records: a note is written
/// as its `{code, params}` map even when the record around it has no field names, because
/// serde's reader of a variant's params takes a map, not a positional sequence. The `stored`
/// readers read it back.
pub mod named {
    use serde::ser::Error;
    use serde::{Serialize, Serializer};

    use super::Note;

    struct Named<'a>(&'a Note);

    impl Serialize for Named<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            serde_json::to_value(self.0)
                .map_err(S::Error::custom)?
                .serialize(s)
        }
    }

    pub fn one<S: Serializer>(note: &Note, s: S) -> Result<S::Ok, S::Error> {
        Named(note).serialize(s)
    }

    pub fn option<S: Serializer>(note: &Option<Note>, s: S) -> Result<S::Ok, S::Error> {
        note.as_ref().map(Named).serialize(s)
    }

    pub fn list<S: Serializer>(notes: &[Note], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(notes.iter().map(Named))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every sentence schema 7 wrote, as it wrote it.
    const SENTENCES: &[(&str, &str)] = &[
        ("ticket creado por mensaje del cliente", "created"),
        ("ticket creado por mensaje del cliente (sigue a #12)", "created_following"),
        ("asignado a Ana: respondió el ticket", "assigned_on_reply"),
        ("asignado a Ana: respondió el ticket (antes usuario 3)", "assigned_on_reply_from"),
        ("cerrado: Ana", "state_closed"),
        ("reabierto: Ana", "state_reopened"),
        ("ignorado: Ana", "state_ignored"),
        ("marcado importante", "marked_important"),
        ("desmarcado importante", "unmarked_important"),
        ("asignado a Ana: se lo asignó a sí mismo", "assigned_self"),
        ("asignado a Ana: manual, por Luis", "assigned_manual"),
        ("sin asignar: manual, por Luis", "unassigned_manual"),
        ("asignado al equipo Ventas", "team_set"),
        ("sin equipo", "team_cleared"),
        ("etiquetas cambiadas", "labels_changed"),
        ("datos del ticket actualizados", "fields_updated"),
        ("#7 fusionado en este ticket por Ana", "merged_from"),
        ("fusionado en #9 por Ana", "merged_into"),
        ("sin asignar: Ana fue desactivado", "unassigned_deactivated"),
        ("Ana escaló el ticket por correo a jefe@x.cl", "escalated"),
        ("asignado a Ana: relación ejecutivo-cliente (atendió hace 3 días)", "assigned_relationship"),
        ("asignado a Ana: round-robin, 3 candidatos", "assigned_round_robin"),
        ("asignado a Ana: menos tickets sin responder (1), 2 candidatos", "assigned_least_pending"),
        ("sin asignar: nadie tiene autoasignación en Correo", "no_auto_assign"),
        ("sin asignar: ningún ejecutivo disponible en Correo", "no_agent_available"),
        ("sin asignar: los 2 ejecutivos disponibles en WhatsApp Ventas tienen el máximo de 5 tickets abiertos", "all_at_cap"),
        ("sin asignar: sin candidatos", "no_candidates"),
        ("intento 2 falló, se reintentará: 451 try later", "retrying"),
        ("el envío se interrumpió (el servidor se detuvo): puede que no haya salido; reenvíalo si hace falta", "interrupted"),
        ("enviado por correo al cliente", "sent_by_mail"),
        ("sin correo para enviarlo: el cliente lo verá si vuelve al chat (o conecta una cuenta de correo)", "no_email_for_chat"),
        ("rebotado: 550 5.1.1 no such user", "bounced"),
        ("no hay una cuenta de correo con servidor SMTP para enviarlo", "no_smtp_account"),
        ("la cuenta no tiene servidor SMTP configurado", "account_without_smtp"),
        ("el ticket ya no existe", "ticket_gone"),
        ("el cliente no tiene dirección de correo", "customer_without_email"),
        ("la cuenta no está conectada: este canal todavía no envía respuestas", "channel_not_connected"),
        ("mensaje de 30000 KB supera el límite de 25600 KB: se guardaron solo los encabezados", "mail_too_large"),
        ("la versión HTML es demasiado grande para mostrarla; se guarda el texto", "html_too_large"),
        ("el mensaje no tiene texto", "no_text"),
        ("no se pudo leer el formato del mensaje; se guarda el texto crudo", "unreadable"),
    ];

    #[test]
    fn every_stored_sentence_maps_back_to_its_code() {
        for (sentence, code) in SENTENCES {
            assert_eq!(Note::from_legacy(sentence).code(), *code, "{sentence}");
        }
        assert_eq!(
            Note::from_legacy(
                "asignado a Ana María: menos tickets sin responder (4), 7 candidatos"
            ),
            Note::AssignedLeastPending {
                agent: "Ana María".into(),
                pending: 4,
                candidates: 7
            }
        );
        assert_eq!(
            Note::from_legacy("intento 3 falló, se reintentará: el ticket ya no existe"),
            Note::Retrying {
                attempt: 3,
                error: Box::new(Note::TicketGone)
            }
        );
        assert_eq!(Note::from_legacy("otra cosa"), Note::raw("otra cosa"));
    }

    #[test]
    fn fields_read_notes_and_old_sentences_alike() {
        #[derive(Serialize, Deserialize)]
        struct Old {
            detail: String,
            status_detail: Option<String>,
            notes: Vec<String>,
        }
        #[derive(Deserialize)]
        struct New {
            #[serde(deserialize_with = "stored::one")]
            detail: Note,
            #[serde(deserialize_with = "stored::option")]
            status_detail: Option<Note>,
            #[serde(deserialize_with = "stored::list")]
            notes: Vec<Note>,
        }
        let old = rmp_serde::to_vec_named(&Old {
            detail: "sin equipo".into(),
            status_detail: Some("enviado por correo al cliente".into()),
            notes: vec!["el mensaje no tiene texto".into()],
        })
        .unwrap();
        let new: New = rmp_serde::from_slice(&old).unwrap();
        assert_eq!(new.detail, Note::TeamCleared);
        assert_eq!(new.status_detail, Some(Note::SentByMail));
        assert_eq!(new.notes, vec![Note::NoText]);
        // And the new form round-trips.
        let note = Note::AllAtCap {
            available: 2,
            account: "Correo".into(),
            cap: 5,
        };
        let bytes = rmp_serde::to_vec_named(&(note.clone(),)).unwrap();
        let back: (Note,) = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(back.0, note);
    }
}
