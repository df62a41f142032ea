//! The Contactos list (ORG-3, seed 002): filters, sorts, cursor paging and saved segments.

use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn contacts_filter_sort_page_and_segments() {
    let s = Server::start();
    let api = s.admin().await;
    let soporte = api.account("api", "Soporte").await;
    let chat = api.account("webchat", "Chat web").await;
    let vip = api.created("/api/v1/labels", json!({"name": "VIP"})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let region = api
        .created(
            "/api/v1/fields",
            json!({"target": "contact", "name": "Región", "kind": "choice", "options": ["Biobío", "Ñuble"]}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let names = ["Ximena", "ana", "Álvaro", "Beatriz", "Carlos", "Daniela"];
    let mut ids = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let acc = if i % 2 == 0 { &soporte } else { &chat };
        let r = api
            .inbound_with(
                acc,
                json!({"external_id": format!("m{i}"), "contact": {"external_id": format!("c{i}"), "name": name}, "text": "Hola"}),
            )
            .await;
        let t = api
            .ok(&format!("/api/v1/tickets/{}", r["ticket_number"]))
            .await;
        ids.push(t["contact"]["id"].as_str().unwrap().to_string());
    }
    api.patch(
        &format!("/api/v1/contacts/{}", ids[1]),
        json!({"labels": [vip], "influencer": true, "fields": {region.clone(): "Ñuble"}}),
    )
    .await;
    api.patch(
        &format!("/api/v1/contacts/{}", ids[4]),
        json!({"labels": [vip], "fields": {region.clone(): "Biobío"}}),
    )
    .await;

    let names_of = |v: &serde_json::Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect()
    };
    // Newest first by default; by name without regard to accents or case.
    let all = api.ok("/api/v1/contacts").await;
    assert_eq!(names_of(&all)[0], "Daniela");
    let by_name = api.ok("/api/v1/contacts?sort=name_asc").await;
    assert_eq!(
        names_of(&by_name),
        ["Álvaro", "ana", "Beatriz", "Carlos", "Daniela", "Ximena"]
    );
    // Each filter alone and together.
    assert_eq!(
        names_of(
            &api.ok(&format!("/api/v1/contacts?label={vip}&sort=created_asc"))
                .await
        ),
        ["ana", "Carlos"]
    );
    assert_eq!(
        names_of(
            &api.ok("/api/v1/contacts?channel=webchat&sort=created_asc")
                .await
        ),
        ["ana", "Beatriz", "Daniela"]
    );
    assert_eq!(
        names_of(&api.ok("/api/v1/contacts?influencer=true").await),
        ["ana"]
    );
    assert_eq!(
        names_of(
            &api.ok(&format!("/api/v1/contacts?field={region}:Biob%C3%ADo"))
                .await
        ),
        ["Carlos"]
    );
    assert_eq!(
        names_of(
            &api.ok(&format!("/api/v1/contacts?label={vip}&channel=api"))
                .await
        ),
        ["Carlos"]
    );
    let future = "2099-01-01T00:00:00Z";
    assert!(names_of(
        &api.ok(&format!("/api/v1/contacts?last_contact_from={future}"))
            .await
    )
    .is_empty());
    assert_eq!(
        names_of(
            &api.ok(&format!(
                "/api/v1/contacts?created_to={future}&sort=last_contact_desc"
            ))
            .await
        )
        .len(),
        6
    );
    // With words typed, the other filters narrow the hits.
    let path = format!("/api/v1/contacts?q=ana&label={vip}");
    let hits = eventually(10, "the search index", || async {
        let v = api.ok(&path).await;
        (!v["items"].as_array().unwrap().is_empty()).then_some(v)
    })
    .await;
    assert_eq!(names_of(&hits), ["ana"]);
    // Cursor paging visits everyone once, in order.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/contacts?sort=name_desc&limit=4&cursor={c}"),
            None => "/api/v1/contacts?sort=name_desc&limit=4".to_string(),
        };
        let page = api.ok(&path).await;
        seen.extend(names_of(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(
        seen,
        ["Ximena", "Daniela", "Carlos", "Beatriz", "ana", "Álvaro"]
    );
    // Bad filters are named.
    let (st, e) = api.get("/api/v1/contacts?channel=fax").await;
    assert_eq!(
        (st.as_u16(), e["error"]["field"].as_str()),
        (400, Some("channel"))
    );

    // A segment saved by one agent: theirs alone until shared.
    let seg = api
        .created(
            "/api/v1/segments",
            json!({"name": "VIP del chat", "query": {"label": vip, "channel": "webchat", "cursor": "1.2"}}),
        )
        .await;
    assert_eq!(seg["query"], json!({"channel": "webchat", "label": vip}));
    let (st, e) = api
        .post(
            "/api/v1/segments",
            json!({"name": "Malo", "query": {"sort": "random"}}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), e["error"]["field"].as_str()),
        (422, Some("query"))
    );
    api.create_user("agente@x.cl", "Agente", "agent").await;
    let agent = s.login("agente@x.cl", "clave-agente-1").await;
    assert!(agent.ok("/api/v1/segments").await["items"]
        .as_array()
        .unwrap()
        .is_empty());
    let id = seg["id"].as_str().unwrap();
    api.patch(&format!("/api/v1/segments/{id}"), json!({"shared": true}))
        .await;
    assert_eq!(
        agent.ok("/api/v1/segments").await["items"][0]["name"],
        "VIP del chat"
    );
    let (st, _) = agent.delete(&format!("/api/v1/segments/{id}")).await;
    assert_eq!(st, 403);
    let (st, _) = api.delete(&format!("/api/v1/segments/{id}")).await;
    assert_eq!(st, 204);
}

async fn import(
    api: &Api,
    csv: &str,
    mapping: Option<serde_json::Value>,
    dry_run: bool,
) -> (u16, serde_json::Value) {
    let mut form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(csv.as_bytes().to_vec()).file_name("clientes.csv"),
        )
        .text("dry_run", dry_run.to_string());
    if let Some(m) = mapping {
        form = form.text("mapping", m.to_string());
    }
    let res = api
        .request(reqwest::Method::POST, "/api/v1/contacts/import")
        .multipart(form)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

#[tokio::test]
async fn a_csv_import_previews_reports_each_bad_row_and_is_idempotent() {
    let s = Server::start();
    let api = s.admin().await;
    let acc = api.account("api", "Soporte").await;
    // Someone who already wrote: the file's row with her RUT updates her.
    let r = api
        .inbound_with(&acc, json!({"external_id": "m1", "contact": {"external_id": "c1", "name": "Ana", "rut": "12.345.678-5"}, "text": "Hola"}))
        .await;
    let ana = api
        .ok(&format!("/api/v1/tickets/{}", r["ticket_number"]))
        .await["contact"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let csv = "Nombre;RUT;Correo;Teléfono;Influenciador\n\
               Ana González;12.345.678-5;ana@x.cl;+56 9 1234 5678;sí\n\
               Beto;11.111.111-1;beto@x.cl;;no\n\
               Caro;12.345.678-0;caro@x.cl;;\n\
               Dani;;dani@;;\n\
               Beto bis;;beto@x.cl;;\n";
    // The preview writes nothing and says what would happen.
    let (st, preview) = import(&api, csv, None, true).await;
    assert_eq!(st, 200, "{preview}");
    assert_eq!(preview["dry_run"], true);
    assert_eq!(preview["mapping"]["Correo"], "email");
    assert_eq!(preview["rows"], 5);
    assert_eq!(preview["preview"][0]["name"], "Ana González");
    let errors: Vec<(u64, &str)> = preview["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["line"].as_u64().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        errors,
        [(4, "invalid_rut"), (5, "invalid_email"), (6, "duplicate")]
    );
    assert_eq!(
        api.ok(&format!("/api/v1/contacts/{ana}")).await["name"],
        "Ana"
    );

    let (_, done) = import(&api, csv, None, false).await;
    assert_eq!(
        (
            done["created"].as_u64(),
            done["updated"].as_u64(),
            done["unchanged"].as_u64()
        ),
        (Some(1), Some(1), Some(0))
    );
    let a = api.ok(&format!("/api/v1/contacts/{ana}")).await;
    assert_eq!(
        (
            a["name"].as_str(),
            a["email"].as_str(),
            a["influencer"].as_bool()
        ),
        (Some("Ana González"), Some("ana@x.cl"), Some(true))
    );
    // Her open ticket is important now (TICK-6).
    assert_eq!(
        api.ok(&format!("/api/v1/tickets/{}", r["ticket_number"]))
            .await["important"],
        true
    );
    // The same file again changes nothing.
    let (_, again) = import(&api, csv, None, false).await;
    assert_eq!(
        (
            again["created"].as_u64(),
            again["updated"].as_u64(),
            again["unchanged"].as_u64()
        ),
        (Some(0), Some(0), Some(2))
    );
    // A mapping chosen by hand; one that names nobody is refused.
    let (st, e) = import(&api, csv, Some(json!({"Nombre": "notes"})), true).await;
    assert_eq!(
        (st, e["error"]["code"].as_str()),
        (422, Some("mapping_without_identity"))
    );

    // The export carries the filter's contacts, with headers in the user's language.
    let res = api
        .request(
            reqwest::Method::GET,
            "/api/v1/contacts/export?influencer=true",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("contactos-"));
    let body = res.text().await.unwrap();
    let lines: Vec<&str> = body.trim_start_matches('\u{feff}').lines().collect();
    assert!(lines[0].starts_with("id,Nombre,RUT"), "{}", lines[0]);
    assert_eq!(lines.len(), 2, "{body}");
    assert!(lines[1].contains("Ana González") && lines[1].contains("12.345.678-5"));
    let all = api
        .request(reqwest::Method::GET, "/api/v1/contacts/export")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(all.lines().count(), 3, "{all}");
    // Customer data in and out is in the audit log (previews are not); newest first.
    let imported = api.ok("/api/v1/audit?action=contacts_imported").await;
    assert_eq!(imported["items"].as_array().unwrap().len(), 2);
    assert_eq!(imported["items"][1]["details"]["created"], "1");
    let exported = api.ok("/api/v1/audit?action=contacts_exported").await;
    assert_eq!(
        exported["items"][1]["details"]["filter"],
        r#"{"influencer":"true"}"#
    );
}

#[tokio::test]
async fn a_customer_has_several_emails_and_phones() {
    let s = Server::start();
    let api = s.admin().await;
    let c = api
        .created(
            "/api/v1/contacts",
            json!({"name": "Ana", "email": "ana@x.cl"}),
        )
        .await;
    let id = c["id"].as_str().unwrap();
    let (st, c) = api
        .patch(
            &format!("/api/v1/contacts/{id}"),
            json!({"more_emails": ["Ana@Trabajo.cl", " ", "ana@trabajo.cl"], "more_phones": ["+56 9 1111 2222"]}),
        )
        .await;
    assert_eq!(st, 200, "{c}");
    assert_eq!(c["more_emails"], json!(["ana@trabajo.cl"]));
    let (st, e) = api
        .patch(
            &format!("/api/v1/contacts/{id}"),
            json!({"more_emails": ["no-es-correo"]}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), e["error"]["field"].as_str()),
        (422, Some("more_emails"))
    );
    // Found by any of them; someone else with the work email is a possible duplicate.
    let found = eventually(10, "the search index", || async {
        let v = api.ok("/api/v1/contacts?q=ana@trabajo.cl").await;
        (!v["items"].as_array().unwrap().is_empty()).then_some(v)
    })
    .await;
    assert_eq!(found["items"][0]["id"], id);
    let other = api
        .created(
            "/api/v1/contacts",
            json!({"name": "A. Pérez", "phone": "22221111 2222"}),
        )
        .await;
    let dups = api
        .ok(&format!(
            "/api/v1/contacts/{}/duplicates",
            other["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(dups["items"][0]["contact"]["id"], id);
}
