//! The email channel against real servers: Dovecot (IMAP) and OpenSMTPD (SMTP → Dovecot).

use serde_json::{json, Value};

use crate::harness::*;
use crate::mailserver::{header, servers};

/// A support mailbox and a customer mailbox of this test's own.
fn users(tag: &str) -> (String, String) {
    let (support, customer) = (format!("soporte{tag}"), format!("cliente{tag}"));
    servers().add_user(&support);
    servers().add_user(&customer);
    (support, customer)
}

async fn email_account(api: &Api, support: &str, extra: Value) -> String {
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
async fn wait_mailbox(user: &str, n: usize) -> Vec<String> {
    eventually(30, &format!("{n} mails for {user}"), || async {
        let m = servers().mailbox(user);
        (m.len() >= n).then_some(m)
    })
    .await
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
    servers()
        .send(
            &customer_addr,
            &support_addr,
            &mail(
                &customer_addr,
                &support_addr,
                "Pedido atrasado",
                "Message-ID: <primero@cliente.test>",
                "Hola, mi pedido 123 no llega. ¿Qué pasó?",
            ),
        )
        .await;
    let t = wait_tickets(&api, &acc, 1).await;
    let number = t[0]["number"].as_u64().unwrap();
    let first = &wait_messages(&api, number, 1).await[0];
    assert!(first["text"].as_str().unwrap().contains("mi pedido 123"));
    assert_eq!(first["mail"]["subject"], "Pedido atrasado");
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
    servers()
        .send(
            &customer_addr,
            &support_addr,
            &mail(
                &customer_addr,
                &support_addr,
                "Re: Pedido atrasado",
                &format!("In-Reply-To: <{our_id}>"),
                "Gracias, quedo atento.\n\nEl lun, 23 nov 2026, Soporte escribió:\n> Hola, ya lo revisamos",
            ),
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
    servers()
        .send(
            &customer_addr,
            &token_addr,
            &mail(
                &customer_addr,
                &token_addr,
                "otra cosa",
                "",
                "Una consulta más.",
            ),
        )
        .await;
    wait_messages(&api, number, 4).await;
    assert_eq!(
        tickets_of(&api, &acc).await.len(),
        1,
        "every reply joined the ticket"
    );
}
