//! WhatsApp (CHAN-4) against a local Graph API (tests/it/fake_graph.rs): the URL check, signed
//! webhooks built from the recorded payloads, every inbound kind the channel reads, answers
//! through the outbox, and delivery reports in and out of order.

use serde_json::{json, Value};

use crate::fake_graph::{deliver, fixture, status_of, Answer, FakeGraph, WABA_ID};
use crate::harness::{eventually, upload, Api, Server};

const PHONE_ID: &str = "1122334455667";
const TOKEN: &str = "EAAG-system-user-token";
const SECRET: &str = "f74a638462f975e9eadfcbb84e4aa06b";

/// Meta's timestamps are seconds as strings; the recorded payloads are from 2023, older than
/// the 24-hour window: each delivery here is dated now, as Meta would date it.
fn now_dated(mut body: Value) -> Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    for m in body["entry"][0]["changes"][0]["value"]["messages"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        m["timestamp"] = now.clone().into();
    }
    body
}

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

    // "Probar conexión": the number as Meta has it; with a revoked token, what to do.
    let checked = admin
        .created(&format!("/api/v1/accounts/{acc}/check"), json!({}))
        .await;
    assert_eq!(checked["ok"], true, "{checked}");
    assert!(checked["facts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["key"] == "verified_name" && f["value"] == "Tienda Ejemplo"));
    fake.revoke_token("EAAG-new-token");
    let refused = admin
        .created(&format!("/api/v1/accounts/{acc}/check"), json!({}))
        .await;
    assert_eq!(refused["ok"], false);
    assert_eq!(refused["problem_note"]["code"], "wa_token_invalid");
    assert!(refused["problem"].as_str().unwrap().contains("token"));
    // The new token pasted into the account: connected again.
    let (st, _) = admin
        .patch(
            &format!("/api/v1/accounts/{acc}"),
            json!({"settings": {"access_token": "EAAG-new-token"}}),
        )
        .await;
    assert_eq!(st, 200);
    let again = admin
        .created(&format!("/api/v1/accounts/{acc}/check"), json!({}))
        .await;
    assert_eq!(again["ok"], true, "{again}");
    fake.revoke_token(TOKEN);
    let (st, _) = admin
        .patch(
            &format!("/api/v1/accounts/{acc}"),
            json!({"settings": {"access_token": TOKEN}}),
        )
        .await;
    assert_eq!(st, 200);

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
    let text = now_dated(fixture("message.json")["text"].clone());
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
        let mut body = now_dated(body.clone());
        for m in body["entry"][0]["changes"][0]["value"]["messages"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            m["id"] = format!("wamid.case-{case}").into();
        }
        assert_eq!(deliver(&hook, Some(SECRET), &body).await, 200, "{case}");
        // Reactions change a message (here one Atiende never had): no message of their own.
        if !case.contains("reaction") {
            sent += 1;
        }
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

    // A photo: fetched from Meta in two steps (the first URL has expired: asked again), its
    // sha256 checked, and attached to the message.
    let photo: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    fake.graph.add_media("media-photo-1", "image/jpeg", &photo);
    fake.graph.expire_next_download();
    let mut image = now_dated(fixture("message.json")["image"].clone());
    let pic = &mut image["entry"][0]["changes"][0]["value"]["messages"][0];
    pic["id"] = "wamid.photo-1".into();
    pic["image"]["id"] = "media-photo-1".into();
    assert_eq!(deliver(&hook, Some(SECRET), &image).await, 200);
    let with_file = eventually(30, "the photo attached", || async {
        messages(&admin, number).await.into_iter().find(|m| {
            m["external_id"] == "wamid.photo-1" && !m["attachments"].as_array().unwrap().is_empty()
        })
    })
    .await;
    let file = &with_file["attachments"][0];
    assert_eq!(file["content_type"], "image/jpeg");
    assert_eq!(file["size"], photo.len() as u64);
    assert!(with_file["notes"]
        .as_array()
        .unwrap()
        .iter()
        .all(|n| n["code"] != "wa_media"));
    let got = admin
        .request(reqwest::Method::GET, file["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().await.unwrap().as_ref(), photo.as_slice());

    // The agent opens the ticket: the customer's latest message is marked read at Meta, once.
    let latest_wamid = messages(&admin, number)
        .await
        .iter()
        .filter(|m| m["direction"] == "inbound")
        .max_by_key(|m| m["created_at"].as_str().unwrap().to_string())
        .unwrap()["external_id"]
        .as_str()
        .unwrap()
        .to_string();
    for _ in 0..2 {
        let (st, _) = admin
            .post(
                &format!("/api/v1/tickets/{number}/presence"),
                json!({"state": "viewing"}),
            )
            .await;
        assert_eq!(st, 204);
    }
    eventually(20, "the read receipt", || async {
        (!fake.graph.receipts().is_empty()).then_some(())
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(fake.graph.receipts(), vec![latest_wamid]);

    // An answer goes out through the Graph API to the customer's wa_id, and takes the id
    // Meta gave it.
    let reply = admin
        .created(
            &format!("/api/v1/tickets/{number}/messages"),
            json!({"text": "¡Hola! ¿En qué te ayudamos?", "reply_to": first[0]["id"]}),
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
    // It answers the customer's first message, quoted by Meta's id of it.
    assert_eq!(sends[0]["context"]["message_id"], "wamid.xyzxyz");
    let wamid = out["external_id"].as_str().unwrap().to_string();
    assert_eq!(wamid, "wamid.out-0");

    // The customer reacts to the answer, then takes the reaction back; and answers quoting
    // their first message (WhatsApp's context names it by its wamid).
    let mut react = fixture("message.json")["reaction"].clone();
    let reaction = &mut react["entry"][0]["changes"][0]["value"]["messages"][0];
    reaction["id"] = "wamid.react-1".into();
    reaction["reaction"]["message_id"] = wamid.clone().into();
    assert_eq!(deliver(&hook, Some(SECRET), &react).await, 200);
    assert_eq!(find(reply_id.clone()).await["reaction"], "😮");
    react["entry"][0]["changes"][0]["value"]["messages"][0]["reaction"]["emoji"] = "".into();
    assert_eq!(deliver(&hook, Some(SECRET), &react).await, 200);
    assert!(find(reply_id.clone()).await["reaction"].is_null());
    let mut quoting = now_dated(fixture("message.json")["reply"].clone());
    let quote = &mut quoting["entry"][0]["changes"][0]["value"]["messages"][0];
    quote["id"] = "wamid.quote-1".into();
    quote["context"]["id"] = "wamid.xyzxyz".into();
    quote["text"]["body"] = "sobre mi primer mensaje".into();
    assert_eq!(deliver(&hook, Some(SECRET), &quoting).await, 200);
    let quoted = messages(&admin, number)
        .await
        .into_iter()
        .find(|m| m["text"] == "sobre mi primer mensaje")
        .unwrap();
    assert_eq!(quoted["reply_to"], first[0]["id"]);

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
    assert_eq!(refused["status_note"]["code"], "wa_token_invalid");
    // The account says so (CHAN-12), and recovers with the next answer that goes out.
    let health = admin.ok(&format!("/api/v1/accounts/{acc}")).await["health"].clone();
    assert_eq!(health["status"], "failing", "{health}");
    assert!(health["last_error"].as_str().unwrap().contains("token"));
    fake.graph.answer(Answer::Ok);
    let (st, _) = admin
        .post(
            &format!("/api/v1/tickets/{number}/messages/{third_id}/resend"),
            json!({}),
        )
        .await;
    assert!(st.is_success(), "{st}");
    eventually(20, "the account connected again", || async {
        let a = admin.ok(&format!("/api/v1/accounts/{acc}")).await;
        (a["health"]["status"] == "connected").then_some(())
    })
    .await;

    // The 24-hour window: a customer whose last message is older gets no free text; the
    // answer is refused with a stable code, and nothing is sent.
    fake.graph.answer(Answer::Ok);
    let mut old = fixture("message.json")["text"].clone();
    let stale = &mut old["entry"][0]["changes"][0]["value"]["messages"][0];
    stale["id"] = "wamid.old-1".into();
    stale["from"] = "56911112222".into();
    old["entry"][0]["changes"][0]["value"]["contacts"][0]["wa_id"] = "56911112222".into();
    assert_eq!(deliver(&hook, Some(SECRET), &old).await, 200);
    let late = admin.ok(&list).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["number"].as_u64() != Some(number))
        .unwrap()["number"]
        .as_u64()
        .unwrap();
    let before = fake.graph.sends().len();
    let (st, err) = admin
        .post(
            &format!("/api/v1/tickets/{late}/messages"),
            json!({"text": "¿Hola?"}),
        )
        .await;
    assert_eq!(st, 422, "{err}");
    assert_eq!(err["error"]["code"], "outside_window");
    assert_eq!(fake.graph.sends().len(), before);
}

/// A WhatsApp account on the fake Graph API with one customer conversation: (account id,
/// webhook URL, ticket number).
async fn connected(admin: &Api, s: &Server, fake: &FakeGraph) -> (String, String, u64) {
    let account = admin
        .created(
            "/api/v1/accounts",
            json!({"kind": "whatsapp", "name": "WhatsApp Soporte", "settings": {
                "phone_number_id": PHONE_ID, "waba_id": WABA_ID,
                "access_token": TOKEN, "app_secret": SECRET, "api_base": fake.base}}),
        )
        .await;
    let acc = account["id"].as_str().unwrap().to_string();
    let hook = format!("{}/api/v1/channels/whatsapp/{acc}/webhook", s.base);
    let text = now_dated(fixture("message.json")["text"].clone());
    assert_eq!(deliver(&hook, Some(SECRET), &text).await, 200);
    let list = format!("/api/v1/tickets?account={acc}");
    let number = admin.ok(&list).await["items"][0]["number"]
        .as_u64()
        .unwrap();
    (acc, hook, number)
}

/// An agent's answer on ticket `number` (the API's view of it).
async fn answer(api: &Api, number: u64, body: Value) -> Value {
    api.created(&format!("/api/v1/tickets/{number}/messages"), body)
        .await
}

async fn wait_status(api: &Api, number: u64, id: &str, status: &str) -> Value {
    eventually(30, &format!("message {id} {status}"), || async {
        messages(api, number)
            .await
            .into_iter()
            .find(|m| m["id"] == id && m["status"] == status)
    })
    .await
}

#[tokio::test]
async fn whatsapp_files_templates_rate_limits_and_quality() {
    let (support, _) = crate::email::users("wa");
    let watcher = "alertaswa";
    crate::mailserver::servers().add_user(watcher);
    let s = Server::start();
    let admin = s.admin().await;
    crate::email::email_account(&admin, &support, json!({})).await;
    // A second administrator who reads mail: alerts reach every administrator.
    admin
        .created(
            "/api/v1/users",
            json!({"email": format!("{watcher}@atiende.test"), "name": "Alertas",
                "role": "admin", "language": "es"}),
        )
        .await;
    crate::email::wait_mailbox(watcher, 1).await;
    let fake = FakeGraph::start(TOKEN, PHONE_ID).await;
    let (acc, hook, number) = connected(&admin, &s, &fake).await;
    let ticket = admin.ok(&format!("/api/v1/tickets/{number}")).await;
    assert!(
        ticket["reply_window_ends_at"].is_string(),
        "the window shows: {ticket}"
    );

    // An answer with a photo: uploaded to the number's media, then sent by its id, the text
    // as its caption.
    let photo: Vec<u8> = (0..20_000u32).map(|i| (i % 241) as u8).collect();
    let file = upload(&admin, "boleta.png", "image/png", &photo).await;
    let reply = answer(
        &admin,
        number,
        json!({"text": "Aquí va la boleta", "attachment_ids": [file["id"]]}),
    )
    .await;
    let sent = wait_status(&admin, number, reply["id"].as_str().unwrap(), "sent").await;
    let sends = fake.graph.sends();
    assert_eq!(sends.len(), 1, "{sends:?}");
    assert_eq!(sends[0]["type"], "image");
    assert_eq!(sends[0]["image"]["caption"], "Aquí va la boleta");
    let media_id = sends[0]["image"]["id"].as_str().unwrap().to_string();
    let (name, mime, bytes) = fake.graph.uploads.lock().unwrap()[&media_id].clone();
    assert_eq!((name.as_str(), mime.as_str()), ("boleta.png", "image/png"));
    assert_eq!(bytes, photo);
    assert_eq!(sent["external_id"], "wamid.out-0");

    // A text with a PDF and a voice note: the text rides on the document, the audio goes
    // on its own; the reports of the last part move the answer.
    let pdf = upload(
        &admin,
        "contrato.pdf",
        "application/pdf",
        b"%PDF-1.4 contrato",
    )
    .await;
    let voice = upload(&admin, "nota.ogg", "audio/ogg", b"OggS nota de voz").await;
    let two = answer(
        &admin,
        number,
        json!({"text": "El contrato y una nota", "attachment_ids": [pdf["id"], voice["id"]]}),
    )
    .await;
    let two_id = two["id"].as_str().unwrap().to_string();
    let out = wait_status(&admin, number, &two_id, "sent").await;
    let sends = fake.graph.sends();
    assert_eq!(sends.len(), 3);
    assert_eq!(sends[1]["type"], "document");
    assert_eq!(sends[1]["document"]["filename"], "contrato.pdf");
    assert_eq!(sends[1]["document"]["caption"], "El contrato y una nota");
    assert_eq!(sends[2]["type"], "audio");
    assert!(sends[2]["audio"].get("caption").is_none());
    assert_eq!(out["external_id"], "wamid.out-2");
    assert_eq!(
        deliver(&hook, Some(SECRET), &status_of("read", "wamid.out-2")).await,
        200
    );
    wait_status(&admin, number, &two_id, "read").await;

    // Meta says the customer is getting messages too fast (131056): the answer waits
    // without an attempt spent, and the next answer to the same customer waits its turn.
    fake.graph.answer(Answer::ErrorOnce(400, 131056));
    let slow = answer(&admin, number, json!({"text": "uno"})).await;
    let slow_id = slow["id"].as_str().unwrap().to_string();
    let waiting = eventually(20, "the answer waiting", || async {
        messages(&admin, number)
            .await
            .into_iter()
            .find(|m| m["id"] == slow_id.as_str() && m["status_note"]["code"] == "rate_limited")
    })
    .await;
    assert_eq!(waiting["status"], "queued");
    assert!(waiting["status_detail"]
        .as_str()
        .unwrap()
        .contains("WhatsApp"));
    let after = answer(&admin, number, json!({"text": "dos"})).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(
        fake.graph.sends().len(),
        3,
        "nothing goes while Meta asks to wait"
    );
    wait_status(&admin, number, &slow_id, "sent").await;
    wait_status(&admin, number, after["id"].as_str().unwrap(), "sent").await;
    let texts: Vec<Value> = fake.graph.sends()[3..]
        .iter()
        .map(|b| b["text"]["body"].clone())
        .collect();
    assert_eq!(texts, vec![json!("uno"), json!("dos")], "in order");

    // Templates, as Meta lists them (two pages): text ones offered with their variables,
    // one with an image header listed as not sendable, the pending one kept with its state.
    let listed = admin.ok(&format!("/api/v1/accounts/{acc}/templates")).await;
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 4, "{listed}");
    let follow = items
        .iter()
        .find(|t| t["name"] == "seguimiento_pedido")
        .unwrap();
    assert_eq!(follow["header"], "Pedido {{1}}");
    assert_eq!(follow["variables"].as_array().unwrap().len(), 3);
    assert_eq!(follow["variables"][1]["example"], "Ana");
    let named = items
        .iter()
        .find(|t| t["name"] == "reserva_confirmada")
        .unwrap();
    assert_eq!(named["named"], true);
    assert_eq!(named["variables"][0]["name"], "guests");
    assert!(items.iter().find(|t| t["name"] == "promo_imagen").unwrap()["unsupported"].is_string());

    // A customer who wrote two days ago: free text is refused; a template goes, its
    // variables filled, and the ticket shows what the customer reads.
    let mut old = fixture("message.json")["text"].clone();
    let stale = &mut old["entry"][0]["changes"][0]["value"]["messages"][0];
    stale["id"] = "wamid.old-2".into();
    stale["from"] = "56933334444".into();
    old["entry"][0]["changes"][0]["value"]["contacts"][0]["wa_id"] = "56933334444".into();
    assert_eq!(deliver(&hook, Some(SECRET), &old).await, 200);
    let late = admin.ok(&format!("/api/v1/tickets?account={acc}")).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["number"].as_u64() != Some(number))
        .unwrap()["number"]
        .as_u64()
        .unwrap();
    let (st, err) = admin
        .post(
            &format!("/api/v1/tickets/{late}/messages"),
            json!({"text": "¿Hola?"}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), err["error"]["code"].as_str()),
        (422, Some("outside_window"))
    );
    let choice = |values: Value| json!({"template": {"name": "seguimiento_pedido", "language": "es", "values": values}});
    let (st, err) = admin
        .post(
            &format!("/api/v1/tickets/{late}/messages"),
            choice(json!([{"part": "body", "name": "1", "value": "Ana"}])),
        )
        .await;
    assert_eq!(st, 422, "{err}");
    assert_eq!(err["error"]["code"], "template_variable");
    let (st, err) = admin
        .post(
            &format!("/api/v1/tickets/{late}/messages"),
            json!({"template": {"name": "promo_imagen", "language": "es"}}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), err["error"]["code"].as_str()),
        (422, Some("template_unsupported"))
    );
    let templated = answer(
        &admin,
        late,
        choice(json!([
                {"part": "header", "name": "1", "value": "#889"},
                {"part": "body", "name": "1", "value": "Ana"},
                {"part": "body", "name": "2", "value": "#889"}])),
    )
    .await;
    assert_eq!(
        templated["text"],
        "Pedido #889\n\nHola Ana, tu pedido #889 va en camino.\n\nTienda Ejemplo"
    );
    assert_eq!(templated["template"]["name"], "seguimiento_pedido");
    wait_status(&admin, late, templated["id"].as_str().unwrap(), "sent").await;
    let sent = fake.graph.sends().last().unwrap().clone();
    assert_eq!(sent["type"], "template");
    assert_eq!(sent["to"], "56933334444");
    assert_eq!(sent["template"]["language"]["code"], "es");
    assert_eq!(sent["template"]["components"][0]["type"], "header");
    assert_eq!(
        sent["template"]["components"][1]["parameters"][1]["text"],
        "#889"
    );
    // A named template sends its parameters by name.
    let named = answer(
        &admin,
        late,
        json!({"template": {"name": "reserva_confirmada", "language": "en_US", "values": [
                {"part": "body", "name": "guests", "value": "4"},
                {"part": "body", "name": "day", "value": "sábado"}]}}),
    )
    .await;
    wait_status(&admin, late, named["id"].as_str().unwrap(), "sent").await;
    let sent = fake.graph.sends().last().unwrap().clone();
    assert_eq!(
        sent["template"]["components"][0]["parameters"][0]["parameter_name"],
        "guests"
    );

    // Meta flags the number's quality: the account says so and what to do, and every
    // administrator gets a mail.
    let flagged = json!({"object": "whatsapp_business_account", "entry": [{"id": WABA_ID,
        "time": 1700000000, "changes": [{"field": "phone_number_quality_update", "value": {
            "display_phone_number": "56955550000", "event": "FLAGGED", "current_limit": "TIER_1K"}}]}]});
    assert_eq!(deliver(&hook, Some(SECRET), &flagged).await, 200);
    let health = admin.ok(&format!("/api/v1/accounts/{acc}")).await["health"].clone();
    assert_eq!(
        health["notice_note"]["code"], "wa_quality_flagged",
        "{health}"
    );
    assert!(health["notice"].as_str().unwrap().contains("1000"));
    let mails = crate::email::wait_mailbox(watcher, 2).await;
    assert!(crate::email::decoded_subject(&mails[1]).contains("WhatsApp Soporte"));
    assert!(crate::email::body_text(&mails[1]).contains("calidad"));

    // The token is revoked: templates cannot be fetched (what to do, in the admin's words),
    // the next answer fails, the account says why, and the administrators hear of it once.
    fake.revoke_token("EAAG-otro");
    let (st, err) = admin
        .post(&format!("/api/v1/accounts/{acc}/templates/sync"), json!({}))
        .await;
    assert_eq!(st, 502, "{err}");
    assert_eq!(err["error"]["code"], "templates_unavailable");
    assert!(err["error"]["message"].as_str().unwrap().contains("token"));
    for text in ["tres", "cuatro"] {
        let m = answer(&admin, number, json!({ "text": text })).await;
        wait_status(&admin, number, m["id"].as_str().unwrap(), "failed").await;
    }
    let health = admin.ok(&format!("/api/v1/accounts/{acc}")).await["health"].clone();
    assert_eq!(health["last_error_note"]["code"], "wa_token_invalid");
    let mails = crate::email::wait_mailbox(watcher, 3).await;
    assert!(crate::email::body_text(&mails[2]).contains("token"));
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(
        crate::mailserver::servers().mailbox(watcher).len(),
        3,
        "one alert"
    );
}
