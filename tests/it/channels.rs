//! The channel boundary as the API shows it: the kinds, their account forms, and the kinds
//! still to come.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn kinds_list_their_forms_and_coming_kinds_cannot_be_created() {
    let s = Server::start();
    let admin = s.admin().await;
    let kinds = admin.ok("/api/v1/channels").await;
    let items = kinds["items"].as_array().unwrap();
    let of = |kind: &str| items.iter().find(|k| k["kind"] == kind).unwrap().clone();
    // Eleven kinds (and the test channel when built with it).
    assert_eq!(items.iter().filter(|k| k["kind"] != "test").count(), 11);
    for ready in ["email", "webchat", "form", "api", "whatsapp"] {
        assert_eq!(of(ready)["availability"], "ready", "{ready}");
    }
    for coming in [
        "facebook",
        "instagram",
        "x",
        "x_search",
        "appstore",
        "playstore",
    ] {
        assert_eq!(of(coming)["availability"], "coming", "{coming}");
        let (st, v) = admin
            .post(
                "/api/v1/accounts",
                json!({"kind": coming, "name": "Pronto"}),
            )
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{coming}: {v}");
        assert_eq!(v["error"]["code"], "channel_coming");
        assert_eq!(v["error"]["field"], "kind");
    }
    assert!(admin.ok("/api/v1/accounts").await["items"]
        .as_array()
        .unwrap()
        .is_empty());
    // The email form: a required address, an IMAP group whose password is a secret.
    let email = of("email");
    let fields = email["fields"].as_array().unwrap();
    assert_eq!(fields[0]["key"], "address");
    assert_eq!(fields[0]["required"], true);
    let imap = fields.iter().find(|f| f["key"] == "imap").unwrap();
    assert_eq!(imap["type"], "group");
    let password = imap["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == "password")
        .unwrap();
    assert_eq!(password["type"], "secret");
    // Every kind's settings go through its own check.
    let (st, v) = admin
        .post(
            "/api/v1/accounts",
            json!({"kind": "webchat", "name": "Chat", "settings": {"allowed_origins": ["ftp://x"]}}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "settings.allowed_origins");
    // Agents may read the list (the app names kinds with it), not create accounts.
    admin
        .create_user("agente@example.cl", "Agente", "agent")
        .await;
    let agent = s.login("agente@example.cl", "clave-agente-1").await;
    assert_eq!(
        agent.ok("/api/v1/channels").await["items"]
            .as_array()
            .unwrap()
            .len(),
        items.len()
    );
}

/// The test channel (cargo feature `test-channel`, src/channels/test_channel.rs) plugs in
/// through the trait and one registry line, and gets its webhook route (documented), outbox
/// delivery with retries, a poller with health, and its line on /status.
#[tokio::test]
async fn a_channel_plugs_in_through_the_boundary() {
    use crate::fake_vendor::{sign, FakeVendor, SendMode};
    use std::sync::atomic::Ordering;
    let s = Server::start();
    let admin = s.admin().await;
    let kinds = admin.ok("/api/v1/channels").await;
    assert!(
        kinds["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kind"] == "test"),
        "the server was built without the test channel: build with --features test-channel (scripts/test does)"
    );
    let fake = FakeVendor::start("tok-123").await;
    let acc = admin
        .created(
            "/api/v1/accounts",
            json!({"kind": "test", "name": "Prueba", "settings": {
                "base_url": fake.base, "token": "tok-123", "secret": "s3creto", "poll": true}}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();

    // The webhook route (one for every channel), in the OpenAPI document.
    let openapi = admin.ok("/api/openapi.json").await;
    assert!(openapi["paths"]["/api/v1/channels/{kind}/{account}/webhook"].is_object());
    let hook = format!("{}/api/v1/channels/test/{acc}/webhook", s.base);
    let body = br#"{"messages": [{"id": "v1", "from": "u-77", "name": "Vendor Ana", "text": "hola desde el proveedor"}]}"#;
    let post = |sig: Option<String>| {
        let mut r = reqwest::Client::new()
            .post(&hook)
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(sig) = sig {
            r = r.header("x-test-signature", sig);
        }
        r.send()
    };
    assert_eq!(post(None).await.unwrap().status(), 401);
    assert_eq!(post(Some(sign("otro", body))).await.unwrap().status(), 401);
    let list_path = format!("/api/v1/tickets?account={acc}&state=open,closed");
    let tickets = |api: Api| {
        let path = list_path.clone();
        async move { api.ok(&path).await["items"].as_array().unwrap().clone() }
    };
    assert!(tickets(admin.clone()).await.is_empty(), "nothing stored");
    for _ in 0..2 {
        assert_eq!(
            post(Some(sign("s3creto", body))).await.unwrap().status(),
            200
        );
    }
    let list = tickets(admin.clone()).await;
    assert_eq!(list.len(), 1, "a redelivery is no new message");
    let number = list[0]["number"].as_u64().unwrap();
    let msgs = admin
        .ok(&format!("/api/v1/tickets/{number}/messages"))
        .await;
    assert_eq!(msgs["items"].as_array().unwrap().len(), 1);

    // Health from the poller host, and on /status.
    eventually(20, "the account connected", || async {
        let a = admin.ok(&format!("/api/v1/accounts/{acc}")).await;
        (a["health"]["status"] == "connected").then_some(())
    })
    .await;
    let status = admin.ok("/api/v1/status").await;
    let line = status["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["account_id"] == acc.as_str())
        .cloned()
        .unwrap();
    assert_eq!(line["health"]["status"], "connected");
    fake.vendor.set_ping_failing(true);
    eventually(20, "the account failing", || async {
        let a = admin.ok(&format!("/api/v1/accounts/{acc}")).await;
        (a["health"]["status"] == "failing").then_some(a)
    })
    .await;
    eventually(20, "/status degraded", || async {
        (admin.ok("/api/v1/status").await["status"] == "degraded").then_some(())
    })
    .await;
    fake.vendor.set_ping_failing(false);

    // Delivery through the outbox: the vendor is unavailable once, then takes it.
    fake.vendor.set_mode(SendMode::Unavailable(1));
    let reply = admin
        .created(
            &format!("/api/v1/tickets/{number}/messages"),
            json!({"text": "respuesta al proveedor"}),
        )
        .await;
    let reply_id = reply["id"].as_str().unwrap().to_string();
    let message = |api: Api, id: String| async move {
        api.ok(&format!("/api/v1/tickets/{number}/messages")).await["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == id.as_str())
            .cloned()
            .unwrap()
    };
    let retrying = eventually(20, "a failed first attempt", || async {
        let m = message(admin.clone(), reply_id.clone()).await;
        m["status_detail"].is_string().then_some(m)
    })
    .await;
    assert_eq!(retrying["status"], "queued");
    assert!(retrying["status_detail"]
        .as_str()
        .unwrap()
        .contains("intento 1"));
    eventually(30, "the retried answer sent", || async {
        let m = message(admin.clone(), reply_id.clone()).await;
        (m["status"] == "sent").then_some(())
    })
    .await;
    let sends = fake.vendor.sends.lock().unwrap().clone();
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0]["to"], "u-77");
    assert_eq!(sends[0]["text"], "respuesta al proveedor");
    assert_eq!(fake.vendor.send_attempts.load(Ordering::SeqCst), 2);
}

/// kill -9 while the test channel's vendor holds a send without answering: after the restart
/// the answer reads failed (it may have left) and is never sent again by itself; nothing
/// stored is lost.
#[tokio::test]
async fn a_crash_mid_send_never_sends_twice_on_any_channel() {
    use crate::fake_vendor::{FakeVendor, SendMode};
    use std::sync::atomic::Ordering;
    let mut s = Server::start();
    let dir = s.take_dir();
    let admin = s.admin().await;
    let fake = FakeVendor::start("tok-9").await;
    let (st, v) = admin
        .post(
            "/api/v1/accounts",
            json!({"kind": "test", "name": "Prueba", "settings": {
                "base_url": fake.base, "token": "tok-9", "secret": "x"}}),
        )
        .await;
    assert_eq!(
        st,
        StatusCode::CREATED,
        "{v} (build with --features test-channel: scripts/test does)"
    );
    let acc = v["id"].as_str().unwrap().to_string();
    let number = admin
        .inbound_with(
            &acc,
            json!({"external_id": "k1", "contact": {"external_id": "u-1"}, "text": "hola"}),
        )
        .await["ticket_number"]
        .as_u64()
        .unwrap();
    fake.vendor.set_mode(SendMode::Hang);
    let reply = admin
        .created(
            &format!("/api/v1/tickets/{number}/messages"),
            json!({"text": "se cuelga"}),
        )
        .await;
    let reply_id = reply["id"].as_str().unwrap().to_string();
    eventually(20, "the send handed to the vendor", || async {
        (fake.vendor.send_attempts.load(Ordering::SeqCst) == 1).then_some(())
    })
    .await;
    s.kill9();
    fake.vendor.set_mode(SendMode::Ok);
    let s = Server::start_in(&s.data, &[]);
    let admin = s.admin().await;
    let failed = eventually(20, "the interrupted answer marked failed", || async {
        admin
            .ok(&format!("/api/v1/tickets/{number}/messages"))
            .await["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == reply_id.as_str() && m["status"] == "failed")
            .cloned()
    })
    .await;
    assert!(failed["status_detail"]
        .as_str()
        .unwrap()
        .contains("interrump"));
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(
        fake.vendor.send_attempts.load(Ordering::SeqCst),
        1,
        "never sent again by itself"
    );
    assert_eq!(
        admin
            .ok(&format!("/api/v1/tickets/{number}/messages"))
            .await["items"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "nothing lost"
    );
    drop(dir);
}
