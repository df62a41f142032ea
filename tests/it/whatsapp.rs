//! WhatsApp (CHAN-4) against a local Graph API (tests/it/fake_graph.rs): the URL check, signed
//! webhooks built from the recorded payloads, every inbound kind the channel reads, answers
//! through the outbox, and delivery reports in and out of order.

use serde_json::{json, Value};

use crate::fake_graph::{deliver, fixture, status_of, Answer, FakeGraph};
use crate::harness::{eventually, Api, Server};

const PHONE_ID: &str = "1122334455667";
const TOKEN: &str = "EAAG-system-user-token";
const SECRET: &str = "f74a638462f975e9eadfcbb84e4aa06b";

async fn messages(api: &Api, number: u64) -> Vec<Value> {
    api.ok(&format!("/api/v1/tickets/{number}/messages")).await["items"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn whatsapp_messages_in_answers_out_and_reports_in_any_order() {
    let s = Server::start();
    let admin = s.admin().await;
    let fake = FakeGraph::start(TOKEN, PHONE_ID).await;

    // The account: ids checked, secrets write-only, a verify token made by Atiende.
    let (st, err) = admin
        .post(
            "/api/v1/accounts",
            json!({"kind": "whatsapp", "name": "WhatsApp Ventas", "settings": {
                "phone_number_id": "+56 9 1234", "waba_id": "1234567890987654321",
                "access_token": TOKEN, "app_secret": SECRET}}),
        )
        .await;
    assert_eq!(st, 422, "{err}");
    assert_eq!(err["error"]["field"], "settings.phone_number_id");
    let account = admin
        .created(
            "/api/v1/accounts",
            json!({"kind": "whatsapp", "name": "WhatsApp Ventas", "settings": {
                "phone_number_id": PHONE_ID, "waba_id": "1234567890987654321",
                "access_token": TOKEN, "app_secret": SECRET, "api_base": fake.base}}),
        )
        .await;
    let acc = account["id"].as_str().unwrap().to_string();
    assert_eq!(account["settings"]["access_token"], "********");
    assert_eq!(account["settings"]["app_secret"], "********");
    let verify_token = account["settings"]["verify_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(verify_token.len() >= 24, "{account}");

    // Meta's check of the callback URL: the challenge back as plain text, or 403.
    let hook = format!("{}/api/v1/channels/whatsapp/{acc}/webhook", s.base);
    let check = |token: String| {
        let url =
            format!("{hook}?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={token}");
        async move { reqwest::get(url).await.unwrap() }
    };
    assert_eq!(check("otro".into()).await.status(), 403);
    let ok = check(verify_token.clone()).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "1158201444");

    // A text message: unsigned or wrongly signed is refused and stores nothing; signed, it is
    // stored once however often Meta delivers it.
    let text = fixture("message.json")["text"].clone();
    assert_eq!(deliver(&hook, None, &text).await, 401);
    assert_eq!(deliver(&hook, Some("otra-clave"), &text).await, 401);
    let list = format!("/api/v1/tickets?account={acc}&state=open,closed");
    assert!(admin.ok(&list).await["items"]
        .as_array()
        .unwrap()
        .is_empty());
    for _ in 0..3 {
        assert_eq!(deliver(&hook, Some(SECRET), &text).await, 200);
    }
    let tickets = admin.ok(&list).await["items"].as_array().unwrap().clone();
    assert_eq!(tickets.len(), 1);
    let number = tickets[0]["number"].as_u64().unwrap();
    let first = messages(&admin, number).await;
    assert_eq!(first.len(), 1, "redeliveries are no new messages");
    assert_eq!(first[0]["text"], "Body Text");
    let contact = admin
        .ok(&format!(
            "/api/v1/contacts/{}",
            tickets[0]["contact"]["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(contact["name"], "Test Name");
    assert_eq!(contact["phone"], "+972987654321");

    // Every other kind in the fixtures reaches the same conversation; none is refused.
    let cases = fixture("message.json");
    let mut sent = 1;
    for (case, body) in cases.as_object().unwrap() {
        if case == "text" {
            continue;
        }
        // Each case reuses one message id: give each its own, as Meta would.
        let mut body = body.clone();
        for m in body["entry"][0]["changes"][0]["value"]["messages"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            m["id"] = format!("wamid.case-{case}").into();
        }
        assert_eq!(deliver(&hook, Some(SECRET), &body).await, 200, "{case}");
        sent += 1;
    }
    let all = messages(&admin, number).await;
    assert_eq!(all.len(), sent, "one message per case");
    let with_note = |code: &str| {
        all.iter()
            .filter(|m| {
                m["notes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|n| n["code"] == code)
            })
            .count()
    };
    assert!(
        with_note("wa_media") >= 6,
        "photos, videos, audio, voice, documents, stickers"
    );
    assert!(
        with_note("unsupported") >= 2,
        "unsupported kinds are kept, with a note"
    );
    assert_eq!(with_note("referral"), 1);
    assert!(all.iter().any(|m| m["text"]
        .as_str()
        .unwrap()
        .contains("https://www.google.com/maps?q=")));

    // An answer goes out through the Graph API to the customer's wa_id, and takes the id
    // Meta gave it.
    let reply = admin
        .created(
            &format!("/api/v1/tickets/{number}/messages"),
            json!({"text": "¡Hola! ¿En qué te ayudamos?"}),
        )
        .await;
    let reply_id = reply["id"].as_str().unwrap().to_string();
    let find = |id: String| {
        let admin = admin.clone();
        async move {
            messages(&admin, number)
                .await
                .into_iter()
                .find(|m| m["id"] == id.as_str())
                .unwrap()
        }
    };
    let out = eventually(20, "the answer sent", || async {
        let m = find(reply_id.clone()).await;
        (m["status"] == "sent").then_some(m)
    })
    .await;
    let sends = fake.graph.sends();
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0]["messaging_product"], "whatsapp");
    assert_eq!(sends[0]["to"], "972987654321");
    assert_eq!(sends[0]["text"]["body"], "¡Hola! ¿En qué te ayudamos?");
    let wamid = out["external_id"].as_str().unwrap().to_string();
    assert_eq!(wamid, "wamid.out-0");

    // Reports arrive out of order: read before delivered; the message never goes back.
    for case in ["read", "delivered", "sent"] {
        assert_eq!(
            deliver(&hook, Some(SECRET), &status_of(case, &wamid)).await,
            200
        );
    }
    assert_eq!(find(reply_id.clone()).await["status"], "read");
    // A failure report after the customer read it changes nothing.
    assert_eq!(
        deliver(&hook, Some(SECRET), &status_of("failed", &wamid)).await,
        200
    );
    assert_eq!(find(reply_id.clone()).await["status"], "read");

    // A second answer that Meta accepts and later reports failed: failed, with Meta's reason.
    let second = admin
        .created(
            &format!("/api/v1/tickets/{number}/messages"),
            json!({"text": "¿Sigues ahí?"}),
        )
        .await;
    let second_id = second["id"].as_str().unwrap().to_string();
    let sent2 = eventually(20, "the second answer sent", || async {
        let m = find(second_id.clone()).await;
        (m["status"] == "sent").then_some(m)
    })
    .await;
    let wamid2 = sent2["external_id"].as_str().unwrap().to_string();
    assert_eq!(
        deliver(&hook, Some(SECRET), &status_of("failed", &wamid2)).await,
        200
    );
    let failed = find(second_id.clone()).await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["status_note"]["code"], "vendor_error");
    assert_eq!(failed["status_note"]["params"]["code"], 130472);
    assert!(failed["status_detail"].as_str().unwrap().contains("130472"));

    // Meta refuses an answer outright (a revoked token): failed with the Graph error, and
    // nothing is retried for ever.
    fake.graph.answer(Answer::Error(401, 190));
    let third = admin
        .created(
            &format!("/api/v1/tickets/{number}/messages"),
            json!({"text": "tercera"}),
        )
        .await;
    let third_id = third["id"].as_str().unwrap().to_string();
    let refused = eventually(20, "the third answer failed", || async {
        let m = find(third_id.clone()).await;
        (m["status"] == "failed").then_some(m)
    })
    .await;
    assert_eq!(refused["status_note"]["params"]["code"], 190);
}
