//! Record encoding: MessagePack. Most records keep their field names, so added fields with
//! defaults need no migration and old records keep decoding. The records stored per ticket,
//! message and contact (tickets, report facts, messages, comments, history, contacts, events)
//! are positional (`encode_compact`): no field names, a third of a ticket's bytes. Decoding
//! reads either form, so a record written with names (before, or by a migration) still opens;
//! a positional record's type takes new fields only at its end, with `#[serde(default)]`, and
//! never skips a field when serializing; the notes inside keep their names (`note::named`).

use redb::ReadableTable;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{AppError, AppResult};

pub fn encode<T: Serialize>(value: &T) -> AppResult<Vec<u8>> {
    rmp_serde::to_vec_named(value).map_err(|e| AppError::internal(format!("encode: {e}")))
}

/// Positional MessagePack (see the module's note on which records, and the rules they keep).
pub fn encode_compact<T: Serialize>(value: &T) -> AppResult<Vec<u8>> {
    rmp_serde::to_vec(value).map_err(|e| AppError::internal(format!("encode: {e}")))
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> AppResult<T> {
    rmp_serde::from_slice(bytes).map_err(|e| AppError::internal(format!("decode: {e}")))
}

/// Reads and decodes one record by u64 key.
pub fn get<T: DeserializeOwned>(
    table: &impl ReadableTable<u64, &'static [u8]>,
    id: u64,
) -> AppResult<Option<T>> {
    match table.get(id)? {
        Some(guard) => Ok(Some(decode(guard.value())?)),
        None => Ok(None),
    }
}

/// Reads every record of a small table (labels, teams, accounts…), in id order.
pub fn all<T: DeserializeOwned>(
    table: &impl ReadableTable<u64, &'static [u8]>,
) -> AppResult<Vec<T>> {
    let mut out = Vec::new();
    for row in table.iter()? {
        let (_, v) = row?;
        out.push(decode(v.value())?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ticket::{new_ticket, NewTicket};
    use crate::domain::{Channel, Sentiment, Ticket, TicketState};

    #[test]
    fn a_positional_ticket_round_trips_and_a_named_one_still_opens() {
        let mut t = new_ticket(NewTicket {
            number: 42,
            account: (3, Channel::Whatsapp),
            contact_id: 7,
            public: false,
            influencer: true,
            previous: Some(41),
            now: 1_700_000_000_000,
        });
        t.subject = Some("Pedido atrasado".into());
        t.last_inbound_at = Some(1_700_000_100_000);
        t.replies = 3;
        t.labels = vec![1, 2];
        t.sentiment_final = Some(Sentiment::Positive);
        t.fields
            .insert("5".into(), serde_json::json!(["Reclamo", "Otro"]));
        t.last_message_excerpt = "¿Dónde está mi pedido?".into();
        let compact = encode_compact(&t).unwrap();
        let named = encode(&t).unwrap();
        let back: Ticket = decode(&compact).unwrap();
        assert_eq!(encode(&back).unwrap(), named);
        let old: Ticket = decode(&named).unwrap();
        assert_eq!(encode_compact(&old).unwrap(), compact);
        assert!(
            compact.len() * 2 < named.len(),
            "{} vs {}",
            compact.len(),
            named.len()
        );
        // A record from before `replies` (and other later fields) opens with their defaults.
        let mut v: serde_json::Value = serde_json::to_value(&t).unwrap();
        v.as_object_mut().unwrap().remove("replies");
        let earlier = rmp_serde::to_vec_named(&v).unwrap();
        assert_eq!(decode::<Ticket>(&earlier).unwrap().replies, 0);
        // Enums are one-byte codes now; records with their names still read.
        assert_eq!(v["channel"], 4);
        v["channel"] = "whatsapp".into();
        v["state"] = "closed".into();
        v["kind"] = "both".into();
        let named_enums: Ticket = decode(&rmp_serde::to_vec_named(&v).unwrap()).unwrap();
        assert_eq!(
            (named_enums.channel, named_enums.state, named_enums.kind),
            (
                Channel::Whatsapp,
                TicketState::Closed,
                crate::domain::TicketKind::Both
            )
        );
        v["channel"] = 99.into();
        assert!(decode::<Ticket>(&rmp_serde::to_vec_named(&v).unwrap()).is_err());
    }

    #[test]
    fn positional_messages_keep_their_notes_and_old_history_opens() {
        use crate::domain::template::{Part, TemplateUse, Value};
        use crate::domain::{DeliveryStatus, Direction, HistoryEntry, MailMeta, Message, Note};
        let m = Message {
            id: 9,
            ticket_number: 42,
            direction: Direction::Outbound,
            public: true,
            contact_id: None,
            user_id: Some(3),
            text: "Hola, ¿en qué te ayudo?".into(),
            attachments: vec![1, 2],
            reply_to: Some(8),
            external_id: Some("wamid.X".into()),
            status: DeliveryStatus::Failed,
            created_at: 1_700_000_000_000,
            opened_ticket: false,
            status_detail: Some(Note::Retrying {
                attempt: 2,
                error: Box::new(Note::VendorError {
                    code: 131047,
                    title: "Re-engagement message".into(),
                }),
            }),
            mail: Some(Box::new(MailMeta {
                message_id: Some("a@b".into()),
                subject: "Pedido".into(),
                html: None,
                quoted: Some("> antes".into()),
                notes: vec![Note::NoText, Note::Unsupported { kind: "x".into() }],
                from: None,
            })),
            notes: vec![Note::Referral {
                headline: "Oferta".into(),
                url: "https://x.cl".into(),
            }],
            reaction: Some("👍".into()),
            receipt_sent: true,
            template: Some(TemplateUse {
                name: "hola".into(),
                language: "es".into(),
                named: true,
                values: vec![Value {
                    part: Part::Body,
                    name: "1".into(),
                    value: "Ana".into(),
                }],
            }),
        };
        let compact = encode_compact(&m).unwrap();
        let named = encode(&m).unwrap();
        let back: Message = decode(&compact).unwrap();
        assert_eq!(encode(&back).unwrap(), named);
        let old: Message = decode(&named).unwrap();
        assert_eq!(encode_compact(&old).unwrap(), compact);
        assert!(compact.len() < named.len());

        // A history entry from before schema 8, a Spanish sentence in place of the note.
        let legacy = serde_json::json!({
            "id": 1, "ticket_number": 2, "at": 3, "action": "closed",
            "detail": "cerrado: Ana",
        });
        let old: HistoryEntry = decode(&rmp_serde::to_vec_named(&legacy).unwrap()).unwrap();
        assert_eq!(old.detail, Note::StateClosed { by: "Ana".into() });
    }

    #[test]
    fn a_positional_contact_round_trips_and_an_older_named_one_opens() {
        use crate::domain::{Contact, Identity};
        let c = Contact {
            id: 7,
            name: "Ana Pérez".into(),
            email: Some("ana@x.cl".into()),
            rut: Some("12345678-5".into()),
            identities: vec![Identity {
                account_id: 2,
                external_id: "56911112222".into(),
                username: None,
            }],
            labels: vec![3],
            fields: [("5".to_string(), serde_json::json!("Sí"))].into(),
            notes: "Prefiere WhatsApp".into(),
            more_phones: vec!["+56 9 3333 4444".into()],
            created_at: 1,
            updated_at: 2,
            last_contact_at: 3,
            ..Default::default()
        };
        let compact = encode_compact(&c).unwrap();
        assert_eq!(decode::<Contact>(&compact).unwrap(), c);
        assert!(compact.len() < encode(&c).unwrap().len());
        // Written with names and without the fields added since.
        let old = serde_json::json!({"id": 7, "name": "Ana", "created_at": 1, "updated_at": 2});
        let back: Contact = decode(&rmp_serde::to_vec_named(&old).unwrap()).unwrap();
        assert_eq!((back.name.as_str(), back.more_emails.len()), ("Ana", 0));
    }
}
