//! Full-text search with tantivy. The index is derived data: it follows the committed event
//! stream (one indexer thread, committing at most every `COMMIT_EVERY`, so a new message is
//! findable well within a second) and records the last event it covered in its commit
//! payload. At start it catches up from the event table, or rebuilds from redb when it is
//! missing, corrupt, of another layout, or too far behind.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, QueryParser, RegexQuery, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, INDEXED, STORED,
    STRING,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer,
    TextAnalyzer,
};
use tantivy::{doc, Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use crate::domain::rut::Rut;
use crate::domain::{Contact, Event, Message};
use crate::error::{AppError, AppResult};

use crate::store::Store;

/// Bump when the schema or analysis changes: the index is then rebuilt at start.
/// 2: contact names also as whole words, unstemmed (`name_words`), for prefix search.
const LAYOUT: u32 = 2;
const COMMIT_EVERY: Duration = Duration::from_millis(200);
/// At most this many events per commit, so one commit (and a stop waiting for it) stays short
/// when the indexer catches up on a backlog.
const MAX_BATCH: usize = 5_000;
const KIND_CONTACT: u64 = 1;
const KIND_MESSAGE: u64 = 2;

#[derive(Clone, Copy)]
struct Fields {
    kind: Field,
    id: Field,
    key: Field,
    name: Field,
    body: Field,
    exact: Field,
    /// Contact names, lower case and accents folded but not stemmed: what is typed so far
    /// ("Gonz", "Roja") matches as the start of a word.
    name_words: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("es")
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let fields = Fields {
        kind: b.add_u64_field("kind", INDEXED | STORED),
        id: b.add_u64_field("id", INDEXED | STORED),
        key: b.add_text_field("key", STRING),
        name: b.add_text_field("name", text.clone()),
        body: b.add_text_field("body", text),
        exact: b.add_text_field("exact", STRING),
        name_words: b.add_text_field(
            "name_words",
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer("words")
                    .set_index_option(IndexRecordOption::Basic),
            ),
        ),
    };
    (b.build(), fields)
}

/// Spanish-aware analysis: lower case, accents folded ("informacion" finds "información"),
/// Spanish stemming ("envíos" finds "envio").
fn register_analyzer(index: &Index) {
    index.tokenizers().register(
        "es",
        TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(40))
            .filter(LowerCaser)
            .filter(AsciiFoldingFilter)
            .filter(Stemmer::new(Language::Spanish))
            .build(),
    );
    index.tokenizers().register("words", words_analyzer());
}

/// Words as typed: lower case, accents folded, not stemmed.
fn words_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// The folded words of `text` ("González Rojas" → gonzalez, rojas).
pub fn folded_words(text: &str) -> Vec<String> {
    let mut analyzer = words_analyzer();
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}

/// A piece of a message around what a query matched, and where the matching words are in it
/// (character offsets, start inclusive and end exclusive), for the results to mark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snippet {
    pub text: String,
    pub marks: Vec<(usize, usize)>,
}

/// Characters of context before the first match.
const SNIPPET_BEFORE: usize = 60;
const SNIPPET_LENGTH: usize = 180;

use crate::domain::fold_char;

/// The part of `text` around the first word the query names, with every such word marked.
/// A word matches when it starts with a query word's stem ("envíos" marks "envío"), or with
/// the query's last word as typed.
pub fn snippet(text: &str, q: &str) -> Snippet {
    let mut needles: Vec<String> = Vec::new();
    let mut es = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(Stemmer::new(Language::Spanish))
        .build();
    let mut stream = es.token_stream(q);
    while stream.advance() {
        needles.push(stream.token().text.clone());
    }
    needles.extend(folded_words(q).into_iter().last());
    needles.retain(|n| n.chars().count() >= 2);
    let chars: Vec<char> = text.chars().collect();
    let folded: Vec<char> = chars.iter().map(|c| fold_char(*c)).collect();
    let mut marks = Vec::new();
    let mut i = 0;
    while i < folded.len() {
        let word_start =
            folded[i].is_alphanumeric() && (i == 0 || !folded[i - 1].is_alphanumeric());
        if word_start {
            let end = (i..folded.len())
                .find(|&j| !folded[j].is_alphanumeric())
                .unwrap_or(folded.len());
            let word: String = folded[i..end].iter().collect();
            if needles.iter().any(|n| word.starts_with(n.as_str())) {
                marks.push((i, end));
            }
            i = end;
        } else {
            i += 1;
        }
    }
    let from = marks
        .first()
        .map_or(0, |(s, _)| s.saturating_sub(SNIPPET_BEFORE));
    // Start at a word.
    let from = if from == 0 {
        0
    } else {
        (from..chars.len())
            .find(|&j| j > 0 && !chars[j - 1].is_alphanumeric() && chars[j].is_alphanumeric())
            .unwrap_or(from)
    };
    let to = (from + SNIPPET_LENGTH).min(chars.len());
    let lead = if from > 0 { "…" } else { "" };
    let tail = if to < chars.len() { "…" } else { "" };
    let shift = lead.chars().count();
    let body: String = chars[from..to].iter().collect();
    Snippet {
        text: format!("{lead}{}{tail}", body.replace(['\n', '\r'], " ")),
        marks: marks
            .into_iter()
            .filter(|(s, e)| *s >= from && *e <= to)
            .map(|(s, e)| (s - from + shift, e - from + shift))
            .collect(),
    }
}

/// A pattern that matches terms starting with `prefix` (every other character escaped).
fn starts_with(prefix: &str) -> String {
    let mut p = String::with_capacity(prefix.len() * 2 + 2);
    for c in prefix.chars() {
        if !c.is_alphanumeric() {
            p.push('\\');
        }
        p.push(c);
    }
    p.push_str(".*");
    p
}

/// Clauses that match what is typed so far as the start of a name, an email or a phone
/// ("Gonz" finds González, "ana.so" ana.soto@…, "9 1234" +56 9 1234 5678). Only the
/// query's last word is a prefix; the words before it must be whole.
fn prefix_clauses(f: &Fields, q: &str) -> Vec<(Occur, Box<dyn Query>)> {
    let mut out: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    let words = folded_words(q);
    if let Some((last, before)) = words.split_last() {
        if last.chars().count() >= 2 {
            let mut all: Vec<(Occur, Box<dyn Query>)> = before
                .iter()
                .map(|w| {
                    let q: Box<dyn Query> = Box::new(TermQuery::new(
                        Term::from_field_text(f.name_words, w),
                        IndexRecordOption::Basic,
                    ));
                    (Occur::Must, q)
                })
                .collect();
            if let Ok(p) = RegexQuery::from_pattern(&starts_with(last), f.name_words) {
                all.push((Occur::Must, Box::new(p)));
                out.push((Occur::Should, Box::new(BooleanQuery::new(all))));
            }
        }
    }
    let lower = q.trim().to_lowercase();
    if lower.contains('@') && lower.chars().count() >= 3 && !lower.contains(char::is_whitespace) {
        if let Ok(p) = RegexQuery::from_pattern(&starts_with(&lower), f.exact) {
            out.push((Occur::Should, Box::new(p)));
        }
    }
    let digits: String = q.chars().filter(|c| c.is_ascii_digit()).collect();
    if digits.len() >= 4
        && q.chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c))
    {
        if let Ok(p) = RegexQuery::from_pattern(&starts_with(&format!("tel:{digits}")), f.exact) {
            out.push((Occur::Should, Box::new(p)));
        }
    }
    out
}

#[derive(Clone)]
pub struct Search {
    index: Index,
    reader: IndexReader,
    fields: Fields,
}

#[derive(Debug, Default)]
pub struct Hits {
    pub contacts: Vec<u64>,
    pub messages: Vec<u64>,
}

fn payload(last_event: u64) -> String {
    format!("layout={LAYOUT};event={last_event}")
}

fn parse_payload(p: &str) -> Option<u64> {
    let mut parts = p.split(';');
    let layout = parts.next()?.strip_prefix("layout=")?.parse::<u32>().ok()?;
    if layout != LAYOUT {
        return None;
    }
    parts.next()?.strip_prefix("event=")?.parse().ok()
}

pub fn index_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("search")
}

/// Opens the index, or creates an empty one when it is missing or unusable. Returns the last
/// event it covers (None = needs a full rebuild).
fn open_or_create(dir: &Path) -> AppResult<(Index, Option<u64>)> {
    let (schema, _) = schema();
    let opened = if dir.join("meta.json").exists() {
        match Index::open_in_dir(dir) {
            Ok(index) if index.schema() == schema => {
                let covered = index
                    .load_metas()
                    .ok()
                    .and_then(|m| m.payload.as_deref().and_then(parse_payload));
                Some((index, covered))
            }
            Ok(_) => {
                tracing::warn!("search index has another layout; rebuilding");
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "search index unreadable; rebuilding");
                None
            }
        }
    } else {
        None
    };
    match opened {
        Some((index, covered)) => {
            register_analyzer(&index);
            Ok((index, covered))
        }
        None => {
            if dir.exists() {
                std::fs::remove_dir_all(dir)?;
            }
            std::fs::create_dir_all(dir)?;
            let index = Index::create_in_dir(dir, schema)?;
            register_analyzer(&index);
            Ok((index, None))
        }
    }
}

impl Search {
    /// Opens the index and starts the indexer thread, which first catches up with the store.
    pub fn start(
        data_dir: &Path,
        store: Store,
        events: mpsc::Receiver<Arc<Event>>,
        stop: Arc<AtomicBool>,
    ) -> AppResult<(Search, std::thread::JoinHandle<()>)> {
        let dir = index_dir(data_dir);
        let (index, covered) = open_or_create(&dir)?;
        let (_, fields) = schema();
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let writer: IndexWriter = index.writer_with_num_threads(1, 20_000_000)?;
        let search = Search {
            index,
            reader,
            fields,
        };
        let worker = search.clone();
        let handle = std::thread::Builder::new()
            .name("atiende-indexer".into())
            .spawn(move || {
                let mut indexer = Indexer {
                    search: worker,
                    writer,
                    store,
                    covered,
                    behind: false,
                };
                if let Err(e) = indexer.catch_up(covered) {
                    tracing::error!(error = %e, "search catch-up failed; trying again");
                    indexer.fell_behind();
                }
                indexer.follow(events, stop);
            })
            .map_err(|e| AppError::internal(format!("cannot start indexer: {e}")))?;
        Ok((search, handle))
    }

    /// Rebuilds the index from redb, with the server stopped (`atiende reindex`).
    pub fn rebuild_offline(data_dir: &Path, store: Store) -> AppResult<u64> {
        let dir = index_dir(data_dir);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        let (index, _) = open_or_create(&dir)?;
        let (_, fields) = schema();
        let reader = index.reader()?;
        let writer: IndexWriter = index.writer_with_num_threads(1, 20_000_000)?;
        let mut indexer = Indexer {
            search: Search {
                index,
                reader,
                fields,
            },
            writer,
            store,
            covered: None,
            behind: false,
        };
        indexer.rebuild()
    }

    pub fn query(&self, q: &str, limit: usize) -> AppResult<Hits> {
        let q = q.trim();
        if q.is_empty() {
            return Ok(Hits::default());
        }
        let f = self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for term in exact_terms(q) {
            clauses.push((
                Occur::Should,
                Box::new(TermQuery::new(
                    Term::from_field_text(f.exact, &term),
                    IndexRecordOption::Basic,
                )),
            ));
        }
        let mut parser = QueryParser::for_index(&self.index, vec![f.name, f.body]);
        parser.set_conjunction_by_default();
        // Query syntax characters are taken as text: people type "¿dónde está mi pedido?".
        let cleaned: String = q
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || c == '@' || c == '.' {
                    c
                } else {
                    ' '
                }
            })
            .collect();
        let (text_query, _) = parser.parse_query_lenient(&cleaned);
        clauses.push((Occur::Should, text_query));
        clauses.extend(prefix_clauses(&f, q));
        let query = BooleanQuery::new(clauses);
        let searcher = self.reader.searcher();
        let top = searcher.search(&query, &TopDocs::with_limit(limit * 2))?;
        let mut hits = Hits::default();
        for (_, addr) in top {
            let d: TantivyDocument = searcher.doc(addr)?;
            let kind = d.get_first(f.kind).and_then(|v| v.as_u64());
            let id = d.get_first(f.id).and_then(|v| v.as_u64());
            match (kind, id) {
                (Some(KIND_CONTACT), Some(id)) if hits.contacts.len() < limit => {
                    hits.contacts.push(id)
                }
                (Some(KIND_MESSAGE), Some(id)) if hits.messages.len() < limit => {
                    hits.messages.push(id)
                }
                _ => {}
            }
        }
        Ok(hits)
    }
}

/// Normalised forms a query may match exactly: RUT, email, phone digits, username.
fn exact_terms(q: &str) -> Vec<String> {
    let mut out = Vec::new();
    let lower = q.to_lowercase();
    out.push(lower.clone());
    if let Some(u) = lower.strip_prefix('@') {
        out.push(u.to_string());
    }
    if let Ok(rut) = Rut::parse(q) {
        out.push(format!("rut:{}", rut.normalized()));
    }
    let digits: String = q.chars().filter(|c| c.is_ascii_digit()).collect();
    let only_phone_chars = q
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().".contains(c));
    if only_phone_chars && digits.len() >= 6 {
        out.push(format!("tel:{digits}"));
    }
    out
}

/// Exact terms of a contact: what `exact_terms` may produce for a query that names them.
fn contact_terms(c: &Contact) -> Vec<String> {
    let mut out = Vec::new();
    for e in c.emails() {
        out.push(e.to_lowercase());
    }
    if let Some(r) = &c.rut {
        out.push(format!("rut:{r}"));
    }
    for p in c.phones() {
        let digits: String = p.chars().filter(|c| c.is_ascii_digit()).collect();
        if digits.len() >= 6 {
            // "+56 9 1234 5678" is found by "912345678" and "12345678" too.
            for keep in [digits.len(), 9, 8] {
                if keep <= digits.len() {
                    out.push(format!("tel:{}", &digits[digits.len() - keep..]));
                }
            }
        }
    }
    for i in &c.identities {
        if let Some(u) = &i.username {
            out.push(u.trim_start_matches('@').to_lowercase());
        }
        out.push(i.external_id.to_lowercase());
    }
    out.sort();
    out.dedup();
    out
}

struct Indexer {
    search: Search,
    writer: IndexWriter,
    store: Store,
    /// The last event the index's last commit covers.
    covered: Option<u64>,
    /// A commit failed (a full disk): what came since is indexed again from the events table
    /// once a catch-up succeeds, not only at the next start.
    behind: bool,
}

impl Indexer {
    fn upsert_contact(&mut self, c: &Contact) {
        let f = self.search.fields;
        let key = format!("c{}", c.id);
        self.writer.delete_term(Term::from_field_text(f.key, &key));
        let mut d = doc!(f.kind => KIND_CONTACT, f.id => c.id, f.key => key,
            f.name => c.name.clone(), f.name_words => c.name.clone());
        for t in contact_terms(c) {
            d.add_text(f.exact, t);
        }
        if let Err(e) = self.writer.add_document(d) {
            tracing::warn!(error = %e, "index contact");
        }
    }

    fn upsert_message(&mut self, m: &Message) {
        let f = self.search.fields;
        let key = format!("m{}", m.id);
        self.writer.delete_term(Term::from_field_text(f.key, &key));
        let d = doc!(f.kind => KIND_MESSAGE, f.id => m.id, f.key => key, f.body => m.text.clone());
        if let Err(e) = self.writer.add_document(d) {
            tracing::warn!(error = %e, "index message");
        }
    }

    fn commit(&mut self, last_event: u64) -> AppResult<()> {
        let mut prepared = self.writer.prepare_commit()?;
        prepared.set_payload(&payload(last_event));
        prepared.commit()?;
        self.covered = Some(last_event);
        self.search.reader.reload()?;
        Ok(())
    }

    /// Indexes what these events touched, reading the records in one read transaction.
    fn apply(&mut self, events: &[Arc<Event>]) -> AppResult<()> {
        let (contacts, messages) = self.store.read_blocking(|txn| {
            let look = crate::store::lookup::Lookup::new(txn)?;
            let mut contacts = Vec::new();
            let mut messages = Vec::new();
            for e in events {
                match e.kind.as_str() {
                    "contact.created" | "contact.updated" => {
                        if let Some(c) = e.contact_id.and_then(|id| look.contact(id).transpose()) {
                            contacts.push(c?);
                        }
                    }
                    "message.created" => {
                        if let Some(m) = e.message_id.and_then(|id| look.message(id).transpose()) {
                            messages.push(m?);
                        }
                    }
                    _ => {}
                }
            }
            Ok((contacts, messages))
        })?;
        for c in &contacts {
            self.upsert_contact(c);
        }
        for m in &messages {
            self.upsert_message(m);
        }
        Ok(())
    }

    fn catch_up(&mut self, covered: Option<u64>) -> AppResult<()> {
        let (first, last) = self
            .store
            .read_blocking(|txn| Ok((Store::first_event_id(txn)?, Store::last_event_id(txn)?)))?;
        let Some(mut from) = covered else {
            self.rebuild()?;
            return Ok(());
        };
        if from >= last {
            return Ok(());
        }
        if first.is_some_and(|f| f > from + 1) {
            tracing::info!("search index is behind the kept events; rebuilding");
            self.rebuild()?;
            return Ok(());
        }
        while from < last {
            let batch: Vec<Arc<Event>> = self
                .store
                .read_blocking(|txn| Store::events_after(txn, from, 5_000))?
                .into_iter()
                .map(Arc::new)
                .collect();
            let Some(tail) = batch.last().map(|e| e.id) else {
                break;
            };
            self.apply(&batch)?;
            from = tail;
        }
        self.commit(from)?;
        tracing::info!(up_to = from, "search index caught up");
        Ok(())
    }

    /// Re-indexes every contact and message from redb.
    fn rebuild(&mut self) -> AppResult<u64> {
        let started = Instant::now();
        self.writer.delete_all_documents()?;
        let last = self.store.read_blocking(Store::last_event_id)?;
        let mut count = 0u64;
        let mut cursor = 0u64;
        loop {
            let chunk: Vec<Contact> = self
                .store
                .read_blocking(|txn| crate::store::lookup::contacts_after(txn, cursor, 10_000))?;
            let Some(tail) = chunk.last().map(|c| c.id) else {
                break;
            };
            for c in &chunk {
                self.upsert_contact(c);
            }
            count += chunk.len() as u64;
            cursor = tail;
        }
        cursor = 0;
        loop {
            let chunk: Vec<Message> = self
                .store
                .read_blocking(|txn| crate::store::lookup::messages_after(txn, cursor, 10_000))?;
            let Some(tail) = chunk.last().map(|m| m.id) else {
                break;
            };
            for m in &chunk {
                self.upsert_message(m);
            }
            count += chunk.len() as u64;
            cursor = tail;
        }
        self.commit(last)?;
        crate::process::release_free_memory();
        tracing::info!(
            documents = count,
            ms = started.elapsed().as_millis() as u64,
            "search index rebuilt"
        );
        Ok(count)
    }

    /// Drops what the failed commit held; the events since the last commit are indexed again.
    fn fell_behind(&mut self) {
        if let Err(e) = self.writer.rollback() {
            tracing::error!(error = %e, "search index rollback failed");
        }
        self.behind = true;
    }

    fn follow(&mut self, events: mpsc::Receiver<Arc<Event>>, stop: Arc<AtomicBool>) {
        let mut last_try = Instant::now();
        loop {
            if self.behind && last_try.elapsed() >= Duration::from_secs(2) {
                last_try = Instant::now();
                // What arrived meanwhile is in the events table: catching up covers it.
                while events.try_recv().is_ok() {}
                match self.catch_up(self.covered) {
                    Ok(()) => self.behind = false,
                    Err(_) => self.fell_behind(),
                }
            }
            let first = match events.recv_timeout(Duration::from_millis(250)) {
                Ok(e) => e,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            };
            if self.behind {
                continue;
            }
            // A backlog (a burst of writes just before the stop) would hold the stop for as
            // long as it takes to index it, and this thread's store handle with it, so the
            // database could not close cleanly in time. What is left is indexed from the
            // events table at the next start.
            if stop.load(Ordering::SeqCst) {
                return;
            }
            // Gather what arrives within one commit period, then index it in one commit.
            let deadline = Instant::now() + COMMIT_EVERY;
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                    break;
                };
                match events.recv_timeout(left) {
                    Ok(e) => batch.push(e),
                    Err(_) => break,
                }
            }
            let last = batch.iter().map(|e| e.id).max().unwrap_or(0);
            let outcome = self.apply(&batch).and_then(|_| self.commit(last));
            if let Err(e) = outcome {
                tracing::error!(error = %e, "indexing failed; catching up once it can");
                self.fell_behind();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snippet_marks_the_words_the_query_names() {
        let s = snippet(
            "Hola, ¿hacen envíos a regiones? Vivo en Punta Arenas.",
            "envio regiones",
        );
        let marked: Vec<String> = s
            .marks
            .iter()
            .map(|(a, b)| s.text.chars().skip(*a).take(b - a).collect())
            .collect();
        assert_eq!(marked, ["envíos", "regiones"]);
        // Far into a long text: the snippet starts near the match, at a word.
        let long = format!("{} el pedido 4411 no llegó", "palabra ".repeat(60));
        let s = snippet(&long, "pedid");
        assert!(s.text.starts_with('…'), "{}", s.text);
        let (a, b) = s.marks[0];
        assert_eq!(
            s.text.chars().skip(a).take(b - a).collect::<String>(),
            "pedido"
        );
        // Nothing matched: the start of the text.
        assert_eq!(snippet("corto", "zzz").text, "corto");
    }

    #[test]
    fn payload_round_trip_and_layout_check() {
        assert_eq!(parse_payload(&payload(42)), Some(42));
        assert_eq!(parse_payload("layout=999;event=1"), None);
        assert_eq!(parse_payload("garbage"), None);
    }

    #[test]
    fn rut_in_any_format_gives_the_same_term() {
        for q in ["12.345.678-5", "12345678-5", "123456785"] {
            assert!(
                exact_terms(q).contains(&"rut:12345678-5".to_string()),
                "{q}"
            );
        }
    }

    #[test]
    fn phone_suffixes_match() {
        let c = Contact {
            phone: Some("+56 9 1234 5678".into()),
            ..Default::default()
        };
        let terms = contact_terms(&c);
        for q in ["+56912345678", "912345678", "12345678"] {
            let qt = exact_terms(q);
            assert!(qt.iter().any(|t| terms.contains(t)), "{q}");
        }
    }
}
