//! Fuzzing on stable Rust (security issue, finding 20): each parser that reads what strangers
//! send is a target, fed inputs mutated from real payloads (tests/fixtures) and from every
//! input that once broke it (tests/fixtures/fuzz/<target>/, replayed first, every run). An input
//! that panics, or takes more than two seconds, fails the run and is saved under
//! target/fuzz-crashes/ to become a regression fixture once fixed.
//!
//! `cargo test` runs each target for `ATIENDE_FUZZ_SECONDS` (default 2); `scripts/fuzz` runs
//! them longer on a release build. The mutations are blind (no coverage feedback: that needs a
//! nightly toolchain), which is why the seeds are real payloads and the dictionaries name the
//! syntax each parser cares about.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

struct Target {
    name: &'static str,
    /// Files or folders under the repository whose files seed the target.
    seeds: &'static [&'static str],
    /// Inputs written here (short ones need no file).
    inline: &'static [&'static str],
    /// Tokens the mutator splices in.
    dictionary: &'static [&'static str],
    run: fn(&[u8]),
}

const JSON_WORDS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    ":",
    ",",
    "null",
    "true",
    "0",
    "-1",
    "1e999",
    "18446744073709551616",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "{\"type\":",
    "\"text\"",
    "\"body\"",
    "\"id\"",
    "\"entry\"",
    "\"changes\"",
    "\"value\"",
    "\"messages\"",
    "\"statuses\"",
    "\"contacts\"",
    "\"errors\"",
];

const MAIL_WORDS: &[&str] = &[
    "\r\n",
    "\r\n\r\n",
    "\n",
    "--",
    "Content-Type: multipart/mixed; boundary=\"b\"\r\n",
    "Content-Type: multipart/alternative; boundary=",
    "Content-Type: text/html; charset=",
    "Content-Transfer-Encoding: base64\r\n",
    "Content-Transfer-Encoding: quoted-printable\r\n",
    "charset=iso-2022-jp",
    "charset=utf-8",
    "=?utf-8?Q?",
    "=?utf-8?B?",
    "?=",
    "=\r\n",
    "=3D",
    "From: ",
    "Reply-To: ",
    "Message-ID: <",
    "In-Reply-To: <",
    "References: <",
    ">",
    "Auto-Submitted: auto-replied\r\n",
    "Content-ID: <",
    "cid:",
    "<img src=\"",
    "<script>",
    "Content-Disposition: attachment; filename=",
    "message/rfc822",
    "multipart/report",
    "\u{1b}$B",
    "\u{1b}(B",
    "\u{0}",
    "\u{ff}",
];

const TEXT_WORDS: &[&str] = &[
    "&",
    "=",
    "%",
    "%00",
    "%FF",
    ",",
    "-",
    ".",
    "k",
    "K",
    "0",
    "9",
    "me",
    "none",
    "any",
    "open",
    "closed",
    "email",
    "whatsapp",
    "2026-12-02T10:00:00Z",
    "updated_desc",
    "created_asc",
    "state=",
    "assignee=",
    "team=",
    "label=",
    "cursor=",
    "sort=",
    "limit=",
    "created_from=",
    "important=",
    "q=",
    "account=",
    "channel=",
    "18446744073709551616",
];

fn targets() -> Vec<Target> {
    vec![
        Target {
            name: "email",
            seeds: &["tests/fixtures/email"],
            inline: &["From: a@b.cl\r\nSubject: x\r\n\r\nhola\r\n"],
            dictionary: MAIL_WORDS,
            run: |data| {
                let _ = crate::mail::parse::parse(data, data.len(), 1 << 20);
            },
        },
        Target {
            name: "whatsapp_webhook",
            seeds: &["tests/fixtures/whatsapp"],
            inline: &[],
            dictionary: JSON_WORDS,
            run: |data| {
                let mut numbers = crate::channels::whatsapp::Numbers::default();
                for (i, phone) in ["1122334455667", "106540352242922", "409552778964973"]
                    .iter()
                    .enumerate()
                {
                    numbers.by_phone.insert(phone.to_string(), i as u64 + 1);
                }
                numbers
                    .by_waba
                    .insert("1234567890987654321".into(), vec![1]);
                let _ = crate::channels::whatsapp::parse(&numbers, data);
            },
        },
        Target {
            name: "rut",
            seeds: &[],
            inline: &[
                "12.345.678-5",
                "7.654.321-K",
                "76543210",
                "1-9",
                "0-0",
                "99999999-9",
            ],
            dictionary: TEXT_WORDS,
            run: |data| {
                if let Ok(s) = std::str::from_utf8(data) {
                    let _ = crate::domain::rut::Rut::parse(s);
                }
            },
        },
        Target {
            name: "ticket_filter",
            seeds: &[],
            inline: &[
                "state=open,pending&assignee=me&sort=created_asc&limit=50",
                "team=none&label=3&important=true&created_from=2026-01-01T00:00:00Z",
                "cursor=1764000000000.42&sort=updated_desc",
                "channel=email,whatsapp&account=1,2&sla_breached=false&answered=true",
            ],
            dictionary: TEXT_WORDS,
            run: |data| {
                if let Ok(f) =
                    serde_urlencoded::from_bytes::<crate::http::api::tickets::TicketFilter>(data)
                {
                    let _ = crate::http::api::tickets::query_of(&f, 1, None);
                }
            },
        },
        Target {
            name: "chat_frame",
            seeds: &[],
            inline: &[
                r#"{"type":"hello","token":"abc"}"#,
                r#"{"type":"start","name":"Ana","email":"ana@example.cl","rut":"12.345.678-5"}"#,
                r#"{"type":"message","client_id":"c1","text":"hola","attachments":[]}"#,
            ],
            dictionary: JSON_WORDS,
            run: |data| {
                if let Ok(s) = std::str::from_utf8(data) {
                    let _ = crate::channels::webchat::socket::read_frame(s);
                }
            },
        },
    ]
}

/// A small, seedable generator (xorshift64*): runs are repeatable from the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const MAX_INPUT: usize = 256 * 1024;

/// One to four random edits: bits, bytes, ranges cut, copied or spliced from another seed,
/// dictionary tokens inserted.
fn mutate(input: &mut Vec<u8>, corpus: &[Vec<u8>], dictionary: &[&str], rng: &mut Rng) {
    const INTERESTING: &[u8] = b"\0\xff\r\n\"=-<>{}[]:;,\\%&?.";
    for _ in 0..1 + rng.below(4) {
        let len = input.len();
        match rng.below(9) {
            0 if len > 0 => {
                let at = rng.below(len);
                input[at] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let at = rng.below(len);
                input[at] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(8);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                input.splice(at..at, bytes);
            }
            3 if len > 1 => {
                let from = rng.below(len);
                let to = (from + 1 + rng.below(len - from)).min(len);
                input.drain(from..to);
            }
            4 if len > 1 => {
                let from = rng.below(len);
                let to = (from + 1 + rng.below((len - from).min(4096))).min(len);
                let copy = input[from..to].to_vec();
                let at = rng.below(len + 1);
                input.splice(at..at, copy);
            }
            5 if !corpus.is_empty() => {
                let other = &corpus[rng.below(corpus.len())];
                if !other.is_empty() {
                    let from = rng.below(other.len());
                    let to = (from + 1 + rng.below(other.len() - from)).min(other.len());
                    let at = rng.below(len + 1);
                    input.truncate(at.max(len / 2).min(input.len()));
                    input.extend_from_slice(&other[from..to]);
                }
            }
            6 if len > 0 => input.truncate(rng.below(len)),
            _ if !dictionary.is_empty() => {
                let word = dictionary[rng.below(dictionary.len())].as_bytes();
                let at = rng.below(len + 1);
                input.splice(at..at, word.iter().copied());
            }
            _ => {}
        }
    }
    input.truncate(MAX_INPUT);
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn files_under(path: &Path, out: &mut Vec<Vec<u8>>) {
    if path.is_dir() {
        let Ok(entries) = std::fs::read_dir(path) else {
            return;
        };
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for p in paths {
            files_under(&p, out);
        }
    } else if let Ok(bytes) = std::fs::read(path) {
        if bytes.len() <= MAX_INPUT {
            out.push(bytes);
        }
    }
}

/// What broke a target: where the input was saved and how.
struct Finding {
    saved: PathBuf,
    what: String,
}

fn try_input(target: &Target, input: &[u8]) -> Option<String> {
    let started = Instant::now();
    let outcome = std::panic::catch_unwind(|| (target.run)(input));
    if outcome.is_err() {
        return Some("panicked".into());
    }
    let took = started.elapsed();
    (took > Duration::from_secs(2)).then(|| format!("took {took:?}"))
}

fn save(target: &Target, input: &[u8], what: String) -> Finding {
    use sha2::{Digest, Sha256};
    let dir = root().join("target/fuzz-crashes");
    let _ = std::fs::create_dir_all(&dir);
    let hash = hex::encode(&Sha256::digest(input)[..8]);
    let saved = dir.join(format!("{}-{hash}.bin", target.name));
    let _ = std::fs::write(&saved, input);
    Finding { saved, what }
}

/// Replays the regression inputs and seeds, then mutates for `seconds`.
fn fuzz(name: &str, seconds: f64) -> (u64, Vec<Finding>) {
    let Some(target) = targets().into_iter().find(|t| t.name == name) else {
        panic!("no fuzz target {name}");
    };
    let mut corpus: Vec<Vec<u8>> = Vec::new();
    files_under(&root().join("tests/fixtures/fuzz").join(name), &mut corpus);
    for s in target.seeds {
        files_under(&root().join(s), &mut corpus);
    }
    corpus.extend(target.inline.iter().map(|s| s.as_bytes().to_vec()));
    let mut findings = Vec::new();
    for input in &corpus {
        if let Some(what) = try_input(&target, input) {
            findings.push(save(&target, input, what));
        }
    }
    let seed = std::env::var("ATIENDE_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::random::<u64>() | 1);
    let mut rng = Rng(seed);
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let mut runs = 0u64;
    while Instant::now() < deadline && findings.len() < 5 {
        let mut input = if corpus.is_empty() {
            Vec::new()
        } else {
            corpus[rng.below(corpus.len())].clone()
        };
        mutate(&mut input, &corpus, target.dictionary, &mut rng);
        runs += 1;
        if let Some(what) = try_input(&target, &input) {
            findings.push(save(&target, &input, what));
        }
    }
    eprintln!("fuzz {name}: {runs} inputs in {seconds} s (seed {seed})");
    (runs, findings)
}

fn seconds() -> f64 {
    std::env::var("ATIENDE_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0)
}

fn check(name: &str) {
    let (runs, findings) = fuzz(name, seconds());
    assert!(runs > 0, "fuzz {name} ran no input");
    let found: Vec<String> = findings
        .iter()
        .map(|f| format!("{} ({})", f.saved.display(), f.what))
        .collect();
    assert!(
        found.is_empty(),
        "fuzz {name} found inputs that break it; once fixed, move them to tests/fixtures/fuzz/{name}/:\n{}",
        found.join("\n")
    );
}

#[test]
fn fuzz_email() {
    check("email");
}

#[test]
fn fuzz_whatsapp_webhook() {
    check("whatsapp_webhook");
}

#[test]
fn fuzz_rut() {
    check("rut");
}

#[test]
fn fuzz_ticket_filter() {
    check("ticket_filter");
}

#[test]
fn fuzz_chat_frame() {
    check("chat_frame");
}

#[test]
fn the_mutator_changes_inputs_and_stays_bounded() {
    let mut rng = Rng(42);
    let corpus = vec![b"hola mundo".to_vec()];
    let mut changed = 0;
    for _ in 0..200 {
        let mut input = b"From: a@b.cl".to_vec();
        mutate(&mut input, &corpus, MAIL_WORDS, &mut rng);
        assert!(input.len() <= MAX_INPUT);
        if input != b"From: a@b.cl" {
            changed += 1;
        }
    }
    assert!(
        changed > 150,
        "only {changed} of 200 mutations changed the input"
    );
}
