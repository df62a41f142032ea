//! The latest CHANGELOG.md entries, embedded in the binary, for the login page (AUTH-2).

use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

const CHANGELOG: &str = include_str!("../../../CHANGELOG.md");

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

#[utoipa::path(get, path = "/api/v1/changelog", tag = "service",
    responses((status = 200, body = Changelog)))]
pub async fn latest() -> Json<Changelog> {
    Json(Changelog {
        releases: parse(CHANGELOG, 3),
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
    fn the_embedded_changelog_has_entries() {
        let r = parse(CHANGELOG, 3);
        assert!(!r.is_empty() && !r[0].items.is_empty());
    }
}
