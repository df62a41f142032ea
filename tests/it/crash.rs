use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::harness::*;

/// Many concurrent writers share group commits; `kill -9` in the middle of the stream must
/// lose none of the writes that were acknowledged.
#[tokio::test]
async fn kill_9_loses_no_acknowledged_write() {
    let mut s = Server::start();
    let dir = s.take_dir();
    let api = s.admin().await;
    let acc = api.account("api", "Carga").await;
    let tok = api
        .created("/api/v1/tokens", json!({"name": "carga"}))
        .await;
    let mut client = s.anonymous();
    client.bearer = tok["token"].as_str().map(str::to_string);

    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..32 {
        let (client, acc, stop) = (client.clone(), acc.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                let body = json!({"external_id": format!("w{w}-{i}"), "contact": {"external_id": format!("c{w}-{}", i % 7)}, "text": format!("mensaje {w}-{i}")});
                let res = client
                    .request(reqwest::Method::POST, &format!("/api/v1/accounts/{acc}/inbound"))
                    .json(&body)
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status() == 200 => {
                        if let Ok(v) = r.json::<serde_json::Value>().await {
                            acked.push((format!("w{w}-{i}"), v));
                        }
                    }
                    _ => break,
                }
                i += 1;
            }
            acked
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    s.kill9();
    stop.store(true, Ordering::SeqCst);
    let mut acked = Vec::new();
    for w in workers {
        acked.extend(w.await.unwrap());
    }
    assert!(
        acked.len() > 50,
        "the load produced only {} writes",
        acked.len()
    );

    let data = s.data.clone();
    let s2 = Server::start_in(&data, &[]);
    let api = s2.admin().await;
    // Every acknowledged message is there, on the ticket it was acknowledged with.
    let mut by_ticket: std::collections::HashMap<u64, Vec<String>> = Default::default();
    for (_, v) in &acked {
        by_ticket
            .entry(v["ticket_number"].as_u64().unwrap())
            .or_default()
            .push(v["message_id"].as_str().unwrap().to_string());
    }
    for (number, ids) in by_ticket {
        let msgs = api.ok(&format!("/api/v1/tickets/{number}/messages")).await;
        let stored: Vec<&str> = msgs["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap())
            .collect();
        for id in ids {
            assert!(
                stored.contains(&id.as_str()),
                "acknowledged message {id} of #{number} lost"
            );
        }
    }
    // Replaying an acknowledged message after the crash is still idempotent.
    let (ext, first) = &acked[0];
    let (st, again) = api
        .post(
            &format!("/api/v1/accounts/{acc}/inbound"),
            json!({"external_id": ext, "contact": {"external_id": "whoever"}, "text": "dup"}),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(again["message_id"], first["message_id"]);
    drop(dir);
}
