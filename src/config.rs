//! Typed configuration: defaults, then the command line and `ATIENDE_*` variables (clap reads
//! both). Secrets never appear in `Debug`.

use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: String,
    pub data_dir: PathBuf,
    /// Mark cookies `Secure` (on when serving HTTPS or behind a TLS proxy).
    pub secure_cookies: bool,
    /// Largest JSON body accepted.
    pub max_body_bytes: usize,
    /// Largest uploaded file.
    pub max_upload_bytes: usize,
    /// The address people open Atiende at (links in mail); when unset, taken from the
    /// request's Host header.
    pub public_url: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "0.0.0.0:8080".into(),
            data_dir: PathBuf::from("./atiende-data"),
            secure_cookies: false,
            max_body_bytes: 1024 * 1024,
            max_upload_bytes: 25 * 1024 * 1024,
            public_url: None,
        }
    }
}
