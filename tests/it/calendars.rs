//! Business hours (SLA-2): calendars in a tz database zone with holidays, defined by
//! administrators; everyone reads whether they are open and when they open next.

use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn calendars_are_checked_and_say_when_they_open() {
    let s = Server::start();
    let api = s.admin().await;
    for (body, field) in [
        (
            json!({"name": "X", "time_zone": "Marte/Olympus"}),
            "time_zone",
        ),
        (
            json!({"name": "X", "week": {"lun": [["09:00", "18:00"]]}}),
            "week",
        ),
        (
            json!({"name": "X", "week": {"mon": [["18:00", "09:00"]]}}),
            "week",
        ),
        (
            json!({"name": "X", "holidays": [{"date": "02-30", "name": "x"}]}),
            "holidays",
        ),
    ] {
        let (st, e) = api.post("/api/v1/calendars", body).await;
        assert_eq!(
            (
                st.as_u16(),
                e["error"]["code"].as_str(),
                e["error"]["field"].as_str()
            ),
            (422, Some("invalid_calendar"), Some(field))
        );
    }
    let chile = api.ok("/api/v1/calendars/holidays/cl").await;
    assert!(chile["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h["date"] == "09-18"));
    // Open every day all day: open now, and "next open" is now.
    let all_day: serde_json::Map<String, serde_json::Value> =
        ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
            .iter()
            .map(|d| (d.to_string(), json!([["00:00", "24:00"]])))
            .collect();
    let c = api
        .created(
            "/api/v1/calendars",
            json!({"name": "Siempre", "time_zone": "America/Santiago", "week": all_day, "holidays": chile["items"]}),
        )
        .await;
    assert_eq!(c["open_now"], true, "{c}");
    // Closed every day: never opens.
    let id = c["id"].as_str().unwrap();
    let (st, c) = api
        .patch(&format!("/api/v1/calendars/{id}"), json!({"week": {}}))
        .await;
    assert_eq!(st, 200);
    assert_eq!(
        (c["open_now"].as_bool(), c["next_open"].is_null()),
        (Some(false), true)
    );
    // An account follows a calendar that exists.
    let acc = api.account("api", "Soporte").await;
    for (value, code) in [
        (json!("999"), "unknown_calendar"),
        (json!("lunes"), "invalid_setting"),
    ] {
        let (st, e) = api
            .patch(
                &format!("/api/v1/accounts/{acc}"),
                json!({"settings": {"calendar_id": value}}),
            )
            .await;
        assert_eq!(
            (st.as_u16(), e["error"]["code"].as_str()),
            (422, Some(code)),
            "{e}"
        );
    }
    let (st, a) = api
        .patch(
            &format!("/api/v1/accounts/{acc}"),
            json!({"settings": {"calendar_id": id}}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), a["settings"]["calendar_id"].as_str()),
        (200, Some(id))
    );
    // A calendar an account follows is not deleted from under it.
    let (st, e) = api.delete(&format!("/api/v1/calendars/{id}")).await;
    assert_eq!(
        (st.as_u16(), e["error"]["code"].as_str()),
        (409, Some("calendar_in_use"))
    );
    api.create_user("agente@x.cl", "Agente", "agent").await;
    let agent = s.login("agente@x.cl", "clave-agente-1").await;
    assert_eq!(
        agent.ok("/api/v1/calendars").await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let (st, _) = agent
        .post("/api/v1/calendars", json!({"name": "Mío"}))
        .await;
    assert_eq!(st, 403);
}

#[tokio::test]
async fn an_sla_in_business_hours_stops_while_closed() {
    let mut s = Server::start();
    let dir = s.take_dir();
    let api = s.admin().await;
    let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let always: serde_json::Map<String, serde_json::Value> = days
        .iter()
        .map(|d| (d.to_string(), json!([["00:00", "24:00"]])))
        .collect();
    let open = api
        .created(
            "/api/v1/calendars",
            json!({"name": "Siempre", "week": always}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let closed = api
        .created("/api/v1/calendars", json!({"name": "Nunca", "week": {}}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let clock = api.sla_policy(60, None, false).await;
    let business = api.sla_policy(60, None, true).await;
    let mut numbers = Vec::new();
    for (name, settings) in [
        ("Reloj", json!({"sla_policy_id": clock})),
        (
            "Hábil abierto",
            json!({"sla_policy_id": business, "calendar_id": open}),
        ),
        (
            "Hábil cerrado",
            json!({"sla_policy_id": business, "calendar_id": closed}),
        ),
    ] {
        let acc = api
            .created(
                "/api/v1/accounts",
                json!({"kind": "api", "name": name, "settings": settings}),
            )
            .await["id"]
            .as_str()
            .unwrap()
            .to_string();
        let r = api
            .inbound(&acc, &format!("m-{name}"), &format!("c-{name}"), "Hola")
            .await;
        numbers.push(r["ticket_number"].as_u64().unwrap());
    }
    let t = api.ok(&format!("/api/v1/tickets/{}", numbers[2])).await;
    assert_eq!(
        (t["sla_business_hours"].as_bool(), t["sla_due_at"].is_null()),
        (Some(true), true),
        "{t}"
    );
    // A team that keeps its own (always open) hours: its ticket on the closed account counts.
    let team = api
        .created(
            "/api/v1/teams",
            json!({"name": "Turno noche", "calendar_id": open}),
        )
        .await;
    assert_eq!(team["calendar_id"], open.as_str());
    let (st, e) = api
        .post(
            "/api/v1/teams",
            json!({"name": "X", "calendar_id": "999999"}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), e["error"]["code"].as_str()),
        (422, Some("unknown_calendar"))
    );
    let closed_acc = {
        let t = api.ok(&format!("/api/v1/tickets/{}", numbers[2])).await;
        t["account_id"].as_str().unwrap().to_string()
    };
    let night = api
        .inbound(&closed_acc, "m-noche", "c-noche", "Hola de noche")
        .await["ticket_number"]
        .as_u64()
        .unwrap();
    let (st, t) = api
        .patch(
            &format!("/api/v1/tickets/{night}"),
            json!({"team_id": team["id"]}),
        )
        .await;
    assert_eq!(st, 200, "{t}");
    assert!(t["sla_due_at"].is_string(), "{t}");
    // Those hours are in use: not deleted.
    let (st, _) = api.delete(&format!("/api/v1/calendars/{open}")).await;
    assert_eq!(st, 409);
    let t = api.ok(&format!("/api/v1/tickets/{}", numbers[0])).await;
    assert!(
        t["sla_due_at"].is_string() && t["sla_business_hours"] == false,
        "{t}"
    );

    // Two hours later: the clock SLA and the always-open one are breached; the closed
    // calendar's has not started counting.
    s.stop();
    let data = s.data.clone();
    let later = Server::start_in(
        &data,
        &[("ATIENDE_CLOCK_OFFSET_MS", &(2 * 3_600_000i64).to_string())],
    );
    let mut again = api.clone();
    again.base = later.base.clone();
    assert_eq!(
        again.breached_numbers().await,
        [numbers[0], numbers[1], night]
    );
    let t = again.ok(&format!("/api/v1/tickets/{}", numbers[2])).await;
    assert_eq!(t["sla_breached"], false);
    drop(dir);
}

/// SLA policies (SLA-1, BEYOND-1): first and next response; the clock pauses while the ticket
/// waits on the customer; a policy changed mid-ticket moves its due time; the assignee's bell
/// rings once when a ticket passes its target.
#[tokio::test]
async fn sla_policies_pause_on_the_customer_follow_changes_and_ring_once() {
    let mut s = Server::start();
    let dir = s.take_dir();
    let api = s.admin().await;
    let me = api.my_id().await;
    // Checked like any input.
    let (st, e) = api
        .post(
            "/api/v1/sla_policies",
            json!({"name": "X", "first_response_minutes": 0}),
        )
        .await;
    assert_eq!(
        (
            st.as_u16(),
            e["error"]["code"].as_str(),
            e["error"]["field"].as_str()
        ),
        (
            422,
            Some("invalid_sla_policy"),
            Some("first_response_minutes")
        )
    );
    let hour_then_four = api.sla_policy(60, Some(240), false).await;
    let loose = api.sla_policy(240, None, false).await;
    let account = |name: &'static str, policy: String| {
        let api = api.clone();
        async move {
            api.created(
                "/api/v1/accounts",
                json!({"kind": "api", "name": name, "settings": {"sla_policy_id": policy}}),
            )
            .await["id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let main = account("Principal", hour_then_four.clone()).await;
    let changed = account("Cambio", loose.clone()).await;
    let number = |v: serde_json::Value| v["ticket_number"].as_u64().unwrap();
    // A: waits; assigned to me. B: answered, so it waits on the customer. C: on the loose
    // policy, tightened below while it waits.
    let a = number(api.inbound(&main, "a1", "ca", "Hola").await);
    let b = number(api.inbound(&main, "b1", "cb", "Hola").await);
    let c = number(api.inbound(&changed, "c1", "cc", "Hola").await);
    for n in [a, c] {
        api.patch(&format!("/api/v1/tickets/{n}"), json!({"assignee_id": me}))
            .await;
    }
    let (st, _) = api
        .post(
            &format!("/api/v1/tickets/{b}/messages"),
            json!({"text": "¿Nos da su RUT?"}),
        )
        .await;
    assert_eq!(st, 201);
    let t = api.ok(&format!("/api/v1/tickets/{a}")).await;
    assert_eq!(t["sla_minutes"], 60, "{t}");
    let t = api.ok(&format!("/api/v1/tickets/{b}")).await;
    assert!(t["sla_due_at"].is_null(), "waiting on the customer: {t}");
    // Tightened mid-ticket: C is now due an hour after it arrived.
    let p = api
        .patch(
            &format!("/api/v1/sla_policies/{loose}"),
            json!({"first_response_minutes": 60}),
        )
        .await;
    assert_eq!(p.0, 200, "{}", p.1);
    assert_eq!(p.1["accounts"], json!([changed]));

    // Two hours later.
    s.stop();
    let data = s.data.clone();
    let two_hours = (2 * 3_600_000i64).to_string();
    let mut later = Server::start_in(&data, &[("ATIENDE_CLOCK_OFFSET_MS", &two_hours)]);
    let mut again = api.clone();
    again.base = later.base.clone();
    assert_eq!(
        again.breached_numbers().await,
        [a, c],
        "B waits on the customer"
    );
    // The bell: A and C passed their targets (and were nearly due before).
    let all_four = |r: &[(String, u64)]| r.len() >= 4;
    let kinds = again.sla_bell_until(all_four).await;
    assert_eq!(
        kinds,
        [
            ("sla_breached".to_string(), a),
            ("sla_breached".to_string(), c),
            ("sla_warning".to_string(), a),
            ("sla_warning".to_string(), c),
        ],
        "{kinds:?}"
    );
    // B's customer writes back: the next-response target (4 h) counts from now.
    again.inbound(&main, "b2", "cb", "12.345.678-5").await;
    let t = again.ok(&format!("/api/v1/tickets/{b}")).await;
    assert_eq!(
        (t["sla_minutes"].as_i64(), t["sla_breached"].as_bool()),
        (Some(240), Some(false)),
        "{t}"
    );

    // A restart at the same hour rings nothing again.
    later.stop();
    let last = Server::start_in(&data, &[("ATIENDE_CLOCK_OFFSET_MS", &two_hours)]);
    again.base = last.base.clone();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(again.sla_bell_until(all_four).await.len(), 4);
    drop(dir);
}

/// Automatic messages (SLA-3): "nobody available", a welcome, and "closed" with the next
/// opening, each once per customer per period, on the ticket's own channel; the SLA clock is
/// not stopped by them.
#[tokio::test]
async fn automatic_messages_go_once_per_customer_and_period() {
    let s = Server::start();
    let api = s.admin().await;
    let acc = api
        .created(
            "/api/v1/accounts",
            json!({"kind": "api", "name": "Tienda", "settings": {"auto_messages": {
                "welcome": {"es": "Hola {name}, gracias por escribir a {account} (#{number})."},
                "no_agent": {"es": "Ahora no hay ejecutivos disponibles; te respondemos pronto.",
                             "en": "Nobody is available right now."},
                "out_of_hours": {"es": "Estamos fuera de horario. Volvemos {next_open}."}
            }}}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Bad settings are refused, naming the template.
    let (st, e) = api
        .patch(
            &format!("/api/v1/accounts/{acc}"),
            json!({"settings": {"auto_messages": {"welcome": {"pt": "Olá"}}}}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), e["error"]["field"].as_str()),
        (422, Some("settings.auto_messages.welcome.pt"))
    );
    let automatic = |n: u64| {
        let api = api.clone();
        async move {
            api.ok(&format!("/api/v1/tickets/{n}/messages")).await["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| m["direction"] == "outbound")
                .map(|m| m["text"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    let number = |v: serde_json::Value| v["ticket_number"].as_u64().unwrap();

    // Nobody works this account yet: "nobody available", once, and the ticket still waits.
    let a = number(api.inbound(&acc, "a1", "Ana", "Hola").await);
    api.inbound(&acc, "a2", "Ana", "¿Hay alguien?").await;
    assert_eq!(
        automatic(a).await,
        ["Ahora no hay ejecutivos disponibles; te respondemos pronto."]
    );
    let t = api.ok(&format!("/api/v1/tickets/{a}")).await;
    assert_eq!(
        (t["reply_status"].as_str(), t["first_response_at"].is_null()),
        (Some("pending"), true),
        "{t}"
    );

    // An agent on the account signs in: a new customer gets the welcome, once a day.
    let agent = api.create_user("rosa@x.cl", "Rosa", "agent").await;
    api.enable(&agent, &acc, "auto").await;
    let _rosa = s.login("rosa@x.cl", "clave-agente-1").await;
    let b = number(api.inbound(&acc, "b1", "Beto", "Buenas").await);
    assert_eq!(
        automatic(b).await,
        [format!("Hola Beto, gracias por escribir a Tienda (#{b}).")]
    );
    api.patch(&format!("/api/v1/tickets/{b}"), json!({"state": "closed"}))
        .await;
    let b2 = number(api.inbound(&acc, "b2", "Beto", "Otra cosa").await);
    assert_ne!(b, b2);
    assert!(automatic(b2).await.is_empty(), "one welcome a day");

    // Closed (a calendar that never opens… but on Mondays at 09:00 in Santiago).
    let cal = api
        .created(
            "/api/v1/calendars",
            json!({"name": "Lunes", "week": {"mon": [["09:00", "09:01"]]}}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    api.patch(
        &format!("/api/v1/accounts/{acc}"),
        json!({"settings": {"calendar_id": cal}}),
    )
    .await;
    let c = number(api.inbound(&acc, "c1", "Carla", "Hola").await);
    api.inbound(&acc, "c2", "Carla", "¿Están?").await;
    let said = automatic(c).await;
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].starts_with("Estamos fuera de horario. Volvemos el lunes ")
            && said[0].ends_with(" a las 09:00."),
        "{said:?}"
    );
}

/// SLA-2 through the binary: a business-hours SLA counted across a holiday (Good Friday), a
/// weekend and Santiago's clock change (the night of 4–5 April 2026, UTC−3 → UTC−4); the
/// warning and the breach ring at their business-time instants.
#[tokio::test]
async fn a_business_hours_sla_crosses_a_holiday_a_weekend_and_the_clock_change() {
    let mut s = Server::start();
    let dir = s.take_dir();
    s.stop();
    let data = s.data.clone();
    // Thursday 2 April 2026, 17:30 in Santiago (UTC−3): half an hour before closing.
    let thursday = Server::start_in(
        &data,
        &[(
            "ATIENDE_CLOCK_OFFSET_MS",
            &clock_at("2026-04-02T17:30:00-03:00"),
        )],
    );
    let api = thursday.admin().await;
    let me = api.my_id().await;
    let weekdays: serde_json::Map<String, serde_json::Value> = ["mon", "tue", "wed", "thu", "fri"]
        .iter()
        .map(|d| (d.to_string(), json!([["09:00", "18:00"]])))
        .collect();
    let cal = api
        .created(
            "/api/v1/calendars",
            json!({"name": "Oficina", "time_zone": "America/Santiago", "week": weekdays,
                "holidays": [{"date": "2026-04-03", "name": "Viernes Santo"}]}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let policy = api.sla_policy(60, None, true).await;
    let acc = api
        .created(
            "/api/v1/accounts",
            json!({"kind": "api", "name": "Oficina", "settings": {"sla_policy_id": policy, "calendar_id": cal}}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let n = api.inbound(&acc, "m1", "cli", "Hola").await["ticket_number"]
        .as_u64()
        .unwrap();
    api.patch(&format!("/api/v1/tickets/{n}"), json!({"assignee_id": me}))
        .await;
    // 30 minutes on Thursday; Friday is a holiday; the weekend is closed; the clocks go back
    // an hour on Sunday; the other 30 minutes run from 09:00 on Monday at UTC−4.
    let t = api.ok(&format!("/api/v1/tickets/{n}")).await;
    let due = chrono::DateTime::parse_from_rfc3339(t["sla_due_at"].as_str().unwrap()).unwrap();
    let expected = chrono::DateTime::parse_from_rfc3339("2026-04-06T13:30:00Z").unwrap();
    // (The clock started a few milliseconds past 17:30.)
    assert!(
        (due.timestamp_millis() - expected.timestamp_millis()).abs() < 5_000,
        "{t}"
    );
    drop(thursday);

    let at = |when: &'static str, want: &'static str| {
        let data = data.clone();
        async move {
            let server = Server::start_in(&data, &[("ATIENDE_CLOCK_OFFSET_MS", &clock_at(when))]);
            let api = server.admin().await;
            let rung = api
                .sla_bell_until(|r| r.iter().any(|(k, _)| k == want))
                .await;
            let kinds: Vec<String> = rung.into_iter().map(|(k, _)| k).collect();
            (kinds, api.breached_numbers().await.len())
        }
    };
    // Monday 09:20 (UTC−4): 48 of the 60 minutes have run — warned, not breached.
    assert_eq!(
        at("2026-04-06T09:20:00-04:00", "sla_warning").await,
        (vec!["sla_warning".to_string()], 0)
    );
    // Monday 09:31: past it.
    let (kinds, breached) = at("2026-04-06T09:31:00-04:00", "sla_breached").await;
    assert_eq!(breached, 1);
    assert!(kinds.contains(&"sla_breached".to_string()), "{kinds:?}");
    drop(dir);
}

/// A message that arrives late (an import with its own time) starts a waiting period in the
/// past: the warnings and breaches already due then do not ring; a live one does.
#[tokio::test]
async fn late_imports_do_not_ring_old_breaches() {
    let mut s = Server::start();
    let dir = s.take_dir();
    let api = s.admin().await;
    let me = api.my_id().await;
    let policy = api.sla_policy(60, None, false).await;
    let acc = api
        .created(
            "/api/v1/accounts",
            json!({"kind": "api", "name": "Importada", "settings": {"sla_policy_id": policy}}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let three_hours_ago = (chrono::Utc::now() - chrono::Duration::hours(3)).to_rfc3339();
    let old = api
        .inbound_with(
            &acc,
            json!({"external_id": "old", "contact": {"external_id": "antiguo"}, "text": "de antes",
                "sent_at": three_hours_ago}),
        )
        .await["ticket_number"]
        .as_u64()
        .unwrap();
    let live = api.inbound(&acc, "live", "actual", "de ahora").await["ticket_number"]
        .as_u64()
        .unwrap();
    for n in [old, live] {
        api.patch(&format!("/api/v1/tickets/{n}"), json!({"assignee_id": me}))
            .await;
    }
    s.stop();
    let later = Server::start_in(
        &s.data,
        &[("ATIENDE_CLOCK_OFFSET_MS", &(2 * 3_600_000i64).to_string())],
    );
    let mut again = api.clone();
    again.base = later.base.clone();
    let rung = again
        .sla_bell_until(|r| r.iter().any(|(k, _)| k == "sla_breached"))
        .await;
    let breaches: Vec<u64> = rung
        .iter()
        .filter(|(k, _)| k == "sla_breached")
        .map(|(_, n)| *n)
        .collect();
    assert_eq!(breaches, [live], "only the live ticket rings");
    // Both are late on the board all the same.
    assert_eq!(again.breached_numbers().await, [old, live]);
    drop(dir);
}
