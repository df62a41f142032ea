//! Automatic messages (SLA-3, CHAN-11): an account's words for a customer who writes — a
//! welcome when a conversation opens, "nobody is available" when no agent of the account is,
//! "we are closed" (with the next opening) outside its business hours. One per customer
//! message at most (the most specific that has words), each at most once per customer per
//! period: a day for the first two, the closed stretch for the third.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::clock::{Millis, DAY_MS};
use super::model::Account;

/// The account setting that holds them.
pub const SETTING: &str = "auto_messages";

/// The languages a template is written in.
pub const LANGUAGES: [&str; 2] = ["es", "en"];

const MAX_CHARS: usize = 2_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoKind {
    Welcome,
    NoAgent,
    OutOfHours,
}

impl AutoKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AutoKind::Welcome => "welcome",
            AutoKind::NoAgent => "no_agent",
            AutoKind::OutOfHours => "out_of_hours",
        }
    }
}

/// A template per language code (`es`, `en`).
pub type Texts = BTreeMap<String, String>;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoMessages {
    /// Which template goes to this account's customers (default Spanish; the other when only
    /// that one is written).
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub welcome: Option<Texts>,
    #[serde(default)]
    pub no_agent: Option<Texts>,
    #[serde(default)]
    pub out_of_hours: Option<Texts>,
}

/// What is true when a customer's message arrives.
#[derive(Debug, Clone, Copy)]
pub struct Moment {
    /// The message opened a conversation (a new ticket).
    pub opened: bool,
    /// No agent enabled on the account is available now.
    pub nobody: bool,
    /// The account's calendar is closed now; when it opens next (None: not within a year).
    pub closed: Option<Option<Millis>>,
    pub now: Millis,
}

/// The message to send: its kind, the period it counts once in, the template and its language.
#[derive(Debug, Clone, PartialEq)]
pub struct Chosen<'a> {
    pub kind: AutoKind,
    pub period: Millis,
    pub language: &'a str,
    pub text: &'a str,
}

impl AutoMessages {
    /// The account's automatic messages (none when unset or unreadable).
    pub fn of(account: &Account) -> AutoMessages {
        account
            .settings
            .get(SETTING)
            .filter(|v| !v.is_null())
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default()
    }

    /// (field, reason) when the setting cannot be used.
    pub fn check(&self) -> Result<(), (String, String)> {
        if let Some(l) = &self.language {
            if !LANGUAGES.contains(&l.as_str()) {
                return Err((
                    format!("{SETTING}.language"),
                    "the language is es or en".into(),
                ));
            }
        }
        for kind in [AutoKind::Welcome, AutoKind::NoAgent, AutoKind::OutOfHours] {
            for (lang, text) in self.texts(kind).into_iter().flatten() {
                let field = format!("{SETTING}.{}.{lang}", kind.as_str());
                if !LANGUAGES.contains(&lang.as_str()) {
                    return Err((field, "templates are written in es or en".into()));
                }
                if text.chars().count() > MAX_CHARS {
                    return Err((field, format!("at most {MAX_CHARS} characters")));
                }
            }
        }
        Ok(())
    }

    fn texts(&self, kind: AutoKind) -> Option<&Texts> {
        match kind {
            AutoKind::Welcome => self.welcome.as_ref(),
            AutoKind::NoAgent => self.no_agent.as_ref(),
            AutoKind::OutOfHours => self.out_of_hours.as_ref(),
        }
    }

    /// The template of `kind` in the account's language, else in the other; None when none is
    /// written.
    fn template(&self, kind: AutoKind) -> Option<(&str, &str)> {
        let texts = self.texts(kind)?;
        let first = self.language.as_deref().unwrap_or("es");
        let written = |lang: &str| {
            texts
                .get_key_value(lang)
                .filter(|(_, t)| !t.trim().is_empty())
                .map(|(l, t)| (l.as_str(), t.as_str()))
        };
        written(first).or_else(|| LANGUAGES.iter().find_map(|l| written(l)))
    }

    pub fn is_empty(&self) -> bool {
        [AutoKind::Welcome, AutoKind::NoAgent, AutoKind::OutOfHours]
            .iter()
            .all(|k| self.template(*k).is_none())
    }

    /// What to send for a customer's message at `m`: closed first, then nobody available,
    /// then the welcome of a new conversation — the first that applies and has words.
    pub fn choose(&self, m: Moment) -> Option<Chosen<'_>> {
        let day = m.now - m.now.rem_euclid(DAY_MS);
        let candidates = [
            // One per closed stretch, named by when it ends.
            m.closed
                .map(|next| (AutoKind::OutOfHours, next.unwrap_or(day))),
            m.nobody.then_some((AutoKind::NoAgent, day)),
            m.opened.then_some((AutoKind::Welcome, day)),
        ];
        candidates.into_iter().flatten().find_map(|(kind, period)| {
            let (language, text) = self.template(kind)?;
            Some(Chosen {
                kind,
                period,
                language,
                text,
            })
        })
    }
}

/// Fills `{name}`-style placeholders; unknown ones stay as written.
pub fn render(text: &str, values: &[(&str, &str)]) -> String {
    let mut out = text.to_string();
    for (k, v) in values {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(es: &str) -> Option<Texts> {
        Some([("es".to_string(), es.to_string())].into())
    }

    fn all() -> AutoMessages {
        AutoMessages {
            language: None,
            welcome: texts("Hola {name}"),
            no_agent: texts("Nadie disponible"),
            out_of_hours: texts("Cerrado; abrimos {next_open}"),
        }
    }

    const NOW: Millis = 1_780_000_000_000;

    fn moment(opened: bool, nobody: bool, closed: Option<Option<Millis>>) -> Moment {
        Moment {
            opened,
            nobody,
            closed,
            now: NOW,
        }
    }

    #[test]
    fn the_most_specific_with_words_is_chosen() {
        let a = all();
        let next = NOW + 3_600_000;
        let c = a.choose(moment(true, true, Some(Some(next)))).unwrap();
        assert_eq!((c.kind, c.period), (AutoKind::OutOfHours, next));
        let c = a.choose(moment(true, true, None)).unwrap();
        assert_eq!(c.kind, AutoKind::NoAgent);
        let c = a.choose(moment(true, false, None)).unwrap();
        assert_eq!((c.kind, c.period), (AutoKind::Welcome, NOW - NOW % DAY_MS));
        // A message in an open conversation, with agents there and the doors open: nothing.
        assert!(a.choose(moment(false, false, None)).is_none());
        // Closed, but no words for it: the next that applies.
        let mut b = all();
        b.out_of_hours = None;
        assert_eq!(
            b.choose(moment(true, true, Some(Some(next)))).unwrap().kind,
            AutoKind::NoAgent
        );
    }

    #[test]
    fn the_language_falls_back_to_what_is_written() {
        let mut a = all();
        a.language = Some("en".into());
        let c = a.choose(moment(true, false, None)).unwrap();
        assert_eq!((c.language, c.text), ("es", "Hola {name}"));
        a.welcome = Some(
            [
                ("es".to_string(), "Hola".to_string()),
                ("en".to_string(), "Hello".to_string()),
            ]
            .into(),
        );
        assert_eq!(a.choose(moment(true, false, None)).unwrap().text, "Hello");
        assert!(AutoMessages::default().is_empty());
    }

    #[test]
    fn checks_languages_and_lengths() {
        let mut a = all();
        assert!(a.check().is_ok());
        a.welcome = Some([("pt".to_string(), "Olá".to_string())].into());
        assert_eq!(a.check().unwrap_err().0, "auto_messages.welcome.pt");
        a.welcome = texts(&"x".repeat(MAX_CHARS + 1));
        assert!(a.check().is_err());
    }

    #[test]
    fn placeholders_are_filled() {
        assert_eq!(
            render("Hola {name}, {unknown}", &[("name", "Ana")]),
            "Hola Ana, {unknown}"
        );
    }
}
