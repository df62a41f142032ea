//! OPS-3: backups taken while the server writes restore to exactly their snapshot point;
//! restore refuses a non-empty dir and a damaged archive; scheduled backups keep `keep`.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::*;

/// Runs `atiende ARGS`; returns (success, stdout + stderr).
fn cli(args: &[&str], data: &Path) -> (bool, String) {
    let out = Command::new(bin())
        .args(args)
        .arg("--data")
        .arg(data)
        .env("ATIENDE_LOG", "warn")
        .output()
        .expect("run atiende");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn attachment_bytes(writer: usize, i: usize) -> Vec<u8> {
    format!("comprobante {writer}-{i} ").repeat(50).into_bytes()
}

/// What one writer got acknowledged, in order: (external id, ticket number).
type Acked = Vec<(String, u64)>;

/// Writers that each open new tickets with an attachment until told to stop.
fn start_load(
    api: &Api,
    account: &str,
    stop: &Arc<AtomicBool>,
    acknowledged: &Arc<AtomicUsize>,
) -> Vec<tokio::task::JoinHandle<Acked>> {
    (0..6)
        .map(|w| {
            let (api, account, stop) = (api.clone(), account.to_string(), stop.clone());
            let acknowledged = acknowledged.clone();
            tokio::spawn(async move {
                let mut acked = Vec::new();
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    let att = upload(&api, "comprobante.txt", "text/plain", &attachment_bytes(w, i)).await;
                    let id = format!("w{w}-{i}");
                    let v = api
                        .inbound_with(
                            &account,
                            json!({"external_id": id, "contact": {"external_id": id, "name": format!("Cliente {id}")},
                                   "text": format!("Pedido {id}: llegó incompleto"), "attachments": [att["id"]]}),
                        )
                        .await;
                    acked.push((id, v["ticket_number"].as_u64().expect("ticket number")));
                    acknowledged.fetch_add(1, Ordering::SeqCst);
                    i += 1;
                }
                acked
            })
        })
        .collect()
}

/// The messages of ticket `n`, without what depends on the moment of reading.
async fn messages(api: &Api, n: u64) -> Value {
    api.ok(&format!("/api/v1/tickets/{n}/messages")).await["items"].clone()
}

#[tokio::test]
async fn backup_under_load_restores_the_snapshot_point() {
    let mut source = Server::start();
    let source_dir = source.take_dir().expect("data dir");
    let api = source.admin().await;
    let account = api.account("api", "Tienda").await;
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let writers = start_load(&api, &account, &stop, &acknowledged);
    tokio::time::sleep(Duration::from_millis(800)).await;

    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("respaldo.tar.zst");
    let durable_before = acknowledged.load(Ordering::SeqCst);
    let (ok, out) = tokio::task::spawn_blocking({
        let (archive, data) = (archive.clone(), source.data.clone());
        move || cli(&["backup", archive.to_str().unwrap()], &data)
    })
    .await
    .unwrap();
    assert!(ok, "online backup: {out}");
    assert!(out.contains("checked"), "{out}");
    tokio::time::sleep(Duration::from_millis(400)).await;
    stop.store(true, Ordering::SeqCst);
    let mut per_writer = Vec::new();
    for w in writers {
        per_writer.push(w.await.unwrap());
    }
    let total: usize = per_writer.iter().map(Vec::len).sum();
    assert!(total > 20, "the load wrote only {total} tickets");

    // Restore into a new dir and serve it.
    let restored_dir = work.path().join("restaurado");
    let (ok, out) = cli(&["restore", archive.to_str().unwrap()], &restored_dir);
    assert!(ok, "restore: {out}");
    let restored = Server::start_in(&restored_dir, &[]);
    let copy = restored.admin().await;

    // Each writer's tickets in the copy are a prefix of what it wrote (a snapshot, not a
    // mix of moments), and each one equals the source: messages and attachment bytes.
    let mut kept = 0;
    for (w, acked) in per_writer.iter().enumerate() {
        let mut present = Vec::new();
        for (_, n) in acked {
            let (status, _) = copy.get(&format!("/api/v1/tickets/{n}")).await;
            present.push(status == 200);
        }
        let prefix = present.iter().take_while(|p| **p).count();
        assert!(
            present[prefix..].iter().all(|p| !p),
            "writer {w}: the copy holds a later ticket without an earlier one: {present:?}"
        );
        for (i, (id, n)) in acked.iter().take(prefix).enumerate() {
            let (mine, theirs) = (messages(&copy, *n).await, messages(&api, *n).await);
            assert_eq!(mine, theirs, "ticket {n} ({id}) differs");
            let url = mine[0]["attachments"][0]["url"]
                .as_str()
                .expect("attachment url");
            let bytes = copy
                .request(reqwest::Method::GET, url)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            assert_eq!(
                bytes.as_ref(),
                attachment_bytes(w, i).as_slice(),
                "attachment of {id}"
            );
        }
        kept += prefix;
    }
    assert!(
        kept >= durable_before && kept <= total,
        "the copy holds {kept} tickets; {durable_before} were durable before the backup began, {total} in all"
    );

    // The source stopped: an offline backup holds everything.
    drop(restored);
    source.stop();
    let offline = work.path().join("apagado.tar.zst");
    let (ok, out) = cli(&["backup", offline.to_str().unwrap()], source_dir.path());
    assert!(ok, "offline backup: {out}");
    let (ok, out) = cli(&["backup", offline.to_str().unwrap()], source_dir.path());
    assert!(!ok && out.contains("already exists"), "{out}");

    // Restore refuses a dir with anything in it, and leaves it as it was.
    let (ok, out) = cli(&["restore", offline.to_str().unwrap()], source_dir.path());
    assert!(!ok && out.contains("not empty"), "{out}");
    assert!(source_dir.path().join("atiende.redb").exists());

    // A damaged archive: a flipped byte, and one cut short. Nothing is left behind.
    let mut bytes = std::fs::read(&offline).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    let damaged = work.path().join("dañado.tar.zst");
    std::fs::write(&damaged, &bytes).unwrap();
    let cut = work.path().join("cortado.tar.zst");
    std::fs::write(&cut, &std::fs::read(&offline).unwrap()[..middle]).unwrap();
    for bad in [&damaged, &cut] {
        let target = work.path().join("destino");
        let (ok, out) = cli(&["restore", bad.to_str().unwrap()], &target);
        assert!(!ok && out.contains("damaged"), "{}: {out}", bad.display());
        assert!(!target.exists(), "a failed restore leaves nothing behind");
    }

    let all = work.path().join("todo");
    let (ok, out) = cli(&["restore", offline.to_str().unwrap()], &all);
    assert!(ok, "{out}");
    let s = Server::start_in(&all, &[]);
    let api = s.admin().await;
    for (_, n) in per_writer.iter().flatten() {
        let (status, _) = api.get(&format!("/api/v1/tickets/{n}")).await;
        assert_eq!(status, 200, "ticket {n} after the offline backup");
    }
}

/// Backups from the API go into the backup dir, keep the newest `keep`, include the
/// configuration file, and show on /status.
#[tokio::test]
async fn backup_now_keeps_the_newest_and_shows_on_status() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("datos");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("atiende.toml"),
        "[backup]\nkeep = 2\nevery_hours = 0\n",
    )
    .unwrap();
    admin_create(&data, ADMIN_EMAIL, "Admin Prueba", ADMIN_PASSWORD, "admin");
    let s = Server::start_in(&data, &[]);
    let api = s.admin().await;
    api.create_user("ana@example.cl", "Ana", "agent").await;

    // A client of the control socket that says nothing holds up no backup.
    let _silent = std::os::unix::net::UnixStream::connect(data.join("atiende.sock")).unwrap();
    let none = api.ok("/api/v1/backups").await;
    assert!(
        none["last"].is_null() && none["files"].as_array().unwrap().is_empty(),
        "{none}"
    );
    let mut names = Vec::new();
    for _ in 0..3 {
        let (st, b) = api.post("/api/v1/backups", json!({})).await;
        assert_eq!(st, 201, "{b}");
        assert!(
            b["error"].is_null() && b["bytes"].as_u64().unwrap() > 0,
            "{b}"
        );
        names.push(b["file"].as_str().unwrap().to_string());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let list = api.ok("/api/v1/backups").await;
    let files: Vec<&str> = list["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(files, [names[1].as_str(), names[2].as_str()], "keep = 2");
    assert_eq!(list["last"]["file"], names[2].as_str());
    assert_eq!(
        list["last"]["bytes"], list["files"][1]["bytes"],
        "the record gives the archive's size"
    );
    assert_eq!(list["dir"], data.join("backups").display().to_string());

    let status = api.ok("/api/v1/status").await;
    assert_eq!(status["last_backup"]["file"], names[2].as_str());
    let page = text_of(api.request(reqwest::Method::GET, "/status")).await;
    assert!(
        page.contains(&names[2]),
        "the status page names the last backup"
    );
    let anonymous = s.anonymous().ok("/api/v1/status").await;
    assert!(
        anonymous["last_backup"].is_null(),
        "visitors do not see backups"
    );
    let (st, _) = s.anonymous().post("/api/v1/backups", json!({})).await;
    assert_eq!(st, 401);
    let agent = s.login("ana@example.cl", "clave-agente-1").await;
    let (st, _) = agent.post("/api/v1/backups", json!({})).await;
    assert_eq!(st, 403);

    // The archive holds the configuration file too.
    let target = dir.path().join("copia");
    let (ok, out) = cli(
        &[
            "restore",
            data.join("backups").join(&names[2]).to_str().unwrap(),
        ],
        &target,
    );
    assert!(ok, "{out}");
    assert!(std::fs::read_to_string(target.join("atiende.toml"))
        .unwrap()
        .contains("keep = 2"));

    // Backups hold keys: only their owner reads them, and what is restored from them.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data.join("backups")), 0o700);
    assert_eq!(mode(&data.join("backups").join(&names[2])), 0o600);
    assert_eq!(mode(&target), 0o700);
    assert_eq!(mode(&target.join("atiende.toml")), 0o600);
}

/// A backup written by a build of 2026-11-24 before redb 4 (redb 2, file format v2; the demo
/// workspace) restores,
/// and the server upgrades its database at the first start: every ticket, message, user and
/// agent row is there, search is rebuilt, and the store takes new messages.
#[tokio::test]
async fn a_backup_written_with_redb_2_restores_and_is_upgraded() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("desde-0.1");
    let archive = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v0.1.0-demo.tar.zst");
    let (ok, out) = cli(&["restore", archive.to_str().unwrap()], &dir);
    assert!(ok, "restore: {out}");
    let server = Server::start_in(&dir, &[]);
    let api = server.login("admin@demo.atiende.cl", "demo-admin").await;

    // What the build that wrote it answered on this data.
    let count = |state: &'static str| {
        let api = &api;
        async move {
            let v = api
                .ok(&format!("/api/v1/tickets?state={state}&limit=200"))
                .await;
            v["items"].as_array().map_or(0, Vec::len)
        }
    };
    assert_eq!(count("open").await, 125);
    assert_eq!(count("ignored").await, 122);
    let messages = api.ok("/api/v1/tickets/965/messages").await;
    assert_eq!(messages["items"][0]["id"], "2342");
    assert_eq!(
        messages["items"][0]["text"],
        "No puedo ingresar a mi cuenta, me dice que la contraseña es incorrecta."
    );
    let users = api.ok("/api/v1/users").await;
    assert_eq!(users["items"].as_array().map(Vec::len), Some(5));
    assert_eq!(users["items"][4]["name"], "Sofía Ibáñez");
    eventually(
        60,
        "the search index rebuilt from the upgraded store",
        || async {
            let v = api.ok("/api/v1/search?q=Francisca").await;
            v["tickets"]
                .as_array()
                .is_some_and(|t| !t.is_empty())
                .then_some(())
        },
    )
    .await;

    // New messages go through assignment, which reads the upgraded agent rows.
    let v = api
        .inbound(
            "1",
            "despues-de-actualizar",
            "cliente-nuevo",
            "Hola de nuevo",
        )
        .await;
    assert_eq!(v["created_ticket"], true);
    assert_eq!(count("open").await, 126);

    // A second start finds nothing left to upgrade.
    drop(server);
    let server = Server::start_in(&dir, &[]);
    let api = server.login("admin@demo.atiende.cl", "demo-admin").await;
    let v = api.ok("/api/v1/tickets?state=open&limit=200").await;
    assert_eq!(v["items"].as_array().map(Vec::len), Some(126));
}

/// `atiende compact` repacks and shrinks a store made by an earlier build (restored from the
/// committed fixture, then migrated): the lists, a conversation, its history and a search
/// answer the same after it.
#[tokio::test]
async fn compact_keeps_every_answer_of_an_upgraded_store() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("datos");
    let archive = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v0.1.0-demo.tar.zst");
    let (ok, out) = cli(&["restore", archive.to_str().unwrap()], &dir);
    assert!(ok, "restore: {out}");
    async fn answers(dir: &Path) -> Vec<Value> {
        let server = Server::start_in(dir, &[]);
        let api = server.login("admin@demo.atiende.cl", "demo-admin").await;
        let search = eventually(60, "the search index answers", || async {
            let v = api.ok("/api/v1/search?q=Francisca").await;
            v["tickets"]
                .as_array()
                .is_some_and(|t| !t.is_empty())
                .then_some(v)
        })
        .await;
        let mut out = vec![search];
        for path in [
            "/api/v1/tickets?state=open&limit=200",
            "/api/v1/tickets?state=ignored&sort=created_asc&limit=200",
            "/api/v1/tickets?state=closed&limit=200",
            "/api/v1/tickets/965/messages",
            "/api/v1/tickets/965/history",
            "/api/v1/contacts?limit=200",
        ] {
            out.push(api.ok(path).await);
        }
        out
    }
    let before = answers(&dir).await;
    let (ok, out) = cli(&["compact"], &dir);
    assert!(ok && out.contains("compacted:"), "compact: {out}");
    let after = answers(&dir).await;
    assert_eq!(before, after);
}

/// Issue 21: an administrator compacts the database while the server works — customers'
/// messages and agents' reads go on, the file does not grow, what was there is still there,
/// and the outcome is kept across a restart.
#[tokio::test]
async fn an_administrator_compacts_the_database_while_the_server_works() {
    let mut s = Server::start();
    let api = s.admin().await;
    let account = api.account("api", "Tienda").await;
    let body = "Hola, necesito ayuda con mi pedido número 4411 que no ha llegado. ".repeat(20);
    for i in 0..150 {
        api.inbound(&account, &format!("m{i}"), &format!("c{}", i % 40), &body)
            .await;
    }
    let tickets = api.ok("/api/v1/tickets?limit=200").await["items"]
        .as_array()
        .unwrap()
        .len();
    let before = api.ok("/api/v1/storage").await;
    assert!(before["compaction"].is_null(), "{before}");
    assert!(
        before["database"]["on_disk"].as_u64().unwrap() > 0,
        "{before}"
    );

    let (st, started) = api.post("/api/v1/storage/compact", json!({})).await;
    assert_eq!(st, 202, "{started}");
    assert_eq!(started["state"], "running");
    assert_eq!(started["by"], "Admin Prueba");
    // Meanwhile messages keep arriving and lists keep answering.
    for i in 150..170 {
        api.inbound(
            &account,
            &format!("m{i}"),
            &format!("c{}", i % 40),
            "¿Novedades?",
        )
        .await;
        let (st, v) = api.get("/api/v1/tickets?limit=5").await;
        assert_eq!(st, 200, "{v}");
    }
    let done = eventually(60, "the compaction ends", || async {
        let v = api.ok("/api/v1/storage").await;
        (v["compaction"]["state"] != "running").then_some(v)
    })
    .await;
    let c = &done["compaction"];
    assert_eq!(c["state"], "done", "{done}");
    assert!(
        c["after"]["length"].as_u64().unwrap() <= c["before"]["length"].as_u64().unwrap(),
        "{c}"
    );
    assert!(
        c["pause_seconds"].as_f64().is_some() && c["finished_at"].as_i64().is_some(),
        "{c}"
    );
    let listed = api.ok("/api/v1/tickets?limit=200").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), tickets);
    eventually(10, "the search answers", || async {
        let v = api.ok("/api/v1/search?q=pedido").await;
        v["tickets"]
            .as_array()
            .is_some_and(|t| !t.is_empty())
            .then_some(())
    })
    .await;
    let audit = api.ok("/api/v1/audit?action=storage_compacted").await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 1, "{audit}");

    api.create_user("ana@example.cl", "Ana", "agent").await;
    let agent = s.login("ana@example.cl", "clave-agente-1").await;
    let (st, _) = agent.post("/api/v1/storage/compact", json!({})).await;
    assert_eq!(st, 403);
    let (st, _) = agent.get("/api/v1/storage").await;
    assert_eq!(st, 403);

    s.stop();
    let dir = s.take_dir().expect("data dir");
    let again = Server::start_in(dir.path(), &[]);
    let kept = again.admin().await.ok("/api/v1/storage").await;
    assert_eq!(kept["compaction"]["state"], "done", "{kept}");
    assert_eq!(kept["compaction"]["after"], c["after"]);
}
