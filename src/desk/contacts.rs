//! Contacts brought in from a spreadsheet (ORG-3, seed 002 "Importar"): a CSV with a header
//! row, its columns mapped to a customer's facts and profile fields, every row checked (RUT,
//! email, field values, the same person twice), and the good rows written. A customer already
//! known by RUT, else by email, is updated rather than created, so importing the same file
//! again changes nothing.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::domain::fields::{self, FieldDef, FieldTarget};
use crate::domain::rut::Rut;
use crate::domain::{one_line, validate_email, Label, Millis};
use crate::error::{AppError, AppResult};
use crate::store::contacts::{self, ImportRow, Imported};
use crate::store::tickets::Access;
use crate::store::{catalog, Store};

/// Rows one import takes at most.
pub const MAX_ROWS: usize = 100_000;
/// Rows written per transaction: other writers wait at most one chunk.
const CHUNK: usize = 1_000;

/// Where a column goes: `name`, `rut`, `email`, `phone`, `notes`, `influencer`, `labels`,
/// `field:{id}`, or `` (left out).
pub type Mapping = BTreeMap<String, String>;

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct RowError {
    /// The row's line in the file (the header is line 1).
    pub line: usize,
    /// The column's header, when one column is at fault.
    pub column: Option<String>,
    pub code: String,
    pub message: String,
    /// What the cell held (for a duplicate: the line of the first row of that customer), so
    /// the report can say it in the user's language.
    pub value: String,
}

#[derive(Debug, Clone, Serialize, ToSchema, Default)]
pub struct ImportReport {
    pub columns: Vec<String>,
    /// The mapping used (guessed from the headers where not given).
    pub mapping: Mapping,
    pub rows: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub errors: Vec<RowError>,
    /// The first rows as they would be stored (a preview).
    #[schema(value_type = Vec<Object>)]
    pub preview: Vec<BTreeMap<String, Value>>,
    /// Nothing was written (a preview).
    pub dry_run: bool,
}

/// The target a header most likely means (Spanish and English spreadsheets).
fn guess(header: &str, defs: &[FieldDef]) -> String {
    let h = crate::domain::fold(header.trim());
    let is = |words: &[&str]| words.iter().any(|w| h == *w);
    if is(&["nombre", "name", "nombre completo", "full name", "cliente"]) {
        "name".into()
    } else if is(&["rut", "run", "rut cliente"]) {
        "rut".into()
    } else if is(&["email", "correo", "e-mail", "mail", "correo electronico"]) {
        "email".into()
    } else if is(&["telefono", "phone", "celular", "movil", "fono", "whatsapp"]) {
        "phone".into()
    } else if is(&["notas", "notes", "nota", "observaciones"]) {
        "notes".into()
    } else if is(&["influenciador", "influencer"]) {
        "influencer".into()
    } else if is(&["etiquetas", "labels", "etiqueta"]) {
        "labels".into()
    } else if let Some(d) = defs
        .iter()
        .find(|d| d.target == FieldTarget::Contact && crate::domain::fold(&d.name) == h)
    {
        format!("field:{}", d.id)
    } else {
        String::new()
    }
}

/// `;` when the header has more of them than commas (spreadsheets in Chile save so).
fn delimiter(text: &str) -> u8 {
    let header = text.lines().next().unwrap_or_default();
    if header.matches(';').count() > header.matches(',').count() {
        b';'
    } else {
        b','
    }
}

fn yes(s: &str) -> Option<bool> {
    match crate::domain::fold(s.trim()).as_str() {
        "si" | "s" | "yes" | "y" | "true" | "1" | "x" => Some(true),
        "no" | "n" | "false" | "0" | "" => Some(false),
        _ => None,
    }
}

/// Reads and checks the file; the good rows, and an error per bad one.
pub fn parse(
    text: &str,
    given: &Mapping,
    defs: &[FieldDef],
    labels: &[Label],
) -> AppResult<(ImportReport, Vec<(usize, ImportRow)>)> {
    let text = text.trim_start_matches('\u{feff}');
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter(text))
        .flexible(true)
        .from_reader(text.as_bytes());
    let columns: Vec<String> = reader
        .headers()
        .map_err(|e| AppError::invalid("file", "invalid_csv", format!("the header row: {e}")))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if columns.iter().all(|c| c.is_empty()) {
        return Err(AppError::invalid(
            "file",
            "invalid_csv",
            "the file has no header row",
        ));
    }
    let mut mapping: Mapping = BTreeMap::new();
    for c in &columns {
        let target = match given.get(c) {
            Some(t) => t.clone(),
            None if given.is_empty() => guess(c, defs),
            None => String::new(),
        };
        mapping.insert(c.clone(), target);
    }
    for (col, target) in &mapping {
        let known = [
            "",
            "name",
            "rut",
            "email",
            "phone",
            "notes",
            "influencer",
            "labels",
        ];
        let field_ok = target.strip_prefix("field:").is_some_and(|id| {
            defs.iter()
                .any(|d| d.target == FieldTarget::Contact && d.key() == id)
        });
        if !known.contains(&target.as_str()) && !field_ok {
            return Err(AppError::invalid(
                "mapping",
                "invalid_mapping",
                format!("column «{col}»: `{target}` is not something a contact has"),
            ));
        }
    }
    if !mapping
        .values()
        .any(|t| t == "name" || t == "rut" || t == "email" || t == "phone")
    {
        return Err(AppError::invalid(
            "mapping",
            "mapping_without_identity",
            "map at least one column to the name, RUT, email or phone",
        ));
    }
    let mut report = ImportReport {
        columns: columns.clone(),
        mapping: mapping.clone(),
        ..Default::default()
    };
    let mut good = Vec::new();
    // The same person twice in one file: the later row is the duplicate.
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        if report.rows == MAX_ROWS {
            return Err(AppError::invalid(
                "file",
                "too_many_rows",
                format!("an import takes at most {MAX_ROWS} rows; split the file"),
            ));
        }
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                report.rows += 1;
                report.errors.push(RowError {
                    line,
                    column: None,
                    code: "invalid_csv".into(),
                    message: e.to_string(),
                    value: String::new(),
                });
                continue;
            }
        };
        if record.iter().all(|v| v.trim().is_empty()) {
            continue;
        }
        report.rows += 1;
        match check_row(&columns, &mapping, &record, defs, labels) {
            Ok(row) => {
                let keys: Vec<String> = [
                    row.rut.as_ref().map(|r| format!("rut:{r}")),
                    row.email.as_ref().map(|e| format!("email:{e}")),
                ]
                .into_iter()
                .flatten()
                .collect();
                if let Some(first) = keys.iter().find_map(|k| seen.get(k)) {
                    report.errors.push(RowError {
                        line,
                        column: None,
                        code: "duplicate".into(),
                        message: format!("the same customer as line {first}"),
                        value: first.to_string(),
                    });
                    continue;
                }
                for k in keys {
                    seen.insert(k, line);
                }
                if report.preview.len() < 20 {
                    report.preview.push(row.preview());
                }
                good.push((line, row));
            }
            Err((column, code, message, value)) => report.errors.push(RowError {
                line,
                column,
                code: code.into(),
                message,
                value,
            }),
        }
    }
    Ok((report, good))
}

type CellError = (Option<String>, &'static str, String, String);

fn check_row(
    columns: &[String],
    mapping: &Mapping,
    record: &csv::StringRecord,
    defs: &[FieldDef],
    labels: &[Label],
) -> Result<ImportRow, CellError> {
    let mut row = ImportRow::default();
    for (i, col) in columns.iter().enumerate() {
        let target = mapping.get(col).map(String::as_str).unwrap_or_default();
        let raw = record.get(i).unwrap_or_default().trim();
        if target.is_empty() || raw.is_empty() {
            continue;
        }
        let at = |code: &'static str, msg: String| (Some(col.clone()), code, msg, raw.to_string());
        match target {
            "name" => row.name = Some(one_line(raw).chars().take(200).collect()),
            "rut" => {
                row.rut = Some(
                    Rut::parse(raw)
                        .map_err(|e| at("invalid_rut", format!("«{raw}»: {e}")))?
                        .normalized(),
                )
            }
            "email" => {
                row.email =
                    Some(validate_email(raw).map_err(|_| {
                        at("invalid_email", format!("«{raw}» is not an email address"))
                    })?)
            }
            "phone" => {
                let digits = raw.chars().filter(char::is_ascii_digit).count();
                if !(6..=15).contains(&digits) {
                    return Err(at(
                        "invalid_phone",
                        format!("«{raw}» is not a phone number"),
                    ));
                }
                row.phone = Some(raw.to_string());
            }
            "notes" => row.notes = Some(raw.chars().take(5_000).collect()),
            "influencer" => {
                row.influencer = Some(
                    yes(raw)
                        .ok_or_else(|| at("invalid_value", format!("«{raw}»: write yes or no")))?,
                )
            }
            "labels" => {
                for name in raw
                    .split(['|', ','])
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                {
                    let l = labels
                        .iter()
                        .find(|l| l.name.to_lowercase() == name.to_lowercase())
                        .ok_or_else(|| {
                            at("unknown_label", format!("there is no label «{name}»"))
                        })?;
                    if !row.labels.contains(&l.id) {
                        row.labels.push(l.id);
                    }
                }
            }
            field => {
                let id = field.trim_start_matches("field:");
                let Some(def) = defs.iter().find(|d| d.key() == id) else {
                    continue;
                };
                let value =
                    match def.kind {
                        fields::FieldKind::YesNo => Value::Bool(yes(raw).ok_or_else(|| {
                            at("invalid_value", format!("«{raw}»: write yes or no"))
                        })?),
                        fields::FieldKind::Multi => Value::Array(
                            raw.split('|')
                                .map(|s| Value::String(s.trim().to_string()))
                                .collect(),
                        ),
                        _ => Value::String(raw.to_string()),
                    };
                match fields::normalise(def, &value) {
                    Ok(Some(v)) => {
                        row.fields.insert(def.key(), v);
                    }
                    Ok(None) => {}
                    Err(e) => return Err(at(e.code, e.message)),
                }
            }
        }
    }
    if row.name.is_none() && row.rut.is_none() && row.email.is_none() && row.phone.is_none() {
        return Err((
            None,
            "row_without_identity",
            "the row has no name, RUT, email or phone".into(),
            String::new(),
        ));
    }
    Ok(row)
}

/// Checks the file and, unless `dry_run`, writes its good rows.
pub async fn import(
    store: &Store,
    access: Access,
    text: String,
    mapping: Mapping,
    dry_run: bool,
) -> AppResult<ImportReport> {
    let (defs, labels) = store
        .read(|txn| {
            Ok((
                catalog::list::<FieldDef>(txn)?,
                catalog::list::<Label>(txn)?,
            ))
        })
        .await?;
    let (mut report, good) = parse(&text, &mapping, &defs, &labels)?;
    report.dry_run = dry_run;
    if dry_run {
        return Ok(report);
    }
    for chunk in good.chunks(CHUNK) {
        let rows: Vec<(usize, ImportRow)> = chunk.to_vec();
        let access = access.clone();
        let now: Millis = store.now();
        let outcomes = store
            .write(move |txn, fx| {
                rows.iter()
                    .map(|(_, row)| contacts::import_row(txn, fx, row, &access, now))
                    .collect::<AppResult<Vec<Imported>>>()
            })
            .await?;
        for o in outcomes {
            match o {
                Imported::Created => report.created += 1,
                Imported::Updated => report.updated += 1,
                Imported::Unchanged => report.unchanged += 1,
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spreadsheet_is_read_checked_and_its_duplicates_named() {
        let defs = vec![FieldDef {
            id: 4,
            target: FieldTarget::Contact,
            name: "Región".into(),
            kind: fields::FieldKind::Choice,
            options: vec!["Biobío".into()],
            ..Default::default()
        }];
        let labels = vec![Label {
            id: 9,
            name: "VIP".into(),
            color: None,
        }];
        let csv = "\u{feff}Nombre;RUT;Correo;Teléfono;Región;Etiquetas\n\
                   Ana;12.345.678-5;ana@x.cl;+56 9 1234 5678;Biobío;vip\n\
                   Beto;12.345.678-0;beto@x.cl;;;\n\
                   Caro;;caro@;;;\n\
                   Ana otra vez;12345678-5;;;;\n\
                   Dani;;;;Maule;\n\
                   ;;;;;\n\
                   Eva;;eva@x.cl;;;Oro\n";
        let (report, good) = parse(csv, &Mapping::new(), &defs, &labels).unwrap();
        assert_eq!(report.mapping["Región"], "field:4");
        assert_eq!(report.mapping["Teléfono"], "phone");
        assert_eq!(report.rows, 6, "the empty line is not a row");
        let codes: Vec<(usize, &str)> = report
            .errors
            .iter()
            .map(|e| (e.line, e.code.as_str()))
            .collect();
        assert_eq!(
            codes,
            [
                (3, "invalid_rut"),
                (4, "invalid_email"),
                (5, "duplicate"),
                (6, "unknown_option"),
                (8, "unknown_label")
            ]
        );
        assert_eq!(good.len(), 1);
        let ana = &good[0].1;
        assert_eq!(ana.rut.as_deref(), Some("12345678-5"));
        assert_eq!(ana.labels, vec![9]);
        assert_eq!(ana.fields["4"], "Biobío");
    }

    #[test]
    fn a_mapping_must_name_who_the_row_is() {
        let err = parse(
            "a,b\n1,2\n",
            &Mapping::from([("a".into(), "notes".into())]),
            &[],
            &[],
        )
        .unwrap_err();
        assert_eq!(err.code, "mapping_without_identity");
        let err = parse(
            "a\n1\n",
            &Mapping::from([("a".into(), "edad".into())]),
            &[],
            &[],
        )
        .unwrap_err();
        assert_eq!(err.code, "invalid_mapping");
    }
}
