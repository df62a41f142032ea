//! Fields the administrator defines (seed 003): "Datos de perfil" on contacts and "Datos del
//! ticket" (typifications, TICK-9) on tickets. A value is kept under its field's id (as text),
//! so renaming a field keeps every value; a choice keeps the option's text, which reports count.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// What a field describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum FieldTarget {
    /// The customer ("Datos de perfil").
    Contact,
    /// The conversation ("Datos del ticket", a typification).
    #[default]
    Ticket,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// One of `options`.
    #[default]
    Choice,
    /// Any of `options`.
    Multi,
    YesNo,
    Text,
    Number,
    /// `YYYY-MM-DD`.
    Date,
}

impl FieldKind {
    pub fn has_options(self) -> bool {
        matches!(self, FieldKind::Choice | FieldKind::Multi)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct FieldDef {
    pub id: u64,
    pub target: FieldTarget,
    pub name: String,
    pub kind: FieldKind,
    #[serde(default)]
    pub options: Vec<String>,
    /// The accounts it applies to; empty = every account.
    #[serde(default)]
    pub accounts: Vec<u64>,
    /// A ticket cannot be closed while a mandatory typification is empty; a customer's
    /// profile cannot be saved without a mandatory profile field.
    #[serde(default)]
    pub mandatory: bool,
    /// Order on the forms (smaller first).
    #[serde(default)]
    pub position: u32,
}

impl FieldDef {
    pub fn key(&self) -> String {
        self.id.to_string()
    }

    /// Whether the field applies to something on these accounts.
    pub fn applies(&self, accounts: &[u64]) -> bool {
        self.accounts.is_empty() || self.accounts.iter().any(|a| accounts.contains(a))
    }
}

/// Why a value does not fit its field (the code is the API's error code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError {
    pub code: &'static str,
    pub message: String,
}

fn bad(code: &'static str, message: String) -> ValueError {
    ValueError { code, message }
}

/// The value as stored, or None when it empties the field (null, "", [], or whitespace).
pub fn normalise(def: &FieldDef, v: &Value) -> Result<Option<Value>, ValueError> {
    let name = &def.name;
    match (def.kind, v) {
        (_, Value::Null) => Ok(None),
        (FieldKind::Choice, Value::String(s)) => {
            let s = s.trim();
            if s.is_empty() {
                return Ok(None);
            }
            match def.options.iter().find(|o| o.as_str() == s) {
                Some(o) => Ok(Some(Value::String(o.clone()))),
                None => Err(bad(
                    "unknown_option",
                    format!("«{s}» is not an option of «{name}»"),
                )),
            }
        }
        (FieldKind::Multi, Value::Array(items)) => {
            let mut picked: Vec<String> = Vec::new();
            for item in items {
                let Value::String(s) = item else {
                    return Err(bad(
                        "invalid_value",
                        format!("«{name}» takes a list of options"),
                    ));
                };
                if !def.options.iter().any(|o| o == s) {
                    return Err(bad(
                        "unknown_option",
                        format!("«{s}» is not an option of «{name}»"),
                    ));
                }
                if !picked.contains(s) {
                    picked.push(s.clone());
                }
            }
            // Kept in the options' order, so equal choices compare equal.
            picked.sort_by_key(|s| def.options.iter().position(|o| o == s));
            Ok((!picked.is_empty())
                .then(|| Value::Array(picked.into_iter().map(Value::String).collect())))
        }
        (FieldKind::YesNo, Value::Bool(b)) => Ok(Some(Value::Bool(*b))),
        (FieldKind::Text, Value::String(s)) => {
            let s = s.trim();
            if s.chars().count() > 2000 {
                return Err(bad(
                    "too_long",
                    format!("«{name}» takes at most 2000 characters"),
                ));
            }
            Ok((!s.is_empty()).then(|| Value::String(s.to_string())))
        }
        (FieldKind::Number, Value::Number(n)) => Ok(Some(Value::Number(n.clone()))),
        (FieldKind::Number, Value::String(s)) => {
            let s = s.trim();
            if s.is_empty() {
                return Ok(None);
            }
            // Chile writes decimals with a comma.
            s.replace(',', ".")
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .and_then(serde_json::Number::from_f64)
                .map(|n| Some(Value::Number(n)))
                .ok_or_else(|| bad("invalid_number", format!("«{name}» takes a number")))
        }
        (FieldKind::Date, Value::String(s)) => {
            let s = s.trim();
            if s.is_empty() {
                return Ok(None);
            }
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(|d| Some(Value::String(d.format("%Y-%m-%d").to_string())))
                .map_err(|_| {
                    bad(
                        "invalid_date",
                        format!("«{name}» takes a date (YYYY-MM-DD)"),
                    )
                })
        }
        _ => Err(bad(
            "invalid_value",
            format!("that value does not fit «{name}»"),
        )),
    }
}

/// Applies `changes` (by field id) to `values`, checking each against its definition among
/// `defs` of `target`; an unknown key is refused. Returns whether anything changed.
pub fn apply(
    defs: &[FieldDef],
    target: FieldTarget,
    values: &mut BTreeMap<String, Value>,
    changes: &BTreeMap<String, Value>,
) -> Result<bool, (String, ValueError)> {
    let mut changed = false;
    for (key, v) in changes {
        let Some(def) = defs.iter().find(|d| d.target == target && d.key() == *key) else {
            return Err((
                key.clone(),
                bad("unknown_field", format!("there is no field {key}")),
            ));
        };
        match normalise(def, v).map_err(|e| (key.clone(), e))? {
            Some(v) => {
                if values.get(key) != Some(&v) {
                    values.insert(key.clone(), v);
                    changed = true;
                }
            }
            None => changed |= values.remove(key).is_some(),
        }
    }
    Ok(changed)
}

/// The mandatory fields of `target` that apply on `accounts` and have no value.
pub fn missing<'a>(
    defs: &'a [FieldDef],
    target: FieldTarget,
    accounts: &[u64],
    values: &BTreeMap<String, Value>,
) -> Vec<&'a FieldDef> {
    defs.iter()
        .filter(|d| d.target == target && d.mandatory && d.applies(accounts))
        .filter(|d| !values.contains_key(&d.key()))
        .collect()
}

/// The values of a stored field a filter can ask for, lower-cased without accents: each chosen
/// option, yes/no as `true`/`false`, a number, a date, a short text whole (longer texts are
/// not filter values).
pub fn filter_values(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) if s.chars().count() <= 80 => vec![crate::domain::fold(s)],
        Value::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(crate::domain::fold))
            .collect(),
        Value::Bool(b) => vec![b.to_string()],
        Value::Number(n) => vec![n.to_string()],
        _ => Vec::new(),
    }
}

/// What a filter typed means, in the form `filter_values` keeps ("12,5" is 12.5).
fn wanted(want: &str) -> String {
    let w = crate::domain::fold(want.trim());
    match w
        .replace(',', ".")
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
    {
        Some(n) if !w.contains('-') || w.starts_with('-') => n.to_string(),
        _ => w,
    }
}

/// One field value as an index dimension (FNV-1a of the field id and the folded value).
pub fn value_hash(field: &str, want: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in field.bytes().chain([0x1f]).chain(wanted(want).bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The index dimension values of every filterable value in `values`.
pub fn value_hashes(values: &BTreeMap<String, Value>) -> Vec<u64> {
    let mut out: Vec<u64> = values
        .iter()
        .flat_map(|(k, v)| filter_values(v).into_iter().map(move |x| value_hash(k, &x)))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Whether a stored value is what a filter asks for (an option, `true`/`false`, a number, a
/// date or a short text, without regard to case or accents).
pub fn value_matches(stored: &Value, want: &str) -> bool {
    filter_values(stored).contains(&wanted(want))
}

/// A stored value as a spreadsheet cell: a choice's text, the options of a multiple choice
/// joined with `sep`, yes/no as `yes_no` says, a number or date as written.
pub fn value_text(v: &Value, sep: &str, yes_no: impl Fn(bool) -> String) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => yes_no(*b),
        Value::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str())
            .collect::<Vec<_>>()
            .join(sep),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn def(kind: FieldKind) -> FieldDef {
        FieldDef {
            id: 7,
            name: "Motivo".into(),
            kind,
            options: vec!["Reclamo".into(), "Consulta".into()],
            ..Default::default()
        }
    }

    #[test]
    fn values_are_checked_and_normalised() {
        let choice = def(FieldKind::Choice);
        assert_eq!(
            normalise(&choice, &json!(" Reclamo ")).unwrap(),
            Some(json!("Reclamo"))
        );
        assert_eq!(normalise(&choice, &json!("")).unwrap(), None);
        assert_eq!(
            normalise(&choice, &json!("Otro")).unwrap_err().code,
            "unknown_option"
        );
        let multi = def(FieldKind::Multi);
        assert_eq!(
            normalise(&multi, &json!(["Consulta", "Reclamo", "Consulta"])).unwrap(),
            Some(json!(["Reclamo", "Consulta"]))
        );
        assert_eq!(normalise(&multi, &json!([])).unwrap(), None);
        assert_eq!(
            normalise(&def(FieldKind::YesNo), &json!(true)).unwrap(),
            Some(json!(true))
        );
        assert_eq!(
            normalise(&def(FieldKind::YesNo), &json!("sí"))
                .unwrap_err()
                .code,
            "invalid_value"
        );
        assert_eq!(
            normalise(&def(FieldKind::Number), &json!("12,5")).unwrap(),
            Some(json!(12.5))
        );
        assert_eq!(
            normalise(&def(FieldKind::Number), &json!("doce"))
                .unwrap_err()
                .code,
            "invalid_number"
        );
        assert_eq!(
            normalise(&def(FieldKind::Date), &json!("2026-02-30"))
                .unwrap_err()
                .code,
            "invalid_date"
        );
        assert_eq!(
            normalise(&def(FieldKind::Date), &json!("2026-12-02")).unwrap(),
            Some(json!("2026-12-02"))
        );
        assert_eq!(
            normalise(&def(FieldKind::Text), &json!("  ")).unwrap(),
            None
        );
    }

    #[test]
    fn apply_refuses_unknown_fields_and_missing_lists_mandatory_ones() {
        let mut d = def(FieldKind::Choice);
        d.mandatory = true;
        d.accounts = vec![2];
        let defs = vec![d];
        let mut values = BTreeMap::new();
        assert_eq!(missing(&defs, FieldTarget::Ticket, &[2], &values).len(), 1);
        assert!(missing(&defs, FieldTarget::Ticket, &[3], &values).is_empty());
        assert!(missing(&defs, FieldTarget::Contact, &[2], &values).is_empty());
        let change = BTreeMap::from([("7".to_string(), json!("Consulta"))]);
        assert!(apply(&defs, FieldTarget::Ticket, &mut values, &change).unwrap());
        assert!(!apply(&defs, FieldTarget::Ticket, &mut values, &change).unwrap());
        assert!(missing(&defs, FieldTarget::Ticket, &[2], &values).is_empty());
        let unknown = BTreeMap::from([("8".to_string(), json!("x"))]);
        assert_eq!(
            apply(&defs, FieldTarget::Ticket, &mut values, &unknown)
                .unwrap_err()
                .1
                .code,
            "unknown_field"
        );
        assert!(apply(&defs, FieldTarget::Contact, &mut values, &change).is_err());
    }

    #[test]
    fn filters_match_values_without_regard_to_case_accents_or_decimal_commas() {
        assert!(value_matches(&json!("Biobío"), "biobio"));
        assert!(value_matches(&json!(["Reclamo", "Consulta"]), "consulta"));
        assert!(value_matches(&json!(true), "true"));
        assert!(value_matches(&json!(12.5), "12,5"));
        assert!(value_matches(&json!("2026-12-02"), "2026-12-02"));
        assert!(!value_matches(&json!("Reclamo grave"), "reclamo"));
        assert_eq!(value_hash("3", "Ñuble"), value_hash("3", "ñuble"));
        assert_ne!(value_hash("3", "Ñuble"), value_hash("4", "Ñuble"));
    }
}
