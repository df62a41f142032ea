//! Message templates a vendor approved in advance (WhatsApp): the only messages allowed once
//! the customer-service window is over. Atiende keeps a copy of each account's templates (as
//! the vendor lists them) so the composer can offer them, fill their variables and preview them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{AppError, AppResult};

/// Where a template's variable sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    Header,
    Body,
}

/// One `{{…}}` of a template: positional (`1`, `2` …) or named.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Variable {
    pub part: Part,
    pub name: String,
    /// The example the business gave Meta, shown as the field's hint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Template {
    pub name: String,
    /// The vendor's language code (`es`, `es_CL`, `en_US` …).
    pub language: String,
    /// MARKETING, UTILITY, AUTHENTICATION.
    pub category: String,
    /// APPROVED, PENDING, REJECTED, PAUSED, DISABLED: only approved ones can be sent.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<String>,
    /// Variables are named (`{{order}}`) rather than numbered (`{{1}}`).
    #[serde(default)]
    pub named: bool,
    pub variables: Vec<Variable>,
    /// What keeps Atiende from sending it (a header with a file, a button with a variable):
    /// listed so the agent knows it exists, not offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsupported: Option<String>,
}

/// An account's templates as last fetched from the vendor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TemplateSet {
    pub synced_at: crate::domain::Millis,
    pub templates: Vec<Template>,
}

/// The value an agent gave one variable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Value {
    pub part: Part,
    pub name: String,
    pub value: String,
}

/// A template as an answer carries it: which one, and its variables filled in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TemplateUse {
    pub name: String,
    pub language: String,
    #[serde(default)]
    pub named: bool,
    #[serde(default)]
    pub values: Vec<Value>,
}

/// The template an agent picked for an answer, with the values typed into its form.
#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    pub name: String,
    pub language: String,
    #[serde(default)]
    pub values: Vec<Value>,
}

/// The names inside `{{…}}` of a template text, in order of appearance, once each.
pub fn variables_of(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else { break };
        let name = after[..close].trim();
        let well_formed = !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_');
        if well_formed && !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
        rest = &after[close + 2..];
    }
    out
}

fn fill(text: &str, part: Part, values: &[Value]) -> String {
    let mut out = text.to_string();
    for v in values.iter().filter(|v| v.part == part) {
        for pattern in [
            format!("{{{{{}}}}}", v.name),
            format!("{{{{ {} }}}}", v.name),
        ] {
            out = out.replace(&pattern, &v.value);
        }
    }
    out
}

impl Template {
    /// The text the customer will read, as the ticket shows the answer.
    pub fn render(&self, values: &[Value]) -> String {
        let mut parts = Vec::new();
        if let Some(h) = &self.header {
            parts.push(fill(h, Part::Header, values));
        }
        parts.push(fill(&self.body, Part::Body, values));
        if let Some(f) = &self.footer {
            parts.push(f.clone());
        }
        parts.join("\n\n")
    }

    /// An agent's choice checked against the template: approved, sendable, and every
    /// variable given a value (on one line, as WhatsApp requires). Gives the use to queue,
    /// with the values in the template's order.
    pub fn fill(&self, values: &[Value]) -> AppResult<TemplateUse> {
        if self.status != "APPROVED" {
            return Err(AppError::invalid(
                "template",
                "template_not_approved",
                format!(
                    "the template {} is {}, not approved",
                    self.name, self.status
                ),
            ));
        }
        if let Some(why) = &self.unsupported {
            return Err(AppError::invalid(
                "template",
                "template_unsupported",
                format!(
                    "the template {} cannot be sent from Atiende: {why}",
                    self.name
                ),
            ));
        }
        let mut ordered = Vec::new();
        for var in &self.variables {
            let given = values
                .iter()
                .find(|v| v.part == var.part && v.name == var.name)
                .map(|v| v.value.trim())
                .unwrap_or("");
            if given.is_empty() || given.contains(['\n', '\t']) {
                return Err(AppError::invalid(
                    &format!("template.values.{}", var.name),
                    "template_variable",
                    format!(
                        "the variable {{{{{}}}}} needs a value on one line",
                        var.name
                    ),
                ));
            }
            ordered.push(Value {
                part: var.part,
                name: var.name.clone(),
                value: given.to_string(),
            });
        }
        Ok(TemplateUse {
            name: self.name.clone(),
            language: self.language.clone(),
            named: self.named,
            values: ordered,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> Template {
        Template {
            name: "seguimiento".into(),
            language: "es".into(),
            category: "UTILITY".into(),
            status: "APPROVED".into(),
            header: Some("Pedido {{1}}".into()),
            body: "Hola {{1}}, tu pedido {{2}} está en camino. {{1}}, gracias.".into(),
            footer: Some("Tienda Ejemplo".into()),
            named: false,
            variables: vec![
                Variable {
                    part: Part::Header,
                    name: "1".into(),
                    example: None,
                },
                Variable {
                    part: Part::Body,
                    name: "1".into(),
                    example: Some("Ana".into()),
                },
                Variable {
                    part: Part::Body,
                    name: "2".into(),
                    example: None,
                },
            ],
            unsupported: None,
        }
    }

    fn value(part: Part, name: &str, value: &str) -> Value {
        Value {
            part,
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn variables_are_read_once_each_in_order() {
        assert_eq!(variables_of("Hola {{1}}, {{2}} y {{1}}"), vec!["1", "2"]);
        assert_eq!(
            variables_of("Reserva de {{ guests }} el {{day}} {{}} {{no"),
            vec!["guests", "day"]
        );
    }

    #[test]
    fn a_filled_template_renders_and_orders_its_values() {
        let t = template();
        let values = vec![
            value(Part::Body, "2", "#123"),
            value(Part::Body, "1", "Ana"),
            value(Part::Header, "1", "#123"),
        ];
        let used = t.fill(&values).unwrap();
        assert_eq!(used.values[0].part, Part::Header);
        assert_eq!(used.values[1].value, "Ana");
        assert_eq!(
            t.render(&used.values),
            "Pedido #123\n\nHola Ana, tu pedido #123 está en camino. Ana, gracias.\n\nTienda Ejemplo"
        );
    }

    #[test]
    fn missing_values_and_unapproved_templates_are_refused() {
        let t = template();
        let err = t.fill(&[value(Part::Body, "1", "Ana")]).unwrap_err();
        assert_eq!(err.code, "template_variable");
        let err = t
            .fill(&[
                value(Part::Header, "1", "x"),
                value(Part::Body, "1", "dos\nlíneas"),
                value(Part::Body, "2", "y"),
            ])
            .unwrap_err();
        assert_eq!(err.code, "template_variable");
        let mut paused = template();
        paused.status = "PAUSED".into();
        assert_eq!(paused.fill(&[]).unwrap_err().code, "template_not_approved");
    }
}
