//! Credentials kept in account settings (mail passwords, vendor tokens, app secrets).

use serde::{Deserialize, Deserializer};

/// A credential read from an account's settings. It never prints (Debug shows a mask) and
/// never serialises: the API masks the stored value by key (`http::api::accounts`), and a
/// settings type holding a `Secret` cannot be written back by mistake. Read it with `expose`
/// at the one place it is sent.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(••••)")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints() {
        #[derive(Debug, Deserialize)]
        struct Settings {
            #[allow(dead_code)]
            password: Secret,
        }
        let s: Settings =
            serde_json::from_value(serde_json::json!({"password": "hunter22"})).unwrap();
        assert!(!format!("{s:?}").contains("hunter22"));
        assert_eq!(s.password.expose(), "hunter22");
    }
}
