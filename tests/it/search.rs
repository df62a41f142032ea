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
