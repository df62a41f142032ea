//! Analítica through the binary (REPORT-1..5): seed 004's two date bases on a ticket created
//! on Monday and written to on Tuesday; breakdowns, a drill-down, an agent's own figures,
//! typification statistics down to the tickets, time per connection state, the reports as
//! XLSX and CSV, and bad input refused in the user's terms.

use serde_json::{json, Value};

use crate::harness::*;

fn day_counts(report: &Value) -> Vec<i64> {
    report["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["figures"]["tickets"].as_i64().unwrap())
        .collect()
}

/// Seed 004: "today is Tuesday and a ticket arrived on Monday, the customer still writing
/// today": by creation Monday 1, Tuesday 0; by update Monday 0, Tuesday 1.
#[tokio::test]
async fn seed_004_counts_a_ticket_on_its_creation_day_and_on_its_update_day() {
    let mut s = Server::start();
    let dir = s.take_dir();
    s.stop();
    let data = s.data.clone();
    let monday = Server::start_in(
        &data,
        &[(
            "ATIENDE_CLOCK_OFFSET_MS",
            &clock_at("2026-03-02T10:00:00-03:00"),
        )],
    );
    let api = monday.admin().await;
    let acc = api.account("api", "Tienda").await;
    let n = api.inbound(&acc, "m1", "ana", "Hola, ¿y mi pedido?").await["ticket_number"]
        .as_u64()
        .unwrap();
    drop(monday);
    let tuesday = Server::start_in(
        &data,
        &[(
            "ATIENDE_CLOCK_OFFSET_MS",
            &clock_at("2026-03-03T11:00:00-03:00"),
        )],
    );
    let api = tuesday.admin().await;
    let again = api.inbound(&acc, "m2", "ana", "Sigo esperando").await;
    assert_eq!(again["ticket_number"].as_u64(), Some(n), "{again}");
    let report = |base: &'static str| {
        let api = api.clone();
        async move {
            api.ok(&format!(
                "/api/v1/reports/tickets?period=custom&from=2026-03-02&to=2026-03-03&base={base}"
            ))
            .await
        }
    };
    let created = report("created").await;
    assert_eq!(day_counts(&created), [1, 0], "{created}");
    let updated = report("updated").await;
    assert_eq!(day_counts(&updated), [0, 1], "{updated}");
    // One message each day, whichever the base.
    let received: Vec<u64> = created["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["messages"]["received"].as_u64().unwrap())
        .collect();
    assert_eq!(received, [1, 1]);
    // "Tickets created yesterday" and "tickets attended yesterday", asked on Tuesday.
    let yesterday = |base: &'static str| {
        let api = api.clone();
        async move {
            api.ok(&format!(
                "/api/v1/reports/tickets?period=yesterday&base={base}"
            ))
            .await["totals"]["tickets"]
                .as_i64()
        }
    };
    assert_eq!(yesterday("created").await, Some(1));
    assert_eq!(yesterday("updated").await, Some(0));
    // Compared with the day before, which had none.
    let today = api
        .ok("/api/v1/reports/tickets?period=today&base=updated")
        .await;
    assert_eq!(
        (
            today["from"].as_str(),
            today["previous_from"].as_str(),
            today["totals"]["tickets"].as_i64(),
            today["previous"]["tickets"].as_i64()
        ),
        (Some("2026-03-03"), Some("2026-03-02"), Some(1), Some(0))
    );
    drop(tuesday);
    drop(dir);
}

#[tokio::test]
async fn reports_break_down_drill_down_scope_and_export() {
    let s = Server::start();
    let admin = s.admin().await;
    let acc = admin.account("api", "Tienda").await;
    let other = admin.account("api", "Ventas").await;
    let luis = admin
        .create_user("luis@prueba.cl", "Luis Agente", "agent")
        .await;
    admin.enable(&luis, &acc, "enabled").await;
    let agent = s.login("luis@prueba.cl", "clave-agente-1").await;
    let motivo = admin
        .created_id(
            "/api/v1/fields",
            json!({"target": "ticket", "name": "Motivo", "kind": "choice", "options": ["Reclamo", "Consulta"]}),
        )
        .await;
    let resuelto = admin
        .created_id(
            "/api/v1/fields",
            json!({"target": "ticket", "name": "¿Resuelto?", "kind": "yes_no"}),
        )
        .await;
    let mut numbers = Vec::new();
    for (account, who) in [
        (&acc, "ana"),
        (&acc, "bea"),
        (&acc, "carla"),
        (&other, "dora"),
    ] {
        let v = admin
            .inbound(account, &format!("m-{who}"), who, "Hola")
            .await;
        numbers.push(v["ticket_number"].as_u64().unwrap());
    }
    let first = numbers[0];
    let (st, v) = agent
        .post(
            &format!("/api/v1/tickets/{first}/messages"),
            json!({"text": "¡Hola Ana! Ya lo reviso."}),
        )
        .await;
    assert!(st.is_success(), "{v}");
    let (st, v) = admin
        .patch(
            &format!("/api/v1/tickets/{first}"),
            json!({"state": "closed", "fields": {motivo.clone(): "Reclamo", resuelto.clone(): true}}),
        )
        .await;
    assert!(st.is_success(), "{v}");

    // By agent: Luis answered and holds #first; the other three wait unassigned.
    let by_agent = admin
        .ok("/api/v1/reports/tickets?period=today&by=agent")
        .await;
    let row = |report: &Value, value: &str| {
        report["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["value"] == value)
            .cloned()
            .unwrap_or_else(|| panic!("{value} in {report}"))
    };
    let luis_row = row(&by_agent, &luis);
    assert_eq!(luis_row["name"], "Luis Agente");
    assert_eq!(
        (
            luis_row["figures"]["tickets"].as_i64(),
            luis_row["figures"]["resolved"].as_i64(),
            luis_row["figures"]["replies"].as_i64(),
            luis_row["figures"]["first_response"]["count"].as_i64(),
            luis_row["messages"]["sent"].as_u64()
        ),
        (Some(1), Some(1), Some(1), Some(1), Some(1))
    );
    let none = row(&by_agent, "none");
    assert_eq!(
        (none["name"].as_str(), none["figures"]["tickets"].as_i64()),
        (Some("Sin asignar"), Some(3))
    );
    assert_eq!(by_agent["totals"]["tickets"], 4);
    assert_eq!(by_agent["messages"], json!({"received": 4, "sent": 1}));
    let by_channel = admin
        .ok("/api/v1/reports/tickets?period=7d&by=channel")
        .await;
    assert_eq!(row(&by_channel, "api")["figures"]["tickets"], 4);
    let by_account = admin
        .ok("/api/v1/reports/tickets?period=7d&by=account")
        .await;
    assert_eq!(row(&by_account, &other)["name"], "Ventas");
    // A drill-down: the totals and days are Luis's alone.
    let drilled = admin
        .ok(&format!(
            "/api/v1/reports/tickets?period=today&by=agent&value={luis}&business_hours=true"
        ))
        .await;
    assert_eq!(drilled["totals"]["tickets"], 1);
    assert_eq!(drilled["business_hours"], true);
    assert_eq!(drilled["messages"]["sent"], 1);

    // An agent sees their own figures only, whatever they ask.
    let own = agent
        .ok("/api/v1/reports/tickets?period=today&by=channel")
        .await;
    assert_eq!(own["by"], "agent");
    assert_eq!(own["totals"]["tickets"], 1);
    assert_eq!(own["rows"].as_array().unwrap().len(), 1, "{own}");
    let (st, _) = agent.get("/api/v1/reports/typifications").await;
    assert_eq!(st.as_u16(), 403);

    // Typification statistics per channel, down to the tickets.
    let typ = admin.ok("/api/v1/reports/typifications?period=today").await;
    let field = |id: &str| {
        typ["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["field_id"] == id)
            .cloned()
            .unwrap()
    };
    let m = field(&motivo);
    assert_eq!(
        m["options"],
        json!([
            {"option": "Reclamo", "label": "Reclamo", "tickets": 1, "channels": [{"channel": "api", "tickets": 1}]},
            {"option": "Consulta", "label": "Consulta", "tickets": 0, "channels": []}
        ])
    );
    assert_eq!(field(&resuelto)["options"][0]["label"], "Sí");
    assert_eq!(field(&resuelto)["options"][0]["tickets"], 1);
    let listed = admin
        .ok(&format!(
            "/api/v1/tickets?state=open,closed,ignored&channel=api&field={motivo}:Reclamo&created_from={}&created_to={}",
            typ["from_instant"].as_str().unwrap(),
            typ["to_instant"].as_str().unwrap()
        ))
        .await;
    let listed: Vec<u64> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["number"].as_u64().unwrap())
        .collect();
    assert_eq!(listed, [first]);

    // Time per connection state.
    let (st, v) = agent
        .put("/api/v1/me/status", json!({"state": "Colación"}))
        .await;
    assert!(st.is_success(), "{v}");
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    let states = admin.ok("/api/v1/reports/agent_states?period=today").await;
    let luis_states = states["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["user_id"] == luis.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("{states}"));
    assert!(luis_states["totals"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["state"] == "Colación" && t["ms"].as_i64().unwrap() > 0));
    assert!(states["states"]
        .as_array()
        .unwrap()
        .contains(&json!("Colación")));

    // Every report as a file.
    let xml = admin
        .xlsx_sheet("/api/v1/reports/tickets?period=today&by=agent&format=xlsx")
        .await;
    for text in [
        "Luis Agente",
        "Primera respuesta, mediana (min)",
        "Sin asignar",
        "Total",
    ] {
        assert!(xml.contains(text), "{text} in {xml}");
    }
    let csv = admin
        .download("/api/v1/reports/typifications?period=today&format=csv")
        .await
        .text()
        .await
        .unwrap();
    assert!(csv.contains("Motivo,Reclamo,,1"), "{csv}");
    let xml = admin
        .xlsx_sheet("/api/v1/reports/agent_states?period=today&format=xlsx")
        .await;
    assert!(xml.contains("Colación"));

    // Bad input, in the user's terms.
    for (path, code, field) in [
        (
            "/api/v1/reports/tickets?period=semana",
            "invalid_period",
            "period",
        ),
        (
            "/api/v1/reports/tickets?from=2026-13-01",
            "invalid_date",
            "from",
        ),
        (
            "/api/v1/reports/tickets?from=2026-03-02&to=2026-03-01",
            "invalid_period",
            "to",
        ),
        (
            "/api/v1/reports/tickets?from=2020-01-01&to=2026-01-01",
            "period_too_long",
            "from",
        ),
    ] {
        let (st, e) = admin.get(path).await;
        assert_eq!(
            (
                st.as_u16(),
                e["error"]["code"].as_str(),
                e["error"]["field"].as_str()
            ),
            (422, Some(code), Some(field)),
            "{path}: {e}"
        );
    }
    let (st, e) = admin.get("/api/v1/reports/tickets?by=planet").await;
    assert_eq!(st.as_u16(), 400, "{e}");

    // The reports' time zone: checked, admins only, and the counts move with it.
    let (st, e) = admin
        .patch(
            "/api/v1/reports/settings",
            json!({"time_zone": "Marte/Olympus"}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), e["error"]["code"].as_str()),
        (422, Some("invalid_time_zone"))
    );
    let (st, _) = agent
        .patch(
            "/api/v1/reports/settings",
            json!({"time_zone": "America/Bogota"}),
        )
        .await;
    assert_eq!(st.as_u16(), 403);
    let (st, v) = admin
        .patch(
            "/api/v1/reports/settings",
            json!({"time_zone": "America/Bogota"}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), v["time_zone"].as_str()),
        (200, Some("America/Bogota"))
    );
    let again = admin.ok("/api/v1/reports/tickets?period=7d&by=agent").await;
    assert_eq!(again["time_zone"], "America/Bogota");
    assert_eq!(again["totals"]["tickets"], 4);
    assert_eq!(row(&again, &luis)["figures"]["replies"], 1);
}

/// The background export `id` once done.
async fn finished(api: &Api, id: &str) -> Value {
    eventually(30, "the export to finish", || {
        let (api, id) = (api.clone(), id.to_string());
        async move {
            let list = api.ok("/api/v1/exports").await;
            list["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|j| j["id"] == id.as_str() && j["state"] == "done")
                .cloned()
        }
    })
    .await
}

/// Administración › Exportaciones: a large export runs in the background, shows its rows, and
/// its file downloads until it is deleted; only its owner (or an administrator) sees it.
#[tokio::test]
async fn background_exports_run_report_progress_and_download() {
    let s = Server::start();
    let admin = s.admin().await;
    let acc = admin.account("api", "Tienda").await;
    for i in 0..30 {
        admin
            .inbound(
                &acc,
                &format!("m{i}"),
                &format!("Cliente {i}"),
                "¿Y mi pedido?",
            )
            .await;
    }
    let (st, job) = admin
        .post(
            "/api/v1/exports",
            json!({"kind": "tickets", "format": "xlsx", "filter": "state=open,closed,ignored"}),
        )
        .await;
    assert_eq!(st.as_u16(), 202, "{job}");
    assert_eq!(
        job["file_name"].as_str().unwrap().split('-').next(),
        Some("tickets")
    );
    let id = job["id"].as_str().unwrap().to_string();
    let done = finished(&admin, &id).await;
    assert_eq!(done["rows"], 30);
    assert!(done["bytes"].as_u64().unwrap() > 0);
    let url = done["download_url"].as_str().unwrap().to_string();
    let xml = admin.xlsx_sheet(&url).await;
    assert!(xml.contains("Cliente 29") && xml.contains("Número"));

    // Messages as CSV, for a period.
    let (st, job) = admin
        .post(
            "/api/v1/exports",
            json!({"kind": "messages", "filter": "?created_from=2020-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(st.as_u16(), 202, "{job}");
    let mid = job["id"].as_str().unwrap().to_string();
    let csv_url = finished(&admin, &mid).await["download_url"]
        .as_str()
        .unwrap()
        .to_string();
    let csv = admin.download(&csv_url).await.text().await.unwrap();
    assert_eq!(csv.lines().count(), 31, "header and 30 messages");
    assert!(csv.contains("Influenciador"));

    // Bad input.
    for (body, code) in [
        (json!({"kind": "planets"}), "invalid_export_kind"),
        (
            json!({"kind": "tickets", "filter": "limit=muchos"}),
            "invalid_filter",
        ),
        (json!({"kind": "tickets", "format": "pdf"}), "invalid_query"),
    ] {
        let (st, e) = admin.post("/api/v1/exports", body.clone()).await;
        assert!(
            st.is_client_error() && e["error"]["code"] == code,
            "{body}: {st} {e}"
        );
    }

    // Someone else's export is not theirs to see.
    admin
        .create_user("luis@prueba.cl", "Luis Agente", "supervisor")
        .await;
    let luis = s.login("luis@prueba.cl", "clave-agente-1").await;
    assert_eq!(luis.ok("/api/v1/exports").await["items"], json!([]));
    let (st, _) = luis.get(&url).await;
    assert_eq!(st.as_u16(), 404);

    // Deleted: gone, file and all.
    let (st, _) = admin.delete(&format!("/api/v1/exports/{id}")).await;
    assert_eq!(st.as_u16(), 204);
    let (st, _) = admin.get(&url).await;
    assert_eq!(st.as_u16(), 404);
    assert!(!s.data.join("exports").join(format!("{id}.xlsx")).exists());
}
