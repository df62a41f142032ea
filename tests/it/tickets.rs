use serde_json::{json, Value};

use crate::harness::*;

#[tokio::test]
async fn routing_across_states_and_idempotent_inbound() {
    let s = Server::start();
    let api = s.admin().await;
    let acc = api.account("api", "Integración").await;

    let first = api
        .inbound(&acc, "m1", "cliente-1", "Hola, necesito ayuda")
        .await;
    assert_eq!(first["created_ticket"], true);
    let n1 = first["ticket_number"].as_u64().unwrap();

    // Redelivery of the same external id: same answer, nothing stored twice.
    let again = api
        .inbound(&acc, "m1", "cliente-1", "Hola, necesito ayuda")
        .await;
    assert_eq!(again, first);

    // Open ticket: the next message joins it.
    let joined = api.inbound(&acc, "m2", "cliente-1", "¿Hay alguien?").await;
    assert_eq!(joined["ticket_number"].as_u64(), Some(n1));
    assert_eq!(joined["created_ticket"], false);
    let msgs = api.ok(&format!("/api/v1/tickets/{n1}/messages")).await;
    assert_eq!(msgs["items"].as_array().unwrap().len(), 2);
    let t = api.ok(&format!("/api/v1/tickets/{n1}")).await;
    assert_eq!(t["reply_status"], "pending");
    assert_eq!(t["message_count"], 2);

    // Agent reply: answered.
    let (st, _) = api
        .post(
            &format!("/api/v1/tickets/{n1}/messages"),
            json!({"text": "¡Hola! ¿En qué te ayudamos?"}),
        )
        .await;
    assert_eq!(st, 201);
    let t = api.ok(&format!("/api/v1/tickets/{n1}")).await;
    assert_eq!(t["reply_status"], "answered");
    assert!(
        t["assignee_id"].is_string(),
        "the replying agent takes the ticket"
    );

    // Closed: a new message opens a new ticket that points back.
    let (st, _) = api
        .patch(
            &format!("/api/v1/tickets/{n1}"),
            json!({"state": "closed", "sentiment_final": "positive"}),
        )
        .await;
    assert_eq!(st, 200);
    let second = api.inbound(&acc, "m3", "cliente-1", "Otra consulta").await;
    assert_eq!(second["created_ticket"], true);
    let n2 = second["ticket_number"].as_u64().unwrap();
    assert!(n2 > n1, "ticket numbers are sequential");
    let t2 = api.ok(&format!("/api/v1/tickets/{n2}")).await;
    assert_eq!(t2["previous_number"].as_u64(), Some(n1));

    // Ignored: same rule.
    api.patch(
        &format!("/api/v1/tickets/{n2}"),
        json!({"state": "ignored"}),
    )
    .await;
    let third = api.inbound(&acc, "m4", "cliente-1", "Spam").await;
    assert_eq!(third["created_ticket"], true);

    // Another customer on the same account gets their own ticket.
    let other = api.inbound(&acc, "m5", "cliente-2", "Hola").await;
    assert_eq!(other["created_ticket"], true);

    // History records creation and the state changes.
    let h = api.ok(&format!("/api/v1/tickets/{n1}/history")).await;
    let actions: Vec<&str> = h["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"created") && actions.contains(&"state") && actions.contains(&"assigned"),
        "{actions:?}"
    );

    // Previous tickets of the customer.
    let prev = api.ok(&format!("/api/v1/tickets/{n2}/previous")).await;
    let prev_numbers: Vec<u64> = prev["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["number"].as_u64().unwrap())
        .collect();
    assert!(
        prev_numbers.contains(&n1) && !prev_numbers.contains(&n2),
        "{prev_numbers:?}"
    );
}

#[tokio::test]
async fn reopen_needs_admin_and_influencers_are_important() {
    let s = Server::start();
    let admin = s.admin().await;
    let acc = admin.account("api", "API").await;
    let agent_id = admin
        .create_user("agente@example.cl", "Agente Uno", "agent")
        .await;
    admin.enable(&agent_id, &acc, "enabled").await;
    let agent = s.login("agente@example.cl", "clave-agente-1").await;
    let n = admin.inbound(&acc, "x1", "c1", "hola").await["ticket_number"]
        .as_u64()
        .unwrap();
    let (st, _) = agent
        .patch(&format!("/api/v1/tickets/{n}"), json!({"state": "closed"}))
        .await;
    assert_eq!(st, 200);
    // A later ticket of the same customer, closed too.
    let n0 = admin.inbound(&acc, "x0", "c1", "nuevo").await["ticket_number"]
        .as_u64()
        .unwrap();
    assert_ne!(n0, n);
    agent
        .patch(&format!("/api/v1/tickets/{n0}"), json!({"state": "closed"}))
        .await;
    let (st, v) = agent
        .patch(&format!("/api/v1/tickets/{n}"), json!({"state": "open"}))
        .await;
    assert_eq!(st, 403, "{v}");
    let (st, _) = admin
        .patch(&format!("/api/v1/tickets/{n}"), json!({"state": "open"}))
        .await;
    assert_eq!(st, 200);
    // The reopened ticket receives the customer's next message.
    let joined = admin.inbound(&acc, "x1b", "c1", "sigo aquí").await;
    assert_eq!(joined["ticket_number"].as_u64(), Some(n));
    // Agents cannot post customer messages.
    let (st, _) = agent
        .post(
            &format!("/api/v1/accounts/{acc}/inbound"),
            json!({"external_id": "forged", "contact": {"external_id": "c1"}, "text": "x"}),
        )
        .await;
    assert_eq!(st, 403);

    // Influencer customers' new tickets are important (TICK-6).
    let t = admin.ok(&format!("/api/v1/tickets/{n}")).await;
    let cid = t["contact"]["id"].as_str().unwrap().to_string();
    admin
        .patch(
            &format!("/api/v1/contacts/{cid}"),
            json!({"influencer": true}),
        )
        .await;
    admin
        .patch(&format!("/api/v1/tickets/{n}"), json!({"state": "closed"}))
        .await;
    let n2 = admin.inbound(&acc, "x2", "c1", "otra vez").await["ticket_number"]
        .as_u64()
        .unwrap();
    let t2 = admin.ok(&format!("/api/v1/tickets/{n2}")).await;
    assert_eq!(t2["important"], true);
}

#[tokio::test]
async fn merge_moves_the_conversation_and_points_to_the_survivor() {
    let s = Server::start();
    let api = s.admin().await;
    let acc = api.account("api", "API").await;
    let old = api.inbound(&acc, "a1", "ana", "Mi pedido no llega").await["ticket_number"]
        .as_u64()
        .unwrap();
    api.post(
        &format!("/api/v1/tickets/{old}/messages"),
        json!({"text": "Lo revisamos"}),
    )
    .await;
    let (_, c) = api
        .post(
            &format!("/api/v1/tickets/{old}/comments"),
            json!({"text": "nota interna"}),
        )
        .await;
    assert!(c["id"].is_string());
    api.patch(
        &format!("/api/v1/tickets/{old}"),
        json!({"state": "closed"}),
    )
    .await;
    let new = api.inbound(&acc, "a2", "ana", "Sigue sin llegar").await["ticket_number"]
        .as_u64()
        .unwrap();
    assert_ne!(old, new);

    // A different customer's ticket cannot be merged in.
    let stranger = api.inbound(&acc, "b1", "beto", "hola").await["ticket_number"]
        .as_u64()
        .unwrap();
    let (st, v) = api
        .post(
            &format!("/api/v1/tickets/{stranger}/merge"),
            json!({"into": old}),
        )
        .await;
    assert_eq!(st, 422, "{v}");
    assert_eq!(v["error"]["code"], "different_customer");
    let (st, _) = api
        .post(
            &format!("/api/v1/tickets/{new}/merge"),
            json!({"into": new}),
        )
        .await;
    assert_eq!(st, 422);

    // The old ticket was Luis's; the agent works the new one: after the merge they go on
    // answering (the old assignee does not take it back).
    let luis = api
        .create_user("luis@example.cl", "Luis", "supervisor")
        .await;
    let me = api.ok("/api/v1/me").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    api.patch(
        &format!("/api/v1/tickets/{old}"),
        json!({"assignee_id": luis}),
    )
    .await;
    api.patch(
        &format!("/api/v1/tickets/{new}"),
        json!({"assignee_id": me}),
    )
    .await;
    let (st, survivor) = api
        .post(
            &format!("/api/v1/tickets/{new}/merge"),
            json!({"into": old.to_string()}),
        )
        .await;
    assert_eq!(st, 200, "{survivor}");
    assert_eq!(survivor["number"].as_u64(), Some(old));
    assert_eq!(
        survivor["assignee_id"],
        me.as_str(),
        "the current assignee stays"
    );
    assert_eq!(
        survivor["state"], "open",
        "the open conversation continues on the survivor"
    );
    let msgs = api.ok(&format!("/api/v1/tickets/{old}/messages")).await;
    let texts: Vec<&str> = msgs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        vec!["Mi pedido no llega", "Lo revisamos", "Sigue sin llegar"]
    );
    let merged = api.ok(&format!("/api/v1/tickets/{new}")).await;
    assert_eq!(merged["merged_into"].as_u64(), Some(old));
    assert_eq!(merged["state"], "closed");
    assert_eq!(
        api.ok(&format!("/api/v1/tickets/{new}/messages")).await["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let hist = api.ok(&format!("/api/v1/tickets/{old}/history")).await;
    assert!(hist["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h["action"] == "merged"));

    // Merging again is refused; replying on the merged ticket points to the survivor.
    let (st, _) = api
        .post(
            &format!("/api/v1/tickets/{new}/merge"),
            json!({"into": old}),
        )
        .await;
    assert_eq!(st, 409);
    let (st, v) = api
        .post(
            &format!("/api/v1/tickets/{new}/messages"),
            json!({"text": "x"}),
        )
        .await;
    assert_eq!(st, 409);
    assert_eq!(v["error"]["code"], "ticket_merged");

    // Chosen otherwise: the survivor goes to whom the agent picks (here nobody).
    let c1 = api.inbound(&acc, "d1", "dora", "uno").await["ticket_number"]
        .as_u64()
        .unwrap();
    api.patch(&format!("/api/v1/tickets/{c1}"), json!({"state": "closed"}))
        .await;
    let c2 = api.inbound(&acc, "d2", "dora", "dos").await["ticket_number"]
        .as_u64()
        .unwrap();
    api.patch(&format!("/api/v1/tickets/{c2}"), json!({"assignee_id": me}))
        .await;
    let (st, v) = api
        .post(
            &format!("/api/v1/tickets/{c2}/merge"),
            json!({"into": c1, "assignee_id": null}),
        )
        .await;
    assert_eq!((st.as_u16(), &v["assignee_id"]), (200, &Value::Null), "{v}");
    // A chosen assignee who cannot be refuses the merge, which leaves nothing half done.
    api.patch(&format!("/api/v1/tickets/{c1}"), json!({"state": "closed"}))
        .await;
    let c3 = api.inbound(&acc, "d3", "dora", "tres").await["ticket_number"]
        .as_u64()
        .unwrap();
    let (st, v) = api
        .post(
            &format!("/api/v1/tickets/{c3}/merge"),
            json!({"into": c1, "assignee_id": "999"}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), v["error"]["code"].as_str()),
        (422, Some("unknown_user"))
    );
    let c3_after = api.ok(&format!("/api/v1/tickets/{c3}")).await;
    assert!(c3_after["merged_into"].is_null());
    assert_eq!(c3_after["message_count"], 1);

    // The customer's next message joins the survivor.
    let next = api.inbound(&acc, "a3", "ana", "¿Novedades?").await;
    assert_eq!(next["ticket_number"].as_u64(), Some(old));
}

#[tokio::test]
async fn lists_filter_sort_and_paginate_with_cursors() {
    let s = Server::start();
    let api = s.admin().await;
    let a = api.account("api", "A").await;
    let b = api.account("webchat", "B").await;
    let mut numbers = Vec::new();
    for i in 0..7 {
        let acc = if i % 2 == 0 { &a } else { &b };
        let v = api
            .inbound(
                acc,
                &format!("p{i}"),
                &format!("cli{i}"),
                &format!("mensaje {i}"),
            )
            .await;
        numbers.push(v["ticket_number"].as_u64().unwrap());
    }
    // Newest update first; 3 pages of 3, 3, 1 without repeats.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/tickets?limit=3&cursor={c}"),
            None => "/api/v1/tickets?limit=3".into(),
        };
        let page = api.ok(&path).await;
        for t in page["items"].as_array().unwrap() {
            seen.push(t["number"].as_u64().unwrap());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let mut expected = numbers.clone();
    expected.reverse();
    assert_eq!(seen, expected);

    let asc = api.ok("/api/v1/tickets?sort=created_asc&limit=200").await;
    let asc: Vec<u64> = asc["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["number"].as_u64().unwrap())
        .collect();
    assert_eq!(asc, numbers);

    // Filters: account, channel, state, assignee, important, answered, label.
    let only_a = api.ok(&format!("/api/v1/tickets?account={a}")).await;
    assert_eq!(only_a["items"].as_array().unwrap().len(), 4);
    let wa = api.ok("/api/v1/tickets?channel=webchat").await;
    assert_eq!(wa["items"].as_array().unwrap().len(), 3);
    let label = api
        .created(
            "/api/v1/labels",
            json!({"name": "Despacho", "color": "#1f6feb"}),
        )
        .await;
    let lid = label["id"].as_str().unwrap();
    let me = api.ok("/api/v1/me").await;
    let my_id = me["id"].as_str().unwrap();
    api.patch(
        &format!("/api/v1/tickets/{}", numbers[0]),
        json!({"important": true, "labels": [lid], "assignee_id": my_id}),
    )
    .await;
    api.post(
        &format!("/api/v1/tickets/{}/messages", numbers[1]),
        json!({"text": "respondido"}),
    )
    .await;
    api.patch(
        &format!("/api/v1/tickets/{}", numbers[2]),
        json!({"state": "closed"}),
    )
    .await;

    let count = |v: serde_json::Value| v["items"].as_array().unwrap().len();
    assert_eq!(count(api.ok("/api/v1/tickets?important=true").await), 1);
    assert_eq!(
        count(api.ok(&format!("/api/v1/tickets?label={lid}")).await),
        1
    );
    assert_eq!(count(api.ok("/api/v1/tickets?answered=true").await), 1);
    assert_eq!(count(api.ok("/api/v1/tickets?state=closed").await), 1);
    assert_eq!(count(api.ok("/api/v1/tickets?state=open,ignored").await), 6);
    assert_eq!(
        count(
            api.ok("/api/v1/tickets?state=open,open,ignored&channel=api,api,webchat")
                .await
        ),
        6,
        "repeated filter values count once"
    );
    assert_eq!(
        count(api.ok("/api/v1/tickets?assignee=me").await),
        2,
        "assigned by hand + by replying"
    );
    assert_eq!(
        count(
            api.ok(&format!(
                "/api/v1/tickets?state=open&account={a}&assignee=none"
            ))
            .await
        ),
        2
    );
    eventually(20, "text search in lists", || {
        let api = api.clone();
        async move { (count(api.ok("/api/v1/tickets?q=mensaje").await) == 7).then_some(()) }
    })
    .await;
    let far_future = "2999-01-01T00:00:00Z";
    assert_eq!(
        count(
            api.ok(&format!("/api/v1/tickets?created_from={far_future}"))
                .await
        ),
        0
    );
    assert_eq!(
        count(
            api.ok(&format!("/api/v1/tickets?updated_to={far_future}"))
                .await
        ),
        7
    );

    // Bulk: close every open ticket of account B by filter, all or nothing.
    let (st, v) = api
        .post(
            "/api/v1/tickets/bulk",
            json!({"filter": {"account": b, "state": "open"}, "action": "close"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["updated"].as_array().unwrap().len(), 3);
    assert_eq!(
        count(
            api.ok(&format!("/api/v1/tickets?account={b}&state=open"))
                .await
        ),
        0
    );
    // A bulk call naming an unknown ticket changes nothing.
    let (st, _) = api
        .post(
            "/api/v1/tickets/bulk",
            json!({"numbers": [numbers[0], 99999], "action": "ignore"}),
        )
        .await;
    assert_eq!(st, 404);
    assert_eq!(
        api.ok(&format!("/api/v1/tickets/{}", numbers[0])).await["state"],
        "open"
    ); // Team and label taken off in bulk.
    let team = api
        .created("/api/v1/teams", json!({"name": "Soporte"}))
        .await;
    let label = api
        .created("/api/v1/labels", json!({"name": "Revisar"}))
        .await;
    let (tid, lid) = (team["id"].as_str().unwrap(), label["id"].as_str().unwrap());
    let two = json!([numbers[0], numbers[1]]);
    for body in [
        json!({"numbers": two, "action": "team", "team_id": tid}),
        json!({"numbers": two, "action": "label", "label_id": lid}),
        json!({"numbers": [numbers[0]], "action": "unlabel", "label_id": lid}),
    ] {
        let (st, v) = api.post("/api/v1/tickets/bulk", body).await;
        assert_eq!(st, 200, "{v}");
    }
    let first = api.ok(&format!("/api/v1/tickets/{}", numbers[0])).await;
    let second = api.ok(&format!("/api/v1/tickets/{}", numbers[1])).await;
    assert_eq!(
        (first["team_id"].as_str(), second["team_id"].as_str()),
        (Some(tid), Some(tid))
    );
    let has = |t: &serde_json::Value| t["labels"].as_array().unwrap().iter().any(|l| l == lid);
    assert_eq!((has(&first), has(&second)), (false, true));
    let (st, v) = api
        .post(
            "/api/v1/tickets/bulk",
            json!({"numbers": two, "action": "team"}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), v["error"]["code"].as_str()),
        (422, Some("required"))
    );
}

#[tokio::test]
async fn agents_see_only_their_accounts() {
    let s = Server::start();
    let admin = s.admin().await;
    let mine = admin.account("api", "Mía").await;
    let hidden = admin.account("api", "Ajena").await;
    let agent_id = admin.create_user("luis@example.cl", "Luis", "agent").await;
    admin.enable(&agent_id, &mine, "auto").await;
    let t_mine = admin.inbound(&mine, "1", "c", "visible").await["ticket_number"]
        .as_u64()
        .unwrap();
    let t_hidden = admin.inbound(&hidden, "2", "c", "oculto").await["ticket_number"]
        .as_u64()
        .unwrap();

    let agent = s.login("luis@example.cl", "clave-agente-1").await;
    let list = agent.ok("/api/v1/tickets").await;
    let nums: Vec<u64> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["number"].as_u64().unwrap())
        .collect();
    assert_eq!(nums, vec![t_mine]);
    assert_eq!(
        agent.get(&format!("/api/v1/tickets/{t_hidden}")).await.0,
        404
    );
    assert_eq!(
        agent
            .get(&format!("/api/v1/tickets/{t_hidden}/messages"))
            .await
            .0,
        404
    );
    assert_eq!(
        agent
            .patch(
                &format!("/api/v1/tickets/{t_hidden}"),
                json!({"important": true})
            )
            .await
            .0,
        404
    );
    assert_eq!(
        agent.get(&format!("/api/v1/accounts/{hidden}")).await.0,
        404
    );
    let accounts = agent.ok("/api/v1/accounts").await;
    assert_eq!(accounts["items"].as_array().unwrap().len(), 1);
    // Naming the hidden account explicitly still shows nothing.
    let forced = agent.ok(&format!("/api/v1/tickets?account={hidden}")).await;
    assert!(forced["items"].as_array().unwrap().is_empty());
    // Agents cannot touch admin resources.
    assert_eq!(
        agent
            .post("/api/v1/accounts", json!({"kind": "api", "name": "x"}))
            .await
            .0,
        403
    );
    assert_eq!(
        agent.post("/api/v1/labels", json!({"name": "x"})).await.0,
        403
    );
    assert_eq!(
        agent
            .put("/api/v1/assignment", json!({"items": []}))
            .await
            .0,
        403
    );
    assert_eq!(
        agent
            .post(&format!("/api/v1/users/{agent_id}/deactivate"), json!({}))
            .await
            .0,
        403
    );
}

#[tokio::test]
async fn sla_breached_filter_uses_the_waiting_time() {
    let s = Server::start();
    let api = s.admin().await;
    let policy = api.sla_policy(30, None, false).await;
    let acc = api
        .created(
            "/api/v1/accounts",
            json!({"kind": "webchat", "name": "Ventas", "settings": {"sla_policy_id": policy}}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let no_sla = api.account("api", "Sin SLA").await;
    let ago = |min: i64| (chrono::Utc::now() - chrono::Duration::minutes(min)).to_rfc3339();
    let send = |acc: String, ext: &'static str, contact: &'static str, at: String| {
        let api = api.clone();
        async move {
            api.inbound_with(&acc, json!({"external_id": ext, "contact": {"external_id": contact}, "text": "hola", "sent_at": at}))
                .await["ticket_number"]
                .as_u64()
                .unwrap()
        }
    };
    let late = send(acc.clone(), "1", "a", ago(45)).await;
    let fresh = send(acc.clone(), "2", "b", ago(5)).await;
    let answered = send(acc.clone(), "3", "c", ago(50)).await;
    api.post(
        &format!("/api/v1/tickets/{answered}/messages"),
        json!({"text": "listo"}),
    )
    .await;
    let closed = send(acc.clone(), "4", "d", ago(60)).await;
    api.patch(
        &format!("/api/v1/tickets/{closed}"),
        json!({"state": "closed"}),
    )
    .await;
    let old_no_sla = send(no_sla, "5", "e", ago(600)).await;

    let numbers = |v: serde_json::Value| -> Vec<u64> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["number"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(
        numbers(api.ok("/api/v1/tickets?sla_breached=true").await),
        vec![late]
    );
    let t = api.ok(&format!("/api/v1/tickets/{late}")).await;
    assert_eq!(t["sla_breached"], true);
    let mut not_breached = numbers(
        api.ok("/api/v1/tickets?sla_breached=false&state=open")
            .await,
    );
    not_breached.sort_unstable();
    let mut expected = vec![fresh, answered, old_no_sla];
    expected.sort_unstable();
    assert_eq!(not_breached, expected);
    // An answer stops the SLA clock.
    api.post(
        &format!("/api/v1/tickets/{late}/messages"),
        json!({"text": "perdón la demora"}),
    )
    .await;
    assert!(numbers(api.ok("/api/v1/tickets?sla_breached=true").await).is_empty());
}

/// REPORT-4: every ticket a board filter matches, past the page size, as CSV with Spanish
/// headers and a column per typification; the export is in the audit log.
#[tokio::test]
async fn tickets_export_as_csv_for_any_filter() {
    let s = Server::start();
    let api = s.admin().await;
    let acc = api.account("api", "Tienda").await;
    let other = api.account("api", "Otra").await;
    let field = api
        .created_id(
            "/api/v1/fields",
            json!({"target": "ticket", "name": "Motivo", "kind": "choice", "options": ["Despacho", "Cambio"]}),
        )
        .await;
    // More than one page of the export (500).
    for i in 0..520 {
        api.inbound(
            &acc,
            &format!("m{i}"),
            &format!("c{i}"),
            "hola, ¿y mi pedido?",
        )
        .await;
    }
    let first = api.inbound(&other, "o1", "Ana", "Otra cuenta").await["ticket_number"]
        .as_u64()
        .unwrap();
    api.patch(
        &format!("/api/v1/tickets/{first}"),
        json!({"fields": {field.clone(): "Cambio"}}),
    )
    .await;
    let csv = |path: String| {
        let api = api.clone();
        async move {
            let res = api.download(&path).await;
            assert!(res.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .contains("tickets-"));
            res.text().await.unwrap()
        }
    };
    let all = csv(format!("/api/v1/tickets/export?account={acc}")).await;
    let lines: Vec<&str> = all.trim_start_matches('\u{feff}').lines().collect();
    assert!(
        lines[0].starts_with("Número,Estado,Canal,Cuenta,Cliente") && lines[0].ends_with(",Motivo"),
        "{}",
        lines[0]
    );
    assert_eq!(
        lines.len(),
        521,
        "every ticket of the account, past one page"
    );
    let numbers: std::collections::HashSet<&str> = lines[1..]
        .iter()
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(numbers.len(), 520, "no ticket twice");
    let one = csv(format!("/api/v1/tickets/export?account={other}")).await;
    let row = one.lines().nth(1).unwrap();
    assert!(
        row.starts_with(&format!("{first},Abierto,API,Otra,Ana")) && row.ends_with(",Cambio"),
        "{row}"
    );
    let (st, _) = api.get("/api/v1/tickets/export?state=perdido").await;
    assert_eq!(st, 400);
    let audit = api.ok("/api/v1/audit?action=tickets_exported").await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        audit["items"][0]["details"]["filter"],
        format!("{{\"account\":\"{other}\"}}")
    );
}

/// REPORT-4 / seed 004: messages as CSV for a message filter and a period, with the
/// customer's influencer flag and who wrote each one.
#[tokio::test]
async fn messages_export_with_the_influencer_flag() {
    let s = Server::start();
    let api = s.admin().await;
    let acc = api.account("api", "Tienda").await;
    let other = api.account("api", "Otra").await;
    let v = api.inbound(&acc, "m1", "ana", "Hola, soy Ana").await;
    let n = v["ticket_number"].as_u64().unwrap();
    api.inbound(&other, "x1", "luis", "Otra cuenta").await;
    let t = api.ok(&format!("/api/v1/tickets/{n}")).await;
    let contact = t["contact"]["id"].as_str().unwrap().to_string();
    let (st, _) = api
        .patch(
            &format!("/api/v1/contacts/{contact}"),
            json!({"influencer": true}),
        )
        .await;
    assert_eq!(st, 200);
    api.post(
        &format!("/api/v1/tickets/{n}/messages"),
        json!({"text": "¡Hola Ana! Te ayudamos."}),
    )
    .await;
    let csv = |path: String| {
        let api = api.clone();
        async move { api.download(&path).await.text().await.unwrap() }
    };
    let body = csv(format!("/api/v1/messages/export?account={acc}")).await;
    let lines: Vec<&str> = body.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(
        lines[0],
        "Id,Ticket,Fecha,Sentido,Canal,Cuenta,Cliente,Influenciador,Escrito por,Público,Texto"
    );
    assert_eq!(lines.len(), 3, "{body}");
    assert!(
        lines[1].contains(",Saliente,API,Tienda,ana,Sí,Admin Prueba,No,¡Hola Ana! Te ayudamos."),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].contains(",Entrante,API,Tienda,ana,Sí,ana,No,\"Hola, soy Ana\""),
        "{}",
        lines[2]
    );
    // A period after everything: only the header.
    let later = csv("/api/v1/messages/export?created_from=2099-01-01T00:00:00Z".into()).await;
    assert_eq!(later.lines().count(), 1, "{later}");
    let (st, _) = api.get("/api/v1/messages/export?created_to=ayer").await;
    assert_eq!(st, 400);
    let audit = api.ok("/api/v1/audit?action=messages_exported").await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 2);
}

/// The same exports as real XLSX workbooks: a zip whose sheet holds the header and the rows.
#[tokio::test]
async fn exports_as_xlsx_workbooks() {
    let s = Server::start();
    let api = s.admin().await;
    let acc = api.account("api", "Tienda").await;
    for i in 0..3 {
        api.inbound(
            &acc,
            &format!("m{i}"),
            &format!("Cliente {i}"),
            "¿Y mi pedido?",
        )
        .await;
    }
    let tickets = api.xlsx_sheet("/api/v1/tickets/export?format=xlsx").await;
    for text in ["Número", "Cliente", "Cliente 2", "¿Y mi pedido?"] {
        assert!(tickets.contains(text), "{text} in {tickets}");
    }
    assert_eq!(
        tickets.matches("<row ").count(),
        4,
        "header and three tickets"
    );
    let messages = api.xlsx_sheet("/api/v1/messages/export?format=xlsx").await;
    assert!(messages.contains("Influenciador") && messages.contains("Entrante"));
    let (st, e) = api.get("/api/v1/tickets/export?format=pdf").await;
    assert_eq!(
        (st.as_u16(), e["error"]["field"].as_str()),
        (400, Some("format"))
    );
}

/// The conversation as a printable page: the customer's and the agent's messages in order,
/// escaped, in the reader's language; a hidden ticket is not found.
#[tokio::test]
async fn a_ticket_transcript_prints_the_conversation() {
    let s = Server::start();
    let api = s.admin().await;
    let acc = api.account("api", "Tienda").await;
    let n = api
        .inbound(&acc, "t1", "Rosa", "Hola <b>¿llegó</b> mi pedido?")
        .await["ticket_number"]
        .as_u64()
        .unwrap();
    api.post(
        &format!("/api/v1/tickets/{n}/messages"),
        json!({"text": "Sí, llega mañana."}),
    )
    .await;
    let res = api
        .download(&format!("/api/v1/tickets/{n}/transcript"))
        .await;
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = res.text().await.unwrap();
    assert!(
        page.contains(&format!("Conversación del ticket #{n}")),
        "{page}"
    );
    assert!(
        page.contains("Hola &lt;b&gt;¿llegó&lt;/b&gt; mi pedido?"),
        "escaped: {page}"
    );
    let (customer, agent) = (
        page.find("¿llegó").unwrap(),
        page.find("Sí, llega mañana.").unwrap(),
    );
    assert!(customer < agent, "in order");
    assert!(page.contains("Admin Prueba") && page.contains("Tienda"));
    let (st, _) = api.get("/api/v1/tickets/999999/transcript").await;
    assert_eq!(st, 404);
}
