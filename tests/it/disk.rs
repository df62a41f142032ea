//! A full disk (security issue, finding 16): the server runs on a small tmpfs of its own (a
//! mount namespace made by `unshare`); the test fills it from outside through
//! `/proc/<pid>/root`, then frees it.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use crate::email::{decoded_subject, email_account, users, wait_mailbox};
use crate::harness::*;
use crate::mailserver::servers;

const FS_MB: u64 = 48;

/// The server on a tmpfs of `FS_MB` mounted at `mnt` inside its own mount namespace, its data
/// dir copied there from `src` first.
fn start_on_tmpfs(src: &Path, mnt: &Path) -> Server {
    let probe = Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "true"])
        .status();
    assert!(
        probe.is_ok_and(|s| s.success()),
        "this test needs `unshare` (util-linux) with user and mount namespaces, to give the server a small file system of its own"
    );
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--user",
        "--map-root-user",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        r#"mount -t tmpfs -o size="$4"m tmpfs "$1" && cp -a "$2/." "$1/" && exec "$3" serve --listen 127.0.0.1:0 --data "$1""#,
        "sh",
    ])
    .arg(mnt)
    .arg(src)
    .arg(bin())
    .arg(FS_MB.to_string());
    Server::start_command(cmd, mnt)
}

/// A path inside the server's file system, as this process sees it.
fn inside(s: &Server, path: &Path) -> PathBuf {
    PathBuf::from(format!("/proc/{}/root{}", s.pid(), path.display()))
}

fn free_bytes(path: &Path) -> u64 {
    let out = Command::new("stat")
        .args(["-f", "-c", "%a %S"])
        .arg(path)
        .output()
        .expect("stat");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut parts = text.split_whitespace().map(|p| p.parse::<u64>().unwrap());
    parts.next().unwrap() * parts.next().unwrap()
}

/// A word only message `i` has (the search tokenizer splits digits off).
fn word(mut i: usize) -> String {
    let mut w = String::from("clave");
    loop {
        w.push((b'a' + (i % 26) as u8) as char);
        i /= 26;
        if i == 0 {
            return w;
        }
    }
}

async fn status(api: &Api) -> Value {
    api.get("/api/v1/status").await.1
}

#[tokio::test]
async fn a_full_disk_refuses_writes_with_503_then_resumes_by_itself_losing_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("seed");
    let mnt = dir.path().join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    admin_create(&src, ADMIN_EMAIL, "Admin Prueba", ADMIN_PASSWORD, "admin");
    std::fs::write(src.join("atiende.toml"), "[storage]\nlow_space_mb = 20\n").unwrap();
    let mut s = start_on_tmpfs(&src, &mnt);
    let api = s.admin().await;
    let acc = api.account("api", "Carga").await;
    assert_eq!(status(&api).await["disk"], "ok");
    // An administrator with a mailbox, and an account that sends system mail.
    let (support, _) = users("disco");
    let admin_box = "admindisco";
    servers().add_user(admin_box);
    email_account(&api, &support, json!({})).await;
    api.created(
        "/api/v1/users",
        json!({"email": format!("{admin_box}@atiende.test"), "name": "Admin Disco", "role": "admin", "language": "es"}),
    )
    .await;

    // Leave ~10 MB: below the warning threshold, which /status says at once.
    let ballast = inside(&s, &mnt.join("ballast"));
    let free = free_bytes(&inside(&s, &mnt));
    let fill = free.saturating_sub(10 * 1024 * 1024);
    std::fs::write(&ballast, vec![0u8; fill as usize]).unwrap();
    assert_eq!(status(&api).await["disk"], "low");
    // The administrators hear of it by mail before the disk is full.
    let subjects = |n: usize| async move {
        wait_mailbox(admin_box, n)
            .await
            .iter()
            .map(|m| decoded_subject(m))
            .collect::<Vec<_>>()
    };
    let got = subjects(2).await;
    assert!(
        got.iter()
            .any(|s| s == "Atiende: queda poco espacio en el disco"),
        "{got:?}"
    );

    // Customers keep writing until the disk is full: every refusal is a 503 with its code.
    let text = "Hola, necesito ayuda con mi pedido. ".repeat(600);
    let mut acked: Vec<(String, Value)> = Vec::new();
    let mut refused = None;
    for i in 0..5000 {
        let ext = format!("m{i}");
        let (st, v) = api
            .post(
                &format!("/api/v1/accounts/{acc}/inbound"),
                json!({"external_id": ext, "contact": {"external_id": format!("c{i}")},
                       "text": format!("{text} {}", word(i))}),
            )
            .await;
        match st.as_u16() {
            200 => acked.push((ext, v)),
            503 => {
                refused = Some(v);
                break;
            }
            other => panic!("message {i}: {other} {v}"),
        }
    }
    let refused = refused.expect("the disk never filled up");
    assert!(
        ["disk_full", "storage_unavailable"].contains(&refused["error"]["code"].as_str().unwrap()),
        "{refused}"
    );
    assert!(
        acked.len() > 10,
        "only {} messages before the disk filled",
        acked.len()
    );

    // While full: every write is refused with the code, /status and /healthz say so.
    let (st, v) = api
        .post(
            &format!("/api/v1/accounts/{acc}/inbound"),
            json!({"external_id": "late", "contact": {"external_id": "c1"}, "text": "hola"}),
        )
        .await;
    assert_eq!(
        (st.as_u16(), v["error"]["code"].as_str()),
        (503, Some("disk_full")),
        "{v}"
    );
    let (st, v) = api.get("/api/v1/status").await;
    assert_eq!(
        (st.as_u16(), v["disk"].as_str()),
        (503, Some("full")),
        "{v}"
    );
    let (st, _) = s.anonymous().get("/healthz").await;
    assert_eq!(st.as_u16(), 503);

    // Space is back: writes resume by themselves, with no restart.
    std::fs::remove_file(&ballast).unwrap();
    let api2 = api.clone();
    let acc2 = acc.clone();
    eventually(30, "writes to resume", move || {
        let (api, acc) = (api2.clone(), acc2.clone());
        async move {
            let (st, v) = api
                .post(
                    &format!("/api/v1/accounts/{acc}/inbound"),
                    json!({"external_id": "after", "contact": {"external_id": "c1"}, "text": "volvió el espacio"}),
                )
                .await;
            (st == 200).then_some(v)
        }
    })
    .await;
    let v = status(&api).await;
    assert_eq!(
        (v["disk"].as_str(), v["store_writable"].as_bool()),
        (Some("ok"), Some(true)),
        "{v}"
    );
    assert_eq!(s.anonymous().get("/healthz").await.0, 200);

    // Nothing acknowledged was lost, and what was acknowledged as the disk filled is
    // searchable once the index catches up.
    for (ext, v) in &acked {
        let number = v["ticket_number"].as_u64().unwrap();
        let msgs = api.ok(&format!("/api/v1/tickets/{number}/messages")).await;
        assert!(
            msgs["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["id"] == v["message_id"]),
            "acknowledged message {ext} lost"
        );
    }
    let last = acked.len() - 1;
    let number = acked[last].1["ticket_number"].as_u64().unwrap();
    let api2 = api.clone();
    eventually(
        30,
        "the last message before the disk filled to be searchable",
        move || {
            let api = api2.clone();
            async move {
                let r = api.ok(&format!("/api/v1/search?q={}", word(last))).await;
                r["tickets"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|t| t["number"] == number)
                    .then_some(())
            }
        },
    )
    .await;
    // …and of the time it was full, once it is over.
    let got = subjects(3).await;
    assert!(
        got.iter().any(|s| s == "Atiende: el disco se llenó"),
        "{got:?}"
    );
    s.stop();
}
