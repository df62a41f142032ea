use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn first_run_setup_creates_one_admin_only() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &[]);
    let anon = s.anonymous();
    assert_eq!(anon.ok("/api/v1/setup").await["needs_admin"], true);
    let page = reqwest::get(format!("{}/", s.base)).await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
    assert!(page.text().await.unwrap().contains("/app.js\""));
    let (st, v) = anon
        .post(
            "/api/v1/setup",
            json!({"email": "dueña@pyme.cl", "name": "Dueña", "password": "una-clave-larga"}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["role"], "admin");
    let (st, v) = anon
        .post(
            "/api/v1/setup",
            json!({"email": "otro@pyme.cl", "name": "Otro", "password": "una-clave-larga"}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), v["error"]["code"].as_str()),
        (409, Some("already_set_up"))
    );
    s.login("dueña@pyme.cl", "una-clave-larga").await;
}

#[tokio::test]
async fn openapi_health_uploads_catalog_and_contacts() {
    let s = Server::start();
    let api = s.admin().await;
    let doc = s.anonymous().ok("/api/openapi.json").await;
    for p in [
        "/api/v1/tickets",
        "/api/v1/tickets/{number}/messages",
        "/api/v1/search",
        "/api/v1/events",
        "/api/v1/uploads",
        "/api/v1/backups",
        "/api/v1/status",
    ] {
        assert!(doc["paths"][p].is_object(), "{p} missing from openapi.json");
    }
    assert_eq!(s.anonymous().ok("/healthz").await["status"], "ok");

    // Upload, attach to a reply, download with access check.
    let att = upload(&api, "boleta.pdf", "application/pdf", b"%PDF-1.4 boleta").await;
    assert_eq!(att["name"], "boleta.pdf");
    let acc = api.account("api", "API").await;
    let n = api.inbound(&acc, "u1", "c1", "¿me mandan la boleta?").await["ticket_number"]
        .as_u64()
        .unwrap();
    let (st, m) = api
        .post(
            &format!("/api/v1/tickets/{n}/messages"),
            json!({"text": "Aquí va", "attachment_ids": [att["id"]]}),
        )
        .await;
    assert_eq!(st, 201, "{m}");
    assert_eq!(m["attachments"][0]["name"], "boleta.pdf");
    assert_eq!(m["status"], "queued");
    let file = api
        .request(reqwest::Method::GET, att["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), 200);
    assert!(file.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("boleta.pdf"));
    assert_eq!(file.bytes().await.unwrap().as_ref(), b"%PDF-1.4 boleta");
    // An agent of another account cannot fetch it.
    api.create_user("ag@example.cl", "Ag", "agent").await;
    let agent = s.login("ag@example.cl", "clave-agente-1").await;
    assert_eq!(agent.get(att["url"].as_str().unwrap()).await.0, 404);
    // Nor attach someone else's upload to a message of their own.
    let acc2 = api.account("api", "Del agente").await;
    let agent_id = agent.ok("/api/v1/me").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    api.enable(&agent_id, &acc2, "enabled").await;
    let n2 = api.inbound(&acc2, "u2", "c2", "hola").await["ticket_number"]
        .as_u64()
        .unwrap();
    let other_upload = upload(&api, "privado.pdf", "application/pdf", b"%PDF secreto").await;
    let (st, v) = agent
        .post(
            &format!("/api/v1/tickets/{n2}/messages"),
            json!({"text": "toma", "attachment_ids": [other_upload["id"]]}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), v["error"]["code"].as_str()),
        (422, Some("unknown_attachment")),
        "{v}"
    );
    // Active content never renders from our origin, whatever type the uploader claimed.
    let svg = upload(
        &api,
        "x.svg",
        "image/SVG+xml; charset=utf-8",
        b"<svg onload=alert(1)>",
    )
    .await;
    let res = api
        .request(reqwest::Method::GET, svg["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "application/octet-stream");
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    assert!(res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("sandbox"));
    // Oversized upload.
    assert_eq!(oversized_upload(&api, 26 * 1024 * 1024).await, 413);

    // Account secrets are write-only; a masked value sent back keeps the stored one.
    let ninety = api.sla_policy(90, None, false).await;
    let thirty = api.sla_policy(30, None, false).await;
    let mail = api
        .created(
            "/api/v1/accounts",
            json!({"kind": "email", "name": "Soporte", "settings": {"imap_password": "s3creta", "sla_policy_id": ninety}}),
        )
        .await;
    assert_eq!(mail["settings"]["imap_password"], "********");
    assert_eq!(mail["settings"]["sla_policy_id"], ninety.as_str());
    let mid = mail["id"].as_str().unwrap();
    let (st, v) = api
        .patch(
            &format!("/api/v1/accounts/{mid}"),
            json!({"settings": {"imap_password": "********", "sla_policy_id": thirty}}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["settings"]["sla_policy_id"], thirty.as_str());
    assert!(!v.to_string().contains("s3creta"));
    for (settings, code) in [
        (json!({"sla_policy_id": "999999"}), "unknown_sla_policy"),
        (json!({"sla_policy_id": 5}), "invalid_setting"),
        // Moved to SLA policies in schema 12: said so, not silently kept.
        (json!({"sla_minutes": 30}), "setting_moved"),
    ] {
        let (st, e) = api
            .patch(
                &format!("/api/v1/accounts/{mid}"),
                json!({ "settings": settings }),
            )
            .await;
        assert_eq!(
            (st.as_u16(), e["error"]["code"].as_str()),
            (422, Some(code))
        );
    }
    // A policy an account follows is not deleted.
    let (st, e) = api.delete(&format!("/api/v1/sla_policies/{thirty}")).await;
    assert_eq!(
        (st.as_u16(), e["error"]["code"].as_str()),
        (409, Some("sla_policy_in_use"))
    );
    assert_eq!(api.delete(&format!("/api/v1/accounts/{mid}")).await.0, 204);
    assert_eq!(api.get(&format!("/api/v1/accounts/{mid}")).await.0, 404);

    // Labels, teams, canned responses: CRUD.
    let l = api
        .created(
            "/api/v1/labels",
            json!({"name": "Reclamo", "color": "#cf222e"}),
        )
        .await;
    let lid = l["id"].as_str().unwrap();
    let (st, l2) = api
        .patch(
            &format!("/api/v1/labels/{lid}"),
            json!({"name": "Reclamos"}),
        )
        .await;
    assert_eq!((st.as_u16(), l2["name"].as_str()), (200, Some("Reclamos")));
    assert_eq!(api.delete(&format!("/api/v1/labels/{lid}")).await.0, 204);
    assert_eq!(api.delete(&format!("/api/v1/labels/{lid}")).await.0, 404);
    let me = api.ok("/api/v1/me").await;
    let t = api
        .created(
            "/api/v1/teams",
            json!({"name": "Postventa", "members": [me["id"]]}),
        )
        .await;
    assert_eq!(t["members"][0], me["id"]);
    let (st, _) = api
        .patch(&format!("/api/v1/tickets/{n}"), json!({"team_id": t["id"]}))
        .await;
    assert_eq!(st, 200);
    let tid = t["id"].as_str().unwrap();
    assert_eq!(
        api.ok(&format!("/api/v1/tickets?team={tid}")).await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let c = api
        .created(
            "/api/v1/canned_responses",
            json!({"title": "Saludo", "shortcut": "hola", "text": "Hola {{customer.name}}"}),
        )
        .await;
    assert_eq!(
        api.ok("/api/v1/canned_responses").await["items"][0]["id"],
        c["id"]
    );

    // Contacts: create, edit, link (omnichannel), comments with mentions.
    let a = api
        .created(
            "/api/v1/contacts",
            json!({"name": "Pedro Soto", "rut": "7.654.321-6", "email": "pedro@soto.cl"}),
        )
        .await;
    assert_eq!(a["rut"], "7654321-6");
    let b = api
        .created("/api/v1/contacts", json!({"name": "pedro_ig"}))
        .await;
    let (st, linked) = api
        .post(
            &format!("/api/v1/contacts/{}/link", a["id"].as_str().unwrap()),
            json!({"contact_id": b["id"]}),
        )
        .await;
    assert_eq!(st, 200, "{linked}");
    assert_eq!(linked["linked"][0], b["id"]);
    let other = api
        .ok(&format!("/api/v1/contacts/{}", b["id"].as_str().unwrap()))
        .await;
    assert_eq!(other["linked"][0], a["id"]);
    let (st, _) = api
        .patch(
            &format!("/api/v1/contacts/{}", a["id"].as_str().unwrap()),
            json!({"rut": "1-1"}),
        )
        .await;
    assert_eq!(st, 422);
    // A mention names a user picked by id, who must be able to see the ticket: Ag works on
    // another account only, so Ag cannot be mentioned here, and nothing is stored.
    let mention = json!({"text": "@Ag revisa esto por favor", "mentions": [agent_id]});
    let (st, err) = api
        .post(&format!("/api/v1/tickets/{n}/comments"), mention.clone())
        .await;
    assert_eq!(st, 422, "{err}");
    assert_eq!(err["error"]["code"], "mention_not_allowed");
    api.enable(&agent_id, &acc, "enabled").await;
    let (st, cm) = api
        .post(&format!("/api/v1/tickets/{n}/comments"), mention)
        .await;
    assert_eq!(st, 201);
    assert_eq!(cm["mentions"], json!([agent_id]));
    let list = api.ok(&format!("/api/v1/tickets/{n}/comments")).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn demo_fills_an_empty_data_dir_with_a_realistic_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_with(dir.path(), &["--demo"], &[]);
    let admin = s.login("admin@demo.atiende.cl", "demo-admin").await;
    let mut total = 0;
    for state in ["open", "closed", "ignored"] {
        let mut cursor = String::new();
        let mut n = 0;
        loop {
            let page = admin
                .ok(&format!("/api/v1/tickets?state={state}&limit=200{cursor}"))
                .await;
            n += page["items"].as_array().unwrap().len();
            match page["next_cursor"].as_str() {
                Some(c) => cursor = format!("&cursor={c}"),
                None => break,
            }
        }
        assert!(n >= 50, "{n} {state} tickets");
        total += n;
    }
    assert!((800..=1000).contains(&total), "{total} tickets");
    let accounts = admin.ok("/api/v1/accounts").await;
    let kinds: std::collections::HashSet<&str> = accounts["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.len() >= 5, "{kinds:?}");
    let contacts = admin.ok("/api/v1/contacts?limit=200").await;
    let page = contacts["items"].as_array().unwrap();
    assert!(
        page.iter().all(|c| c["rut_formatted"].is_string()),
        "every demo customer has a valid RUT"
    );
    // Agents sign in and see only their accounts.
    let agent = s.login("sofia@demo.atiende.cl", "demo-agente").await;
    assert_eq!(
        agent.ok("/api/v1/accounts").await["items"]
            .as_array()
            .unwrap()
            .len(),
        accounts["items"].as_array().unwrap().len() - 1
    );
    // Security finding 14: the demo's customers live on a reserved domain, and its answers
    // are history: nothing waits to be sent, whatever account is connected later.
    assert!(page.iter().all(|c| c["email"]
        .as_str()
        .is_none_or(|e| e.ends_with("@cliente.example"))));
    let status = admin.ok("/api/v1/status").await;
    assert_eq!(
        (&status["mail_outbox"], &status["outbox"]),
        (&json!(0), &json!(0))
    );
    // The sample accounts of channels still to come are listed but answer nothing: a reply
    // there is refused (not queued for ever); a web chat ticket is answered as ever.
    let account_of = |kind: &str| {
        accounts["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["kind"] == kind)
            .map(|a| a["id"].as_str().unwrap().to_string())
            .unwrap()
    };
    for (kind, status, code) in [
        ("whatsapp", 422, "channel_not_connected"),
        ("webchat", 201, ""),
    ] {
        let acc = account_of(kind);
        let open = admin
            .ok(&format!("/api/v1/tickets?account={acc}&state=open&limit=1"))
            .await;
        let n = open["items"][0]["number"].as_u64().unwrap();
        let before = admin.ok(&format!("/api/v1/tickets/{n}/messages")).await["items"]
            .as_array()
            .unwrap()
            .len();
        let (st, v) = admin
            .post(
                &format!("/api/v1/tickets/{n}/messages"),
                json!({"text": "respuesta"}),
            )
            .await;
        assert_eq!(st.as_u16(), status, "{kind}: {v}");
        if !code.is_empty() {
            assert_eq!(v["error"]["code"], code);
            let after = admin.ok(&format!("/api/v1/tickets/{n}/messages")).await["items"]
                .as_array()
                .unwrap()
                .len();
            assert_eq!(after, before, "nothing stored");
        }
    }
}

/// OPS-2 and OPS-5: the status page and JSON say whether Atiende and each channel work (the
/// error text only to administrators); /metrics speaks Prometheus to this machine.
#[tokio::test]
async fn status_page_and_metrics() {
    let s = Server::start();
    let api = s.admin().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let acc = api
        .created(
            "/api/v1/accounts",
            serde_json::json!({"kind": "email", "name": "Buzón caído", "settings": {
                "address": "soporte@tienda.test",
                "imap": {"host": "127.0.0.1", "port": closed, "security": "plain", "username": "u", "password": "p"}}}),
        )
        .await;
    let id = acc["id"].as_str().unwrap().to_string();
    let admin_view = eventually(30, "the failing channel in the status", || async {
        let v = api.ok("/api/v1/status").await;
        (v["status"] == "degraded").then_some(v)
    })
    .await;
    let channel_of = |status: &serde_json::Value| {
        status["channels"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["account_id"] == id.as_str())
            .unwrap()
            .clone()
    };
    let channel = channel_of(&admin_view);
    assert_eq!(channel["health"]["status"], "failing");
    assert!(channel["health"]["last_error"]
        .as_str()
        .unwrap()
        .contains("conexión"));
    assert!(channel["health"]["last_error_detail"]
        .as_str()
        .unwrap()
        .contains("connect"));
    assert_eq!(admin_view["store_writable"], true);
    assert!(admin_view["disk_free_bytes"].as_u64().unwrap() > 0);
    // Anyone sees that it fails, not the server's words.
    let anon = s.anonymous();
    let public = anon.ok("/api/v1/status").await;
    let c = channel_of(&public);
    assert_eq!(c["health"]["status"], "failing");
    assert!(c["health"]["last_error"].is_null());
    assert_eq!(public["details"], false);
    assert!(public["disk_free_bytes"].is_null());
    // A request a local proxy forwards is not "this machine".
    let proxied = reqwest::Client::new()
        .get(format!("{}/metrics", s.base))
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(proxied.status(), 403);
    let page = reqwest::get(format!("{}/status", s.base)).await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Estado del servicio") && html.contains("Buzón caído"),
        "{html}"
    );
    let metrics = reqwest::get(format!("{}/metrics", s.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "atiende_up 1",
        "# TYPE atiende_channel_up gauge",
        &format!("atiende_channel_up{{account=\"{id}\",kind=\"email\"}} 0"),
        "atiende_http_responses_total{class=\"2xx\"}",
        "atiende_http_request_duration_seconds_count",
        "atiende_mail_outbox 0",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
}

/// OPS-5 configuration: `atiende.toml` in the data dir, overridden by `ATIENDE_*` variables;
/// `config check` prints the effective values and refuses typos with the key's name.
#[tokio::test]
async fn configuration_file_and_check() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("atiende.toml"),
        "public_url = \"https://soporte.tienda.cl/\"\nmax_upload_mb = 1\n",
    )
    .unwrap();
    let out = std::process::Command::new(bin())
        .args(["config", "check", "--data"])
        .arg(dir.path())
        .env("ATIENDE_LISTEN", "127.0.0.1:9009")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("listen = \"127.0.0.1:9009\""), "{text}");
    assert!(
        text.contains("public_url = \"https://soporte.tienda.cl\""),
        "{text}"
    );
    assert!(text.contains("max_upload_mb = 1"), "{text}");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "max_uplod_mb = 3\n").unwrap();
    let out = std::process::Command::new(bin())
        .args(["config", "check", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("max_uplod_mb"));

    // HTTPS settings from a flag and the file show with their defaults filled in; a domain
    // that is not one is refused.
    let https = dir.path().join("https.toml");
    std::fs::write(&https, "[https]\ntrusted_proxies = [\"10.0.0.0/8\"]\n").unwrap();
    let check = |domain: &str| {
        std::process::Command::new(bin())
            .args(["config", "check", "--domain", domain, "--config"])
            .arg(&https)
            .output()
            .unwrap()
    };
    let out = check("soporte.tienda.cl");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for line in [
        "domain = \"soporte.tienda.cl\"",
        "https_listen = \"0.0.0.0:443\"",
        "acme_challenge = \"http-01\"",
        "trusted_proxies = [\"10.0.0.0/8\"]",
        "secure_cookies = true",
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
    let out = check("soporte");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a name"));

    // The server reads the same file: a 2 MB upload is over its 1 MB limit.
    admin_create(dir.path(), ADMIN_EMAIL, "Admin", ADMIN_PASSWORD, "admin");
    let s = Server::start_in(dir.path(), &[]);
    let api = s.admin().await;
    assert_eq!(oversized_upload(&api, 2 * 1024 * 1024).await, 413);
}
