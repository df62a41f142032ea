//! The bench's smoke test: `atiende bench --quick` runs every workload against a real server
//! and reports sane figures. Timings are not asserted (too noisy on shared machines).

use crate::harness::bin;

#[test]
fn bench_quick_runs_every_workload() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let out = std::process::Command::new(bin())
        .args(["bench", "--quick", "--sse-clients", "100", "--json"])
        .arg(&json)
        .arg("--work-dir")
        .arg(dir.path())
        .output()
        .expect("run bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["tickets"], 50_000);
    let figures = report["figures"].as_array().unwrap();
    for prefix in [
        "baseline",
        "ingest: inbound",
        "ingest: p99",
        "ingest: server CPU",
        "ingest: writer thread CPU",
        "ingest: messages per durable commit",
        "ingest: bytes written to disk per message",
        "reply: server CPU per agent reply",
        "board: open + account",
        "board: every other",
        "search: number",
        "search: new message",
        "SSE",
        "memory: RSS serving",
        "start-up",
        "disk: redb",
        "disk: search",
        "disk: data dir per message",
        "disk: data dir on disk after the server's online compaction",
        "online compaction: the database held alone",
        "disk: the same after atiende compact",
        "atiende compact on the loaded store",
        "memory: RSS idle",
        "export: open tickets as CSV",
        "export: open tickets as XLSX",
    ] {
        let f = figures
            .iter()
            .find(|f| f["name"].as_str().unwrap().starts_with(prefix))
            .unwrap_or_else(|| panic!("figure `{prefix}` missing:\n{stdout}"));
        let v = f["value"].as_f64().unwrap();
        assert!(v.is_finite() && v > 0.0, "figure `{prefix}` = {v}");
        assert!(
            stdout.contains(f["name"].as_str().unwrap()),
            "the table prints `{prefix}`"
        );
    }
    // The assignment overhead may come out below zero on a noisy machine; it must be there.
    let overhead = figures
        .iter()
        .find(|f| f["name"].as_str().unwrap().starts_with("assignment: extra"))
        .unwrap_or_else(|| panic!("assignment figure missing:\n{stdout}"));
    assert!(overhead["value"].as_f64().unwrap().is_finite());
    // The new message was found (not the 30 s give-up) and every SSE client got the events.
    let get = |p: &str| {
        figures
            .iter()
            .find(|f| f["name"].as_str().unwrap().starts_with(p))
            .unwrap()["value"]
            .as_f64()
            .unwrap()
    };
    assert!(get("search: new message") < 30_000.0);
    assert!(get("SSE") < 400.0, "some SSE clients missed the events");
}
