//! Profile fields and typifications (seed 003, TICK-9): defined by administrators, checked
//! on every write, and a mandatory typification keeps a ticket from closing.

use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn typifications_are_checked_and_a_mandatory_one_blocks_the_close() {
    let s = Server::start();
    let api = s.admin().await;
    let acc = api.account("api", "Soporte").await;
    let other = api.account("api", "Ventas").await;
    let motivo = api
        .created(
            "/api/v1/fields",
            json!({"target": "ticket", "name": "Motivo", "kind": "choice",
                   "options": ["Reclamo", "Consulta", "Reclamo"], "mandatory": true, "accounts": [acc]}),
        )
        .await;
    assert_eq!(
        motivo["options"],
        json!(["Reclamo", "Consulta"]),
        "options deduplicated"
    );
    let motivo = motivo["id"].as_str().unwrap().to_string();
    let (st, e) = api
        .post(
            "/api/v1/fields",
            json!({"name": "Sin opciones", "kind": "multi"}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), e["error"]["code"].as_str()),
        (422, Some("options_required"))
    );

    let n = api.inbound(&acc, "m1", "ana", "Hola").await["ticket_number"]
        .as_u64()
        .unwrap();
    let m = api.inbound(&acc, "m2", "beto", "Hola").await["ticket_number"]
        .as_u64()
        .unwrap();
    let elsewhere = api.inbound(&other, "m3", "caro", "Hola").await["ticket_number"]
        .as_u64()
        .unwrap();

    // A value that is not an option, and a field that does not exist, are refused.
    for (body, code) in [
        (
            json!({"fields": {motivo.clone(): "Otro"}}),
            "unknown_option",
        ),
        (json!({"fields": {"999": "x"}}), "unknown_field"),
    ] {
        let (st, e) = api.patch(&format!("/api/v1/tickets/{n}"), body).await;
        assert_eq!(
            (st.as_u16(), e["error"]["code"].as_str()),
            (422, Some(code)),
            "{e}"
        );
    }
    // Closing without it: refused, nothing changed.
    let (st, e) = api
        .patch(&format!("/api/v1/tickets/{n}"), json!({"state": "closed"}))
        .await;
    assert_eq!(
        (st.as_u16(), e["error"]["code"].as_str()),
        (422, Some("typification_required"))
    );
    assert!(e["error"]["message"].as_str().unwrap().contains("Motivo"));
    assert_eq!(
        api.ok(&format!("/api/v1/tickets/{n}")).await["state"],
        "open"
    );

    // The same change typifies and closes.
    let (st, t) = api
        .patch(
            &format!("/api/v1/tickets/{n}"),
            json!({"state": "closed", "fields": {motivo.clone(): "Consulta"}}),
        )
        .await;
    assert_eq!(st, 200, "{t}");
    assert_eq!(t["fields"][&motivo], "Consulta");
    // The board filters by it (any case, any state, by creation or update time).
    for sort in ["updated_desc", "created_asc"] {
        let found = api
            .ok(&format!(
                "/api/v1/tickets?field={motivo}:consulta&sort={sort}"
            ))
            .await;
        let numbers: Vec<u64> = found["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["number"].as_u64().unwrap())
            .collect();
        assert_eq!(numbers, [n], "{sort}");
    }
    assert!(api
        .ok(&format!("/api/v1/tickets?field={motivo}:Reclamo"))
        .await["items"]
        .as_array()
        .unwrap()
        .is_empty());

    // A mass close closes what it may and names what it left open; another account's ticket
    // is not bound by this account's field.
    let r = api
        .created(
            "/api/v1/tickets/bulk",
            json!({"numbers": [m, elsewhere], "action": "close"}),
        )
        .await;
    assert_eq!(r["updated"], json!([elsewhere]));
    assert_eq!(r["skipped"][0]["number"], m);
    assert_eq!(r["skipped"][0]["code"], "typification_required");
    assert_eq!(
        api.ok(&format!("/api/v1/tickets/{m}")).await["state"],
        "open"
    );

    // Not mandatory any more: it closes.
    api.patch(
        &format!("/api/v1/fields/{motivo}"),
        json!({"mandatory": false}),
    )
    .await;
    let (st, _) = api
        .patch(&format!("/api/v1/tickets/{m}"), json!({"state": "closed"}))
        .await;
    assert_eq!(st, 200);
    // A field keeps its kind.
    let (st, e) = api
        .patch(&format!("/api/v1/fields/{motivo}"), json!({"kind": "text"}))
        .await;
    assert_eq!(
        (st.as_u16(), e["error"]["code"].as_str()),
        (422, Some("field_kind_fixed"))
    );
    // Agents read the definitions but do not change them.
    api.create_user("agente@x.cl", "Agente", "agent").await;
    let agent = s.login("agente@x.cl", "clave-agente-1").await;
    let (st, _) = agent
        .post("/api/v1/fields", json!({"name": "X", "kind": "text"}))
        .await;
    assert_eq!(st, 403);
    assert_eq!(
        agent.ok("/api/v1/fields").await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn profile_fields_are_typed_and_mandatory_ones_required() {
    let s = Server::start();
    let api = s.admin().await;
    let nace = api
        .created(
            "/api/v1/fields",
            json!({"target": "contact", "name": "Nacimiento", "kind": "date", "mandatory": true}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let vip = api
        .created(
            "/api/v1/fields",
            json!({"target": "contact", "name": "Cliente VIP", "kind": "yes_no"}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let c = api
        .created("/api/v1/contacts", json!({"name": "Ana"}))
        .await;
    let id = c["id"].as_str().unwrap();
    let (st, e) = api
        .patch(
            &format!("/api/v1/contacts/{id}"),
            json!({"fields": {vip.clone(): true}}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), e["error"]["code"].as_str()),
        (422, Some("profile_field_required"))
    );
    let (st, e) = api
        .patch(
            &format!("/api/v1/contacts/{id}"),
            json!({"fields": {nace.clone(): "2026-02-30"}}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), e["error"]["code"].as_str()),
        (422, Some("invalid_date"))
    );
    let (st, c) = api
        .patch(
            &format!("/api/v1/contacts/{id}"),
            json!({"fields": {nace.clone(): "1990-05-01", vip.clone(): true}}),
        )
        .await;
    assert_eq!(st, 200, "{c}");
    assert_eq!(c["fields"][&nace], "1990-05-01");
    assert_eq!(c["fields"][&vip], true);
    // A ticket field is not a profile field.
    let t = api
        .created(
            "/api/v1/fields",
            json!({"target": "ticket", "name": "Nota", "kind": "text"}),
        )
        .await;
    let (st, _) = api
        .patch(
            &format!("/api/v1/contacts/{id}"),
            json!({"fields": {t["id"].as_str().unwrap(): "x"}}),
        )
        .await;
    assert_eq!(st, 422);
    // Everyone reads the definitions; only administrators change them.
    let (st, list) = api.get("/api/v1/fields").await;
    assert_eq!(
        (st.as_u16(), list["items"].as_array().unwrap().len()),
        (200, 3)
    );
}
