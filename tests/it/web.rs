//! What the browser app relies on: versioned assets whose imports all resolve, the session
//! probe, the changelog and the saved board.

use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn assets_are_versioned_cached_and_every_import_resolves() {
    let s = Server::start();
    let page = reqwest::get(format!("{}/", s.base)).await.unwrap();
    assert_eq!(page.headers()["cache-control"], "no-cache");
    let html = page.text().await.unwrap();
    let start = html.find("/assets/").expect("asset url") + "/assets/".len();
    let build = &html[start..start + 12];
    assert!(build.bytes().all(|b| b.is_ascii_hexdigit()), "{build}");
    assert!(!html.contains("{{build}}"));

    // Walk the module graph from app.js: every relative import must be served.
    let mut todo = vec!["app.js".to_string()];
    let mut seen = std::collections::HashSet::new();
    while let Some(path) = todo.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let res = reqwest::get(format!("{}/assets/{build}/{path}", s.base))
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(
            res.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        let body = res.text().await.unwrap();
        let dir = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        for part in body.split(" from './").skip(1) {
            let target = &part[..part.find('\'').unwrap()];
            todo.push(if dir.is_empty() {
                target.to_string()
            } else {
                format!("{dir}/{target}")
            });
        }
    }
    assert!(seen.len() >= 8, "modules: {seen:?}");
    for locale in ["es", "en"] {
        let res = reqwest::get(format!("{}/assets/{build}/locales/{locale}.json", s.base))
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    // An old build id still gets the file, uncached; a missing file is a 404.
    let old = reqwest::get(format!("{}/assets/000000000000/app.js", s.base))
        .await
        .unwrap();
    assert_eq!(
        (
            old.status().as_u16(),
            old.headers()["cache-control"].to_str().unwrap()
        ),
        (200, "no-cache")
    );
    let missing = reqwest::get(format!("{}/assets/{build}/nope.js", s.base))
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn session_probe_and_changelog_need_no_sign_in() {
    let s = Server::start();
    let anon = s.anonymous();
    let (st, v) = anon.get("/api/v1/session").await;
    assert_eq!((st.as_u16(), &v), (200, &json!({"me": null})));
    let api = s.admin().await;
    let me = api.ok("/api/v1/session").await["me"].clone();
    assert_eq!(me["role"], "admin");
    assert!(me["permissions"].as_array().unwrap().len() > 3);
    assert!(me["csrf_token"].as_str().unwrap().len() > 10);
    let log = anon.ok("/api/v1/changelog").await;
    let first = &log["releases"][0];
    assert!(first["title"].as_str().unwrap().starts_with("0."));
    assert!(!first["items"].as_array().unwrap().is_empty());
    // The login page shows user-level notes in the reader's language, not the technical log.
    assert!(
        first["title"].as_str().unwrap().contains("en preparación"),
        "{log}"
    );
    let en = anon.ok("/api/v1/changelog?lang=en").await;
    assert!(
        en["releases"][0]["title"]
            .as_str()
            .unwrap()
            .contains("in the works"),
        "{en}"
    );
    // «Ayuda» is a page for people, in their language.
    let help = text_of(anon.request(reqwest::Method::GET, "/ayuda")).await;
    assert!(
        help.contains("<h1>Ayuda de Atiende</h1>") && help.contains("Atajos de teclado"),
        "{help}"
    );
    let help = text_of(anon.request(reqwest::Method::GET, "/ayuda?lang=en")).await;
    assert!(
        help.contains("<h1>Atiende help</h1>") && help.contains("/api/openapi.json"),
        "{help}"
    );
}

#[tokio::test]
async fn board_is_saved_per_user_and_bad_columns_are_refused_whole() {
    let s = Server::start();
    let admin = s.admin().await;
    admin.create_user("ana@x.cl", "Ana", "agent").await;
    let ana = s.login("ana@x.cl", "clave-agente-1").await;
    assert_eq!(ana.ok("/api/v1/me/board").await, json!({"columns": null}));

    let good = json!({"columns": [
        {"id": "mine", "name": "", "filters": {"state": "open", "assignee": "me"}},
        {"id": "c1", "name": "  WhatsApp  ", "filters": {"channel": "whatsapp", "answered": "false", "q": " "},
         "sort": "created_asc", "sound": true, "notify": false, "auto_refresh": true},
    ]});
    let (st, v) = ana.put("/api/v1/me/board", good).await;
    assert_eq!(st, 200, "{v}");
    let saved = ana.ok("/api/v1/me/board").await;
    assert_eq!(saved, v);
    assert_eq!(saved["columns"][0]["sort"], "updated_desc");
    assert_eq!(saved["columns"][1]["name"], "WhatsApp");
    // Empty filter values are dropped rather than saved.
    assert_eq!(
        saved["columns"][1]["filters"],
        json!({"channel": "whatsapp", "answered": "false"})
    );
    assert_eq!(saved["columns"][1]["auto_refresh"], true);
    // Each user has their own board.
    assert_eq!(admin.ok("/api/v1/me/board").await, json!({"columns": null}));

    let col = |filters: serde_json::Value| json!({"id": "x", "name": "X", "filters": filters});
    let cases = [
        (
            json!({"columns": [col(json!({"colour": "red"}))]}),
            422,
            "unknown_filter",
        ),
        (
            json!({"columns": [col(json!({"state": "abierto"}))]}),
            400,
            "invalid_query",
        ),
        (
            json!({"columns": [col(json!({"created_from": "ayer"}))]}),
            400,
            "invalid_query",
        ),
        (
            json!({"columns": [col(json!({})), col(json!({}))]}),
            422,
            "duplicate_column",
        ),
        (
            json!({"columns": [{"id": "x", "name": "X", "sort": "random"}]}),
            422,
            "invalid_sort",
        ),
        (
            json!({"columns": [{"id": "", "name": "X"}]}),
            422,
            "required",
        ),
        (
            json!({"columns": [{"id": "x", "name": "N".repeat(61)}]}),
            422,
            "too_long",
        ),
        (json!({"columns": [{"id": "x"}]}), 422, "invalid_body"),
    ];
    for (body, status, code) in cases {
        let (st, v) = ana.put("/api/v1/me/board", body.clone()).await;
        assert_eq!(
            (st.as_u16(), v["error"]["code"].as_str()),
            (status, Some(code)),
            "{body} → {v}"
        );
    }
    let many: Vec<_> = (0..21)
        .map(|i| json!({"id": format!("c{i}"), "name": "C"}))
        .collect();
    let (st, v) = ana.put("/api/v1/me/board", json!({"columns": many})).await;
    assert_eq!(
        (st.as_u16(), v["error"]["code"].as_str()),
        (422, Some("too_many_columns"))
    );
    // Nothing of the refused boards was written.
    assert_eq!(ana.ok("/api/v1/me/board").await, saved);
}

#[tokio::test]
async fn message_lists_filter_page_and_respect_visibility() {
    let s = Server::start();
    let admin = s.admin().await;
    let ig = admin.account("webchat", "IG").await;
    let mail = admin.account("email", "Correo").await;
    for i in 0..5 {
        admin
            .inbound(
                &ig,
                &format!("ig{i}"),
                &format!("c{i}"),
                &format!("comentario {i}"),
            )
            .await;
    }
    let n = admin.inbound(&mail, "m1", "cm", "un correo").await["ticket_number"]
        .as_u64()
        .unwrap();
    admin
        .created(
            &format!("/api/v1/tickets/{n}/messages"),
            json!({"text": "respuesta"}),
        )
        .await;

    let all = admin.ok("/api/v1/messages").await;
    let texts: Vec<_> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts[0], "respuesta", "newest first");
    assert_eq!(texts.len(), 7);
    assert_eq!(
        all["items"][0]["contact_name"],
        all["items"][1]["author"]["name"]
    );
    assert_eq!(all["next_cursor"], serde_json::Value::Null);

    let inbound_ig = admin
        .ok(&format!(
            "/api/v1/messages?account={ig}&direction=inbound&limit=2"
        ))
        .await;
    assert_eq!(inbound_ig["items"].as_array().unwrap().len(), 2);
    assert_eq!(inbound_ig["items"][0]["text"], "comentario 4");
    assert_eq!(inbound_ig["items"][0]["channel"], "webchat");
    let cursor = inbound_ig["next_cursor"].as_str().unwrap().to_string();
    let next = admin
        .ok(&format!(
            "/api/v1/messages?account={ig}&direction=inbound&limit=2&cursor={cursor}"
        ))
        .await;
    assert_eq!(next["items"][0]["text"], "comentario 2");
    let outbound = admin.ok("/api/v1/messages?direction=outbound").await;
    assert_eq!(outbound["items"].as_array().unwrap().len(), 1);
    let by_channel = admin.ok("/api/v1/messages?channel=email").await;
    assert_eq!(by_channel["items"].as_array().unwrap().len(), 2);

    // An agent enabled only on the email account never sees Instagram messages.
    let ana_id = admin.create_user("ana@x.cl", "Ana", "agent").await;
    admin.enable(&ana_id, &mail, "enabled").await;
    let ana = s.login("ana@x.cl", "clave-agente-1").await;
    let mine = ana.ok("/api/v1/messages").await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 2);

    for (q, field) in [
        ("direction=sideways", "direction"),
        ("public=maybe", "public"),
        ("cursor=abc", "cursor"),
        ("channel=fax", "channel"),
        ("limit=0", "limit"),
    ] {
        let (st, v) = admin.get(&format!("/api/v1/messages?{q}")).await;
        assert_eq!(
            (st.as_u16(), v["error"]["field"].as_str()),
            (400, Some(field)),
            "{q} → {v}"
        );
    }

    // A board column of messages takes only the message filters.
    let (st, v) = admin
        .put(
            "/api/v1/me/board",
            json!({"columns": [{"id": "m", "name": "IG", "kind": "messages",
                "filters": {"account": ig, "direction": "inbound", "public": "true"}}]}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["columns"][0]["kind"], "messages");
    for (filters, code) in [
        (json!({"state": "open"}), "unknown_filter"),
        (json!({"direction": "up"}), "invalid_query"),
    ] {
        let (_, v) = admin
            .put(
                "/api/v1/me/board",
                json!({"columns": [{"id": "m", "name": "IG", "kind": "messages", "filters": filters}]}),
            )
            .await;
        assert_eq!(v["error"]["code"], code, "{filters}");
    }
}
