//! The contact form channel: hosted page, embedded page and raw POST each open a ticket;
//! honeypot, too-fast, forged, foreign-origin and flooding submissions are refused.

use std::time::Duration;

use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};

use crate::harness::*;
use crate::mailserver::servers;

fn hidden(page: &str, name: &str) -> String {
    let at = page
        .find(&format!("name=\"{name}\" value=\""))
        .unwrap_or_else(|| panic!("{name} in {page}"));
    let rest = &page[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()].to_string()
}

async fn tickets_of(api: &Api, account: &str) -> Vec<Value> {
    api.ok(&format!("/api/v1/tickets?account={account}&limit=100"))
        .await["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn hosted_embedded_and_raw_submissions() {
    servers().add_user("clienteform");
    servers().add_user("soporteform");
    let s = Server::start();
    let api = s.admin().await;
    // An email account that can send: customers get a confirmation.
    api.created(
        "/api/v1/accounts",
        json!({"kind": "email", "name": "Correo", "settings": servers().account_settings("soporteform")}),
    )
    .await;
    let acc = api
        .created(
            "/api/v1/accounts",
            json!({"kind": "form", "name": "Contacto web", "settings": {
                "fields": ["name", "email", "rut", "subject", "message", "attachments"],
                "min_seconds": 1, "allowed_origins": ["http://tienda.test"], "title": "Escríbenos"}}),
        )
        .await;
    let acc = acc["id"].as_str().unwrap().to_string();
    let http = reqwest::Client::new();

    // The hosted page: every configured field, the honeypot, a signed start time, and who may
    // frame it.
    let res = http
        .get(format!("{}/f/{acc}", s.base))
        .header("accept-language", "es-CL")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("frame-ancestors 'self' http://tienda.test"),
        "{csp}"
    );
    let page = res.text().await.unwrap();
    for f in [
        "name=\"name\"",
        "name=\"rut\"",
        "name=\"attachments\"",
        "name=\"website\"",
        "Escríbenos",
        "Enviar",
    ] {
        assert!(page.contains(f), "{f} in {page}");
    }
    let started = hidden(&page, "_started");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let form = Form::new()
        .text("name", "Marta Soto")
        .text("email", "clienteform@cliente.test")
        .text("rut", "12345678-5")
        .text("subject", "Cambio de talla")
        .text("message", "Quiero cambiar la talla de mi polera.")
        .text("website", "")
        .text("_started", started.clone())
        .part(
            "attachments",
            Part::bytes(b"boleta 123".to_vec())
                .file_name("boleta.txt")
                .mime_str("text/plain")
                .unwrap(),
        );
    let res = http
        .post(format!("{}/f/{acc}", s.base))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let thanks = res.text().await.unwrap();
    assert!(thanks.contains("Recibimos tu mensaje"), "{thanks}");
    let t = tickets_of(&api, &acc).await;
    assert_eq!(t.len(), 1);
    let number = t[0]["number"].as_u64().unwrap();
    assert_eq!(
        t[0]["subject"], "Cambio de talla",
        "the subject names the ticket"
    );
    let m = &api.ok(&format!("/api/v1/tickets/{number}/messages")).await["items"][0];
    assert!(m["text"]
        .as_str()
        .unwrap()
        .starts_with("Cambio de talla\n\nQuiero cambiar"));
    assert_eq!(m["attachments"][0]["name"], "boleta.txt");
    let contact = api
        .ok(&format!(
            "/api/v1/contacts/{}",
            t[0]["contact"]["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(contact["rut"], "12345678-5");
    assert_eq!(contact["email"], "clienteform@cliente.test");
    // The customer's confirmation, through the email account.
    let confirmation = crate::harness::eventually(30, "the confirmation mail", || async {
        servers().mailbox("clienteform").into_iter().next()
    })
    .await;
    assert!(
        confirmation.contains(&format!("#{number}")),
        "{confirmation}"
    );
    assert!(
        !confirmation.contains("polera"),
        "the confirmation carries nothing the sender typed"
    );
    // The agent's answer reaches the customer by mail.
    api.created(
        &format!("/api/v1/tickets/{number}/messages"),
        json!({"text": "Claro, te la cambiamos."}),
    )
    .await;
    let answer = crate::harness::eventually(30, "the answer by mail", || async {
        servers().mailbox("clienteform").into_iter().nth(1)
    })
    .await;
    assert!(
        answer.contains(&format!("#{number}")) && answer.contains("te la cambiamos"),
        "{answer}"
    );

    // The embedded page posts to itself and stays framed; urlencoded works too.
    let page = text_of(http.get(format!("{}/f/{acc}?embed=1", s.base))).await;
    assert!(
        page.contains("class=\"embed\"") && page.contains(&format!("action=\"/f/{acc}?embed=1\""))
    );
    let started = hidden(&page, "_started");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let res = http
        .post(format!("{}/f/{acc}?embed=1", s.base))
        .form(&[
            ("email", "otra@cliente.test"),
            ("message", "Hola desde el sitio"),
            ("_started", &started),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(tickets_of(&api, &acc).await.len(), 2);
    let script = text_of(http.get(format!("{}/f/{acc}/embed.js", s.base))).await;
    assert!(script.contains(&format!("/f/{acc}?embed=1")), "{script}");

    // A site's own form posts straight to the API (from an allowed origin).
    let res = http
        .post(format!("{}/api/v1/forms/{acc}/submissions", s.base))
        .header("origin", "http://tienda.test")
        .form(&[
            ("email", "tercera@cliente.test"),
            ("message", "Formulario propio"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["created_ticket"], true);
    assert_eq!(tickets_of(&api, &acc).await.len(), 3);

    // Refusals, each with its reason and no ticket: (extra field, origin, status, code).
    let page = text_of(http.get(format!("{}/f/{acc}", s.base))).await;
    let fresh_start = hidden(&page, "_started");
    let cases = [
        (
            Some(("website", "http://spam.test")),
            "http://tienda.test",
            422,
            "spam_suspected",
        ),
        (
            Some(("_started", fresh_start.as_str())),
            "http://tienda.test",
            422,
            "too_fast",
        ),
        (
            Some(("_started", "1.abcdef0123")),
            "http://tienda.test",
            422,
            "form_expired",
        ),
        (None, "http://malo.test", 403, "forbidden"),
        (
            Some(("rut", "12.345.678-9")),
            "http://tienda.test",
            422,
            "invalid_rut",
        ),
    ];
    let refused = |fields: Vec<(&str, &str)>, origin: &str| {
        let req = http
            .post(format!("{}/api/v1/forms/{acc}/submissions", s.base))
            .header("origin", origin)
            .form(&fields)
            .send();
        async move {
            let res = req.await.unwrap();
            let st = res.status().as_u16();
            let v: Value = res.json().await.unwrap();
            (
                st,
                v["error"]["code"].as_str().unwrap_or_default().to_string(),
            )
        }
    };
    for (extra, origin, status, code) in cases {
        let mut fields = vec![("email", "x@cliente.test"), ("message", "hola")];
        fields.extend(extra);
        assert_eq!(
            refused(fields, origin).await,
            (status, code.to_string()),
            "{code}"
        );
    }
    assert_eq!(
        refused(vec![("email", "x@cliente.test")], "http://tienda.test").await,
        (422, "required".to_string())
    );
    assert_eq!(tickets_of(&api, &acc).await.len(), 3);
    // The hosted page shows a refusal in the page itself.
    let res = http
        .post(format!("{}/f/{acc}", s.base))
        .form(&[
            ("email", "x@cliente.test"),
            ("message", "hola"),
            ("website", "bot"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("role=\"alert\""));
    // A refused page comes back with what the customer typed (escaped), so nothing is lost.
    let res = http
        .post(format!("{}/f/{acc}", s.base))
        .form(&[
            ("email", "x@cliente.test"),
            ("message", "Mi pedido <b>123</b> llegó roto"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422, "no signed start time: the form expired");
    let page = res.text().await.unwrap();
    assert!(page.contains("value=\"x@cliente.test\""), "{page}");
    assert!(
        page.contains(">Mi pedido &lt;b&gt;123&lt;/b&gt; llegó roto</textarea>"),
        "{page}"
    ); // The customer reads why in their language, never the server's English.
    assert!(
        page.contains("El formulario caducó. Recarga la página"),
        "{page}"
    );
}

#[tokio::test]
async fn a_flood_from_one_address_is_stopped() {
    let s = Server::start();
    let api = s.admin().await;
    let acc = api.account("form", "Contacto").await;
    let http = reqwest::Client::new();
    let mut statuses = Vec::new();
    for i in 0..12 {
        // A forwarding header from a peer that is not a trusted proxy changes nothing.
        let res = http
            .post(format!("{}/api/v1/forms/{acc}/submissions", s.base))
            .header("x-forwarded-for", format!("198.51.100.{i}"))
            .json(&json!({"email": format!("p{i}@cliente.test"), "message": "hola"}))
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
    }
    assert_eq!(&statuses[..10], &[201; 10]);
    assert_eq!(&statuses[10..], &[429, 429]);
    let tickets = tickets_of(&api, &acc).await;
    assert_eq!(tickets.len(), 10);
    // Without an email account that can send, escalating says so instead of pretending.
    let number = tickets[0]["number"].as_u64().unwrap();
    let (st, v) = api
        .post(
            &format!("/api/v1/tickets/{number}/escalate"),
            json!({"to": "jefa@tienda.test"}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), v["error"]["code"].as_str()),
        (409, Some("no_mail_account"))
    );
    let history = api.ok(&format!("/api/v1/tickets/{number}/history")).await;
    assert!(!history["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h["action"] == "escalated"));
    // Bad settings are refused when saved.
    let (st, v) = api
        .post(
            "/api/v1/accounts",
            json!({"kind": "form", "name": "Malo", "settings": {"fields": ["edad"]}}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), v["error"]["field"].as_str()),
        (422, Some("settings.fields"))
    );
}

/// Behind a trusted proxy each client is counted on its own (X-Forwarded-For), and /metrics
/// is not served to a client the proxy forwards.
#[tokio::test]
async fn a_trusted_proxy_names_the_client() {
    let dir = tempfile::tempdir().unwrap();
    admin_create(dir.path(), ADMIN_EMAIL, "Admin", ADMIN_PASSWORD, "admin");
    let s = Server::start_in(
        dir.path(),
        &[("ATIENDE_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8")],
    );
    let api = s.admin().await;
    let acc = api.account("form", "Contacto").await;
    let http = reqwest::Client::new();
    let submit = |client: &'static str, i: usize| {
        http.post(format!("{}/api/v1/forms/{acc}/submissions", s.base))
            .header("x-forwarded-for", format!("6.6.6.6, {client}, 10.0.0.2"))
            .json(&json!({"email": format!("p{i}@cliente.test"), "message": "hola"}))
            .send()
    };
    for i in 0..10 {
        assert_eq!(submit("203.0.113.5", i).await.unwrap().status(), 201);
    }
    assert_eq!(submit("203.0.113.5", 10).await.unwrap().status(), 429);
    assert_eq!(
        submit("203.0.113.6", 11).await.unwrap().status(),
        201,
        "another client behind the same proxy is not limited"
    );
    let metrics = |forwarded: bool| {
        let mut r = http.get(format!("{}/metrics", s.base));
        if forwarded {
            r = r.header("x-forwarded-for", "203.0.113.5");
        }
        r.send()
    };
    assert_eq!(metrics(true).await.unwrap().status(), 403);
    assert_eq!(metrics(false).await.unwrap().status(), 200);
}

/// A refusal on the hosted page is said in the customer's language (item 10 of the
/// administration issue).
#[tokio::test]
async fn a_refused_form_speaks_the_customers_language() {
    let s = Server::start();
    let api = s.admin().await;
    let acc = api.account("form", "Contacto").await;
    let http = reqwest::Client::new();
    // Sent as fast as a script would, from the hosted page: refused, in Spanish (or English
    // for a browser that asks for it).
    for (lang, words) in [
        ("es-CL,es;q=0.9", "demasiado rápido"),
        ("en-US,en;q=0.9", "sent too fast"),
    ] {
        let form = text_of(
            http.get(format!("{}/f/{acc}", s.base))
                .header("accept-language", lang),
        )
        .await;
        let started = hidden(&form, "_started");
        let res = http
            .post(format!("{}/f/{acc}", s.base))
            .header("accept-language", lang)
            .form(&[
                ("email", "x@cliente.test"),
                ("message", "hola"),
                ("_started", started.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 422);
        let page = res.text().await.unwrap();
        assert!(page.contains(words), "{lang}: {page}");
    }
}
