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
