use chrono::{Duration, Utc};
use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn deactivation_signs_out_and_unassigns_recent_open_tickets() {
    let s = Server::start();
    let admin = s.admin().await;
    let acc = admin.account("api", "API").await;
    let agent_id = admin
        .create_user("sofia@example.cl", "Sofía", "agent")
        .await;
    admin.enable(&agent_id, &acc, "enabled").await;
    let agent = s.login("sofia@example.cl", "clave-agente-1").await;

    let at = |days: i64| (Utc::now() - Duration::days(days)).to_rfc3339();
    let mut made = Vec::new();
    for (i, days) in [2i64, 4, 6, 10].iter().enumerate() {
        let v = admin
            .inbound_with(
                &acc,
                json!({"external_id": format!("d{i}"), "contact": {"external_id": format!("c{i}")}, "text": "hola", "sent_at": at(*days)}),
            )
            .await;
        let n = v["ticket_number"].as_u64().unwrap();
        let (st, t) = admin
            .patch(
                &format!("/api/v1/tickets/{n}"),
                json!({"assignee_id": agent_id}),
            )
            .await;
        assert_eq!(st, 200, "{t}");
        made.push(n);
    }
    // A recent but closed ticket keeps its assignee (reports stay attributable).
    admin
        .patch(
            &format!("/api/v1/tickets/{}", made[1]),
            json!({"state": "closed"}),
        )
        .await;

    let (st, v) = admin
        .post(&format!("/api/v1/users/{agent_id}/deactivate"), json!({}))
        .await;
    assert_eq!(st, 200, "{v}");
    let released: Vec<u64> = v["unassigned_tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .collect();
    assert_eq!(released, vec![made[0]]);
    assert_eq!(v["user"]["active"], false);

    let assignee = |n: u64| {
        let admin = admin.clone();
        async move { admin.ok(&format!("/api/v1/tickets/{n}")).await["assignee_id"].clone() }
    };
    assert!(
        assignee(made[0]).await.is_null(),
        "2 days old, open: back to the pool"
    );
    assert_eq!(
        assignee(made[1]).await,
        agent_id.as_str(),
        "closed keeps its assignee"
    );
    assert_eq!(
        assignee(made[2]).await,
        agent_id.as_str(),
        "6 days old keeps its assignee"
    );
    assert_eq!(assignee(made[3]).await, agent_id.as_str());
    let hist = admin
        .ok(&format!("/api/v1/tickets/{}/history", made[0]))
        .await;
    assert!(hist["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h["action"] == "unassigned"));

    // Signed out everywhere, and cannot sign in again.
    assert_eq!(agent.get("/api/v1/me").await.0, 401);
    let (st, _) = s
        .anonymous()
        .post(
            "/api/v1/session",
            json!({"email": "sofia@example.cl", "password": "clave-agente-1"}),
        )
        .await;
    assert_eq!(st, 401);
    // A deactivated user cannot be assigned.
    let (st, v) = admin
        .patch(
            &format!("/api/v1/tickets/{}", made[0]),
            json!({"assignee_id": agent_id}),
        )
        .await;
    assert_eq!(st, 422, "{v}");
}

#[tokio::test]
async fn sessions_tokens_and_profile() {
    let s = Server::start();
    let admin = s.admin().await;
    let me = admin.ok("/api/v1/me").await;
    assert_eq!(me["role"], "admin");
    assert!(me["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p == "users.manage"));

    // API token: works without CSRF, shown once.
    let tok = admin
        .created("/api/v1/tokens", json!({"name": "integración"}))
        .await;
    let token = tok["token"].as_str().unwrap().to_string();
    let mut bearer = s.anonymous();
    bearer.bearer = Some(token);
    assert_eq!(bearer.ok("/api/v1/me").await["email"], ADMIN_EMAIL);
    let acc = bearer.account("api", "via token").await;
    assert!(!acc.is_empty());
    let mut wrong = s.anonymous();
    wrong.bearer = Some("atk_nope".into());
    assert_eq!(wrong.get("/api/v1/me").await.0, 401);

    // Profile: language and signature; the agent edits only themself.
    let uid = admin.create_user("ana@example.cl", "Ana", "agent").await;
    let agent = s.login("ana@example.cl", "clave-agente-1").await;
    let (st, v) = agent
        .patch(
            &format!("/api/v1/users/{uid}"),
            json!({"language": "en", "signature": "Ana — Soporte"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["language"], "en");
    assert_eq!(
        agent
            .patch(&format!("/api/v1/users/{uid}"), json!({"role": "admin"}))
            .await
            .0,
        403
    );
    let admin_id = me["id"].as_str().unwrap();
    assert_eq!(
        agent
            .patch(&format!("/api/v1/users/{admin_id}"), json!({"name": "x"}))
            .await
            .0,
        403
    );
    let (st, v) = agent
        .put("/api/v1/me/status", json!({"state": "Colación"}))
        .await;
    assert_eq!(st, 200);
    assert_eq!(v["connection_state"], "Colación");
    // A new password needs the current one, and ends the other sessions.
    let other_session = s.login("ana@example.cl", "clave-agente-1").await;
    let (st, v) = agent
        .patch(
            &format!("/api/v1/users/{uid}"),
            json!({"password": "nueva-clave-99"}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), v["error"]["field"].as_str()),
        (422, Some("current_password"))
    );
    let (st, _) = agent
        .patch(
            &format!("/api/v1/users/{uid}"),
            json!({"password": "nueva-clave-99", "current_password": "mala"}),
        )
        .await;
    assert_eq!(st, 422);
    let (st, v) = agent
        .patch(
            &format!("/api/v1/users/{uid}"),
            json!({"password": "nueva-clave-99", "current_password": "clave-agente-1"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(other_session.get("/api/v1/me").await.0, 401);
    assert_eq!(
        agent.get("/api/v1/me").await.0,
        200,
        "the session that changed it stays"
    );
    // Duplicate email.
    let (st, v) = admin
        .post(
            "/api/v1/users",
            json!({"email": "ANA@example.cl", "name": "Otra", "password": "12345678"}),
        )
        .await;
    assert_eq!(st, 409, "{v}");

    // Sign out ends the session.
    let (st, _) = agent.delete("/api/v1/session").await;
    assert_eq!(st, 204);
    assert_eq!(agent.get("/api/v1/me").await.0, 401);
}

/// Who a cookie or token belongs to is cached between requests; every change to a user, a
/// session or a token applies to the very next request.
#[tokio::test]
async fn sign_in_changes_apply_to_the_next_request() {
    let s = Server::start();
    let admin = s.admin().await;
    let uid = admin.create_user("ana@example.cl", "Ana", "agent").await;
    let agent = s.login("ana@example.cl", "clave-agente-1").await;
    assert_eq!(agent.ok("/api/v1/me").await["role"], "agent");
    assert_eq!(agent.ok("/api/v1/me").await["role"], "agent");
    // A new role ends the sessions it was given to (the next request is refused); the next
    // sign-in has it.
    let (st, v) = admin
        .patch(&format!("/api/v1/users/{uid}"), json!({"role": "admin"}))
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(agent.get("/api/v1/me").await.0, 401);
    let agent = s.login("ana@example.cl", "clave-agente-1").await;
    assert_eq!(agent.ok("/api/v1/me").await["role"], "admin");

    // A token used a moment ago stops with its owner's deactivation.
    let tok = agent
        .created("/api/v1/tokens", json!({"name": "integración"}))
        .await;
    let mut bearer = s.anonymous();
    bearer.bearer = Some(tok["token"].as_str().unwrap().to_string());
    assert_eq!(bearer.get("/api/v1/me").await.0, 200);
    assert_eq!(bearer.get("/api/v1/me").await.0, 200);
    // A session cookie's value is no API token, even once the session has been used.
    let mut session_as_token = s.anonymous();
    let cookie = agent.cookie.clone().unwrap();
    session_as_token.bearer = Some(cookie.split_once('=').unwrap().1.to_string());
    assert_eq!(session_as_token.get("/api/v1/me").await.0, 401);
    let (st, v) = admin
        .post(&format!("/api/v1/users/{uid}/deactivate"), json!({}))
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(bearer.get("/api/v1/me").await.0, 401);
    assert_eq!(agent.get("/api/v1/me").await.0, 401);

    // Signing out ends the session for the next request.
    let other = s.admin().await;
    assert_eq!(other.get("/api/v1/me").await.0, 200);
    let (st, _) = other.delete("/api/v1/session").await;
    assert!(st.is_success(), "{st}");
    assert_eq!(other.get("/api/v1/me").await.0, 401);
    assert_eq!(admin.get("/api/v1/me").await.0, 200, "other sessions stay");
}

/// The users screen's API: teams set with the user, last sign-in, reactivation; and the audit
/// log that records it all (security issue, finding 18), filtered and as CSV, admins only.
#[tokio::test]
async fn users_teams_reactivation_and_the_audit_log() {
    let s = Server::start();
    let api = s.admin().await;
    let team = api
        .created("/api/v1/teams", json!({"name": "Postventa"}))
        .await;
    let team_id = team["id"].as_str().unwrap().to_string();
    let ana = api
        .created(
            "/api/v1/users",
            json!({"email": "ana@example.cl", "name": "Ana", "password": "clave-agente-1",
                   "role": "agent", "teams": [team_id]}),
        )
        .await;
    let ana_id = ana["id"].as_str().unwrap().to_string();
    assert_eq!(ana["invited"], false);
    assert!(ana["last_sign_in_at"].is_null());
    let teams = api.ok("/api/v1/teams").await;
    assert_eq!(teams["items"][0]["members"], json!([ana_id]));
    // An unknown team is refused and nothing is created.
    let (st, v) = api
        .post(
            "/api/v1/users",
            json!({"email": "x@example.cl", "name": "X", "password": "clave-agente-1", "teams": ["999"]}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), v["error"]["code"].as_str()),
        (422, Some("unknown_team"))
    );
    assert!(api.ok("/api/v1/users").await["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u["email"] != "x@example.cl"));

    // Ana signs in (and once with a wrong password); her last sign-in shows.
    let (st, _) = s
        .anonymous()
        .post(
            "/api/v1/session",
            json!({"email": "ana@example.cl", "password": "mala-clave-123"}),
        )
        .await;
    assert_eq!(st, 401);
    let agent = s.login("ana@example.cl", "clave-agente-1").await;
    let me = api.ok(&format!("/api/v1/users/{ana_id}")).await;
    assert!(me["last_sign_in_at"].is_string());
    // Agents see no audit log.
    assert_eq!(agent.get("/api/v1/audit").await.0, 403);

    // Role and teams change; deactivate; reactivate.
    api.patch(
        &format!("/api/v1/users/{ana_id}"),
        json!({"role": "supervisor", "teams": []}),
    )
    .await;
    assert_eq!(
        api.ok("/api/v1/teams").await["items"][0]["members"],
        json!([])
    );
    api.post(&format!("/api/v1/users/{ana_id}/deactivate"), json!({}))
        .await;
    let (st, v) = api
        .post(&format!("/api/v1/users/{ana_id}/reactivate"), json!({}))
        .await;
    assert_eq!((st.as_u16(), v["active"].as_bool()), (200, Some(true)));
    s.login("ana@example.cl", "clave-agente-1").await;
    // Ana has no invitation to resend.
    let (st, v) = api
        .post(&format!("/api/v1/users/{ana_id}/invitation"), json!({}))
        .await;
    assert_eq!(
        (st.as_u16(), v["error"]["code"].as_str()),
        (409, Some("not_invited"))
    );

    let log = api.ok("/api/v1/audit?limit=200").await;
    let actions: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for wanted in [
        "sign_in",
        "sign_in_failed",
        "user_created",
        "role_changed",
        "teams_changed",
        "user_deactivated",
        "user_reactivated",
    ] {
        assert!(
            actions.contains(&wanted),
            "{wanted} missing from {actions:?}"
        );
    }
    let role = api.ok("/api/v1/audit?action=role_changed").await;
    let entry = &role["items"][0];
    assert_eq!(entry["actor"], "Admin Prueba");
    assert_eq!(entry["target"], format!("user {ana_id} (Ana)"));
    assert_eq!(
        entry["details"],
        json!({"from": "agent", "to": "supervisor"})
    );
    assert_eq!(entry["ip"], "127.0.0.1");
    let failed = api.ok("/api/v1/audit?action=sign_in_failed").await;
    assert_eq!(failed["items"][0]["actor"], "ana@example.cl");
    // Newest first, paged by cursor.
    let page = api.ok("/api/v1/audit?limit=2").await;
    let cursor = page["next_cursor"].as_str().unwrap();
    let next = api
        .ok(&format!("/api/v1/audit?limit=2&cursor={cursor}"))
        .await;
    let ids = |p: &serde_json::Value| -> Vec<u64> {
        p["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().parse().unwrap())
            .collect()
    };
    let (a, b) = (ids(&page), ids(&next));
    assert!(a[0] > a[1] && a[1] > b[0] && b[0] > b[1], "{a:?} {b:?}");
    // The CSV has every entry of the filter.
    let csv = text_of(api.request(
        reqwest::Method::GET,
        "/api/v1/audit/export?action=role_changed",
    ))
    .await;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "at,action,actor_id,actor,target,ip,user_agent,details"
    );
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[1].contains("role_changed") && lines[1].contains("from=agent; to=supervisor"));
    let (st, v) = api.get("/api/v1/audit?action=nada").await;
    assert_eq!(
        (st.as_u16(), v["error"]["code"].as_str()),
        (422, Some("invalid_action"))
    );
}

/// "Mis sesiones" (security issue, finding 19): where one is signed in, from which device and
/// address; one ended, or all the others; the idle and absolute timeouts hold across a restart.
#[tokio::test]
async fn my_sessions_end_others_and_time_out() {
    let mut s = Server::start();
    let dir = s.take_dir();
    let office = s.admin().await;
    let home = s.admin().await;
    let list = office.ok("/api/v1/me/sessions").await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{list}");
    assert_eq!(items.iter().filter(|i| i["current"] == true).count(), 1);
    assert!(items.iter().all(|i| i["ip"] == "127.0.0.1"));
    // One ended by id: that browser is signed out; ids that are not theirs are 404.
    let other = items.iter().find(|i| i["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        office
            .delete("/api/v1/me/sessions/0000000000000000")
            .await
            .0,
        404
    );
    assert_eq!(
        office
            .delete(&format!("/api/v1/me/sessions/{other}"))
            .await
            .0,
        204
    );
    assert_eq!(home.get("/api/v1/me").await.0, 401);
    // «Cerrar las demás» ends the rest and keeps this one.
    let phone = s.admin().await;
    let laptop = s.admin().await;
    let (st, v) = office
        .post("/api/v1/me/sessions/end_others", json!({}))
        .await;
    assert_eq!((st.as_u16(), v["ended"].as_u64()), (200, Some(2)));
    assert_eq!(phone.get("/api/v1/me").await.0, 401);
    assert_eq!(laptop.get("/api/v1/me").await.0, 401);
    assert_eq!(office.get("/api/v1/me").await.0, 200);
    assert_eq!(
        office.ok("/api/v1/me/sessions").await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let log = office.ok("/api/v1/audit?action=sign_out").await;
    assert_eq!(log["items"][0]["details"]["sessions"], "2");

    // Eleven hours later (the server restarted) the session still works; thirteen hours
    // without use and it has ended.
    s.stop();
    let data = s.data.clone();
    let hours = |h: i64| (h * 3_600_000).to_string();
    let mut later = Server::start_in(&data, &[("ATIENDE_CLOCK_OFFSET_MS", &hours(11))]);
    let mut again = office.clone();
    again.base = later.base.clone();
    assert_eq!(again.get("/api/v1/me").await.0, 200);
    later.stop();
    let much_later = Server::start_in(&data, &[("ATIENDE_CLOCK_OFFSET_MS", &hours(11 + 13))]);
    again.base = much_later.base.clone();
    let (st, v) = again.get("/api/v1/me").await;
    assert_eq!(st, 401, "{v}");
    drop(dir);
}

fn totp_code(secret: &str, offset_steps: i64) -> String {
    let totp = totp_rs::TOTP::new(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        totp_rs::Secret::Encoded(secret.to_string())
            .to_bytes()
            .unwrap(),
        None,
        String::new(),
    )
    .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    totp.generate((now + offset_steps * 30) as u64)
}

async fn sign_in_with(
    s: &Server,
    email: &str,
    password: &str,
    code: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut body = json!({"email": email, "password": password});
    if let Some(c) = code {
        body["totp"] = json!(c);
    }
    let (st, v) = s.anonymous().post("/api/v1/session", body).await;
    (st.as_u16(), v)
}

/// The second factor (security issue, finding 17): enrolment confirmed by a code, sign-in with
/// a code (once) or a recovery code (once), required for a role by the administrator.
#[tokio::test]
async fn two_factor_enrolment_sign_in_recovery_and_policy() {
    let s = Server::start();
    let admin = s.admin().await;
    let (st, v) = admin
        .post(
            "/api/v1/me/two_factor",
            json!({"current_password": "no-es-la-clave"}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), v["error"]["code"].as_str()),
        (422, Some("wrong_password"))
    );
    let enrol = admin
        .created(
            "/api/v1/me/two_factor",
            json!({"current_password": ADMIN_PASSWORD}),
        )
        .await;
    let secret = enrol["secret"].as_str().unwrap().to_string();
    assert!(enrol["otpauth_url"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/Atiende:"));
    assert!(enrol["qr_svg"].as_str().unwrap().contains("<svg"));
    // Not in force until confirmed: the password alone still signs in.
    assert_eq!(
        sign_in_with(&s, ADMIN_EMAIL, ADMIN_PASSWORD, None).await.0,
        200
    );
    // A code from a client that always sends one changes nothing for a user without 2FA.
    assert_eq!(
        sign_in_with(&s, ADMIN_EMAIL, ADMIN_PASSWORD, Some("123456"))
            .await
            .0,
        200
    );
    let (st, v) = admin
        .post("/api/v1/me/two_factor/confirm", json!({"code": "000000"}))
        .await;
    assert_eq!(
        (st.as_u16(), v["error"]["code"].as_str()),
        (422, Some("two_factor_invalid"))
    );
    let codes = admin
        .created(
            "/api/v1/me/two_factor/confirm",
            json!({"code": totp_code(&secret, 0)}),
        )
        .await;
    let recovery: Vec<String> = codes["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(recovery.len(), 10);
    assert_eq!(admin.ok("/api/v1/me").await["two_factor"], true);

    // Sign-in: the code is asked for, checked, and good once.
    let (st, v) = sign_in_with(&s, ADMIN_EMAIL, ADMIN_PASSWORD, None).await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (401, Some("two_factor_required"))
    );
    let (st, v) = sign_in_with(&s, ADMIN_EMAIL, ADMIN_PASSWORD, Some("123456")).await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (401, Some("two_factor_invalid"))
    );
    let next = totp_code(&secret, 1);
    assert_eq!(
        sign_in_with(&s, ADMIN_EMAIL, ADMIN_PASSWORD, Some(&next))
            .await
            .0,
        200
    );
    let (st, v) = sign_in_with(&s, ADMIN_EMAIL, ADMIN_PASSWORD, Some(&next)).await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (401, Some("two_factor_invalid")),
        "a code works once"
    );
    // A wrong password with a right code is still a wrong password.
    assert_eq!(
        sign_in_with(&s, ADMIN_EMAIL, "mala-clave-999", Some(&recovery[0]))
            .await
            .0,
        401
    );
    // A recovery code, typed loosely, works once.
    let loose = recovery[0].to_uppercase().replace('-', " ");
    assert_eq!(
        sign_in_with(&s, ADMIN_EMAIL, ADMIN_PASSWORD, Some(&loose))
            .await
            .0,
        200
    );
    assert_eq!(
        sign_in_with(&s, ADMIN_EMAIL, ADMIN_PASSWORD, Some(&recovery[0]))
            .await
            .0,
        401
    );

    // The administrator requires it of agents: an agent without it may reach only their profile
    // until they enrol.
    admin.create_user("ana@example.cl", "Ana", "agent").await;
    let policy = admin
        .put(
            "/api/v1/settings/two_factor",
            json!({"required_roles": ["agent"]}),
        )
        .await;
    assert_eq!(policy.1["required_roles"], json!(["agent"]));
    let ana = s.login("ana@example.cl", "clave-agente-1").await;
    let me = ana.ok("/api/v1/me").await;
    assert_eq!(me["two_factor_setup_required"], true);
    let (st, v) = ana.get("/api/v1/tickets").await;
    assert_eq!(
        (st.as_u16(), v["error"]["code"].as_str()),
        (403, Some("two_factor_setup_required"))
    );
    let enrol = ana
        .created(
            "/api/v1/me/two_factor",
            json!({"current_password": "clave-agente-1"}),
        )
        .await;
    let ana_secret = enrol["secret"].as_str().unwrap().to_string();
    ana.created(
        "/api/v1/me/two_factor/confirm",
        json!({"code": totp_code(&ana_secret, 0)}),
    )
    .await;
    assert_eq!(ana.get("/api/v1/tickets").await.0, 200);
    let (st, v) = ana
        .delete_with(
            "/api/v1/me/two_factor",
            json!({"current_password": "clave-agente-1"}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), v["error"]["code"].as_str()),
        (409, Some("two_factor_required"))
    );

    let log = admin.ok("/api/v1/audit?limit=200").await;
    let actions: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for wanted in [
        "two_factor_enabled",
        "recovery_code_used",
        "sign_in_failed",
        "setting_changed",
    ] {
        assert!(
            actions.contains(&wanted),
            "{wanted} missing from {actions:?}"
        );
    }
}

/// Team and connection-state changes reach the audit log with what changed.
#[tokio::test]
async fn team_and_state_changes_are_audited() {
    let s = Server::start();
    let api = s.admin().await;
    let ana = api.create_user("ana@example.cl", "Ana", "agent").await;
    let team = api
        .created("/api/v1/teams", json!({"name": "Ventas"}))
        .await;
    let id = team["id"].as_str().unwrap();
    api.patch(
        &format!("/api/v1/teams/{id}"),
        json!({"name": "Ventas B2B", "members": [ana]}),
    )
    .await;
    api.delete(&format!("/api/v1/teams/{id}")).await;
    let state = api
        .created("/api/v1/connection_states", json!({"name": "Capacitación"}))
        .await;
    api.delete(&format!(
        "/api/v1/connection_states/{}",
        state["id"].as_str().unwrap()
    ))
    .await;
    let teams = api.ok("/api/v1/audit?action=teams_changed").await;
    let details: Vec<&serde_json::Value> = teams["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["details"])
        .collect();
    assert_eq!(details.len(), 3, "{teams}");
    assert_eq!(details[0]["removed"], "Ventas B2B");
    assert_eq!(details[1]["name"], "Ventas → Ventas B2B");
    assert_eq!(details[1]["to"], "Ana");
    assert_eq!(details[2]["added"], "Ventas");
    let states = api.ok("/api/v1/audit?action=setting_changed").await;
    let d: Vec<&serde_json::Value> = states["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["details"])
        .collect();
    assert_eq!(d[0]["removed"], "Capacitación");
    assert_eq!(d[1]["added"], "Capacitación");
}

/// Labels merged and deleted leave no ticket or contact with a label that is gone; canned
/// answers are shared (administrators) or personal (their owner's alone).
#[tokio::test]
async fn labels_merge_and_delete_and_personal_canned_answers() {
    let s = Server::start();
    let api = s.admin().await;
    let acc = api.account("api", "API").await;
    let a = api
        .created("/api/v1/labels", json!({"name": "Reclamo"}))
        .await;
    let b = api
        .created("/api/v1/labels", json!({"name": "reclamo"}))
        .await;
    let (a, b) = (
        a["id"].as_str().unwrap().to_string(),
        b["id"].as_str().unwrap().to_string(),
    );
    let t1 = api.inbound(&acc, "m1", "c1", "hola").await;
    let t2 = api.inbound(&acc, "m2", "c2", "hola").await;
    let n1 = t1["ticket_number"].as_u64().unwrap();
    let n2 = t2["ticket_number"].as_u64().unwrap();
    api.patch(&format!("/api/v1/tickets/{n1}"), json!({"labels": [b]}))
        .await;
    api.patch(&format!("/api/v1/tickets/{n2}"), json!({"labels": [a, b]}))
        .await;
    let ticket = api.ok(&format!("/api/v1/tickets/{n1}")).await;
    let contact = ticket["contact"]["id"].as_str().unwrap().to_string();
    api.patch(
        &format!("/api/v1/contacts/{contact}"),
        json!({"labels": [b]}),
    )
    .await;
    let usage = api.ok("/api/v1/labels/usage").await;
    let count = |u: &serde_json::Value, id: &str| {
        u["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == id)
            .map(|x| x["tickets"].as_u64().unwrap())
    };
    assert_eq!((count(&usage, &a), count(&usage, &b)), (Some(1), Some(2)));
    let (st, v) = api
        .post(&format!("/api/v1/labels/{b}/merge"), json!({"into": b}))
        .await;
    assert_eq!(
        (st.as_u16(), v["error"]["code"].as_str()),
        (422, Some("same_label"))
    );
    let merged = api
        .created(&format!("/api/v1/labels/{b}/merge"), json!({"into": a}))
        .await;
    assert_eq!(merged["tickets"], 2);
    assert_eq!(
        api.ok(&format!("/api/v1/tickets/{n1}")).await["labels"],
        json!([a])
    );
    assert_eq!(
        api.ok(&format!("/api/v1/tickets/{n2}")).await["labels"],
        json!([a]),
        "no label twice"
    );
    assert_eq!(
        api.ok(&format!("/api/v1/contacts/{contact}")).await["labels"],
        json!([a])
    );
    assert_eq!(count(&api.ok("/api/v1/labels/usage").await, &a), Some(2));
    assert_eq!(api.delete(&format!("/api/v1/labels/{a}")).await.0, 204);
    assert_eq!(
        api.ok(&format!("/api/v1/tickets/{n2}")).await["labels"],
        json!([])
    );
    assert_eq!(
        api.ok(&format!("/api/v1/contacts/{contact}")).await["labels"],
        json!([])
    );
    // The list index follows: no ticket is listed under the deleted label.
    let listed = api
        .ok(&format!("/api/v1/tickets?label={a}&state=open"))
        .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 0);

    // Canned answers: an agent keeps personal ones; shared ones are the administrators'.
    api.create_user("ana@example.cl", "Ana", "agent").await;
    let ana = s.login("ana@example.cl", "clave-agente-1").await;
    let (st, _) = ana
        .post(
            "/api/v1/canned_responses",
            json!({"title": "Todos", "text": "hola"}),
        )
        .await;
    assert_eq!(st, 403);
    let mine = ana
        .created(
            "/api/v1/canned_responses",
            json!({"title": "Mía", "text": "Hola {{customer.first_name}}", "personal": true}),
        )
        .await;
    assert_eq!(mine["personal"], true);
    let shared = api
        .created(
            "/api/v1/canned_responses",
            json!({"title": "Del equipo", "text": "hola"}),
        )
        .await;
    let titles = |v: serde_json::Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["title"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(titles(ana.ok("/api/v1/canned_responses").await).contains(&"Mía".to_string()));
    assert!(
        !titles(api.ok("/api/v1/canned_responses").await).contains(&"Mía".to_string()),
        "personal is personal"
    );
    let mine_id = mine["id"].as_str().unwrap();
    assert_eq!(
        api.delete(&format!("/api/v1/canned_responses/{mine_id}"))
            .await
            .0,
        404
    );
    let shared_id = shared["id"].as_str().unwrap();
    assert_eq!(
        ana.delete(&format!("/api/v1/canned_responses/{shared_id}"))
            .await
            .0,
        403
    );
    assert_eq!(
        ana.delete(&format!("/api/v1/canned_responses/{mine_id}"))
            .await
            .0,
        204
    );
}

/// The bell: a mention and an assignment by someone else reach their user alone; read when
/// the ticket is opened, or all at once.
#[tokio::test]
async fn notifications_for_mentions_and_assignments() {
    let s = Server::start();
    let api = s.admin().await;
    let acc = api.account("api", "API").await;
    let luis = api
        .create_user("luis@example.cl", "Luis", "supervisor")
        .await;
    api.create_user("ana@example.cl", "Ana", "supervisor").await;
    let t = api.inbound(&acc, "m1", "c1", "necesito ayuda").await;
    let n = t["ticket_number"].as_u64().unwrap();
    api.created(
        &format!("/api/v1/tickets/{n}/comments"),
        json!({"text": "Luis, mira esto", "mentions": [luis]}),
    )
    .await;
    api.patch(
        &format!("/api/v1/tickets/{n}"),
        json!({"assignee_id": luis}),
    )
    .await;
    let luis_api = s.login("luis@example.cl", "clave-agente-1").await;
    let ana_api = s.login("ana@example.cl", "clave-agente-1").await;
    let bell = luis_api.ok("/api/v1/me/notifications").await;
    assert_eq!(bell["unread"], 2, "{bell}");
    let kinds: Vec<&str> = bell["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["assigned", "mention"]);
    assert_eq!(bell["items"][1]["actor"], "Admin Prueba");
    assert_eq!(bell["items"][1]["text"], "Luis, mira esto");
    assert_eq!(ana_api.ok("/api/v1/me/notifications").await["unread"], 0);
    // Opening the ticket reads both.
    let marked = luis_api
        .created("/api/v1/me/notifications/read", json!({"ticket_number": n}))
        .await;
    assert_eq!(marked["marked"], 2);
    assert_eq!(luis_api.ok("/api/v1/me/notifications").await["unread"], 0);
    let (st, _) = luis_api
        .post("/api/v1/me/notifications/read", json!({}))
        .await;
    assert_eq!(st, 422);
}

/// Administración › Tokens de API: an administrator sees everyone's tokens and revokes any;
/// others see and revoke only their own.
#[tokio::test]
async fn administrators_see_and_revoke_everyones_tokens() {
    let s = Server::start();
    let api = s.admin().await;
    api.create_user("ana@example.cl", "Ana", "agent").await;
    let ana = s.login("ana@example.cl", "clave-agente-1").await;
    let tok = ana
        .created("/api/v1/tokens", json!({"name": "integración ERP"}))
        .await;
    api.created("/api/v1/tokens", json!({"name": "mío"})).await;
    let mut erp = s.anonymous();
    erp.bearer = Some(tok["token"].as_str().unwrap().to_string());
    assert_eq!(erp.get("/api/v1/me").await.0, 200);

    assert_eq!(
        ana.ok("/api/v1/tokens").await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let (st, _) = ana.get("/api/v1/tokens?all=true").await;
    assert_eq!(st, 403, "only administrators see everyone's");
    let all = api.ok("/api/v1/tokens?all=true").await;
    let names: Vec<(&str, &str)> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap(),
                t["user_name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(names, [("integración ERP", "Ana"), ("mío", "Admin Prueba")]);
    let mine = api.ok("/api/v1/tokens").await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);

    // Ana cannot revoke the administrator's; the administrator revokes hers.
    let admins = all["items"][1]["id"].as_str().unwrap();
    let (st, _) = ana.delete(&format!("/api/v1/tokens/{admins}")).await;
    assert_eq!(st, 404);
    let (st, _) = api
        .delete(&format!("/api/v1/tokens/{}", tok["id"].as_str().unwrap()))
        .await;
    assert_eq!(st, 204);
    assert_eq!(
        erp.get("/api/v1/me").await.0,
        401,
        "a revoked token signs nobody in"
    );
    let audit = api.ok("/api/v1/audit?action=token_revoked").await;
    assert!(
        audit["items"][0]["target"]
            .as_str()
            .unwrap()
            .contains("integración ERP · Ana"),
        "{audit}"
    );
}

/// API tokens with an expiry stop working after it; notification preferences are one's own.
#[tokio::test]
async fn token_expiry_and_notification_preferences() {
    let mut s = Server::start();
    let dir = s.take_dir();
    let api = s.admin().await;
    let (st, v) = api
        .post("/api/v1/tokens", json!({"name": "x", "expires_in_days": 0}))
        .await;
    assert_eq!(
        (st.as_u16(), v["error"]["code"].as_str()),
        (422, Some("invalid_expiry"))
    );
    let short = api
        .created(
            "/api/v1/tokens",
            json!({"name": "corto", "expires_in_days": 1}),
        )
        .await;
    let forever = api
        .created("/api/v1/tokens", json!({"name": "largo"}))
        .await;
    let listed = api.ok("/api/v1/tokens").await;
    assert!(listed["items"][0]["expires_at"].is_string());
    assert!(listed["items"][1]["expires_at"].is_null());
    let me = api.ok("/api/v1/me").await;
    assert_eq!(
        me["notify"],
        json!({"mention_email": true, "assigned_email": true, "sla_email": true, "sound": true})
    );
    let uid = me["id"].as_str().unwrap().to_string();
    let (st, v) = api
        .patch(
            &format!("/api/v1/users/{uid}"),
            json!({"notify": {"mention_email": false, "assigned_email": true, "sla_email": false, "sound": false}}),
        )
        .await;
    assert_eq!(
        (
            st.as_u16(),
            v["notify"]["mention_email"].as_bool(),
            v["notify"]["sla_email"].as_bool()
        ),
        (200, Some(false), Some(false))
    );
    let other = api.create_user("ana@example.cl", "Ana", "agent").await;
    let (st, _) = api
        .patch(
            &format!("/api/v1/users/{other}"),
            json!({"notify": {"sound": false}}),
        )
        .await;
    assert_eq!(st, 403, "preferences are each person's own");

    // Two days later the one-day token is refused; the other still works.
    s.stop();
    let data = s.data.clone();
    let later = Server::start_in(
        &data,
        &[("ATIENDE_CLOCK_OFFSET_MS", &(2 * 86_400_000i64).to_string())],
    );
    let mut a = later.anonymous();
    a.bearer = short["token"].as_str().map(str::to_string);
    assert_eq!(a.get("/api/v1/me").await.0, 401);
    a.bearer = forever["token"].as_str().map(str::to_string);
    assert_eq!(a.get("/api/v1/me").await.0, 200);
    drop(dir);
}
