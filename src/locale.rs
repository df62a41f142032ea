//! The shared locale files (assets/locales/<lang>.json), read by the server where it writes
//! words itself: notes in API answers, the hosted form, mail templates. The web app reads the
//! same files, so a sentence is translated once.

use std::collections::HashMap;
use std::sync::OnceLock;

use rust_embed::RustEmbed;

use crate::domain::note::Note;

/// Shared with the browser app (locale files, mail templates); served under /assets too.
#[derive(RustEmbed)]
#[folder = "assets/"]
pub struct Assets;

/// The languages Atiende speaks; anything else reads Spanish.
pub fn lang(code: &str) -> &'static str {
    if code.starts_with("en") {
        "en"
    } else {
        "es"
    }
}

fn strings(lang: &str) -> &'static HashMap<String, String> {
    static ES: OnceLock<HashMap<String, String>> = OnceLock::new();
    static EN: OnceLock<HashMap<String, String>> = OnceLock::new();
    let (cell, file) = match self::lang(lang) {
        "en" => (&EN, "locales/en.json"),
        _ => (&ES, "locales/es.json"),
    };
    cell.get_or_init(|| {
        Assets::get(file)
            .and_then(|f| {
                serde_json::from_slice::<HashMap<String, serde_json::Value>>(&f.data).ok()
            })
            .map(|m| {
                m.into_iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_string())))
                    .collect()
            })
            .unwrap_or_default()
    })
}

/// Every string under `prefix` (`widget.`), without it, per language: `{"es": {…}, "en": {…}}`.
/// For scripts the server serves to other sites (the chat widget), which carry their words.
pub fn section(prefix: &str) -> serde_json::Value {
    let of = |lang: &str| -> serde_json::Map<String, serde_json::Value> {
        strings(lang)
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(prefix)?.to_string(), v.clone().into())))
            .collect()
    };
    serde_json::json!({ "es": of("es"), "en": of("en") })
}

/// The text for `key` in `lang` (the key itself when missing), `{name}` filled from `vars`;
/// a count `n` of 1 reads the key's `.one` form when it has one, as the web app's `t()` does.
pub fn text(lang: &str, key: &str, vars: &[(&str, String)]) -> String {
    let table = strings(lang);
    let one = vars.iter().any(|(k, v)| *k == "n" && v == "1");
    let template = one
        .then(|| table.get(&format!("{key}.one")))
        .flatten()
        .or_else(|| table.get(key))
        .map(String::as_str)
        .unwrap_or(key);
    fill(template, |name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    })
}

fn fill(template: &str, var: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close)
                if after[..close]
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_') =>
            {
                out.push_str(&var(&after[..close]).unwrap_or_default());
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A note in the reader's language, as the web app's `note()` renders it.
pub fn render(lang: &str, note: &Note) -> String {
    let value = serde_json::to_value(note).unwrap_or_default();
    render_value(lang, &value)
}

fn render_value(lang: &str, v: &serde_json::Value) -> String {
    let code = v["code"].as_str().unwrap_or("raw");
    let params = &v["params"];
    let template = strings(lang)
        .get(&format!("note.{code}"))
        .map(String::as_str)
        .unwrap_or("{text}");
    fill(template, |name| {
        let p = &params[name];
        Some(match p {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Object(o) if o.contains_key("code") => render_value(lang, p),
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_read_in_each_language() {
        let n = Note::Retrying {
            attempt: 2,
            error: Box::new(Note::TicketGone),
        };
        assert_eq!(
            render("es", &n),
            "intento 2 falló, se reintentará: el ticket ya no existe"
        );
        assert_eq!(
            render("en", &n),
            "attempt 2 failed, will retry: the ticket no longer exists"
        );
        assert_eq!(
            render("en", &Note::raw("550 no {such} user")),
            "550 no {such} user"
        );
        assert_eq!(text("es", "no.such.key", &[]), "no.such.key");
        let n = |v: &str| [("n", v.to_string())];
        assert_eq!(text("en", "bulk.done_close", &n("1")), "1 ticket closed.");
        assert_eq!(
            text("es", "bulk.done_close", &n("2")),
            "2 tickets cerrados."
        );
    }

    /// Every code has a sentence in both locale files, with the same parameters.
    #[test]
    fn every_note_code_is_in_both_locales() {
        let src = include_str!("domain/note.rs");
        let codes: Vec<String> = src
            .lines()
            .map(str::trim)
            .take_while(|l| !l.starts_with("impl Note"))
            .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_uppercase()))
            .filter_map(|l| l.split([' ', ',', '{']).next())
            .map(snake)
            .collect();
        assert!(codes.len() > 40, "{codes:?}");
        for lang in ["es", "en"] {
            for code in &codes {
                let key = format!("note.{code}");
                assert!(strings(lang).contains_key(&key), "{lang}: {key}");
            }
        }
    }

    /// Both languages have the same keys, and every key the web app names literally
    /// (`t('…')`) is in them: nothing a person reads falls back to a bare key.
    #[test]
    fn both_locales_have_the_same_keys_and_every_key_the_app_names() {
        let es: std::collections::BTreeSet<&String> = strings("es").keys().collect();
        let en: std::collections::BTreeSet<&String> = strings("en").keys().collect();
        let only_es: Vec<_> = es.difference(&en).collect();
        let only_en: Vec<_> = en.difference(&es).collect();
        assert!(
            only_es.is_empty() && only_en.is_empty(),
            "only es: {only_es:?}; only en: {only_en:?}"
        );
        let web = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
        let mut missing = Vec::new();
        for entry in std::fs::read_dir(&web).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "js") {
                continue;
            }
            let src = std::fs::read_to_string(&path).unwrap();
            for (i, _) in src.match_indices("t('") {
                // Only the app's own t( — not part of a longer name (`split('`, `at('`).
                if src[..i]
                    .chars()
                    .last()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.')
                {
                    continue;
                }
                let rest = &src[i + 3..];
                let Some(end) = rest.find('\'') else { continue };
                let key = &rest[..end];
                if key.contains(['$', ' ', '{']) || !key.contains('.') {
                    continue;
                }
                if !strings("es").contains_key(key) {
                    missing.push(format!(
                        "{}: {key}",
                        path.file_name().unwrap().to_string_lossy()
                    ));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "keys the app uses that the locale files lack: {missing:?}"
        );
    }

    /// No word a person reads is written into the code: the web app's modules (the chat
    /// widget included) and the pages the server writes take their words from the locale files.
    #[test]
    fn no_user_facing_words_outside_the_locale_files() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut found = Vec::new();
        for entry in std::fs::read_dir(root.join("web")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "js") {
                let src = std::fs::read_to_string(&path).unwrap();
                for (line, words) in crate::locale_lint::javascript(&src) {
                    found.push(format!("{}:{line}: {words}", path.display()));
                }
            }
        }
        let mut dirs = vec![root.join("src")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs")
                    // Sample data (the demo workspace, the bench's and the fuzzer's inputs)
                    // is what customers write, not the product's words.
                    && !["locale_lint.rs", "demo.rs", "bench.rs", "fuzz.rs"]
                        .iter()
                        .any(|f| path.ends_with(f))
                {
                    let src = std::fs::read_to_string(&path).unwrap();
                    // Test code writes sample pages; only the shipped part counts.
                    let shipped = src.split("#[cfg(test)]").next().unwrap_or_default();
                    for (line, words) in crate::locale_lint::rust_markup(shipped) {
                        found.push(format!("{}:{line}: {words}", path.display()));
                    }
                }
            }
        }
        assert!(
            found.is_empty(),
            "words outside the locale files:\n{}",
            found.join("\n")
        );
    }

    fn snake(s: &str) -> String {
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if c.is_ascii_uppercase() {
                if i > 0 {
                    out.push('_');
                }
                out.push(c.to_ascii_lowercase());
            } else {
                out.push(c);
            }
        }
        out
    }
}
