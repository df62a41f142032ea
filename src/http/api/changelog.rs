//! The latest release notes, embedded in the binary, for the login page (AUTH-2): the
//! user-level notes in the reader's language (docs/release-notes/), not CHANGELOG.md, which
//! is the technical log.

use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::http::ApiQuery;

const NOTES_ES: &str = include_str!("../../../docs/release-notes/es.md");
const NOTES_EN: &str = include_str!("../../../docs/release-notes/en.md");

#[derive(Serialize, ToSchema, Debug, PartialEq)]
pub struct Release {
    /// The heading, e.g. "0.1.0 — unreleased".
    pub title: String,
    /// One line of text per bullet.
    pub items: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Changelog {
    pub releases: Vec<Release>,
}

/// Reads `## heading` sections and their `- bullets` (continuation lines joined).
fn parse(markdown: &str, max_releases: usize) -> Vec<Release> {
    let mut out: Vec<Release> = Vec::new();
    for line in markdown.lines() {
        if let Some(title) = line.strip_prefix("## ") {
            if out.len() == max_releases {
                break;
            }
            out.push(Release {
                title: title.trim().to_string(),
                items: Vec::new(),
            });
        } else if let Some(release) = out.last_mut() {
            if let Some(item) = line.strip_prefix("- ") {
                release.items.push(item.trim().to_string());
            } else if line.starts_with("  ") && !line.trim().is_empty() {
                if let Some(last) = release.items.last_mut() {
                    last.push(' ');
                    last.push_str(line.trim());
                }
            }
        }
    }
    out
}

#[derive(Deserialize, IntoParams)]
pub struct NotesQuery {
    /// `es` (default) or `en`.
    pub lang: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/changelog", tag = "service", params(NotesQuery),
    responses((status = 200, body = Changelog)))]
pub async fn latest(ApiQuery(q): ApiQuery<NotesQuery>) -> Json<Changelog> {
    let notes = if q.lang.as_deref() == Some("en") {
        NOTES_EN
    } else {
        NOTES_ES
    };
    Json(Changelog {
        releases: parse(notes, 3),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_and_wrapped_bullets() {
        let md = "# Changelog\n\nintro\n\n## 0.2.0\n\n- one\n  continued\n- two\n\n## 0.1.0\n\n- old\n\n## 0.0.1\n- older\n";
        let r = parse(md, 2);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].title, "0.2.0");
        assert_eq!(r[0].items, vec!["one continued", "two"]);
        assert_eq!(r[1].items, vec!["old"]);
    }

    #[test]
    fn the_release_notes_have_entries_in_both_languages() {
        for notes in [NOTES_ES, NOTES_EN] {
            let r = parse(notes, 3);
            assert!(!r.is_empty() && !r[0].items.is_empty());
        }
        assert_eq!(
            parse(NOTES_ES, 3)[0].items.len(),
            parse(NOTES_EN, 3)[0].items.len(),
            "the same notes in both languages"
        );
    }
}
