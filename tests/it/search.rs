use serde_json::{json, Value};

use crate::harness::*;

async fn search(api: &Api, q: &str) -> Value {
    let encoded: String = q
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    api.ok(&format!("/api/v1/search?q={encoded}")).await
}

async fn finds_contact(api: &Api, q: &str, contact_id: &str) {
    let api2 = api.clone();
    let (q2, id2) = (q.to_string(), contact_id.to_string());
    eventually(
        20,
        &format!("search `{q}` to find the contact"),
        move || {
            let (api, q, id) = (api2.clone(), q2.clone(), id2.clone());
            async move {
                let r = search(&api, &q).await;
                r["contacts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|c| c["id"] == id.as_str())
                    .then_some(())
            }
        },
    )
    .await;
}

async fn finds_ticket(api: &Api, q: &str, number: u64) {
    let api2 = api.clone();
    let q2 = q.to_string();
    eventually(20, &format!("search `{q}` to find #{number}"), move || {
        let (api, q) = (api2.clone(), q2.clone());
        async move {
            let r = search(&api, &q).await;
            r["tickets"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["number"] == number)
                .then_some(())
        }
    })
    .await;
}

#[tokio::test]
async fn finds_by_rut_in_any_format_number_name_email_phone_and_spanish_text() {
    let s = Server::start();
    let api = s.admin().await;
    let acc = api.account("api", "API").await;
    let v = api
        .inbound_with(
            &acc,
            json!({
                "external_id": "s1",
                "contact": {"external_id": "wa-1", "name": "Josefa Muñoz", "email": "Josefa.Munoz@Correo.cl",
                             "phone": "+56 9 8765 4321", "rut": "12.345.678-5", "username": "@josefita"},
                "text": "Necesito información sobre el envío de mi pedido"
            }),
        )
        .await;
    let number = v["ticket_number"].as_u64().unwrap();
    let t = api.ok(&format!("/api/v1/tickets/{number}")).await;
    let cid = t["contact"]["id"].as_str().unwrap().to_string();
    let contact = api.ok(&format!("/api/v1/contacts/{cid}")).await;
    assert_eq!(contact["rut"], "12345678-5");
    assert_eq!(contact["rut_formatted"], "12.345.678-5");

    for q in [
        "12.345.678-5",
        "12345678-5",
        "123456785",
        "12345678-5".to_uppercase().as_str(),
    ] {
        finds_contact(&api, q, &cid).await;
    }
    for q in [
        "Josefa",
        "muñoz",
        "munoz",
        "josefa.munoz@correo.cl",
        "josefita",
        "@josefita",
        "+56987654321",
        "987654321",
    ] {
        finds_contact(&api, q, &cid).await;
    }
    // Accent-insensitive, stemmed Spanish text; number with and without #.
    for q in ["informacion", "envios", "pedido"] {
        finds_ticket(&api, q, number).await;
    }
    finds_ticket(&api, &number.to_string(), number).await;
    finds_ticket(&api, &format!("#{number}"), number).await;
    // Customer name finds their tickets too.
    finds_ticket(&api, "Josefa", number).await;

    // A RUT with a wrong check digit is not the same person.
    let r = search(&api, "12.345.678-4").await;
    assert!(r["contacts"].as_array().unwrap().is_empty());
    // Contact list filter uses the same search.
    let l = api.ok("/api/v1/contacts?q=123456785").await;
    assert_eq!(l["items"][0]["id"], cid.as_str());

    // An agent cannot find tickets of accounts they are not enabled on.
    api.create_user("agente@example.cl", "Agente", "agent")
        .await;
    let agent = s.login("agente@example.cl", "clave-agente-1").await;
    let r = search(&agent, "informacion").await;
    assert!(r["tickets"].as_array().unwrap().is_empty());
}

/// As the agent types: names, emails and phones match from the start of what is typed; the
/// results run newest first with the matching words of the message that matched; Enter's
/// best match is the exact RUT's newest ticket.
#[tokio::test]
async fn finds_as_one_types_newest_first_with_the_matching_words() {
    let s = Server::start();
    let api = s.admin().await;
    let acc = api.account("api", "API").await;
    let inbound = |id: &str, contact: Value, text: &str| json!({"external_id": id, "contact": contact, "text": text});
    let gonzalez = json!({"external_id": "c-1", "name": "María González Rojas",
        "email": "maria.gonzalez@correo.cl", "phone": "+56 9 5555 1234", "rut": "12.345.678-5"});
    let first = api
        .inbound_with(
            &acc,
            inbound("g1", gonzalez.clone(), "Consulta por la factura de octubre"),
        )
        .await["ticket_number"]
        .as_u64()
        .unwrap();
    // Closed, so the next message opens a second (newer) ticket of hers.
    api.patch(
        &format!("/api/v1/tickets/{first}"),
        json!({"state": "closed"}),
    )
    .await;
    let second = api
        .inbound_with(
            &acc,
            inbound("g2", gonzalez, "Otra consulta, ahora por el despacho"),
        )
        .await["ticket_number"]
        .as_u64()
        .unwrap();
    assert_ne!(first, second);
    let other = api
        .inbound_with(
            &acc,
            inbound(
                "o1",
                json!({"external_id": "c-2", "name": "Pedro Pérez"}),
                "Buenas tardes. Quiero saber si hacen envíos a regiones, vivo en Punta Arenas.",
            ),
        )
        .await["ticket_number"]
        .as_u64()
        .unwrap();

    for q in [
        "Gonz",
        "gonzá",
        "Roja",
        "María Gonz",
        "maria.gon",
        "9 5555 12",
    ] {
        finds_ticket(&api, q, second).await;
    }
    let r = search(&api, "Gonz").await;
    let numbers: Vec<u64> = r["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [second, first], "newest first");
    assert_eq!(r["best"], second, "the newest open ticket");

    // Text: the message's words around the match, marked.
    finds_ticket(&api, "envios regiones", other).await;
    let r = search(&api, "envios regiones").await;
    let m = &r["matches"][0];
    assert_eq!(m["number"], other);
    let text: Vec<char> = m["text"].as_str().unwrap().chars().collect();
    let marked: Vec<String> = m["marks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let (a, b) = (
                r[0].as_u64().unwrap() as usize,
                r[1].as_u64().unwrap() as usize,
            );
            text[a..b].iter().collect()
        })
        .collect();
    assert_eq!(marked, ["envíos", "regiones"]);

    // The exact RUT: her newest ticket, whatever its state.
    api.patch(
        &format!("/api/v1/tickets/{second}"),
        json!({"state": "closed"}),
    )
    .await;
    assert_eq!(search(&api, "12.345.678-5").await["best"], second);
    assert_eq!(search(&api, &format!("#{first}")).await["best"], first);
}

/// ORG-4: the same RUT on another channel is the same person, linked at once; the same email
/// is proposed ("Posibles duplicados"), linked or dismissed by an agent; a link undone stays
/// undone; previous tickets and search cover every linked profile.
#[tokio::test]
async fn a_known_rut_links_the_same_person_across_channels() {
    let s = Server::start();
    let api = s.admin().await;
    let wa = api.account("api", "WhatsApp").await;
    let mail = api.account("api", "Correo").await;
    let chat = api.account("api", "Chat").await;
    let first = api
        .inbound_with(
            &wa,
            json!({"external_id": "w1", "text": "hola por WhatsApp",
            "contact": {"external_id": "wa-1", "name": "Josefa Muñoz", "rut": "12.345.678-5",
                        "email": "josefa@correo.cl"}}),
        )
        .await["ticket_number"]
        .as_u64()
        .unwrap();
    let second = api
        .inbound_with(&mail, json!({"external_id": "m1", "text": "hola por correo",
            "contact": {"external_id": "josefa.m@otro.cl", "name": "J. Muñoz", "rut": "123456785"}}))
        .await["ticket_number"]
        .as_u64()
        .unwrap();
    let contact_of = |t: &Value| t["contact"]["id"].as_str().unwrap().to_string();
    let wa_c = contact_of(&api.ok(&format!("/api/v1/tickets/{first}")).await);
    let mail_c = contact_of(&api.ok(&format!("/api/v1/tickets/{second}")).await);
    assert_ne!(wa_c, mail_c);
    let c = api.ok(&format!("/api/v1/contacts/{mail_c}")).await;
    assert_eq!(c["linked"], json!([wa_c.clone()]), "linked by the RUT: {c}");
    let previous = api.ok(&format!("/api/v1/tickets/{second}/previous")).await;
    assert_eq!(previous["items"][0]["number"], first);
    // The customer's page lists the tickets of every profile, newest first.
    let theirs = api.ok(&format!("/api/v1/contacts/{mail_c}/tickets")).await;
    let numbers: Vec<u64> = theirs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [second, first]);
    finds_ticket(&api, "J. Muñoz", first).await;

    // The same email on the chat: proposed, not linked.
    let third = api
        .inbound_with(
            &chat,
            json!({"external_id": "c1", "text": "hola por chat",
            "contact": {"external_id": "chat-1", "name": "Josefa", "email": "JOSEFA@correo.cl"}}),
        )
        .await["ticket_number"]
        .as_u64()
        .unwrap();
    let chat_c = contact_of(&api.ok(&format!("/api/v1/tickets/{third}")).await);
    let dups = api
        .ok(&format!("/api/v1/contacts/{chat_c}/duplicates"))
        .await;
    assert_eq!(dups["items"][0]["contact"]["id"], wa_c.as_str(), "{dups}");
    assert_eq!(dups["items"][0]["shared"], json!(["email"]));
    // Dismissed: no longer proposed (from either side).
    let (st, _) = api
        .post(
            &format!("/api/v1/contacts/{chat_c}/not_same"),
            json!({"contact_id": wa_c}),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(
        api.ok(&format!("/api/v1/contacts/{chat_c}/duplicates"))
            .await["items"],
        json!([])
    );
    assert_eq!(
        api.ok(&format!("/api/v1/contacts/{wa_c}/duplicates")).await["items"],
        json!([])
    );
    // Linked by hand after all, then unlinked: it stays apart even with the RUT.
    let (st, v) = api
        .post(
            &format!("/api/v1/contacts/{chat_c}/link"),
            json!({"contact_id": wa_c}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["linked"].as_array().unwrap().len(), 2);
    let (st, v) = api.delete(&format!("/api/v1/contacts/{mail_c}/link")).await;
    assert_eq!((st.as_u16(), &v["linked"]), (200, &json!([])));
    let (st, _) = api
        .patch(
            &format!("/api/v1/contacts/{mail_c}"),
            json!({"rut": "12.345.678-5"}),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(
        api.ok(&format!("/api/v1/contacts/{mail_c}")).await["linked"],
        json!([])
    );
    let wa_now = api.ok(&format!("/api/v1/contacts/{wa_c}")).await;
    assert_eq!(wa_now["linked"], json!([chat_c]));
    // Someone new with that RUT joins the person, not the profile taken out of it.
    let fourth = api
        .inbound_with(
            &chat,
            json!({"external_id": "c2", "text": "hola otra vez",
            "contact": {"external_id": "chat-2", "name": "Josefa M.", "rut": "12.345.678-5"}}),
        )
        .await["ticket_number"]
        .as_u64()
        .unwrap();
    let new_c = contact_of(&api.ok(&format!("/api/v1/tickets/{fourth}")).await);
    let mut linked: Vec<String> = api.ok(&format!("/api/v1/contacts/{new_c}")).await["linked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    linked.sort();
    let mut expected = vec![wa_c.clone(), chat_c.clone()];
    expected.sort();
    assert_eq!(linked, expected);
    assert_eq!(
        api.ok(&format!("/api/v1/contacts/{mail_c}")).await["linked"],
        json!([])
    );
}

#[tokio::test]
async fn the_index_is_derived_rebuilt_by_reindex_and_when_corrupt() {
    let mut s = Server::start();
    let dir = s.take_dir();
    let api = s.admin().await;
    let acc = api.account("api", "API").await;
    let n = api
        .inbound(&acc, "r1", "c1", "Consulta sobre facturación electrónica")
        .await["ticket_number"]
        .as_u64()
        .unwrap();
    finds_ticket(&api, "facturacion", n).await;
    s.stop();

    // `atiende reindex` rebuilds from redb.
    let out = std::process::Command::new(bin())
        .args(["reindex", "--data"])
        .arg(&s.data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("rebuilt"));
    let data = s.data.clone();
    let s2 = Server::start_in(&data, &[]);
    let api = s2.admin().await;
    finds_ticket(&api, "facturacion", n).await;
    drop(s2);

    // A corrupt index is rebuilt at start instead of failing.
    std::fs::write(data.join("search").join("meta.json"), b"{ not json").unwrap();
    let s3 = Server::start_in(&data, &[]);
    let api = s3.admin().await;
    finds_ticket(&api, "facturacion", n).await;
    // Messages written while the indexer was away are caught up too.
    drop(s3);
    let s4 = Server::start_in(&data, &[]);
    let api = s4.admin().await;
    let m = api
        .inbound(&acc, "r2", "c2", "Problema con la devolución")
        .await["ticket_number"]
        .as_u64()
        .unwrap();
    finds_ticket(&api, "devolucion", m).await;
    drop(dir);
}
