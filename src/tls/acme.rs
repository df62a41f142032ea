//! Certificates from an ACME CA (instant-acme): obtained at the first start, renewed when a
//! third of their life is left, swapped in without a restart. The account key and the
//! certificate live in `tls/` in the data dir (mode 0600). When the CA cannot be reached the
//! current certificate keeps being served and the attempt is retried with backoff.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount,
    NewOrder, OrderStatus, RetryPolicy,
};
use rustls::sign::CertifiedKey;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::{certified_key, Tls};
use crate::config::AcmeConfig;
use crate::domain::{Clock, Millis};
use crate::error::{AppError, AppResult};

const ACCOUNT_FILE: &str = "acme-account.json";
const CERT_FILE: &str = "cert.pem";
const KEY_FILE: &str = "key.pem";
/// First retry after a failure; doubles up to `MAX_BACKOFF`.
const FIRST_BACKOFF_MS: i64 = 30_000;
const MAX_BACKOFF_MS: i64 = 6 * 3_600_000;
/// Even a long-lived certificate is looked at again at least this often.
const MAX_SLEEP_MS: i64 = 12 * 3_600_000;

#[derive(Serialize, Deserialize)]
struct StoredAccount {
    directory: String,
    credentials: AccountCredentials,
}

/// When a certificate valid from `not_before` to `not_after` should be renewed: with a third
/// of its life left (30 days for Let's Encrypt's 90).
pub fn renew_at(not_before: Millis, not_after: Millis) -> Millis {
    not_after - (not_after - not_before).max(0) / 3
}

fn backoff(failures: u32) -> Millis {
    FIRST_BACKOFF_MS
        .saturating_mul(1i64 << failures.saturating_sub(1).min(20))
        .min(MAX_BACKOFF_MS)
}

/// Loads the certificate kept in `dir` if it covers `domain`.
pub fn load_kept(dir: &Path, domain: &str) -> Option<super::Served> {
    let served = super::load_files(&dir.join(CERT_FILE), &dir.join(KEY_FILE)).ok()?;
    served.names.iter().any(|n| n == domain).then_some(served)
}

/// Keeps a valid certificate for the domain served until shutdown.
pub async fn manage(
    tls: Arc<Tls>,
    settings: AcmeConfig,
    dir: PathBuf,
    clock: Arc<dyn Clock>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut failures = 0u32;
    let mut obtained_at: Option<Millis> = None;
    loop {
        let now = clock.now_ms();
        let due = if failures > 0 {
            now + backoff(failures)
        } else {
            match tls.current() {
                Some(c) => {
                    // A certificate due at once (a skewed clock, a very short life) is not
                    // ordered again in a loop: a quarter of its life, at most 10 min, first.
                    let pause = ((c.not_after - c.not_before) / 4).clamp(1_000, 600_000);
                    renew_at(c.not_before, c.not_after)
                        .max(obtained_at.map_or(0, |at| at + pause))
                        .min(now + MAX_SLEEP_MS)
                }
                None => now,
            }
        };
        tls.set_next_attempt(due.max(now));
        if due > now {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis((due - now) as u64)) => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
            // Woken for a check, not necessarily due (a capped sleep): look again.
            if failures == 0
                && tls
                    .current()
                    .is_some_and(|c| renew_at(c.not_before, c.not_after) > clock.now_ms())
            {
                continue;
            }
        }
        let attempt = tokio::select! {
            r = obtain(&tls, &settings, &dir) => r,
            _ = shutdown.wait_for(|s| *s) => return,
        };
        match attempt {
            Ok(served) => {
                tracing::info!(domain = %settings.domain, not_after = %crate::domain::clock::to_rfc3339(served.not_after), "certificate obtained");
                tls.install(served, clock.now_ms());
                obtained_at = Some(clock.now_ms());
                failures = 0;
            }
            Err(e) => {
                failures += 1;
                tracing::warn!(domain = %settings.domain, error = %e.message, retry_in_s = backoff(failures) / 1000,
                    "could not obtain a certificate; serving the current one and trying again");
                tls.failed(&e.message, clock.now_ms());
            }
        }
    }
}

fn acme_error(what: &str) -> impl Fn(instant_acme::Error) -> AppError + '_ {
    move |e| AppError::internal(format!("ACME {what}: {e}"))
}

fn builder(settings: &AcmeConfig) -> AppResult<instant_acme::AccountBuilder> {
    match &settings.root {
        Some(root) => Account::builder_with_root(root)
            .map_err(|e| AppError::internal(format!("ACME root {}: {e}", root.display()))),
        None => Account::builder().map_err(acme_error("client")),
    }
}

/// The account kept for this directory, or a new one (saved before it is used).
async fn account(settings: &AcmeConfig, dir: &Path, fresh: bool) -> AppResult<Account> {
    let path = dir.join(ACCOUNT_FILE);
    if !fresh {
        let kept = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<StoredAccount>(&b).ok())
            .filter(|a| a.directory == settings.directory);
        if let Some(kept) = kept {
            return builder(settings)?
                .from_credentials(kept.credentials)
                .await
                .map_err(acme_error("directory"));
        }
    }
    let contact = settings.email.as_ref().map(|e| format!("mailto:{e}"));
    let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
    let (account, credentials) = builder(settings)?
        .create(
            &NewAccount {
                contact: &contacts,
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            settings.directory.clone(),
            None,
        )
        .await
        .map_err(acme_error("account"))?;
    let stored = serde_json::to_vec(&StoredAccount {
        directory: settings.directory.clone(),
        credentials,
    })
    .map_err(|e| AppError::internal(format!("ACME account: {e}")))?;
    write_private(&path, &stored)?;
    Ok(account)
}

fn is_unknown_account(e: &instant_acme::Error) -> bool {
    matches!(e, instant_acme::Error::Api(p)
        if p.r#type.as_deref() == Some("urn:ietf:params:acme:error:accountDoesNotExist"))
}

/// One whole issuance: order, challenge, finalize, download; the result is saved to `dir`.
async fn obtain(tls: &Tls, settings: &AcmeConfig, dir: &Path) -> AppResult<super::Served> {
    std::fs::create_dir_all(dir)?;
    let identifiers = [Identifier::Dns(settings.domain.clone())];
    let mut account_ = account(settings, dir, false).await?;
    let mut order = match account_.new_order(&NewOrder::new(&identifiers)).await {
        Ok(o) => o,
        // The CA forgot the account (a test CA restarted, an account deactivated): one new one.
        Err(e) if is_unknown_account(&e) => {
            account_ = account(settings, dir, true).await?;
            account_
                .new_order(&NewOrder::new(&identifiers))
                .await
                .map_err(acme_error("order"))?
        }
        Err(e) => return Err(acme_error("order")(e)),
    };
    let kind = if settings.challenge == "tls-alpn-01" {
        ChallengeType::TlsAlpn01
    } else {
        ChallengeType::Http01
    };
    let mut answered = Vec::new();
    let outcome = async {
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let mut authz = authz.map_err(acme_error("authorization"))?;
            if authz.status == AuthorizationStatus::Valid {
                continue;
            }
            let mut challenge = authz.challenge(kind.clone()).ok_or_else(|| {
                AppError::internal(format!("the CA offers no {} challenge", settings.challenge))
            })?;
            let key_authorization = challenge.key_authorization();
            match kind {
                ChallengeType::TlsAlpn01 => {
                    let name = challenge.identifier().to_string();
                    let cert = alpn_certificate(&name, key_authorization.digest().as_ref())?;
                    tls.set_alpn_challenge(&name, Some(cert));
                    answered.push(Answer::Alpn(name));
                }
                _ => {
                    tls.set_http_challenge(
                        &challenge.token,
                        Some(key_authorization.as_str().to_string()),
                    );
                    answered.push(Answer::Http(challenge.token.clone()));
                }
            }
            challenge.set_ready().await.map_err(acme_error("challenge"))?;
        }
        let retries = RetryPolicy::new()
            .initial_delay(Duration::from_millis(250))
            .timeout(Duration::from_secs(90));
        let status = order.poll_ready(&retries).await.map_err(acme_error("validation"))?;
        if status != OrderStatus::Ready {
            return Err(AppError::internal(format!(
                "the CA did not validate {} ({status:?}); is port {} reachable from the internet under that name?",
                settings.domain,
                if settings.challenge == "tls-alpn-01" { "443" } else { "80" }
            )));
        }
        let key_pem = order.finalize().await.map_err(acme_error("finalize"))?;
        let chain_pem = order
            .poll_certificate(&retries)
            .await
            .map_err(acme_error("certificate"))?;
        Ok((chain_pem, key_pem))
    }
    .await;
    for answer in answered {
        match answer {
            Answer::Alpn(name) => tls.set_alpn_challenge(&name, None),
            Answer::Http(token) => tls.set_http_challenge(&token, None),
        }
    }
    let (chain_pem, key_pem) = outcome?;
    let served = certified_key(chain_pem.as_bytes(), key_pem.as_bytes())?;
    // Key first: a certificate on disk always has its key beside it.
    write_private(&dir.join(KEY_FILE), key_pem.as_bytes())?;
    write_private(&dir.join(CERT_FILE), chain_pem.as_bytes())?;
    Ok(served)
}

enum Answer {
    Alpn(String),
    Http(String),
}

/// The self-signed certificate RFC 8737 asks for: the name, and the key authorization's
/// digest in the critical acmeIdentifier extension.
fn alpn_certificate(name: &str, digest: &[u8]) -> AppResult<Arc<CertifiedKey>> {
    let bad = |e: rcgen::Error| AppError::internal(format!("tls-alpn-01 certificate: {e}"));
    let key = rcgen::KeyPair::generate().map_err(bad)?;
    let mut params = rcgen::CertificateParams::new(vec![name.to_string()]).map_err(bad)?;
    params
        .custom_extensions
        .push(rcgen::CustomExtension::new_acme_identifier(digest));
    let cert = params.self_signed(&key).map_err(bad)?;
    // Built directly: rustls's key check parses the certificate and refuses the critical
    // extension the CA looks for.
    let der = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let signer = rustls::crypto::ring::sign::any_supported_type(&der)
        .map_err(|e| AppError::internal(format!("tls-alpn-01 key: {e}")))?;
    Ok(Arc::new(CertifiedKey::new(
        vec![cert.der().clone()],
        signer,
    )))
}

/// Writes a secret file whole (temporary name, fsync, rename), readable by this user only.
fn write_private(path: &Path, bytes: &[u8]) -> AppResult<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        // Make the rename itself durable.
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_with_a_third_of_the_life_left_and_backoff_grows() {
        let day = 86_400_000;
        assert_eq!(renew_at(0, 90 * day), 60 * day);
        assert_eq!(renew_at(1_000, 16_000), 11_000);
        assert_eq!(backoff(1), 30_000);
        assert_eq!(backoff(2), 60_000);
        assert_eq!(backoff(40), MAX_BACKOFF_MS);
    }

    #[test]
    fn alpn_certificate_names_the_domain_and_carries_the_digest() {
        let key = alpn_certificate("soporte.tienda.cl", &[7u8; 32]).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(key.cert[0].as_ref()).unwrap();
        let san = cert.subject_alternative_name().unwrap().unwrap();
        assert_eq!(
            format!("{:?}", san.value.general_names),
            "[DNSName(\"soporte.tienda.cl\")]"
        );
        // id-pe-acmeIdentifier (RFC 8737), critical, holding the digest as an OCTET STRING.
        let ext = cert
            .extensions()
            .iter()
            .find(|e| e.oid.to_id_string() == "1.3.6.1.5.5.7.1.31")
            .expect("acmeIdentifier extension");
        assert!(ext.critical);
        assert_eq!(&ext.value[2..], &[7u8; 32]);
    }
}
