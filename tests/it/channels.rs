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
    assert_eq!(items.len(), 11);
    for ready in ["email", "webchat", "form", "api"] {
        assert_eq!(of(ready)["availability"], "ready", "{ready}");
    }
    for coming in [
        "whatsapp",
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
        11
    );
}
