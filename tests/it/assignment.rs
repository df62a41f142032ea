//! The assignment engine through the real API: equitable round-robin over 1,000 tickets,
//! least-pending, the cap, stickiness, states and the backlog, teams, deactivation, and the
//! "why" answer.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::harness::*;

async fn ticket(api: &Api, n: u64) -> Value {
    api.ok(&format!("/api/v1/tickets/{n}")).await
}

async fn number(api: &Api, acc: &str, ext: &str, contact: &str) -> u64 {
    api.inbound(acc, ext, contact, "hola").await["ticket_number"]
        .as_u64()
        .unwrap()
}

async fn history_details(api: &Api, n: u64) -> Vec<String> {
    api.ok(&format!("/api/v1/tickets/{n}/history")).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|h| {
            // A new ticket's decision rides on its "created" entry.
            [h["detail"].as_str(), h["decision"].as_str()]
                .into_iter()
                .flatten()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Agents on auto-assignment on `acc`, signed in (so "Conectado").
async fn agents(s: &Server, admin: &Api, acc: &str, names: &[&str]) -> Vec<(String, Api)> {
    let mut out = Vec::new();
    for name in names {
        let email = format!("{}@x.cl", name.to_lowercase());
        let id = admin.create_user(&email, name, "agent").await;
        admin.enable(&id, acc, "auto").await;
        out.push((id, s.login(&email, "clave-agente-1").await));
    }
    out
}

#[tokio::test]
async fn round_robin_spreads_1000_tickets_evenly_and_says_why() {
    let s = Server::start();
    let admin = s.admin().await;
    let acc = admin.account("webchat", "Chat Ventas").await;
    let team = agents(
        &s,
        &admin,
        &acc,
        &["Ana", "Luis", "Sofia", "Pedro", "Marta"],
    )
    .await;
    let mut counts: HashMap<String, u32> = HashMap::new();
    let mut first = 0;
    for i in 0..1000 {
        let v = admin
            .inbound(&acc, &format!("m{i}"), &format!("c{i}"), "hola")
            .await;
        let n = v["ticket_number"].as_u64().unwrap();
        if i == 0 {
            first = n;
        }
        let t = ticket(&admin, n).await;
        *counts
            .entry(t["assignee_id"].as_str().expect("assigned").to_string())
            .or_default() += 1;
    }
    assert_eq!(counts.len(), 5);
    let (max, min) = (
        counts.values().max().unwrap(),
        counts.values().min().unwrap(),
    );
    assert!(max - min <= 1, "{counts:?}");
    let details = history_details(&admin, first).await;
    assert!(
        details
            .iter()
            .any(|d| d == "asignado a Ana: round-robin, 5 candidatos"),
        "{details:?}"
    );
    // The agent's own "why" shows the load and the last assignment.
    let (ana_id, ana) = &team[0];
    let why = ana
        .ok(&format!("/api/v1/assignment/why?user_id={ana_id}"))
        .await;
    assert_eq!(why["available"], true);
    assert_eq!(why["open_tickets"], 200);
    assert_eq!(why["pending_tickets"], 200);
    assert_eq!(why["blockers"], json!([]));
    assert!(why["last_assignment"]["reason"]
        .as_str()
        .unwrap()
        .contains("round-robin"));
    // …and an agent cannot ask about a colleague.
    let (st, _) = ana
        .get(&format!("/api/v1/assignment/why?user_id={}", team[1].0))
        .await;
    assert_eq!(st, 403);
    // History is stored as notes: a reader who works in English reads it in English.
    let (st, _) = ana
        .patch(
            &format!("/api/v1/users/{ana_id}"),
            json!({"language": "en"}),
        )
        .await;
    assert_eq!(st, 200);
    let mine = ana.ok("/api/v1/tickets?limit=1").await["items"][0]["number"]
        .as_u64()
        .unwrap();
    let items = ana.ok(&format!("/api/v1/tickets/{mine}/history")).await["items"].clone();
    let created = &items[0];
    assert_eq!(
        created["decision_note"]["code"], "assigned_round_robin",
        "{created}"
    );
    let agent = created["decision_note"]["params"]["agent"]
        .as_str()
        .unwrap();
    assert_eq!(
        created["decision"],
        format!("assigned to {agent}: round robin, 5 candidates"),
        "{created}"
    );
    assert_eq!(created["detail"], "ticket created by a customer's message");
}

#[tokio::test]
async fn least_pending_gives_the_next_ticket_to_who_answered_most() {
    let s = Server::start();
    let admin = s.admin().await;
    let acc = admin.account("api", "API").await;
    let (st, v) = admin
        .patch(
            &format!("/api/v1/accounts/{acc}"),
            json!({"settings": {"assignment": {"mode": "least_pending"}}}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let team = agents(&s, &admin, &acc, &["Ana", "Luis", "Sofia"]).await;
    let mut by_agent: HashMap<String, Vec<u64>> = HashMap::new();
    for i in 0..9 {
        let n = number(&admin, &acc, &format!("m{i}"), &format!("c{i}")).await;
        let who = ticket(&admin, n).await["assignee_id"]
            .as_str()
            .unwrap()
            .to_string();
        by_agent.entry(who).or_default().push(n);
    }
    assert!(by_agent.values().all(|v| v.len() == 3), "{by_agent:?}");
    // Luis answers all of his: he has nothing pending and gets the next three.
    let (luis_id, luis) = &team[1];
    for n in &by_agent[luis_id] {
        luis.created(
            &format!("/api/v1/tickets/{n}/messages"),
            json!({"text": "listo"}),
        )
        .await;
    }
    for i in 9..12 {
        let n = number(&admin, &acc, &format!("m{i}"), &format!("c{i}")).await;
        let t = ticket(&admin, n).await;
        assert_eq!(
            t["assignee_id"].as_str(),
            Some(luis_id.as_str()),
            "ticket {i}"
        );
        let d = history_details(&admin, n).await;
        assert!(
            d.iter().any(|x| x.contains("menos tickets sin responder")),
            "{d:?}"
        );
    }
}

#[tokio::test]
async fn cap_backlog_states_and_stickiness() {
    let s = Server::start();
    let admin = s.admin().await;
    let acc = admin.account("api", "Soporte").await;
    admin
        .patch(
            &format!("/api/v1/accounts/{acc}"),
            json!({"settings": {"assignment": {"mode": "round_robin", "max_open": 2}}}),
        )
        .await;
    let team = agents(&s, &admin, &acc, &["Ana"]).await;
    let (ana_id, ana) = &team[0];
    let a = number(&admin, &acc, "m1", "c1").await;
    let b = number(&admin, &acc, "m2", "c2").await;
    let c = number(&admin, &acc, "m3", "c3").await;
    assert_eq!(ticket(&admin, a).await["assignee_id"], json!(ana_id));
    assert_eq!(ticket(&admin, b).await["assignee_id"], json!(ana_id));
    assert_eq!(ticket(&admin, c).await["assignee_id"], Value::Null);
    assert!(history_details(&admin, c)
        .await
        .iter()
        .any(|d| d.contains("tienen el máximo de 2 tickets abiertos")));
    let why = admin
        .ok(&format!("/api/v1/assignment/why?user_id={ana_id}"))
        .await;
    assert_eq!(why["blockers"], json!(["at_cap"]));
    // Closing one frees room: the waiting ticket is assigned at once.
    ana.patch(&format!("/api/v1/tickets/{a}"), json!({"state": "closed"}))
        .await;
    assert_eq!(ticket(&admin, c).await["assignee_id"], json!(ana_id));

    // At lunch nobody is available: new tickets wait, and say why.
    let (st, v) = ana
        .put("/api/v1/me/status", json!({"state": "Colación"}))
        .await;
    assert_eq!(
        (st.as_u16(), v["connection_state"].as_str()),
        (200, Some("Colación"))
    );
    ana.patch(&format!("/api/v1/tickets/{b}"), json!({"state": "closed"}))
        .await;
    ana.patch(&format!("/api/v1/tickets/{c}"), json!({"state": "closed"}))
        .await;
    let d = number(&admin, &acc, "m4", "c4").await;
    let e = number(&admin, &acc, "m5", "c5").await;
    let f = number(&admin, &acc, "m6", "c6").await;
    for n in [d, e, f] {
        assert_eq!(ticket(&admin, n).await["assignee_id"], Value::Null);
    }
    assert!(history_details(&admin, d)
        .await
        .contains(&"sin asignar: ningún ejecutivo disponible en Soporte".to_string()));
    let why = admin
        .ok(&format!("/api/v1/assignment/why?user_id={ana_id}"))
        .await;
    assert_eq!(why["blockers"], json!(["not_available"]));
    // Back from lunch: the backlog is assigned oldest first, up to the cap.
    ana.put("/api/v1/me/status", json!({"state": "Conectado"}))
        .await;
    assert_eq!(ticket(&admin, d).await["assignee_id"], json!(ana_id));
    assert_eq!(ticket(&admin, e).await["assignee_id"], json!(ana_id));
    assert_eq!(ticket(&admin, f).await["assignee_id"], Value::Null);

    // Stickiness: c1's ticket was Ana's; c1 writes again within 30 days → Ana, even over
    // the round-robin (the cap still holds, so first make room).
    ana.patch(&format!("/api/v1/tickets/{d}"), json!({"state": "closed"}))
        .await;
    ana.patch(&format!("/api/v1/tickets/{e}"), json!({"state": "closed"}))
        .await;
    ana.patch(&format!("/api/v1/tickets/{f}"), json!({"state": "closed"}))
        .await;
    let again = number(&admin, &acc, "m7", "c1").await;
    assert_ne!(again, a);
    assert_eq!(ticket(&admin, again).await["assignee_id"], json!(ana_id));
    assert!(history_details(&admin, again)
        .await
        .iter()
        .any(|x| x.contains("relación ejecutivo-cliente (atendió hace 0 días)")));

    // Signing out moves the agent to "Desconectado".
    let (st, _) = ana.delete("/api/v1/session").await;
    assert_eq!(st, 204);
    let me = admin.ok(&format!("/api/v1/users/{ana_id}")).await;
    assert_eq!(me["connection_state"], "Desconectado");
}

#[tokio::test]
async fn teams_take_turns_and_deactivation_returns_tickets_to_the_pool() {
    let s = Server::start();
    let admin = s.admin().await;
    let acc = admin.account("api", "API").await;
    let team = agents(&s, &admin, &acc, &["Ana", "Luis", "Sofia"]).await;
    let (ana_id, luis_id, sofia_id) = (&team[0].0, &team[1].0, &team[2].0);
    // A team of Luis and Sofía: tickets given to the team alternate between them.
    let t = admin
        .created(
            "/api/v1/teams",
            json!({"name": "Reclamos", "members": [luis_id, sofia_id]}),
        )
        .await;
    let tid = t["id"].as_str().unwrap().to_string();
    let mut got = Vec::new();
    for i in 0..4 {
        let n = number(&admin, &acc, &format!("t{i}"), &format!("tc{i}")).await;
        admin
            .patch(
                &format!("/api/v1/tickets/{n}"),
                json!({"assignee_id": null}),
            )
            .await;
        let v = admin
            .patch(&format!("/api/v1/tickets/{n}"), json!({"team_id": tid}))
            .await;
        assert_eq!(v.0, 200, "{}", v.1);
        got.push(v.1["assignee_id"].as_str().unwrap().to_string());
    }
    assert_eq!(got.iter().filter(|g| *g == luis_id).count(), 2, "{got:?}");
    assert_eq!(got.iter().filter(|g| *g == sofia_id).count(), 2, "{got:?}");

    // Ana's recent tickets go back to the pool when she is deactivated, and are reassigned
    // right away to whoever is on auto-assignment.
    let mut anas = Vec::new();
    for i in 0..6 {
        let n = number(&admin, &acc, &format!("d{i}"), &format!("dc{i}")).await;
        if ticket(&admin, n).await["assignee_id"] == json!(ana_id) {
            anas.push(n);
        }
    }
    assert!(!anas.is_empty());
    let (st, v) = admin
        .post(&format!("/api/v1/users/{ana_id}/deactivate"), json!({}))
        .await;
    assert_eq!(st, 200, "{v}");
    for n in anas {
        let t = ticket(&admin, n).await;
        let who = t["assignee_id"].as_str().unwrap();
        assert!(who == luis_id || who == sofia_id, "{t}");
        let d = history_details(&admin, n).await;
        assert!(d.iter().any(|x| x.contains("fue desactivado")), "{d:?}");
    }
    let why = admin
        .ok(&format!("/api/v1/assignment/why?user_id={ana_id}"))
        .await;
    assert_eq!(why["blockers"][0], "deactivated");
}

#[tokio::test]
async fn connection_states_and_settings_are_validated() {
    let s = Server::start();
    let admin = s.admin().await;
    let states = admin.ok("/api/v1/connection_states").await;
    let names: Vec<_> = states["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["Conectado", "Colación", "Reunión", "Desconectado"]);
    let (st, v) = admin
        .post("/api/v1/connection_states", json!({"name": "conectado"}))
        .await;
    assert_eq!(
        (st.as_u16(), v["error"]["code"].as_str()),
        (409, Some("state_exists"))
    );
    let capa = admin
        .created(
            "/api/v1/connection_states",
            json!({"name": "Capacitación", "assignable": false}),
        )
        .await;
    let id = capa["id"].as_str().unwrap();
    let (st, v) = admin
        .patch(
            &format!("/api/v1/connection_states/{id}"),
            json!({"name": "En capacitación"}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), v["name"].as_str()),
        (200, Some("En capacitación"))
    );
    let desconectado = states["items"][3]["id"].as_str().unwrap();
    let (st, v) = admin
        .delete(&format!("/api/v1/connection_states/{desconectado}"))
        .await;
    assert_eq!(
        (st.as_u16(), v["error"]["code"].as_str()),
        (409, Some("state_in_use"))
    );
    let (st, _) = admin
        .delete(&format!("/api/v1/connection_states/{id}"))
        .await;
    assert_eq!(st, 204);

    let (st, v) = admin
        .put("/api/v1/connection_settings", json!({"idle_minutes": 15}))
        .await;
    assert_eq!(
        (st.as_u16(), v["error"]["field"].as_str()),
        (422, Some("idle_state"))
    );
    let (st, v) = admin
        .put(
            "/api/v1/connection_settings",
            json!({"idle_minutes": 15, "idle_state": "Siesta"}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), v["error"]["code"].as_str()),
        (422, Some("unknown_state"))
    );
    let (st, v) = admin
        .put(
            "/api/v1/connection_settings",
            json!({"on_sign_in": "conectado", "idle_minutes": 15, "idle_state": "colación"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        v["on_sign_in"], "Conectado",
        "stored with the state's own spelling"
    );
    assert_eq!(v["on_sign_out"], Value::Null);

    // Renaming a state keeps the automatic changes pointing at it.
    let conectado = states["items"][0]["id"].as_str().unwrap();
    admin
        .patch(
            &format!("/api/v1/connection_states/{conectado}"),
            json!({"name": "Disponible"}),
        )
        .await;
    let settings = admin.ok("/api/v1/connection_settings").await;
    assert_eq!(settings["on_sign_in"], "Disponible");
    // A state someone is in cannot be deleted.
    admin
        .put("/api/v1/me/status", json!({"state": "Reunión"}))
        .await;
    let reunion = states["items"][2]["id"].as_str().unwrap();
    let (st, v) = admin
        .delete(&format!("/api/v1/connection_states/{reunion}"))
        .await;
    assert_eq!(
        (st.as_u16(), v["error"]["code"].as_str()),
        (409, Some("state_in_use"))
    );
    assert!(v["error"]["message"].as_str().unwrap().contains("1 user"));

    let (st, v) = admin
        .put("/api/v1/me/status", json!({"state": "Durmiendo"}))
        .await;
    assert_eq!(
        (st.as_u16(), v["error"]["code"].as_str()),
        (422, Some("unknown_state"))
    );
    let acc = admin.account("api", "API").await;
    let (st, v) = admin
        .patch(
            &format!("/api/v1/accounts/{acc}"),
            json!({"settings": {"assignment": {"mode": "fastest"}}}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), v["error"]["field"].as_str()),
        (422, Some("settings.assignment"))
    );
}
