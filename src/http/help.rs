//! `/ayuda`: the help page for agents and administrators, in Spanish or English (from the
//! locale files), linked from the sign-in page and the app. Integrators find the API document
//! from here too.

use axum::extract::Query;
use axum::http::{header, HeaderMap};
use axum::response::Html;
use serde::Deserialize;

use crate::http::escape_html;

#[derive(Deserialize)]
pub struct HelpQuery {
    lang: Option<String>,
}

/// The sections, each a title key and a text key; paragraphs split on blank lines.
const SECTIONS: [&str; 7] = [
    "board", "answer", "keys", "channels", "admin", "security", "api",
];

pub async fn page(headers: HeaderMap, Query(q): Query<HelpQuery>) -> Html<String> {
    let asked = q.lang.as_deref().unwrap_or_else(|| {
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    });
    let lang = crate::locale::lang(asked.trim_start());
    let t = |key: &str| crate::locale::text(lang, key, &[]);
    let mut body = String::new();
    let mut toc = String::new();
    for s in SECTIONS {
        let title = t(&format!("help.{s}_title"));
        toc.push_str(&format!(
            "<li><a href=\"#{s}\">{}</a></li>",
            escape_html(&title)
        ));
        body.push_str(&format!(
            "<section id=\"{s}\"><h2>{}</h2>",
            escape_html(&title)
        ));
        for para in t(&format!("help.{s}")).split("\n\n") {
            let lines: Vec<&str> = para.lines().collect();
            if lines.iter().all(|l| l.starts_with("- ")) {
                body.push_str("<ul>");
                for l in lines {
                    body.push_str(&format!("<li>{}</li>", escape_html(&l[2..])));
                }
                body.push_str("</ul>");
            } else {
                body.push_str(&format!("<p>{}</p>", escape_html(para)));
            }
        }
        if s == "api" {
            body.push_str(&format!(
                "<p><a href=\"/api/openapi.json\">{}</a> · <a href=\"/status\">{}</a></p>",
                escape_html(&t("help.api_link")),
                escape_html(&t("login.status"))
            ));
        }
        body.push_str("</section>");
    }
    let other = if lang == "es" {
        ("en", "English")
    } else {
        ("es", "Español") // i18n-ok: a language named in itself
    };
    Html(format!(
        "<!doctype html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title}</title><link rel=\"stylesheet\" href=\"{css}\"></head><body class=\"hosted help\"><main>\
<p class=\"help-top\"><a href=\"/\">{back}</a> · <a href=\"/ayuda?lang={other_lang}\" lang=\"{other_lang}\">{other_name}</a></p>\
<h1>{title}</h1><p>{intro}</p><nav aria-label=\"{contents}\"><ul>{toc}</ul></nav>{body}</main></body></html>",
        title = escape_html(&t("help.title")),
        css = crate::http::assets::url("form.css"),
        back = escape_html(&t("help.back")),
        other_lang = other.0,
        other_name = other.1,
        intro = escape_html(&t("help.intro")),
        contents = escape_html(&t("help.contents")),
    ))
}
