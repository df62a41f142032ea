//! The account form of a channel as data: the web app draws it (one generic form for every
//! kind) and the same description says which keys are secrets.

use serde::Serialize;

/// One input of an account's settings form. `key` is the settings key it fills.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Field {
    pub key: &'static str,
    /// The locale key of its label.
    pub label: &'static str,
    #[serde(flatten)]
    pub input: Input,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<&'static str>,
}

#[derive(Debug, Clone, Copy, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Input {
    Text,
    Email,
    Textarea,
    /// Write-only: shown masked, kept when the mask is sent back.
    Secret,
    /// Made by Atiende (`ChannelDriver::complete`): shown read-only, to copy elsewhere.
    Generated,
    Checkbox,
    Number {
        min: i64,
        max: i64,
    },
    /// One of `options`, labelled by the locale key `labels` + option.
    Select {
        options: &'static [&'static str],
        labels: &'static str,
    },
    /// A list of strings, one per line (sites, addresses).
    Lines,
    /// A nested object (an IMAP server). An optional group whose required inputs are all
    /// empty is sent as null (not configured).
    Group {
        fields: &'static [Field],
    },
}

impl Field {
    pub const fn new(key: &'static str, label: &'static str, input: Input) -> Field {
        Field {
            key,
            label,
            input,
            required: false,
            placeholder: None,
        }
    }

    pub const fn required(mut self) -> Field {
        self.required = true;
        self
    }

    pub const fn placeholder(mut self, p: &'static str) -> Field {
        self.placeholder = Some(p);
        self
    }
}
