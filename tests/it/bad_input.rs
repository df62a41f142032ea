use reqwest::Method;
use serde_json::json;

use crate::harness::*;

/// Every bad request answers with the API.md error shape and the right status — never a
/// 500 — and writes nothing.
#[tokio::test]
async fn every_bad_input_class_gets_a_clear_error_and_writes_nothing() {
    let s = Server::start();
    let api = s.admin().await;
    let acc = api.account("api", "API").await;
    let n = api.inbound(&acc, "ok1", "c1", "hola").await["ticket_number"]
        .as_u64()
        .unwrap();
    let before_tickets = api.ok("/api/v1/tickets?limit=200").await;
    let before_contacts = api.ok("/api/v1/contacts?limit=200").await;
    let inbound = format!("/api/v1/accounts/{acc}/inbound");

    let raw = |method: Method, path: String, body: &'static str, ctype: &'static str| {
        let api = api.clone();
        async move {
            let res = api
                .request(method, &path)
                .header("content-type", ctype)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let v: serde_json::Value = res.json().await.unwrap_or(json!(null));
            (status, v)
        }
    };
    let cases: Vec<(u16, &str, (u16, serde_json::Value))> = vec![
        (400, "invalid_json", raw(Method::POST, inbound.clone(), "{\"external_id\": ", "application/json").await),
        (415, "unsupported_media_type", raw(Method::POST, inbound.clone(), "{}", "text/plain").await),
        (422, "invalid_body", raw(Method::POST, inbound.clone(), "{\"external_id\": 5, \"contact\": {\"external_id\": \"x\"}, \"text\": \"t\"}", "application/json").await),
        (422, "invalid_body", raw(Method::POST, inbound.clone(), "{\"contact\": {\"external_id\": \"x\"}, \"text\": \"t\"}", "application/json").await),
        (422, "invalid_body", raw(Method::POST, inbound.clone(), "{\"external_id\": \"e\", \"contact\": {\"external_id\": \"x\"}, \"text\": \"t\", \"colour\": 1}", "application/json").await),
        (422, "invalid_body", raw(Method::PATCH, format!("/api/v1/tickets/{n}"), "{\"state\": \"archived\"}", "application/json").await),
        (422, "invalid_body", raw(Method::PATCH, format!("/api/v1/tickets/{n}"), "{\"important\": \"yes\"}", "application/json").await),
    ];
    for (want_status, want_code, (status, body)) in cases {
        assert_eq!(status, want_status, "{body}");
        assert_eq!(body["error"]["code"], want_code, "{body}");
        assert!(body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }

    // Invalid RUT and email, empty text.
    let (st, v) = api
        .post(&inbound, json!({"external_id": "bad1", "contact": {"external_id": "c9", "rut": "12.345.678-4"}, "text": "hola"}))
        .await;
    assert_eq!(
        (st.as_u16(), v["error"]["code"].as_str()),
        (422, Some("invalid_rut")),
        "{v}"
    );
    assert_eq!(v["error"]["field"], "contact.rut");
    let (st, v) = api
        .post(&inbound, json!({"external_id": "bad2", "contact": {"external_id": "c9", "email": "no-es-correo"}, "text": "hola"}))
        .await;
    assert_eq!(st, 422, "{v}");
    let (st, _) = api
        .post(
            &inbound,
            json!({"external_id": "bad3", "contact": {"external_id": "c9"}, "text": "   "}),
        )
        .await;
    assert_eq!(st, 422);
    let (st, v) = api
        .post(&inbound, json!({"external_id": "bad4", "contact": {"external_id": "c9"}, "text": "x", "attachments": ["999"]}))
        .await;
    assert_eq!(
        (st.as_u16(), v["error"]["code"].as_str()),
        (422, Some("unknown_attachment")),
        "{v}"
    );

    // Oversized body: 413.
    let big = Oversized {
        prefix: r#"{"external_id": "big", "contact": {"external_id": "c9"}, "text": ""#.into(),
        filler: b'x',
        size: 2 * 1024 * 1024,
        suffix: r#""}"#.into(),
    };
    let (st, v) = oversized_post(&api, &inbound, "application/json", big).await;
    assert_eq!(st, 413, "{v}");
    assert_eq!(v["error"]["code"], "payload_too_large");

    // Unknown ids and malformed ids.
    assert_eq!(api.get("/api/v1/tickets/999999").await.0, 404);
    let (st, v) = api.get("/api/v1/tickets/abc").await;
    assert_eq!(
        (st.as_u16(), v["error"]["code"].as_str()),
        (400, Some("invalid_id"))
    );
    assert_eq!(
        api.post(
            "/api/v1/accounts/999/inbound",
            json!({"external_id": "z", "contact": {"external_id": "c"}, "text": "t"})
        )
        .await
        .0,
        404
    );
    assert_eq!(
        api.post(
            &format!("/api/v1/tickets/{n}/merge"),
            json!({"into": 424242})
        )
        .await
        .0,
        404
    );
    assert_eq!(
        api.patch(
            &format!("/api/v1/tickets/{n}"),
            json!({"assignee_id": "777"})
        )
        .await
        .0,
        422
    );
    assert_eq!(
        api.patch(&format!("/api/v1/tickets/{n}"), json!({"labels": ["55"]}))
            .await
            .0,
        422
    );
    let (st, v) = api.get("/api/v1/nope").await;
    assert_eq!(
        (st.as_u16(), v["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    // Bad query strings.
    for q in [
        "state=archived",
        "important=maybe",
        "sort=sideways",
        "limit=0",
        "limit=1000",
        "created_from=yesterday",
        "cursor=%%%",
        "assignee=nobody",
    ] {
        let (st, v) = api.get(&format!("/api/v1/tickets?{q}")).await;
        assert_eq!(st, 400, "{q}: {v}");
        assert!(v["error"]["code"].is_string());
    }

    // No session; missing and wrong CSRF token; wrong role.
    let anon = s.anonymous();
    let (st, v) = anon.get("/api/v1/tickets").await;
    assert_eq!(
        (st.as_u16(), v["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let mut no_csrf = api.clone();
    no_csrf.csrf = None;
    let (st, v) = no_csrf
        .patch(&format!("/api/v1/tickets/{n}"), json!({"important": true}))
        .await;
    assert_eq!(
        (st.as_u16(), v["error"]["code"].as_str()),
        (403, Some("csrf_missing"))
    );
    let mut bad_csrf = api.clone();
    bad_csrf.csrf = Some("forged".into());
    let (st, v) = bad_csrf
        .post(
            &inbound,
            json!({"external_id": "csrf", "contact": {"external_id": "c9"}, "text": "t"}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), v["error"]["code"].as_str()),
        (403, Some("csrf_invalid"))
    );
    api.create_user("agente@example.cl", "Agente", "agent")
        .await;
    let agent = s.login("agente@example.cl", "clave-agente-1").await;
    let (st, v) = agent
        .post(
            "/api/v1/users",
            json!({"email": "x@y.cl", "name": "X", "password": "12345678"}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), v["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );

    // Nothing above wrote anything.
    assert_eq!(api.ok("/api/v1/tickets?limit=200").await, before_tickets);
    assert_eq!(api.ok("/api/v1/contacts?limit=200").await, before_contacts);
    assert_eq!(
        api.ok(&format!("/api/v1/tickets/{n}/messages")).await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Sign-in is rate-limited.
    let mut limited = false;
    for _ in 0..15 {
        let (st, _) = anon
            .post(
                "/api/v1/session",
                json!({"email": "nadie@example.cl", "password": "incorrecta"}),
            )
            .await;
        if st == 429 {
            limited = true;
            break;
        }
        assert_eq!(st, 401);
    }
    assert!(limited, "sign-in attempts must be rate-limited");
}
