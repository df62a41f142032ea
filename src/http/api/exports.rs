//! One way out for every export (REPORT-4): a reader task sends rows a page at a time, and they
//! leave as CSV (streamed as they come) or as a real XLSX workbook (written in constant memory
//! to a file in the data dir, then streamed), so memory stays flat however many rows.

use std::path::PathBuf;

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

use super::contact_files::csv_line;
use super::ts;
use crate::domain::Millis;
use crate::error::{AppError, AppResult};

/// A page of rows, or why the reading stopped.
pub type Batch = Result<Vec<Vec<String>>, String>;

/// Where the reader sends its pages.
pub type RowSender = tokio::sync::mpsc::Sender<Batch>;

/// Excel's last row (1,048,576 per sheet): a larger export continues on another sheet.
const SHEET_ROWS: u32 = 1_048_576;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

/// `?format=csv` (default) or `xlsx`.
#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// `csv` (default) or `xlsx`.
    pub format: Option<String>,
}

impl ExportParams {
    pub fn format(&self) -> AppResult<Format> {
        match self.format.as_deref().map(str::trim) {
            None | Some("") | Some("csv") => Ok(Format::Csv),
            Some("xlsx") => Ok(Format::Xlsx),
            Some(other) => Err(AppError::bad_request(
                "invalid_query",
                format!("format is csv or xlsx, not `{other}`"),
            )
            .with_field("format")),
        }
    }
}

/// The filter's given parameters, for the audit log.
pub fn given_filter(f: &impl serde::Serialize) -> String {
    let mut v = serde_json::to_value(f).unwrap_or_default();
    if let Some(m) = v.as_object_mut() {
        m.retain(|_, x| !x.is_null());
    }
    v.to_string()
}

/// Who took data out, and with which filter, in the audit log before the rows leave.
pub async fn record(
    state: &crate::state::AppState,
    user: &crate::auth::CurrentUser,
    origin: &crate::domain::audit::Origin,
    action: crate::domain::audit::AuditAction,
    filter: String,
) -> AppResult<()> {
    let entry = super::audit::by(user, origin, action, state.store.now()).detail("filter", filter);
    state
        .store
        .write(move |txn, _| crate::store::audit::record(txn, entry.clone()))
        .await
}

/// Sends the pages `fetch` reads — each with where the next starts (None: the first page;
/// answered None: the last) — until the last, a failed read, or a reader that went away.
pub async fn send_pages<C, F, Fut>(tx: RowSender, mut fetch: F)
where
    F: FnMut(Option<C>) -> Fut,
    Fut: std::future::Future<Output = AppResult<(Vec<Vec<String>>, Option<C>)>>,
{
    let mut cursor = None;
    loop {
        let (rows, next) = match fetch(cursor.take()).await {
            Ok(page) => page,
            Err(e) => {
                let _ = tx.send(Err(e.message)).await;
                return;
            }
        };
        if tx.send(Ok(rows)).await.is_err() || next.is_none() {
            return;
        }
        cursor = next;
    }
}

/// The reader of an export: given where to send its rows, sends them all.
pub type Producer = Box<
    dyn FnOnce(RowSender) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Send,
>;

/// An export ready to run: answered at once (`respond`) or written to a file in the
/// background (`http::api::export_jobs`).
pub struct Plan {
    /// The file's name before the date (`tickets`, `mensajes`, `contactos`).
    pub stem: &'static str,
    pub header: Vec<String>,
    pub produce: Producer,
}

impl Plan {
    pub fn new<F, Fut>(stem: &'static str, header: Vec<String>, produce: F) -> Plan
    where
        F: FnOnce(RowSender) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        Plan {
            stem,
            header,
            produce: Box::new(move |tx| Box::pin(produce(tx))),
        }
    }

    /// Records who takes the rows out, and with which filter, then answers with them.
    pub async fn respond_recorded(
        self,
        state: &crate::state::AppState,
        user: &crate::auth::CurrentUser,
        origin: &crate::domain::audit::Origin,
        action: crate::domain::audit::AuditAction,
        filter: String,
        format: Format,
    ) -> AppResult<Response> {
        record(state, user, origin, action, filter).await?;
        self.respond(state, format).await
    }

    /// The rows as the answer to this request, CSV streamed or XLSX.
    pub async fn respond(
        self,
        state: &crate::state::AppState,
        format: Format,
    ) -> AppResult<Response> {
        deliver(
            format,
            self.stem,
            state.store.now(),
            state.config.data_dir.join("tmp"),
            self.header,
            self.produce,
        )
        .await
    }
}

/// The export's rows, read by `produce` (which sends pages until it is done), delivered in
/// `format` and saved as `{stem}-{date}.{csv|xlsx}`.
pub async fn deliver<F, Fut>(
    format: Format,
    stem: &str,
    now: Millis,
    work_dir: PathBuf,
    header: Vec<String>,
    produce: F,
) -> AppResult<Response>
where
    F: FnOnce(RowSender) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<Batch>(4);
    tokio::spawn(produce(tx));
    let date = ts(now).get(..10).unwrap_or("hoy").to_string();
    match format {
        Format::Csv => Ok(csv(stem, &date, header, rx)),
        Format::Xlsx => xlsx(stem, &date, work_dir, header, rx).await,
    }
}

fn disposition(stem: &str, date: &str, ext: &str) -> String {
    format!("attachment; filename=\"{stem}-{date}.{ext}\"")
}

fn csv(
    stem: &str,
    date: &str,
    header: Vec<String>,
    mut rx: tokio::sync::mpsc::Receiver<Batch>,
) -> Response {
    let (tx, out) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::spawn(async move {
        // A byte-order mark: spreadsheets then read the accents right.
        let mut first = String::from("\u{feff}");
        first.push_str(&csv_line(&header));
        if tx.send(Ok(Bytes::from(first))).await.is_err() {
            return;
        }
        while let Some(batch) = rx.recv().await {
            let chunk = match batch {
                Ok(rows) => Ok(Bytes::from(
                    rows.iter().map(|r| csv_line(r)).collect::<String>(),
                )),
                Err(e) => Err(std::io::Error::other(e)),
            };
            let failed = chunk.is_err();
            if tx.send(chunk).await.is_err() || failed {
                return;
            }
        }
    });
    (
        [
            (header::CONTENT_TYPE, content_type(Format::Csv).to_string()),
            (header::CONTENT_DISPOSITION, disposition(stem, date, "csv")),
        ],
        Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(out)),
    )
        .into_response()
}

/// Writes the workbook in a blocking task (one sheet after another, constant memory), then
/// streams the file; it is unlinked as soon as it is open, so nothing is left behind.
async fn xlsx(
    stem: &str,
    date: &str,
    work_dir: PathBuf,
    header: Vec<String>,
    rx: tokio::sync::mpsc::Receiver<Batch>,
) -> AppResult<Response> {
    let written = work_dir.join(format!(
        "export-{}-{}.xlsx",
        std::process::id(),
        crate::auth::random_token(12)
    ));
    write_file(
        Format::Xlsx,
        written.clone(),
        work_dir,
        header,
        rx,
        Default::default(),
    )
    .await?;
    let file = tokio::fs::File::open(&written)
        .await
        .map_err(|e| AppError::internal(format!("{}: {e}", written.display())));
    let _ = tokio::fs::remove_file(&written).await;
    let file = file?;
    Ok((
        [
            (header::CONTENT_TYPE, content_type(Format::Xlsx).to_string()),
            (header::CONTENT_DISPOSITION, disposition(stem, date, "xlsx")),
        ],
        Body::from_stream(tokio_util::io::ReaderStream::new(file)),
    )
        .into_response())
}

pub fn content_type(format: Format) -> &'static str {
    match format {
        Format::Csv => "text/csv; charset=utf-8",
        Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }
}

pub fn extension(format: Format) -> &'static str {
    match format {
        Format::Csv => "csv",
        Format::Xlsx => "xlsx",
    }
}

/// Writes the rows `rx` brings to the file `path` as CSV or XLSX in a blocking task (the
/// workbook's scratch files in `work_dir`), counting them in `rows` as they are written;
/// returns how many. A failed read fails the file.
pub async fn write_file(
    format: Format,
    path: PathBuf,
    work_dir: PathBuf,
    header: Vec<String>,
    mut rx: tokio::sync::mpsc::Receiver<Batch>,
    rows: std::sync::Arc<std::sync::atomic::AtomicU64>,
) -> AppResult<u64> {
    use std::sync::atomic::Ordering;
    tokio::task::spawn_blocking(move || -> AppResult<u64> {
        let io = |e: std::io::Error| AppError::internal(format!("{}: {e}", path.display()));
        std::fs::create_dir_all(&work_dir)
            .map_err(|e| AppError::internal(format!("{}: {e}", work_dir.display())))?;
        if format == Format::Csv {
            use std::io::Write;
            let mut out = std::io::BufWriter::new(std::fs::File::create(&path).map_err(io)?);
            out.write_all(format!("\u{feff}{}", csv_line(&header)).as_bytes())
                .map_err(io)?;
            while let Some(batch) = rx.blocking_recv() {
                let batch = batch.map_err(AppError::internal)?;
                for r in &batch {
                    out.write_all(csv_line(r).as_bytes()).map_err(io)?;
                }
                rows.fetch_add(batch.len() as u64, Ordering::Relaxed);
            }
            out.flush().map_err(io)?;
            return Ok(rows.load(Ordering::Relaxed));
        }
        let xl = |e: rust_xlsxwriter::XlsxError| AppError::internal(format!("xlsx: {e}"));
        let mut book = rust_xlsxwriter::Workbook::new();
        book.set_tempdir(&work_dir).map_err(xl)?;
        let bold = rust_xlsxwriter::Format::new().set_bold();
        let new_sheet = |book: &mut rust_xlsxwriter::Workbook| -> AppResult<()> {
            let sheet = book.add_worksheet_with_constant_memory().map_err(xl)?;
            sheet
                .write_row_with_format(0, 0, header.iter().map(String::as_str), &bold)
                .map_err(xl)?;
            sheet.set_freeze_panes(1, 0).map_err(xl)?;
            Ok(())
        };
        new_sheet(&mut book)?;
        let mut row: u32 = 1;
        let mut sheet_index = 0;
        while let Some(batch) = rx.blocking_recv() {
            let batch = batch.map_err(AppError::internal)?;
            let count = batch.len() as u64;
            for r in batch {
                if row == SHEET_ROWS {
                    new_sheet(&mut book)?;
                    sheet_index += 1;
                    row = 1;
                }
                let sheet = book.worksheet_from_index(sheet_index).map_err(xl)?;
                for (col, cell) in (0u16..).zip(&r) {
                    // Whole numbers (ticket numbers, counts) are numbers in the workbook; a
                    // leading zero or plus (a phone) keeps the text as written.
                    match whole_number(cell) {
                        Some(n) => sheet.write_number(row, col, n as f64),
                        None => sheet.write_string(row, col, cell.as_str()),
                    }
                    .map_err(xl)?;
                }
                row += 1;
            }
            rows.fetch_add(count, Ordering::Relaxed);
        }
        book.save(&path).map_err(xl)?;
        Ok(rows.load(Ordering::Relaxed))
    })
    .await
    .map_err(|e| AppError::internal(format!("export writer: {e}")))?
}

/// `cell` as a whole number, when it is written as one (no sign, no leading zero, exact in a
/// spreadsheet's floating point).
fn whole_number(cell: &str) -> Option<i64> {
    let n: i64 = cell.parse().ok()?;
    ((0..1_000_000_000_000_000).contains(&n) && n.to_string() == cell).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_whole_numbers_become_numbers() {
        assert_eq!(whole_number("975"), Some(975));
        assert_eq!(whole_number("0"), Some(0));
        for text in [
            "0912345678",
            "+56912345678",
            "-3",
            "12.345.678-5",
            "1e3",
            "",
        ] {
            assert_eq!(whole_number(text), None, "{text}");
        }
    }
}
