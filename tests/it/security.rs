//! Findings of the security review (issue "Security and faults"): each test failed before
//! its fix.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::*;

/// Finding 1: a customer is visible only to those who may see one of their accounts.
#[tokio::test]
async fn contacts_follow_account_visibility() {
    let s = Server::start();
    let admin = s.admin().await;
    let hidden = admin.account("api", "Oculta").await;
    let shown = admin.account("api", "Visible").await;
    let agent_id = admin
        .create_user("agente@example.cl", "Agente", "agent")
        .await;
    admin.enable(&agent_id, &shown, "enabled").await;
    admin
        .inbound_with(
            &hidden,
            json!({"external_id": "m1", "contact": {"external_id": "c1", "name": "Zacarías Oculto",
                "email": "zacarias@example.com"}, "text": "hola"}),
        )
        .await;
    admin
        .inbound_with(
            &shown,
            json!({"external_id": "m2", "contact": {"external_id": "c2", "name": "Zacarías Visible"},
                "text": "hola"}),
        )
        .await;
    let everyone = admin.ok("/api/v1/contacts").await;
    let id_of = |name: &str| {
        everyone["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .map(|c| c["id"].as_str().unwrap().to_string())
            .unwrap()
    };
    let (hidden_c, shown_c) = (id_of("Zacarías Oculto"), id_of("Zacarías Visible"));

    let agent = s.login("agente@example.cl", "clave-agente-1").await;
    let (st, _) = agent.get(&format!("/api/v1/contacts/{hidden_c}")).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = agent
        .patch(
            &format!("/api/v1/contacts/{hidden_c}"),
            json!({"name": "x"}),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = agent
        .post(
            &format!("/api/v1/contacts/{shown_c}/link"),
            json!({"contact_id": hidden_c}),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let listed = agent.ok("/api/v1/contacts").await;
    let names: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Zacarías Visible"]);
    assert_eq!(
        agent.ok(&format!("/api/v1/contacts/{shown_c}")).await["id"],
        shown_c.as_str()
    );
    // The admin's search finds both once indexed; the agent's finds only the visible one, by
    // name and by the hidden one's email.
    eventually(20, "both contacts indexed", || {
        let admin = admin.clone();
        async move {
            let r = admin.ok("/api/v1/search?q=zacarias").await;
            (r["contacts"].as_array().unwrap().len() == 2).then_some(())
        }
    })
    .await;
    let r = agent.ok("/api/v1/search?q=zacarias").await;
    assert_eq!(r["contacts"].as_array().unwrap().len(), 1);
    assert_eq!(r["contacts"][0]["id"], shown_c.as_str());
    let r = agent.ok("/api/v1/search?q=zacarias%40example.com").await;
    assert!(r["contacts"].as_array().unwrap().is_empty());
    let r = agent.ok("/api/v1/contacts?q=zacarias").await;
    assert_eq!(r["items"].as_array().unwrap().len(), 1);
    // Once enabled on the account, the customer is there.
    admin.enable(&agent_id, &hidden, "enabled").await;
    assert_eq!(
        agent.ok(&format!("/api/v1/contacts/{hidden_c}")).await["id"],
        hidden_c.as_str()
    );
}

/// Finding 3: moving an email account to another server needs its password again, whether
/// the mask is sent back or the password left out.
#[tokio::test]
async fn a_stored_mail_password_never_follows_a_server_change() {
    let s = Server::start();
    let admin = s.admin().await;
    let acc = admin
        .created(
            "/api/v1/accounts",
            json!({"kind": "email", "name": "Correo", "settings": {"address": "soporte@example.com",
                "imap": {"host": "127.0.0.1", "port": 1, "security": "plain", "username": "soporte",
                    "password": "secreta"}}}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/v1/accounts/{acc}");
    for imap in [
        json!({"host": "localhost"}),
        json!({"port": 2}),
        json!({"username": "otra"}),
        json!({"host": "localhost", "password": "********"}),
    ] {
        let (st, v) = admin
            .patch(&path, json!({"settings": {"imap": imap}}))
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{imap}: {v}");
        assert_eq!(v["error"]["code"], "password_required");
        assert_eq!(v["error"]["field"], "settings.imap.password");
    }
    assert_eq!(
        admin.ok(&path).await["settings"]["imap"]["host"],
        "127.0.0.1"
    );
    // Typed again, the change is taken; the same server keeps its stored password.
    let (st, v) = admin
        .patch(
            &path,
            json!({"settings": {"imap": {"host": "localhost", "password": "otra-clave"}}}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, v) = admin
        .patch(&path, json!({"settings": {"imap": {"mailbox": "Soporte"}}}))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
}

/// Finding 7: the data dir is the owner's alone, whatever the umask; an old one is tightened.
#[tokio::test]
async fn the_data_dir_is_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let mut s = Server::start();
    let dir = s.take_dir();
    let admin = s.admin().await;
    let acc = admin.account("api", "API").await;
    admin.inbound(&acc, "m1", "c1", "hola").await;
    upload(&admin, "nota.txt", "text/plain", b"adjunto").await;
    s.stop();
    // As an older build with umask 022 left it.
    let data = s.data.clone();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let db = data.join("atiende.redb");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let s = Server::start_in(&data, &[]);
    let admin = s.admin().await;
    upload(&admin, "otra.txt", "text/plain", b"otro adjunto").await;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&db), 0o600);
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            }
            out.push(p);
        }
    }
    let mut all = Vec::new();
    walk(&data.join("attachments"), &mut all);
    assert!(all.iter().any(|p| p.is_file()), "no attachment written");
    for p in all {
        let m = mode(&p);
        assert_eq!(m & 0o077, 0, "{} is {m:o}", p.display());
    }
    drop(dir);
}

/// Finding 6: a reset link is checked before the new password is hashed, and failed attempts
/// from one address are limited like failed sign-ins.
#[tokio::test]
async fn password_link_guesses_are_limited_per_address() {
    let s = Server::start();
    let anon = s.anonymous();
    let mut codes = Vec::new();
    for i in 0..51 {
        let (st, v) = anon
            .post(
                &format!("/api/v1/password_resets/adivinado{i}"),
                json!({"password": "una-clave-larga-1"}),
            )
            .await;
        codes.push((st, v["error"]["code"].clone()));
    }
    assert!(codes[..50]
        .iter()
        .all(|(st, c)| *st == StatusCode::GONE && c == "link_expired"));
    assert_eq!(codes[50].0, StatusCode::TOO_MANY_REQUESTS);
    // Setup is over: the answer needs no hashing and costs the caller no attempt.
    let (st, v) = anon
        .post(
            "/api/v1/setup",
            json!({"email": "otro@example.cl", "name": "Otro", "password": "una-clave-larga-1"}),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
}

/// Finding 4: API tokens can be listed and revoked, and a password change ends every session
/// and token of the user but the session making the change.
#[tokio::test]
async fn tokens_are_listed_revoked_and_end_with_the_password() {
    let s = Server::start();
    let admin = s.admin().await;
    let uid = admin.create_user("ana@example.cl", "Ana", "agent").await;
    let ana = s.login("ana@example.cl", "clave-agente-1").await;
    let other_session = s.login("ana@example.cl", "clave-agente-1").await;
    let mut tokens = Vec::new();
    for name in ["CRM", "Planilla"] {
        let t = ana.created("/api/v1/tokens", json!({"name": name})).await;
        let mut bearer = s.anonymous();
        bearer.bearer = Some(t["token"].as_str().unwrap().to_string());
        assert_eq!(bearer.ok("/api/v1/me").await["email"], "ana@example.cl");
        tokens.push((t["id"].as_str().unwrap().to_string(), bearer));
    }
    let listed = ana.ok("/api/v1/tokens").await;
    let names: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["CRM", "Planilla"]);
    assert!(
        listed["items"][0].get("token").is_none(),
        "never shown again"
    );
    // One's own list holds one's own tokens only; another agent cannot revoke Ana's (an
    // administrator can, from Administración › Tokens de API: `users.rs`).
    assert!(admin.ok("/api/v1/tokens").await["items"]
        .as_array()
        .unwrap()
        .is_empty());
    admin.create_user("beto@example.cl", "Beto", "agent").await;
    let beto = s.login("beto@example.cl", "clave-agente-1").await;
    let (first_id, first) = &tokens[0];
    assert_eq!(
        beto.delete(&format!("/api/v1/tokens/{first_id}")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        ana.delete(&format!("/api/v1/tokens/{first_id}")).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(first.get("/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
    let (_, second) = &tokens[1];
    assert_eq!(second.get("/api/v1/me").await.0, StatusCode::OK);
    // A new password ends the other session and every token, not the session changing it.
    let (st, v) = ana
        .patch(
            &format!("/api/v1/users/{uid}"),
            json!({"password": "otra-clave-segura", "current_password": "clave-agente-1"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(second.get("/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        other_session.get("/api/v1/me").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(ana.get("/api/v1/me").await.0, StatusCode::OK);
}

/// Finding 8: a stolen session cannot change the account's email (where reset links go)
/// without the current password.
#[tokio::test]
async fn changing_ones_email_needs_the_current_password() {
    let s = Server::start();
    let admin = s.admin().await;
    let uid = admin.create_user("ana@example.cl", "Ana", "agent").await;
    let ana = s.login("ana@example.cl", "clave-agente-1").await;
    let path = format!("/api/v1/users/{uid}");
    let (st, v) = ana
        .patch(&path, json!({"email": "ladron@example.com"}))
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["field"], "current_password");
    let (st, v) = ana
        .patch(
            &path,
            json!({"email": "ladron@example.com", "current_password": "adivinada-1"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["code"], "wrong_password");
    assert_eq!(admin.ok(&path).await["email"], "ana@example.cl");
    let (st, v) = ana
        .patch(
            &path,
            json!({"email": "ana.nueva@example.cl", "current_password": "clave-agente-1"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["email"], "ana.nueva@example.cl");
    // Sending the same email back with other changes needs nothing.
    let (st, v) = ana
        .patch(
            &path,
            json!({"email": "ana.nueva@example.cl", "language": "en"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
}

/// Finding 9: a live event stream ends when its session is signed out or its token revoked.
#[tokio::test]
async fn a_signed_out_session_loses_its_event_stream() {
    use futures_util::StreamExt;
    let s = Server::start();
    let admin = s.admin().await;
    let other = s.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let t = admin
        .created("/api/v1/tokens", json!({"name": "stream"}))
        .await;
    let mut bearer = s.anonymous();
    bearer.bearer = Some(t["token"].as_str().unwrap().to_string());
    let token_id = t["id"].as_str().unwrap().to_string();
    for (who, end) in [("session", 0), ("token", 1)] {
        let api = if end == 0 { &other } else { &bearer };
        let res = api
            .request(reqwest::Method::GET, "/api/v1/events")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let mut body = res.bytes_stream();
        // The stream says hello first.
        let first = tokio::time::timeout(std::time::Duration::from_secs(5), body.next())
            .await
            .unwrap();
        assert!(first.is_some());
        if end == 0 {
            assert_eq!(other.delete("/api/v1/session").await.0, 204);
        } else {
            assert_eq!(
                admin.delete(&format!("/api/v1/tokens/{token_id}")).await.0,
                204
            );
        }
        let ended = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            while let Some(chunk) = body.next().await {
                if chunk.is_err() {
                    break;
                }
            }
        })
        .await;
        assert!(ended.is_ok(), "the {who}'s stream is still open");
    }
}

/// A connection from `source` (any 127.x address: Linux's loopback takes them all, so one
/// machine plays several clients).
async fn connect_from(source: &str, server: &str) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    socket.connect(server.parse().unwrap()).await.unwrap()
}

/// A whole request on a connection of its own: the status line's code, or None when the
/// server closed it unanswered.
async fn status_from(source: &str, server: &str) -> Option<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut c = connect_from(source, server).await;
    let _ = c
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await;
    let mut answer = Vec::new();
    // A refused connection reads as closed (or reset): either way, no status line.
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        c.read_to_end(&mut answer),
    )
    .await
    .expect("the server answers or closes at once");
    let text = String::from_utf8_lossy(&answer);
    text.strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
}

/// Finding 5: half-sent requests cannot hold the server. One address is capped (others are
/// still served), the whole server is capped, a request's headers must come within the
/// header timeout (then the places are given back), and /metrics counts the refusals.
#[tokio::test]
async fn slow_clients_cannot_hold_the_server() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    admin_create(dir.path(), ADMIN_EMAIL, "Admin", ADMIN_PASSWORD, "admin");
    std::fs::write(
        dir.path().join("atiende.toml"),
        "[connections]\nheader_timeout_seconds = 2\nmax = 40\nmax_per_address = 20\n",
    )
    .unwrap();
    let s = Server::start_in(dir.path(), &[]);
    let server = s.base.trim_start_matches("http://").to_string();

    let mut held = Vec::new();
    for _ in 0..20 {
        let mut c = connect_from("127.0.0.2", &server).await;
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        held.push(c);
    }
    // That address is full; another is served.
    assert_eq!(status_from("127.0.0.2", &server).await, None);
    assert_eq!(status_from("127.0.0.3", &server).await, Some(200));
    // A second slow address fills the server: a third is turned away too.
    for _ in 0..20 {
        let mut c = connect_from("127.0.0.4", &server).await;
        c.write_all(b"GET /healthz HTTP/1.1\r\nHo").await.unwrap();
        held.push(c);
    }
    assert_eq!(status_from("127.0.0.3", &server).await, None);

    // The headers never came: after the timeout each slow connection is closed, and its
    // place is given back.
    for c in &mut held {
        let mut buf = Vec::new();
        let ended =
            tokio::time::timeout(std::time::Duration::from_secs(10), c.read_to_end(&mut buf)).await;
        assert!(
            ended.is_ok(),
            "a slow connection is cut after the header timeout"
        );
    }
    assert_eq!(status_from("127.0.0.2", &server).await, Some(200));
    assert_eq!(status_from("127.0.0.3", &server).await, Some(200));

    let metrics = text_of(reqwest::Client::new().get(format!("{}/metrics", s.base))).await;
    let count = |reason: &str| -> u64 {
        let line = format!("atiende_connections_refused_total{{reason=\"{reason}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(line.as_str()))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("{line} in {metrics}"))
    };
    assert!(count("address_full") >= 1);
    assert!(count("server_full") >= 1);
}

/// Finding 15: an ordinary HTTP client, which writes its whole body before it reads, gets the
/// 413 for a body far past the limit (JSON and an upload) instead of a connection reset; the
/// answer says the connection closes.
#[tokio::test]
async fn an_oversized_body_is_answered_413_not_reset() {
    let s = Server::start();
    let admin = s.admin().await;
    let json = format!("{{\"text\": \"{}\"}}", "a".repeat(8 * 1024 * 1024));
    let res = admin
        .request(reqwest::Method::POST, "/api/v1/tickets/1/messages")
        .header("content-type", "application/json")
        .body(json)
        .send()
        .await
        .expect("an answer, not a reset");
    assert_eq!(res.status(), 413);
    assert_eq!(res.headers()["connection"], "close");
    let file = reqwest::multipart::Part::bytes(vec![7u8; 40 * 1024 * 1024]).file_name("grande.bin");
    let res = admin
        .request(reqwest::Method::POST, "/api/v1/uploads")
        .multipart(reqwest::multipart::Form::new().part("file", file))
        .send()
        .await
        .expect("an answer, not a reset");
    assert_eq!(res.status(), 413);
    // The server goes on serving.
    assert_eq!(admin.get("/api/v1/tickets").await.0, 200);
}

/// Finding 10: links in mail point at the address set on the first-run page or in
/// Administración (or learned from the first administrator's sign-in when nobody set one),
/// never at the name a later sign-in came through.
#[tokio::test]
async fn links_in_mail_never_follow_a_later_sign_in() {
    // The first-run page sets the address.
    let fresh = tempfile::tempdir().unwrap();
    let first = Server::start_in(fresh.path(), &[]);
    let anon = first.anonymous();
    let (st, _) = anon
        .post(
            "/api/v1/setup",
            json!({"email": ADMIN_EMAIL, "name": "Admin", "password": ADMIN_PASSWORD,
                "public_url": "https://soporte.example.cl/"}),
        )
        .await;
    assert_eq!(st, 201);
    let admin = first.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let set = admin.ok("/api/v1/settings/public_url").await;
    assert_eq!(set["public_url"], "https://soporte.example.cl");
    assert_eq!(set["source"], "stored");

    // Without it, the first administrator's sign-in teaches it, once.
    let s = Server::start();
    let admin = s.admin().await;
    let learned = admin.ok("/api/v1/settings/public_url").await;
    assert_eq!(learned["public_url"], s.base.as_str());
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/session", s.base))
        .header("host", "atiende.atacante.example")
        .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let after = admin.ok("/api/v1/settings/public_url").await;
    assert_eq!(
        after["public_url"],
        s.base.as_str(),
        "a later sign-in moves nothing"
    );

    // An administrator changes it from the browser; a wrong address or an agent is refused.
    let (st, v) = admin
        .put(
            "/api/v1/settings/public_url",
            json!({"public_url": "https://ayuda.example.cl"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["public_url"], "https://ayuda.example.cl");
    let (st, v) = admin
        .put(
            "/api/v1/settings/public_url",
            json!({"public_url": "javascript:alert(1)"}),
        )
        .await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_public_url"))
    );
    admin
        .create_user("agente@example.cl", "Agente", "agent")
        .await;
    let agent = s.login("agente@example.cl", "clave-agente-1").await;
    let (st, _) = agent
        .put(
            "/api/v1/settings/public_url",
            json!({"public_url": "https://otra.example.cl"}),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert_eq!(
        admin.ok("/api/v1/status").await["public_url_missing"],
        false
    );
}

/// Finding 19 (part): a change of role ends the user's sessions, so the new rights come with a
/// new session; the administrator making the change stays signed in.
#[tokio::test]
async fn a_role_change_ends_the_users_sessions() {
    let s = Server::start();
    let admin = s.admin().await;
    let id = admin.create_user("ana@example.cl", "Ana", "agent").await;
    let ana = s.login("ana@example.cl", "clave-agente-1").await;
    assert_eq!(ana.get("/api/v1/tickets").await.0, StatusCode::OK);
    // A change that keeps the role signs nobody out.
    let (st, _) = admin
        .patch(&format!("/api/v1/users/{id}"), json!({"role": "agent"}))
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(ana.get("/api/v1/tickets").await.0, StatusCode::OK);
    let (st, _) = admin
        .patch(
            &format!("/api/v1/users/{id}"),
            json!({"role": "supervisor"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(ana.get("/api/v1/tickets").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(admin.get("/api/v1/tickets").await.0, StatusCode::OK);
    let again = s.login("ana@example.cl", "clave-agente-1").await;
    assert_eq!(
        again.ok("/api/v1/session").await["me"]["role"],
        "supervisor"
    );
}
