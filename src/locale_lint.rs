//! A test-only reader that finds words a person would read written straight into the code
//! instead of coming from the locale files: the text and the user-facing attributes of the
//! web app's `html` templates, quoted strings that read as a sentence, and the text between
//! tags in the pages the server writes. A hit names the file and line; a line may say
//! `i18n-ok` (with why) when its words are not language (a brand, a sample value).

/// Attributes a person reads or hears (screen readers).
const READ_ATTRIBUTES: [&str; 5] = ["title", "placeholder", "aria-label", "alt", "label"];

/// A hit: the line and the words found there.
pub type Hit = (usize, String);

const SPANISH_LETTERS: [char; 8] = ['á', 'é', 'í', 'ó', 'ú', 'ñ', '¿', '¡'];

/// Marks where an interpolation (`${…}`, `{…}`) stood in a piece of text.
const HOLE: char = '\u{1}';

/// Words a person reads in a JavaScript module of the web app.
pub fn javascript(src: &str) -> Vec<Hit> {
    let chars: Vec<char> = src.chars().collect();
    let mut hits = Vec::new();
    // The frames we are in: code (with its brace depth) or a template literal.
    enum Frame {
        Code(usize),
        Template {
            markup: bool,
            in_tag: bool,
            text: String,
            tag: String,
            start: usize,
        },
    }
    let mut stack = vec![Frame::Code(0)];
    let mut prev = ' '; // last significant character of code, to tell a regex from a division
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied().unwrap_or('\0');
        let top = stack.len() - 1;
        let nested = top > 0;
        match &mut stack[top] {
            Frame::Code(depth) => {
                if c == '/' && next == '/' {
                    while i < chars.len() && chars[i] != '\n' {
                        i += 1;
                    }
                    continue;
                }
                if c == '/' && next == '*' {
                    i += 2;
                    while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                        i += 1;
                    }
                    i += 2;
                    continue;
                }
                if c == '/' && "(,=:[!&|?{};+-*%<>~^\n ".contains(prev) {
                    // A regular expression literal.
                    i += 1;
                    let mut class = false;
                    while i < chars.len() && (class || chars[i] != '/') && chars[i] != '\n' {
                        match chars[i] {
                            '\\' => i += 1,
                            '[' => class = true,
                            ']' => class = false,
                            _ => {}
                        }
                        i += 1;
                    }
                    i += 1;
                    prev = 'x';
                    continue;
                }
                match c {
                    '\'' | '"' => {
                        let start = i;
                        let mut s = String::new();
                        i += 1;
                        while i < chars.len() && chars[i] != c && chars[i] != '\n' {
                            if chars[i] == '\\' {
                                i += 1;
                            }
                            if let Some(&ch) = chars.get(i) {
                                s.push(ch);
                            }
                            i += 1;
                        }
                        if reads_as_sentence(&s) {
                            hits.push((line_of(&chars, start), s));
                        }
                        prev = 'x';
                    }
                    '`' => {
                        let before: String = chars[i.saturating_sub(4)..i].iter().collect();
                        stack.push(Frame::Template {
                            markup: before == "html",
                            in_tag: false,
                            text: String::new(),
                            tag: String::new(),
                            start: i,
                        });
                    }
                    '{' => *depth += 1,
                    '}' if *depth == 0 && nested => {
                        stack.pop();
                    }
                    '}' => *depth = depth.saturating_sub(1),
                    _ => {}
                }
                if !c.is_whitespace() && c != '`' {
                    prev = c;
                }
                i += 1;
            }
            Frame::Template {
                markup,
                in_tag,
                text,
                tag,
                start,
            } => {
                let buffer = if *in_tag { &mut *tag } else { &mut *text };
                match c {
                    '\\' => {
                        buffer.push(next);
                        i += 2;
                    }
                    '$' if next == '{' => {
                        buffer.push(HOLE);
                        stack.push(Frame::Code(0));
                        i += 2;
                    }
                    '`' => {
                        let (markup, text, start) = (*markup, std::mem::take(text), *start);
                        if markup {
                            hits.extend(markup_text(&text).map(|w| (line_of(&chars, start), w)));
                        } else if reads_as_sentence(&text.replace(HOLE, "x")) {
                            hits.push((line_of(&chars, start), text));
                        }
                        stack.pop();
                        prev = 'x';
                        i += 1;
                    }
                    '<' if *markup
                        && !*in_tag
                        && (next.is_ascii_alphabetic() || "/!$".contains(next)) =>
                    {
                        hits.extend(markup_text(text).map(|w| (line_of(&chars, i), w)));
                        text.clear();
                        *in_tag = true;
                        i += 1;
                    }
                    '>' if *in_tag => {
                        hits.extend(read_attributes(tag).map(|w| (line_of(&chars, i), w)));
                        tag.clear();
                        *in_tag = false;
                        i += 1;
                    }
                    _ => {
                        buffer.push(c);
                        i += 1;
                    }
                }
            }
        }
    }
    allow_marked(src, hits)
}

/// Words between the tags of the HTML written in Rust string literals (server pages).
pub fn rust_markup(src: &str) -> Vec<Hit> {
    let chars: Vec<char> = src.chars().collect();
    let mut hits = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        // A char literal such as '"' or '\'' is not a string.
        if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            i += 3;
            continue;
        }
        if c == '\'' && chars.get(i + 1) == Some(&'\\') && chars.get(i + 3) == Some(&'\'') {
            i += 4;
            continue;
        }
        if c != '"' {
            i += 1;
            continue;
        }
        let start = i;
        let mut s = String::new();
        i += 1;
        while i < chars.len() && chars[i] != '"' {
            if chars[i] == '\\' {
                i += 1;
                // A line continuation swallows the following whitespace.
                if chars.get(i) == Some(&'\n') {
                    while chars.get(i + 1).is_some_and(|c| c.is_whitespace()) {
                        i += 1;
                    }
                    i += 1;
                    continue;
                }
            }
            if let Some(&ch) = chars.get(i) {
                s.push(ch);
            }
            i += 1;
        }
        i += 1;
        // Spanish in the code is a sentence a person reads that the locale files should hold.
        if s.contains(SPANISH_LETTERS) {
            hits.push((line_of(&chars, start), s.clone()));
        }
        if !(s.contains("</") || s.contains("<!doctype")) {
            continue;
        }
        let mut text = String::new();
        let mut tag = String::new();
        let mut in_tag = false;
        let mut placeholder = false;
        for ch in s.chars() {
            match ch {
                '{' => placeholder = true,
                '}' if placeholder => {
                    placeholder = false;
                    if in_tag { &mut tag } else { &mut text }.push(HOLE);
                }
                _ if placeholder => {}
                '<' => {
                    hits.extend(markup_text(&text).map(|w| (line_of(&chars, start), w)));
                    text.clear();
                    in_tag = true;
                }
                '>' if in_tag => {
                    hits.extend(read_attributes(&tag).map(|w| (line_of(&chars, start), w)));
                    tag.clear();
                    in_tag = false;
                }
                _ if in_tag => tag.push(ch),
                _ => text.push(ch),
            }
        }
        hits.extend(markup_text(&text).map(|w| (line_of(&chars, start), w)));
    }
    allow_marked(src, hits)
}

fn line_of(chars: &[char], at: usize) -> usize {
    chars[..at.min(chars.len())]
        .iter()
        .filter(|&&c| c == '\n')
        .count()
        + 1
}

fn allow_marked(src: &str, hits: Vec<Hit>) -> Vec<Hit> {
    let lines: Vec<&str> = src.lines().collect();
    hits.into_iter()
        .filter(|(line, _)| {
            !lines
                .get(line.saturating_sub(1))
                .is_some_and(|l| l.contains("i18n-ok"))
        })
        .collect()
}

/// Text outside tags with a word in it (two letters or more).
fn markup_text(text: &str) -> impl Iterator<Item = String> + '_ {
    // The product's name is the same in every language.
    let without_entities = strip_entities(text).replace("Atiende", "");
    has_word(&without_entities)
        .then(|| without_entities.trim().replace(HOLE, "…"))
        .into_iter()
}

/// The values of user-facing attributes in a tag's text, when they hold words.
fn read_attributes(tag: &str) -> impl Iterator<Item = String> + '_ {
    READ_ATTRIBUTES.iter().filter_map(move |name| {
        let mut rest = tag;
        while let Some(at) = rest.find(name) {
            let before_ok = at == 0 || rest[..at].ends_with(char::is_whitespace);
            let after = &rest[at + name.len()..];
            if before_ok {
                if let Some(value) = after.strip_prefix("=\"") {
                    let value = &value[..value.find('"').unwrap_or(value.len())];
                    if has_word(value) {
                        return Some(format!("{name}=\"{}\"", value.replace(HOLE, "…")));
                    }
                }
            }
            rest = after;
        }
        None
    })
}

fn strip_entities(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        match after.find(';') {
            Some(end)
                if end <= 8
                    && after[..end]
                        .chars()
                        .all(|c| c.is_alphanumeric() || c == '#') =>
            {
                rest = &after[end + 1..];
            }
            _ => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Two letters in a row: a word (a lone letter is a unit or a mark, `s`, `×`).
fn has_word(text: &str) -> bool {
    let mut run = 0;
    for c in text.chars() {
        run = if c.is_alphabetic() { run + 1 } else { 0 };
        if run >= 2 {
            return true;
        }
    }
    false
}

/// A quoted string that reads as words for a person: a capitalised word followed by another
/// (`Abrir chat`), or Spanish letters and a space. Keys, classes, paths and codes do not.
fn reads_as_sentence(s: &str) -> bool {
    let s = s.trim();
    if s.contains(['/', '=', '_', '<', '>', '{', '}', '$', '#', '@']) {
        return false;
    }
    let words: Vec<&str> = s.split_whitespace().collect();
    if words.len() < 2 {
        return false;
    }
    let capitalised = words[0].chars().next().is_some_and(|c| c.is_uppercase())
        && words[0].chars().skip(1).all(|c| c.is_lowercase())
        && words[1].chars().all(|c| c.is_alphabetic());
    let spanish = s.contains(SPANISH_LETTERS);
    // Three plain words or more ending in a full stop, or four or more: a phrase, not a list
    // of classes.
    let plain = words.iter().all(|w| {
        w.trim_end_matches(['.', ',', ':', ';', '!', '?'])
            .chars()
            .all(char::is_alphabetic)
    });
    let phrase = plain && (words.len() >= 4 || (words.len() >= 3 && s.ends_with('.')));
    capitalised || spanish || phrase
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_words_in_templates_attributes_and_sentences() {
        let src = "const a = html`<p title=\"Hola\">${t('x.y')}</p><b>Cerrar</b>`;\n\
                   const b = 'Abrir chat'; const c = 'card open'; const d = /'Hi there'/;\n\
                   const e = html`<span aria-label=${t('k.k')}>${n} · ✓</span>`; // fine\n\
                   const f = 'Sample text'; // i18n-ok: a sample\n\
                   const g = 'could not send the file'; const h = 'btn small primary';\n";
        let hits: Vec<String> = javascript(src).into_iter().map(|(_, w)| w).collect();
        assert_eq!(
            hits,
            [
                "title=\"Hola\"",
                "Cerrar",
                "Abrir chat",
                "could not send the file"
            ]
        );
        let rust = "let p = format!(\"<p>{text}</p><b>Gracias</b> <a href=\\\"/x\\\">{x}</a>\");";
        let hits: Vec<String> = rust_markup(rust).into_iter().map(|(_, w)| w).collect();
        assert_eq!(hits, ["Gracias"]);
    }
}
