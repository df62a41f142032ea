//! The email channel against real servers: Dovecot (IMAP) and OpenSMTPD (SMTP → Dovecot).

use serde_json::{json, Value};

use crate::harness::*;
use crate::mailserver::{header, servers};

/// A support mailbox and a customer mailbox of this test's own.
pub(crate) fn users(tag: &str) -> (String, String) {
    let (support, customer) = (format!("soporte{tag}"), format!("cliente{tag}"));
    servers().add_user(&support);
    servers().add_user(&customer);
    (support, customer)
}

pub(crate) async fn email_account(api: &Api, support: &str, extra: Value) -> String {
    let mut settings = servers().account_settings(support);
    if let (Some(s), Some(e)) = (settings.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            s.insert(k.clone(), v.clone());
        }
    }
    let acc = api
        .created(
            "/api/v1/accounts",
            json!({"kind": "email", "name": "Correo", "settings": settings}),
        )
        .await;
    let id = acc["id"].as_str().unwrap().to_string();
    eventually(30, "the IMAP poller to connect", || async {
        let a = api.ok(&format!("/api/v1/accounts/{id}")).await;
        (a["health"]["status"] == "connected").then_some(())
    })
    .await;
    id
}

async fn tickets_of(api: &Api, account: &str) -> Vec<Value> {
    let v = api
        .ok(&format!("/api/v1/tickets?account={account}&limit=100"))
        .await;
    v["items"].as_array().cloned().unwrap_or_default()
}

async fn messages(api: &Api, number: u64) -> Vec<Value> {
    let v = api.ok(&format!("/api/v1/tickets/{number}/messages")).await;
    v["items"].as_array().cloned().unwrap_or_default()
}

async fn wait_tickets(api: &Api, account: &str, n: usize) -> Vec<Value> {
    eventually(30, &format!("{n} tickets"), || async {
        let t = tickets_of(api, account).await;
        (t.len() >= n).then_some(t)
    })
    .await
}

async fn wait_messages(api: &Api, number: u64, n: usize) -> Vec<Value> {
    eventually(30, &format!("{n} messages in #{number}"), || async {
        let m = messages(api, number).await;
        (m.len() >= n).then_some(m)
    })
    .await
}

/// Waits until `user`'s mailbox holds `n` mails and returns them.
pub(crate) async fn wait_mailbox(user: &str, n: usize) -> Vec<String> {
    eventually(30, &format!("{n} mails for {user}"), || async {
        let m = servers().mailbox(user);
        (m.len() >= n).then_some(m)
    })
    .await
}

/// A customer mails `to` through the SMTP server (envelope and From are the same address).
async fn customer_writes(from: &str, to: &str, subject: &str, extra_headers: &str, body: &str) {
    servers()
        .send(from, to, &mail(from, to, subject, extra_headers, body))
        .await;
}

/// The number of the account's first ticket, once it exists.
async fn first_ticket(api: &Api, account: &str) -> u64 {
    wait_tickets(api, account, 1).await[0]["number"]
        .as_u64()
        .unwrap()
}

/// A plain-text mail; `extra_headers` (lines) may replace the generated Message-ID.
fn mail(from: &str, to: &str, subject: &str, extra_headers: &str, body: &str) -> String {
    let mut head = format!("From: Cliente Prueba <{from}>\nTo: {to}\nSubject: {subject}\n");
    if !extra_headers.to_lowercase().contains("message-id:") {
        head.push_str(&format!("Message-ID: <{}@cliente.test>\n", rand_id()));
    }
    for line in extra_headers.lines().filter(|l| !l.trim().is_empty()) {
        head.push_str(line);
        head.push('\n');
    }
    format!(
        "{head}Date: Mon, 23 Nov 2026 10:00:00 -0300\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n{body}\n"
    )
}

fn rand_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

fn angle(id: &str) -> String {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

#[tokio::test]
async fn a_full_exchange_threads_both_ways() {
    let (support, customer) = users("x");
    let s = Server::start();
    let api = s.admin().await;
    let acc = email_account(&api, &support, json!({"signature": "Equipo Tienda"})).await;
    let support_addr = format!("{support}@atiende.test");
    let customer_addr = format!("{customer}@cliente.test");

    // 1. The customer writes.
    customer_writes(
        &customer_addr,
        &support_addr,
        "Pedido atrasado",
        "Message-ID: <primero@cliente.test>",
        "Hola, mi pedido 123 no llega. ¿Qué pasó?",
    )
    .await;
    let t = wait_tickets(&api, &acc, 1).await;
    let number = t[0]["number"].as_u64().unwrap();
    let first = &wait_messages(&api, number, 1).await[0];
    assert!(first["text"].as_str().unwrap().contains("mi pedido 123"));
    assert_eq!(first["mail"]["subject"], "Pedido atrasado");
    assert_eq!(
        t[0]["subject"], "Pedido atrasado",
        "the mail's subject names its ticket"
    );
    assert_eq!(first["mail"]["from"], customer_addr.as_str());

    // 2. An agent answers; the customer's mailbox receives it with threading headers.
    api.created(
        &format!("/api/v1/tickets/{number}/messages"),
        json!({"text": "Hola, ya lo revisamos: llega mañana."}),
    )
    .await;
    let inbox = wait_mailbox(&customer, 1).await;
    let reply = &inbox[0];
    assert_eq!(
        header(reply, "In-Reply-To").map(|v| angle(&v)).as_deref(),
        Some("primero@cliente.test")
    );
    assert!(header(reply, "References")
        .unwrap()
        .contains("<primero@cliente.test>"));
    let subject = header(reply, "Subject").unwrap();
    assert!(subject.contains(&format!("[#{number}]")), "{subject}");
    assert!(subject.starts_with("Re: Pedido atrasado"), "{subject}");
    let reply_to = header(reply, "Reply-To").unwrap();
    assert!(
        reply_to.contains(&format!("{support}+t{number}-")),
        "reply token in {reply_to}"
    );
    let our_id = angle(&header(reply, "Message-ID").unwrap());
    assert!(reply.contains("llega ma"), "{reply}");
    assert!(reply.contains("Equipo Tienda"), "signature");
    let sent = eventually(20, "the reply marked sent", || async {
        let m = messages(&api, number).await;
        m.iter()
            .find(|m| m["direction"] == "outbound")
            .filter(|m| m["status"] == "sent")
            .cloned()
    })
    .await;
    assert_eq!(sent["mail"]["message_id"], our_id.as_str());

    // 3. The customer answers from a client that drops References (In-Reply-To only) and
    //    writes to the plain address.
    customer_writes(
        &customer_addr,
        &support_addr,
        "Re: Pedido atrasado",
        &format!("In-Reply-To: <{our_id}>"),
        "Gracias, quedo atento.\n\nEl lun, 23 nov 2026, Soporte escribió:\n> Hola, ya lo revisamos",
    )
    .await;
    let m = wait_messages(&api, number, 3).await;
    assert_eq!(m[2]["text"], "Gracias, quedo atento.");
    assert!(m[2]["mail"]["quoted"].as_str().unwrap().contains("> Hola"));

    // 4. And once more with no threading headers at all, to the reply-token address.
    let token_addr = reply_to
        .rsplit('<')
        .next()
        .unwrap()
        .trim_end_matches('>')
        .to_string();
    customer_writes(
        &customer_addr,
        &token_addr,
        "otra cosa",
        "",
        "Una consulta más.",
    )
    .await;
    wait_messages(&api, number, 4).await;
    assert_eq!(
        tickets_of(&api, &acc).await.len(),
        1,
        "every reply joined the ticket"
    );
}

/// BEYOND-2, rule by rule: the reply token (even on a new subject), In-Reply-To and
/// References against Atiende's and the customer's own Message-IDs, the subject token only
/// for the ticket's customer, and a new ticket otherwise; a reply to a closed ticket opens a
/// new one linked to it.
#[tokio::test]
async fn threading_rules() {
    let (support, customer) = users("t");
    let stranger = "extrano@otro.test";
    let s = Server::start();
    let api = s.admin().await;
    let acc = email_account(&api, &support, json!({})).await;
    let support_addr = format!("{support}@atiende.test");
    let customer_addr = format!("{customer}@cliente.test");
    let send = |from: String, to: String, subject: &'static str, headers: String| async move {
        customer_writes(&from, &to, subject, &headers, "texto").await;
    };

    send(
        customer_addr.clone(),
        support_addr.clone(),
        "Consulta",
        "Message-ID: <c-1@cliente.test>".into(),
    )
    .await;
    let number = first_ticket(&api, &acc).await;
    api.created(
        &format!("/api/v1/tickets/{number}/messages"),
        json!({"text": "respuesta"}),
    )
    .await;
    let ours = angle(&header(&wait_mailbox(&customer, 1).await[0], "Message-ID").unwrap());

    // References naming the customer's own first mail (not ours) still threads.
    send(
        customer_addr.clone(),
        support_addr.clone(),
        "Otra",
        "References: <c-1@cliente.test>".into(),
    )
    .await;
    wait_messages(&api, number, 3).await;
    // References whose last id is ours, after unknown ones.
    send(
        customer_addr.clone(),
        support_addr.clone(),
        "Otra más",
        format!("References: <zz@x.test> <{ours}>"),
    )
    .await;
    wait_messages(&api, number, 4).await;
    // The subject token from the ticket's customer joins…
    let token_subject = format!("Sobre [#{number}]");
    let subject: &'static str = Box::leak(token_subject.into_boxed_str());
    send(
        customer_addr.clone(),
        support_addr.clone(),
        subject,
        String::new(),
    )
    .await;
    wait_messages(&api, number, 5).await;
    // …from a stranger it opens a new ticket (nobody joins someone else's ticket by guessing).
    send(
        stranger.into(),
        support_addr.clone(),
        subject,
        String::new(),
    )
    .await;
    let all = wait_tickets(&api, &acc, 2).await;
    assert_eq!(messages(&api, number).await.len(), 5);
    assert!(all
        .iter()
        .any(|t| t["contact"]["name"] == "Cliente Prueba" && t["number"] != number));
    // A forged reply token is no token: new ticket.
    send(
        customer_addr.clone(),
        format!("{support}+t{number}-0000000000@atiende.test"),
        "Forjado",
        String::new(),
    )
    .await;
    wait_tickets(&api, &acc, 3).await;
    // A mail that threads into nothing opens a new ticket even from a known customer.
    send(
        customer_addr.clone(),
        support_addr.clone(),
        "Tema nuevo",
        String::new(),
    )
    .await;
    wait_tickets(&api, &acc, 4).await;
    assert_eq!(messages(&api, number).await.len(), 5);

    // A reply to a closed ticket opens a new one that links to it (TICK-2).
    let (st, v) = api
        .patch(
            &format!("/api/v1/tickets/{number}"),
            json!({"state": "closed"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    send(
        customer_addr.clone(),
        support_addr.clone(),
        "Re: Consulta",
        format!("In-Reply-To: <{ours}>"),
    )
    .await;
    // An out-of-office answer to the closed ticket opens nothing (it joins open tickets only).
    send(
        customer_addr.clone(),
        support_addr.clone(),
        "Fuera de oficina",
        format!("In-Reply-To: <{ours}>\nAuto-Submitted: auto-replied"),
    )
    .await;
    let all = wait_tickets(&api, &acc, 5).await;
    let follow = all
        .iter()
        .find(|t| t["previous_number"] == number)
        .expect("a new ticket linked to the closed one");
    assert_eq!(follow["state"], "open");
    assert_eq!(messages(&api, number).await.len(), 5);
    // A marker after the automatic mail: once it is in, the automatic one was seen.
    send(
        customer_addr.clone(),
        support_addr.clone(),
        "Marca final",
        String::new(),
    )
    .await;
    let all = wait_tickets(&api, &acc, 6).await;
    assert_eq!(
        all.len(),
        6,
        "the auto-reply to a closed ticket opened none"
    );
}

/// RFC 3834: automatic mail never opens tickets nor gets answered; bulk mail opens tickets
/// but is never answered; the account's auto-reply goes once per sender per day with
/// Auto-Submitted; a bounce flags the reply that bounced and joins its ticket.
#[tokio::test]
async fn loops_and_bounces() {
    let (support, customer) = users("l");
    let s = Server::start();
    let api = s.admin().await;
    let acc = email_account(
        &api,
        &support,
        json!({"auto_messages": {"welcome": {"es": "Recibimos tu mensaje; te respondemos pronto."}}}),
    )
    .await;
    let support_addr = format!("{support}@atiende.test");
    let customer_addr = format!("{customer}@cliente.test");

    // A person's first mail: a ticket and one auto-reply.
    customer_writes(&customer_addr, &support_addr, "Hola", "", "Necesito ayuda").await;
    let number = first_ticket(&api, &acc).await;
    let inbox = wait_mailbox(&customer, 1).await;
    assert_eq!(
        header(&inbox[0], "Auto-Submitted").as_deref(),
        Some("auto-replied")
    );
    assert!(inbox[0].contains("Recibimos tu mensaje"));
    // A second new ticket the same day: no second auto-reply.
    customer_writes(&customer_addr, &support_addr, "Otro tema", "", "Otra cosa").await;
    wait_tickets(&api, &acc, 2).await;

    // Automatic mail that answers no ticket: never a ticket.
    let automatic = ["Auto-Submitted: auto-replied", "X-Autoreply: yes"];
    for h in automatic {
        customer_writes(
            &customer_addr,
            &support_addr,
            "Fuera de la oficina",
            h,
            "Vuelvo el lunes",
        )
        .await;
    }
    // Empty envelope sender (Return-Path: <>) and MAILER-DAEMON.
    servers()
        .send(
            "",
            &support_addr,
            &mail(&customer_addr, &support_addr, "Aviso", "", "sin remitente"),
        )
        .await;
    servers()
        .send(
            "mailer-daemon@cliente.test",
            &support_addr,
            &mail(
                "MAILER-DAEMON@cliente.test",
                &support_addr,
                "Aviso",
                "",
                "demonio",
            ),
        )
        .await;
    // Bulk mail: a ticket each, never an auto-reply.
    let bulk = [
        ("Precedence: bulk", "bulk1"),
        ("Precedence: junk", "bulk2"),
        ("Precedence: list", "bulk3"),
        ("List-Id: <novedades.cliente.test>", "bulk4"),
        ("X-Auto-Response-Suppress: All", "bulk5"),
    ];
    for (h, who) in bulk {
        let from = format!("{who}@cliente.test");
        customer_writes(&from, &support_addr, "Boletín", h, "novedades").await;
    }
    // A marker mail from a person, processed after all of the above (UID order).
    servers()
        .send(
            "persona@cliente.test",
            &support_addr,
            &mail("persona@cliente.test", &support_addr, "Fin", "", "marca"),
        )
        .await;
    // Mails are read in UID order: once the marker's ticket exists, all the others were seen.
    let all = eventually(30, "the marker's ticket", || async {
        let all = tickets_of(&api, &acc).await;
        all.iter().any(|t| t["excerpt"] == "marca").then_some(all)
    })
    .await;
    assert_eq!(
        all.len(),
        8,
        "2 from the customer, 5 bulk, 1 marker; no automatic ones"
    );
    let outbound: Vec<Value> = {
        let mut v = Vec::new();
        for t in &all {
            for m in messages(&api, t["number"].as_u64().unwrap()).await {
                if m["direction"] == "outbound" {
                    v.push(m);
                }
            }
        }
        v
    };
    assert_eq!(outbound.len(), 2, "auto-replies: {outbound:?}");
    assert_eq!(
        servers().mailbox(&customer).len(),
        1,
        "one auto-reply per sender per day"
    );

    // An agent's reply bounces: the report joins the ticket and flags the reply.
    api.created(
        &format!("/api/v1/tickets/{number}/messages"),
        json!({"text": "¿Sigue el problema?"}),
    )
    .await;
    let replies = wait_mailbox(&customer, 2).await;
    let bounced_id = angle(&header(&replies[1], "Message-ID").unwrap());
    let report = format!(
        "From: Mail Delivery System <MAILER-DAEMON@cliente.test>\nTo: {support_addr}\nSubject: Undelivered Mail Returned to Sender\nMessage-ID: <rebote-1@cliente.test>\nAuto-Submitted: auto-replied\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n--B\nContent-Type: text/plain\n\nNo se pudo entregar.\n--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; cliente.test\n\nFinal-Recipient: rfc822; {customer_addr}\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\n\n--B\nContent-Type: text/rfc822-headers\n\nFrom: {support_addr}\nMessage-ID: <{bounced_id}>\nSubject: Re: Hola\n\n--B--\n"
    );
    servers().send("", &support_addr, &report).await;
    let failed = eventually(30, "the reply flagged as failed", || async {
        messages(&api, number)
            .await
            .into_iter()
            .find(|m| m["mail"]["message_id"] == bounced_id.as_str() && m["status"] == "failed")
    })
    .await;
    assert!(failed["status_detail"].as_str().unwrap().contains("5.1.1"));
    let m = messages(&api, number).await;
    let note = m.last().unwrap();
    assert_eq!(note["author"]["kind"], "system");
    assert_eq!(note["reply_to"], failed["id"]);
    assert_eq!(
        tickets_of(&api, &acc).await.len(),
        8,
        "a bounce opens no ticket"
    );
}

/// Every fixture .eml (hard MIME, foreign charsets, broken boundaries, bounces) goes through
/// IMAP into a message or a logged refusal, and the server keeps working.
#[tokio::test]
async fn every_fixture_mail_goes_through_imap() {
    let support = "soportef";
    servers().add_user(support);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/email");
    let mut files = Vec::new();
    for dir in std::fs::read_dir(&root).unwrap().flatten() {
        if dir.path().is_dir() {
            for f in std::fs::read_dir(dir.path()).unwrap().flatten() {
                if f.path().extension().is_some_and(|e| e == "eml") {
                    files.push(f.path());
                }
            }
        }
    }
    files.sort();
    assert!(files.len() >= 40, "fixtures missing: {}", files.len());
    for f in &files {
        servers().deliver_file(support, &std::fs::read(f).unwrap());
    }
    let s = Server::start();
    let api = s.admin().await;
    let acc = email_account(&api, support, json!({"initial_import": 1000})).await;
    let health = eventually(60, "every fixture read", || async {
        let a = api.ok(&format!("/api/v1/accounts/{acc}")).await;
        (a["health"]["fetched"].as_u64() == Some(files.len() as u64)).then_some(a["health"].clone())
    })
    .await;
    let tickets = tickets_of(&api, &acc).await;
    let mut texts = Vec::new();
    let mut stored = 0;
    for t in &tickets {
        for m in messages(&api, t["number"].as_u64().unwrap()).await {
            stored += 1;
            texts.push(format!(
                "{} | {}",
                m["mail"]["subject"].as_str().unwrap_or(""),
                m["text"].as_str().unwrap_or("")
            ));
        }
    }
    let skipped = health["skipped"].as_u64().unwrap();
    assert_eq!(
        stored + skipped as usize,
        files.len(),
        "each mail is a message or a refusal: {health}"
    );
    // Mails sharing a Message-ID are one mail delivered twice: stored once.
    let mut ids = std::collections::HashSet::new();
    let mut unique = 0;
    for f in &files {
        let raw = String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned();
        match crate::mailserver::header(&raw, "Message-ID") {
            Some(id) if !ids.insert(angle(&id)) => {}
            _ => unique += 1,
        }
    }
    let refused = skipped as usize - (files.len() - unique);
    assert!(
        refused <= 6,
        "only automatic mail and unknown reports are refused: {health}"
    );
    for (subject, text) in [
        ("test", "あいうえお"),
        ("test", "스티해"),
        ("まみむめも", "すみません。"),
        ("まみむめも", "かきくえこ"),
    ] {
        assert!(
            texts
                .iter()
                .any(|t| t.starts_with(subject) && t.contains(text)),
            "decoded {subject} / {text} in {texts:#?}"
        );
    }
    assert_eq!(api.get("/healthz").await.0, 200);
}

/// The decoded text body of a raw mail.
pub(crate) fn body_text(raw: &str) -> String {
    mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .and_then(|m| m.body_text(0).map(|t| t.into_owned()))
        .unwrap_or_default()
}

pub(crate) fn decoded_subject(raw: &str) -> String {
    mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .and_then(|m| m.subject().map(str::to_string))
        .unwrap_or_default()
}

fn link_token(raw: &str) -> String {
    let text = body_text(raw);
    let at = text.find("#/password/").expect("a password link") + "#/password/".len();
    text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// OPS-6 and AUTH-2 through the SMTP server: invitation, password reset, @mention,
/// assignment and escalation mails arrive, in the recipient's language.
#[tokio::test]
async fn system_mail_reaches_people() {
    let (support, customer) = users("s");
    let agent = "agentes";
    servers().add_user(agent);
    let agent_addr = format!("{agent}@atiende.test");
    let s = Server::start();
    let api = s.admin().await;
    let acc = email_account(&api, &support, json!({})).await;

    // Invitation: no password given, a link mailed; it sets the password once.
    let created = api
        .created(
            "/api/v1/users",
            json!({"email": agent_addr, "name": "Ana Agente", "role": "agent", "language": "en"}),
        )
        .await;
    let agent_id = created["id"].as_str().unwrap().to_string();
    let invitation = &wait_mailbox(agent, 1).await[0];
    assert_eq!(decoded_subject(invitation), "You were invited to Atiende");
    let token = link_token(invitation);
    let anon = s.anonymous();
    let info = anon.ok(&format!("/api/v1/password_resets/{token}")).await;
    assert_eq!(info["purpose"], "invitation");
    assert_eq!(info["email"], agent_addr.as_str());
    let (st, _) = anon
        .post(
            &format!("/api/v1/password_resets/{token}"),
            json!({"password": "primera-clave-1"}),
        )
        .await;
    assert_eq!(st, 204);
    let first = s.login(&agent_addr, "primera-clave-1").await;
    let (st, v) = anon
        .post(
            &format!("/api/v1/password_resets/{token}"),
            json!({"password": "otra-clave-22"}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), v["error"]["code"].as_str()),
        (410, Some("link_expired"))
    );

    // Forgot password: 202 for anyone; only a user gets mail; the new password ends sessions.
    let (st, _) = anon
        .post(
            "/api/v1/password_resets",
            json!({"email": "nadie@atiende.test"}),
        )
        .await;
    assert_eq!(st, 202);
    // A forged Host header does not make the link: the address the admin signed in at does.
    let st = anon
        .request(reqwest::Method::POST, "/api/v1/password_resets")
        .header("host", "atacante.example")
        .json(&json!({"email": agent_addr}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(st, 202);
    let reset = &wait_mailbox(agent, 2).await[1];
    assert_eq!(decoded_subject(reset), "Reset your Atiende password");
    let text = body_text(reset);
    assert!(text.contains(&format!("{}/#/password/", s.base)), "{text}");
    assert!(!text.contains("atacante"), "{text}");
    let (st, _) = anon
        .post(
            &format!("/api/v1/password_resets/{}", link_token(reset)),
            json!({"password": "nueva-clave-33"}),
        )
        .await;
    assert_eq!(st, 204);
    assert_eq!(first.get("/api/v1/me").await.0, 401, "old sessions end");
    let agent_api = s.login(&agent_addr, "nueva-clave-33").await;

    // A ticket to talk about.
    let customer_addr = format!("{customer}@cliente.test");
    let support_addr = format!("{support}@atiende.test");
    customer_writes(
        &customer_addr,
        &support_addr,
        "Factura",
        "",
        "No me llegó la factura de octubre.",
    )
    .await;
    let number = first_ticket(&api, &acc).await;
    api.enable(&agent_id, &acc, "enabled").await;

    // Assignment by someone else, then an @mention.
    let (st, v) = api
        .patch(
            &format!("/api/v1/tickets/{number}"),
            json!({"assignee_id": agent_id}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let assigned = &wait_mailbox(agent, 3).await[2];
    assert_eq!(
        decoded_subject(assigned),
        format!("Ticket #{number} was assigned to you")
    );
    assert!(body_text(assigned).contains(&format!("/#/t/{number}")));
    api.created(
        &format!("/api/v1/tickets/{number}/comments"),
        json!({"text": "@Ana Agente revisa esto", "mentions": [agent_id]}),
    )
    .await;
    let mention = &wait_mailbox(agent, 4).await[3];
    assert!(body_text(mention).contains("revisa esto"));
    // The agent's own comment mentioning themselves mails nobody.
    agent_api
        .created(
            &format!("/api/v1/tickets/{number}/comments"),
            json!({"text": "@Ana Agente nota", "mentions": [agent_id]}),
        )
        .await;

    // Escalation: the conversation, the customer and the ticket, to any address.
    let (st, v) = agent_api
        .post(
            &format!("/api/v1/tickets/{number}/escalate"),
            json!({"to": customer_addr, "note": "Por favor revisar"}),
        )
        .await;
    assert_eq!(st, 202, "{v}");
    let escalation = &wait_mailbox(&customer, 1).await[0];
    assert_eq!(
        decoded_subject(escalation),
        format!("Escalation of ticket #{number}: Cliente Prueba")
    );
    let text = body_text(escalation);
    for part in [
        "Por favor revisar",
        "No me llegó la factura",
        &customer_addr,
        "Ana Agente",
    ] {
        assert!(text.contains(part), "{part} in {text}");
    }
    assert_eq!(
        header(escalation, "Auto-Submitted").as_deref(),
        Some("auto-generated")
    );
    let (st, v) = agent_api
        .post(
            &format!("/api/v1/tickets/{number}/escalate"),
            json!({"to": "no es correo"}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), v["error"]["field"].as_str()),
        (422, Some("to"))
    );
    let history = agent_api
        .ok(&format!("/api/v1/tickets/{number}/history"))
        .await;
    assert!(history["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h["action"] == "escalated"));
    assert_eq!(
        servers().mailbox(agent).len(),
        4,
        "no mail for mentioning oneself"
    );

    // Mail for mentions turned off (Mi perfil): the next mention only lights the bell; the
    // assignment after it still mails, and is the next mail.
    let (st, _) = agent_api
        .patch(
            &format!("/api/v1/users/{agent_id}"),
            json!({"notify": {"mention_email": false, "assigned_email": true, "sound": true}}),
        )
        .await;
    assert_eq!(st, 200);
    api.created(
        &format!("/api/v1/tickets/{number}/comments"),
        json!({"text": "@Ana Agente otra vez", "mentions": [agent_id]}),
    )
    .await;
    for assignee in [Value::Null, json!(agent_id)] {
        let (st, v) = api
            .patch(
                &format!("/api/v1/tickets/{number}"),
                json!({"assignee_id": assignee}),
            )
            .await;
        assert_eq!(st, 200, "{v}");
    }
    let again = &wait_mailbox(agent, 5).await[4];
    assert_eq!(
        decoded_subject(again),
        format!("Ticket #{number} was assigned to you")
    );
}

/// An SMTP server that takes a mail's DATA and never answers it: Atiende is "sending" when it
/// dies. Counts the DATA commands it received.
async fn hanging_smtp() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let datas = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = datas.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut lines = BufReader::new(r).lines();
                let _ = w.write_all(b"220 colgado ESMTP\r\n").await;
                let mut in_data = false;
                while let Ok(Some(line)) = lines.next_line().await {
                    if in_data {
                        if line == "." {
                            // Took the mail; never says so.
                            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
                        }
                        continue;
                    }
                    let verb = line.to_uppercase();
                    let answer: &[u8] = if verb.starts_with("EHLO") {
                        b"250-colgado\r\n250 8BITMIME\r\n"
                    } else if verb.starts_with("DATA") {
                        counter.fetch_add(1, Ordering::SeqCst);
                        in_data = true;
                        b"354 go ahead\r\n"
                    } else if verb.starts_with("QUIT") {
                        b"221 bye\r\n"
                    } else {
                        b"250 ok\r\n"
                    };
                    if w.write_all(answer).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    (port, datas)
}

/// Crash safety of the outbox: a mail stored before any attempt, retried with backoff while
/// the server is unreachable, never sent twice after a crash mid-send, and sent again only
/// when an agent asks.
#[tokio::test]
async fn outbox_survives_failures_and_crashes() {
    use std::sync::atomic::Ordering;
    let (support, customer) = users("o");
    let mut s = Server::start();
    let dir = s.take_dir();
    let api = s.admin().await;
    let acc = email_account(&api, &support, json!({})).await;
    let customer_addr = format!("{customer}@cliente.test");
    let support_addr = format!("{support}@atiende.test");
    customer_writes(&customer_addr, &support_addr, "Ayuda", "", "hola").await;
    let number = first_ticket(&api, &acc).await;
    let real_smtp = json!({"host": "127.0.0.1", "port": servers().smtp_port, "security": "plain"});

    // 1. Nobody listens on the SMTP port: the reply stays queued with the reason, then goes
    //    out once the server is reachable.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (st, v) = api
        .patch(
            &format!("/api/v1/accounts/{acc}"),
            json!({"settings": {"smtp": {"port": closed}}}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    api.created(
        &format!("/api/v1/tickets/{number}/messages"),
        json!({"text": "primera respuesta"}),
    )
    .await;
    let waiting = eventually(20, "a failed first attempt", || async {
        messages(&api, number)
            .await
            .into_iter()
            .find(|m| m["direction"] == "outbound" && m["status_detail"].is_string())
    })
    .await;
    assert_eq!(waiting["status"], "queued");
    assert!(
        waiting["status_detail"]
            .as_str()
            .unwrap()
            .contains("intento 1"),
        "{waiting}"
    );
    api.patch(
        &format!("/api/v1/accounts/{acc}"),
        json!({"settings": {"smtp": real_smtp}}),
    )
    .await;
    eventually(30, "the retried reply sent", || async {
        messages(&api, number)
            .await
            .into_iter()
            .find(|m| m["direction"] == "outbound" && m["status"] == "sent")
    })
    .await;
    assert_eq!(wait_mailbox(&customer, 1).await.len(), 1);

    // 2. The server dies while the SMTP server holds the mail without answering.
    let (port, datas) = hanging_smtp().await;
    api.patch(
        &format!("/api/v1/accounts/{acc}"),
        json!({"settings": {"smtp": {"port": port}}}),
    )
    .await;
    let reply = api
        .created(
            &format!("/api/v1/tickets/{number}/messages"),
            json!({"text": "segunda respuesta"}),
        )
        .await;
    let reply_id = reply["id"].as_str().unwrap().to_string();
    eventually(20, "the mail handed to the hanging server", || async {
        (datas.load(Ordering::SeqCst) == 1).then_some(())
    })
    .await;
    s.kill9();
    let s = Server::start_in(&s.data, &[]);
    let api = s.admin().await;
    let failed = eventually(20, "the interrupted mail marked failed", || async {
        messages(&api, number)
            .await
            .into_iter()
            .find(|m| m["id"] == reply_id.as_str() && m["status"] == "failed")
    })
    .await;
    assert!(
        failed["status_detail"]
            .as_str()
            .unwrap()
            .contains("interrump"),
        "{failed}"
    );
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(
        datas.load(Ordering::SeqCst),
        1,
        "never sent again by itself"
    );

    // 3. The agent sends it again, through a working server: exactly one more mail.
    api.patch(
        &format!("/api/v1/accounts/{acc}"),
        json!({"settings": {"smtp": {"port": servers().smtp_port}}}),
    )
    .await;
    let (st, v) = api
        .post(
            &format!("/api/v1/tickets/{number}/messages/{reply_id}/resend"),
            json!({}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let inbox = wait_mailbox(&customer, 2).await;
    assert!(body_text(&inbox[1]).contains("segunda respuesta"));
    eventually(20, "the resent mail marked sent", || async {
        messages(&api, number)
            .await
            .into_iter()
            .find(|m| m["id"] == reply_id.as_str() && m["status"] == "sent")
    })
    .await;
    // Only failed mail can be resent.
    let (st, _) = api
        .post(
            &format!("/api/v1/tickets/{number}/messages/{reply_id}/resend"),
            json!({}),
        )
        .await;
    assert_eq!(st, 409);
    assert_eq!(servers().mailbox(&customer).len(), 2);
    drop(dir);
}

/// CHAN-12: a refused login shows on the account with the server's answer, and the poller
/// recovers by itself once the mailbox works; mail arrives by polling when IDLE is off. Oversize mail keeps its headers and a note; an
/// HTML mail is sanitised and its inline image points at the stored attachment.
#[tokio::test]
async fn health_recovery_and_content() {
    let support = "tardio";
    let mut s = Server::start();
    let api = s.admin().await;
    let mut settings = servers().account_settings(support);
    settings["max_message_kb"] = json!(8);
    // This mailbox is polled (IDLE off): the fallback path of servers without IDLE.
    settings["use_idle"] = json!(false);
    settings["poll_seconds"] = json!(5);
    let acc = api
        .created(
            "/api/v1/accounts",
            json!({"kind": "email", "name": "Tardío", "settings": settings}),
        )
        .await;
    let acc = acc["id"].as_str().unwrap().to_string();
    let failing = eventually(30, "the refused login on the account", || async {
        let a = api.ok(&format!("/api/v1/accounts/{acc}")).await;
        (a["health"]["status"] == "failing").then_some(a["health"].clone())
    })
    .await;
    // Said as a sentence in the reader's language, the server's words kept as details.
    let error = failing["last_error"].as_str().unwrap();
    assert!(
        error.contains("rechazó el usuario o la contraseña"),
        "{error}"
    );
    let detail = failing["last_error_detail"].as_str().unwrap();
    assert!(detail.contains("login as tardio refused"), "{detail}");
    // The mailbox appears (the admin fixed it on the mail server): no restart, no edit.
    servers().add_user(support);
    eventually(40, "the poller to recover by itself", || async {
        let a = api.ok(&format!("/api/v1/accounts/{acc}")).await;
        (a["health"]["status"] == "connected").then_some(())
    })
    .await;

    let to = format!("{support}@atiende.test");
    let big = format!(
        "From: Grande <grande@cliente.test>\nTo: {to}\nSubject: Archivo enorme\nMessage-ID: <grande-1@cliente.test>\nContent-Type: text/plain\n\n{}\n",
        "linea de relleno\n".repeat(1000)
    );
    servers().send("grande@cliente.test", &to, &big).await;
    let html = format!(
        "From: Html <html@cliente.test>\nTo: {to}\nSubject: Con imagen\nMessage-ID: <html-1@cliente.test>\nMIME-Version: 1.0\nContent-Type: multipart/related; boundary=\"R\"\n\n--R\nContent-Type: text/html; charset=utf-8\n\n<p onclick=\"robar()\">Mira el <b>logo</b><script>alert(1)</script><img src=\"cid:logo@x\"></p>\n--R\nContent-Type: image/png\nContent-ID: <logo@x>\nContent-Disposition: inline; filename=\"logo.png\"\nContent-Transfer-Encoding: base64\n\niVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==\n--R--\n"
    );
    servers().send("html@cliente.test", &to, &html).await;
    let tickets = wait_tickets(&api, &acc, 2).await;
    let mut by_subject = std::collections::HashMap::new();
    for t in &tickets {
        let m = messages(&api, t["number"].as_u64().unwrap())
            .await
            .remove(0);
        by_subject.insert(m["mail"]["subject"].as_str().unwrap().to_string(), m);
    }
    let big = &by_subject["Archivo enorme"];
    // Reading notes are notes (a code and its parameters), read in the user's language.
    assert_eq!(big["mail"]["notes"][0]["code"], "mail_too_large", "{big}");
    let pic = &by_subject["Con imagen"];
    let shown = pic["mail"]["html"].as_str().unwrap();
    assert!(
        !shown.contains("script") && !shown.contains("onclick"),
        "{shown}"
    );
    let image = &pic["attachments"][0];
    assert_eq!(image["content_type"], "image/png");
    assert!(shown.contains(image["url"].as_str().unwrap()), "{shown}");
    assert!(
        pic["text"].as_str().unwrap().contains("Mira el logo"),
        "{pic}"
    );
    let (st, _) = api.get(image["url"].as_str().unwrap()).await;
    assert_eq!(st, 200);

    // SIGTERM with a poller connected: the process stops within 10 s (OPS: graceful stop).
    let began = std::time::Instant::now();
    s.stop();
    assert!(
        began.elapsed() < std::time::Duration::from_secs(10),
        "stopped in {:?}",
        began.elapsed()
    );
}

/// IMAP over TLS and with STARTTLS, verified against a CA the server trusts (SSL_CERT_FILE,
/// as an admin with a private CA would set it); a certificate that does not match the host
/// shows on the account as a TLS failure.
#[tokio::test]
async fn imap_over_tls_and_starttls() {
    let support = "soportetls";
    servers().add_user(support);
    let dir = tempfile::tempdir().unwrap();
    admin_create(dir.path(), ADMIN_EMAIL, "Admin", ADMIN_PASSWORD, "admin");
    let ca = servers().ca_file.display().to_string();
    let s = Server::start_in(dir.path(), &[("SSL_CERT_FILE", ca.as_str())]);
    let api = s.admin().await;
    let imap = |host: &str, port: u16, security: &str| {
        let mut settings = servers().account_settings(support);
        settings["imap"] = json!({"host": host, "port": port, "security": security,
            "username": support, "password": crate::mailserver::PASSWORD});
        settings
    };
    let mut ids = Vec::new();
    for (name, settings) in [
        ("tls", imap("localhost", servers().imaps_port, "tls")),
        (
            "starttls",
            imap("localhost", servers().imap_port, "starttls"),
        ),
        ("wrong name", imap("127.0.0.1", servers().imaps_port, "tls")),
    ] {
        let a = api
            .created(
                "/api/v1/accounts",
                json!({"kind": "email", "name": name, "settings": settings}),
            )
            .await;
        ids.push(a["id"].as_str().unwrap().to_string());
    }
    for id in &ids[..2] {
        eventually(30, "a TLS connection", || async {
            let a = api.ok(&format!("/api/v1/accounts/{id}")).await;
            (a["health"]["status"] == "connected").then_some(())
        })
        .await;
    }
    let failing = eventually(30, "the certificate refused", || async {
        let a = api.ok(&format!("/api/v1/accounts/{}", ids[2])).await;
        (a["health"]["status"] == "failing").then_some(a["health"].clone())
    })
    .await;
    assert!(
        failing["last_error"].as_str().unwrap().contains("TLS"),
        "{failing}"
    );
}

/// CHAN-2: a web chat answer the visitor could not see (no widget open) reaches them by mail
/// when they left an address.
#[tokio::test]
async fn chat_answers_reach_gone_visitors_by_mail() {
    let (support, customer) = users("c");
    let s = Server::start();
    let api = s.admin().await;
    email_account(&api, &support, json!({})).await;
    let chat = api
        .created(
            "/api/v1/accounts",
            json!({"kind": "webchat", "name": "Chat", "settings": {"email_after_seconds": 0}}),
        )
        .await;
    let chat = chat["id"].as_str().unwrap().to_string();
    let customer_addr = format!("{customer}@cliente.test");
    let got = api
        .inbound_with(
            &chat,
            json!({"external_id": "chat-1", "contact": {"external_id": "chat:visita", "name": "Visita", "email": customer_addr}, "text": "¿Hacen envíos a Arica?"}),
        )
        .await;
    let number = got["ticket_number"].as_u64().unwrap();
    api.created(
        &format!("/api/v1/tickets/{number}/messages"),
        json!({"text": "Sí, en 3 días hábiles."}),
    )
    .await;
    let inbox = wait_mailbox(&customer, 1).await;
    assert_eq!(
        decoded_subject(&inbox[0]),
        format!("Respuesta a tu conversación (#{number})")
    );
    assert!(body_text(&inbox[0]).contains("Sí, en 3 días hábiles."));
    let m = eventually(20, "the answer marked as sent by mail", || async {
        messages(&api, number)
            .await
            .into_iter()
            .find(|m| m["direction"] == "outbound" && m["status"] == "sent")
    })
    .await;
    assert!(m["status_detail"].as_str().unwrap().contains("por correo"));
}

/// Issue "Email fidelity", classes 1, 3, 6 and 7 through the real IMAP path: mails written to
/// have each shape are delivered by Dovecot, and the stored sender, text and attachments are
/// what a mail client shows.
#[tokio::test]
async fn odd_mails_read_as_mail_clients_read_them() {
    let support = "soportefid";
    servers().add_user(support);
    let mails = [
        // 1: three text sections in a row.
        "From: Ana <ana@cliente.test>\nTo: soportefid@atiende.test\nSubject: Tres partes\nMessage-ID: <fid-1@cliente.test>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain; charset=utf-8\n\nPrimera parte.\n--b\nContent-Type: text/plain; charset=utf-8\n\nSegunda parte.\n--b\nContent-Type: text/plain; charset=utf-8\nContent-Disposition: inline\n\n-- \nAna Cliente\n--b--\n",
        // 3: an encoded word glued to the address; a bare name and address.
        "From: =?utf-8?Q?beto?=@cliente.test\nTo: soportefid@atiende.test\nSubject: Codificado\nMessage-ID: <fid-2@cliente.test>\n\nHola desde beto.\n",
        "From: Carla carla@cliente.test\nTo: soportefid@atiende.test\nSubject: Sin corchetes\nMessage-ID: <fid-3@cliente.test>\n\nHola desde carla.\n",
        "From: \"Eva\" <eva@cliente.test> \"Fito\" <fito@otro.test>\nTo: soportefid@atiende.test\nSubject: Dos remitentes\nMessage-ID: <fid-6@cliente.test>\n\nHola desde eva.\n",
        // 6: a monitoring system's own notice.
        "From: Monitor <alertas@monitor.test>\nTo: soportefid@atiende.test\nSubject: Servidor caido\nMessage-ID: <fid-4@monitor.test>\nAuto-Submitted: auto-generated\n\nEl servidor no responde.\n",
        // 7: an attachment without a name.
        "From: Dora <dora@cliente.test>\nTo: soportefid@atiende.test\nSubject: Archivo\nMessage-ID: <fid-5@cliente.test>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nVa el archivo.\n--b\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\nAAECAwQ=\n--b--\n",
    ];
    // 4: charsets the headers get wrong or leave out.
    let jp = "お問い合わせありがとうございます。注文番号を確認しています。";
    let zh = "你好，我的订单还没有到，请帮我查一下物流信息";
    let es = "Hola, ¿cómo están? Necesito cambiar la dirección de envío.";
    let mut raws: Vec<Vec<u8>> = mails.iter().map(|m| m.as_bytes().to_vec()).collect();
    let mut iso = b"From: Eri <eri@cliente.test>\nTo: soportefid@atiende.test\nSubject: Sin charset\nMessage-ID: <fid-7@cliente.test>\nMIME-Version: 1.0\nContent-Type: text/plain\n\n".to_vec();
    iso.extend_from_slice(&encoding_rs::ISO_2022_JP.encode(jp).0);
    raws.push(iso);
    let mut gbk = b"From: Li <li@cliente.test>\nTo: soportefid@atiende.test\nSubject: ".to_vec();
    gbk.extend_from_slice(&encoding_rs::GBK.encode(zh).0);
    gbk.extend_from_slice(b"\nMessage-ID: <fid-8@cliente.test>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\nhola\n");
    raws.push(gbk);
    raws.push(format!("From: Ines <ines@cliente.test>\nTo: soportefid@atiende.test\nSubject: Mal declarado\nMessage-ID: <fid-9@cliente.test>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n{es}\n").into_bytes());
    raws.push("From: Olga <olga@cliente.test>\nTo: soportefid@atiende.test\nSubject: Falso base64\nMessage-ID: <fid-10@cliente.test>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\nHola, necesito ayuda con mi pedido.\n".as_bytes().to_vec());
    // 2: an inner multipart/alternative never closed, then three images.
    let image = "--outer\nContent-Type: image/png; name=\"{n}.png\"\nContent-Disposition: attachment; filename=\"{n}.png\"\nContent-Transfer-Encoding: base64\n\niVBORw0KGgo=\n";
    let mut gmail = "From: Gabi <gabi@cliente.test>\nTo: soportefid@atiende.test\nSubject: Fotos\nMessage-ID: <fid-11@cliente.test>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"outer\"\n\n--outer\nContent-Type: multipart/alternative; boundary=\"inner\"\n\n--inner\nContent-Type: text/plain; charset=UTF-8\n\nVan las fotos.\n\n--inner\nContent-Type: text/html; charset=UTF-8\n\n<div>Van las fotos.</div>\n\n".to_string();
    for n in ["a", "b", "c"] {
        gmail.push_str(&image.replace("{n}", n));
    }
    gmail.push_str("--outer--\n");
    raws.push(gmail.into_bytes());
    for raw in &raws {
        servers().deliver_file(support, raw);
    }
    let s = Server::start();
    let api = s.admin().await;
    let acc = email_account(&api, support, json!({"initial_import": 100})).await;
    let tickets = wait_tickets(&api, &acc, raws.len()).await;
    let mut by_subject = std::collections::HashMap::new();
    for t in &tickets {
        let number = t["number"].as_u64().unwrap();
        let m = messages(&api, number).await.remove(0);
        let contact = api
            .ok(&format!(
                "/api/v1/contacts/{}",
                t["contact"]["id"].as_str().unwrap()
            ))
            .await;
        by_subject.insert(
            m["mail"]["subject"].as_str().unwrap().to_string(),
            (m, contact),
        );
    }
    let (three, _) = &by_subject["Tres partes"];
    let text = three["text"].as_str().unwrap();
    let (a, b) = (
        text.find("Primera parte").unwrap(),
        text.find("Segunda parte").unwrap(),
    );
    assert!(a < b && text.contains("Ana Cliente"), "{text}");
    assert_eq!(by_subject["Codificado"].1["email"], "beto@cliente.test");
    assert_eq!(by_subject["Dos remitentes"].1["email"], "eva@cliente.test");
    let (_, carla) = &by_subject["Sin corchetes"];
    assert_eq!(carla["email"], "carla@cliente.test");
    assert_eq!(carla["name"], "Carla");
    assert!(
        by_subject.contains_key("Servidor caido"),
        "a robot's notice opens a ticket"
    );
    let (file, _) = &by_subject["Archivo"];
    assert_eq!(file["attachments"][0]["name"], "adjunto-1.bin");
    assert_eq!(by_subject["Sin charset"].0["text"], jp);
    assert!(by_subject.contains_key(zh), "{:?}", by_subject.keys());
    assert_eq!(by_subject["Mal declarado"].0["text"], es);
    assert_eq!(
        by_subject["Falso base64"].0["text"],
        "Hola, necesito ayuda con mi pedido."
    );
    let photos: Vec<&str> = by_subject["Fotos"].0["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(photos, ["a.png", "b.png", "c.png"]);
}

/// Counts an account's tickets, page by page.
async fn ticket_count(api: &Api, acc: &str) -> usize {
    let mut n = 0;
    let mut cursor = String::new();
    loop {
        let page = api
            .ok(&format!("/api/v1/tickets?account={acc}&limit=200{cursor}"))
            .await;
        n += page["items"].as_array().unwrap().len();
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return n,
        }
    }
}

/// A backlog (issue 20, items 8 and 9): listed once, fetched in batches; a stop during the
/// import is prompt, and the next start goes on from where it stopped, every mail once.
#[tokio::test]
async fn a_backlog_imports_in_batches_and_a_stop_during_it_is_prompt() {
    const MAILS: usize = 3_000;
    let (support, _) = users("atraso");
    let to = format!("{support}@atiende.test");
    for i in 0..MAILS {
        let raw = mail(
            &format!("cliente{i}@cliente.test"),
            &to,
            &format!("Pedido {i}"),
            "",
            "hola",
        );
        servers().deliver_file(&support, raw.replace('\n', "\r\n").as_bytes());
    }
    let mut s = Server::start();
    let dir = s.take_dir();
    let api = s.admin().await;
    let acc = email_account(&api, &support, json!({"initial_import": MAILS})).await;
    let api2 = api.clone();
    let acc2 = acc.clone();
    eventually(120, "the import to be under way", move || {
        let (api, acc) = (api2.clone(), acc2.clone());
        async move { (ticket_count(&api, &acc).await >= 100).then_some(()) }
    })
    .await;
    let started = std::time::Instant::now();
    s.stop();
    let took = started.elapsed();
    assert!(
        took < std::time::Duration::from_secs(5),
        "the stop took {took:?}"
    );

    let data = s.data.clone();
    let again = Server::start_in(&data, &[]);
    let api = again.admin().await;
    let api2 = api.clone();
    let acc2 = acc.clone();
    eventually(180, "every mail of the backlog", move || {
        let (api, acc) = (api2.clone(), acc2.clone());
        async move { (ticket_count(&api, &acc).await >= MAILS).then_some(()) }
    })
    .await;
    assert_eq!(ticket_count(&api, &acc).await, MAILS, "each mail once");
    drop(dir);
}

/// The agent's signature (per account when set) goes under their reply, before the account's.
#[tokio::test]
async fn replies_carry_the_agents_signature_then_the_accounts() {
    let (support, customer) = users("firma");
    let s = Server::start();
    let api = s.admin().await;
    let acc = email_account(
        &api,
        &support,
        json!({"signature": "Tienda Prueba · soporte"}),
    )
    .await;
    let me = api.ok("/api/v1/me").await;
    let uid = me["id"].as_str().unwrap().to_string();
    api.patch(
        &format!("/api/v1/users/{uid}"),
        json!({"signature": "Admin, en general", "signatures": {acc.clone(): "Admin — Tienda Prueba"}}),
    )
    .await;
    assert_eq!(
        api.ok("/api/v1/me").await["signatures"][&acc],
        "Admin — Tienda Prueba"
    );
    let from = format!("{customer}@atiende.test");
    let to = format!("{support}@atiende.test");
    customer_writes(&from, &to, "Consulta", "", "Hola, ¿tienen talla M?").await;
    let number = eventually(30, "the ticket", || async {
        tickets_of(&api, &acc)
            .await
            .first()
            .and_then(|t| t["number"].as_u64())
    })
    .await;
    api.created(
        &format!("/api/v1/tickets/{number}/messages"),
        json!({"text": "Sí, nos queda talla M."}),
    )
    .await;
    let got = &wait_mailbox(&customer, 1).await[0];
    let text = body_text(got);
    let reply = text.find("Sí, nos queda talla M.").expect("the reply");
    let mine = text
        .find("Admin — Tienda Prueba")
        .expect("the per-account signature");
    let shop = text
        .find("Tienda Prueba · soporte")
        .expect("the account's signature");
    assert!(reply < mine && mine < shop, "{text}");
    assert!(
        !text.contains("Admin, en general"),
        "the override wins: {text}"
    );
}
