//! OPS-1 against Pebble (Debian's `pebble`, a real ACME server) on loopback: a certificate
//! through HTTP-01 and through TLS-ALPN-01, renewal of a short-lived certificate without a
//! restart, the CA going away while the current certificate keeps being served, and
//! certificate files of one's own reloaded when they change. pebble-challtestsrv answers
//! Pebble's DNS questions with 127.0.0.1.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::*;
use crate::mailserver::{free_port, make_certs, require, wait_port};

const DOMAIN: &str = "soporte.atiende.test";

/// Pebble and its DNS, killed when dropped.
struct Pebble {
    children: Vec<Child>,
    dir: tempfile::TempDir,
    directory: String,
    management: u16,
}

impl Pebble {
    /// `http_port` / `tls_port`: where Pebble looks for the challenge answers (Atiende's
    /// listeners). `validity`: the certificates' lifetime in seconds.
    fn start(http_port: u16, tls_port: u16, validity: u64) -> Pebble {
        require("/usr/bin/pebble", "pebble");
        require("/usr/bin/pebble-challtestsrv", "pebble");
        let dir = tempfile::tempdir().unwrap();
        make_certs(dir.path());
        let (acme, management, dns, dns_management) =
            (free_port(), free_port(), free_port(), free_port());
        let config = serde_json::json!({"pebble": {
            "listenAddress": format!("127.0.0.1:{acme}"),
            "managementListenAddress": format!("127.0.0.1:{management}"),
            "certificate": dir.path().join("server.pem"),
            "privateKey": dir.path().join("server.key"),
            "httpPort": http_port,
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
            "certificateValidityPeriod": validity,
        }});
        let config_file = dir.path().join("pebble.json");
        std::fs::write(&config_file, config.to_string()).unwrap();
        let quiet = |c: &mut Command| {
            c.stdout(Stdio::null()).stderr(Stdio::null());
        };
        let mut dns_server = Command::new("/usr/bin/pebble-challtestsrv");
        dns_server.args([
            "-dns01",
            &format!("127.0.0.1:{dns}"),
            "-management",
            &format!("127.0.0.1:{dns_management}"),
            "-http01",
            "",
            "-https01",
            "",
            "-tlsalpn01",
            "",
            "-defaultIPv4",
            "127.0.0.1",
            "-defaultIPv6",
            "",
        ]);
        quiet(&mut dns_server);
        let mut pebble = Command::new("/usr/bin/pebble");
        pebble
            .arg("-config")
            .arg(&config_file)
            .args(["-dnsserver", &format!("127.0.0.1:{dns}")])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .env("PEBBLE_AUTHZREUSE", "0");
        quiet(&mut pebble);
        let children = vec![
            dns_server.spawn().expect("pebble-challtestsrv"),
            pebble.spawn().expect("pebble"),
        ];
        let p = Pebble {
            children,
            dir,
            directory: format!("https://localhost:{acme}/dir"),
            management,
        };
        wait_port(dns_management, "pebble-challtestsrv");
        wait_port(acme, "pebble");
        wait_port(management, "pebble management");
        p
    }

    fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The root Pebble signs the certificates it issues with (new at each start).
    async fn issuing_root(&self) -> String {
        let ca = std::fs::read(self.ca_file()).unwrap();
        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
            .build()
            .unwrap();
        client
            .get(format!("https://localhost:{}/roots/0", self.management))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// The CA goes away.
    fn stop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The certificate Atiende presents for DOMAIN on `port`, checked against `root`: its serial.
async fn served_serial(port: u16, root: &str) -> Result<Vec<u8>, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(root.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    let name = rustls::pki_types::ServerName::try_from(DOMAIN).unwrap();
    let tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let leaf = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .ok_or("no certificate")?;
    let (_, cert) =
        x509_parser::parse_x509_certificate(leaf.as_ref()).map_err(|e| e.to_string())?;
    Ok(cert.raw_serial().to_vec())
}

use rustls::pki_types::pem::PemObject;

/// An HTTPS client for DOMAIN that trusts `root` and reaches Atiende on `port`.
fn https_client(root: &str, port: u16) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(root.as_bytes()).unwrap())
        .resolve(DOMAIN, ([127, 0, 0, 1], port).into())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Atiende serving HTTPS for DOMAIN with certificates from `pebble`.
fn start_with_pebble(data: &Path, https: u16, pebble: &Pebble, extra: &[&str]) -> Server {
    let ca = pebble.ca_file();
    let mut args = vec![
        "--domain",
        DOMAIN,
        "--acme-directory",
        &pebble.directory,
        "--acme-root",
        ca.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    start_atiende(data, https, &args)
}

fn start_atiende(data: &Path, https: u16, extra: &[&str]) -> Server {
    let listen_https = format!("127.0.0.1:{https}");
    let mut args = vec!["--https-listen", &listen_https];
    args.extend_from_slice(extra);
    Server::start_with(data, &args, &[])
}

#[tokio::test]
async fn http01_certificate_renewed_without_restart_and_kept_while_the_ca_is_down() {
    let (http, https) = (free_port(), free_port());
    let mut pebble = Pebble::start(http, https, 30);
    let dir = tempfile::tempdir().unwrap();
    admin_create(dir.path(), ADMIN_EMAIL, "Admin", ADMIN_PASSWORD, "admin");
    let http_listen = format!("127.0.0.1:{http}");
    let server = start_with_pebble(dir.path(), https, &pebble, &["--http-listen", &http_listen]);
    assert!(server.base.starts_with("https://"), "{}", server.base);
    let root = pebble.issuing_root().await;
    let first = eventually(60, "a certificate from the CA", || async {
        served_serial(https, &root).await.ok()
    })
    .await;

    // HTTPS serves the app with HSTS; plain HTTP redirects to it.
    let client = https_client(&root, https);
    let base = format!("https://{DOMAIN}:{https}");
    let health = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert!(health.headers()["strict-transport-security"]
        .to_str()
        .unwrap()
        .contains("max-age="));
    let redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("http://127.0.0.1:{http}/t/5?x=1"))
        .header("host", DOMAIN)
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(
        redirect.headers()["location"],
        format!("https://{DOMAIN}:{https}/t/5?x=1").as_str()
    );
    let admin = sign_in(client.clone(), &base, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let status = admin.ok("/api/v1/status").await;
    assert_eq!(status["tls"]["names"][0], DOMAIN, "{status}");
    assert!(status["tls"]["last_error"].is_null(), "{status}");
    assert!(dir.path().join("tls/cert.pem").exists() && dir.path().join("tls/key.pem").exists());

    // With a third of its 30 s left, the certificate is renewed; the same process serves
    // the new one.
    let renewed = eventually(40, "a renewed certificate", || {
        let (root, first) = (root.clone(), first.clone());
        async move {
            served_serial(https, &root)
                .await
                .ok()
                .filter(|s| *s != first)
        }
    })
    .await;

    // The CA goes away: the renewed certificate is still served, and the failed renewal
    // shows on the status.
    pebble.stop();
    let failure: Value = eventually(40, "the failed renewal on /api/v1/status", || {
        let admin = admin.clone();
        async move {
            let s = admin.ok("/api/v1/status").await;
            (!s["tls"]["last_error"].is_null()).then_some(s)
        }
    })
    .await;
    assert!(
        failure["tls"]["last_error"]
            .as_str()
            .unwrap()
            .contains("ACME"),
        "{failure}"
    );
    assert_eq!(served_serial(https, &root).await.unwrap(), renewed);
    let started = Instant::now();
    assert_eq!(
        client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn tls_alpn01_certificate_on_the_https_port_alone() {
    let (unused_http, https) = (free_port(), free_port());
    let pebble = Pebble::start(unused_http, https, 3600);
    let dir = tempfile::tempdir().unwrap();
    admin_create(dir.path(), ADMIN_EMAIL, "Admin", ADMIN_PASSWORD, "admin");
    let mut server = start_with_pebble(
        dir.path(),
        https,
        &pebble,
        &["--acme-challenge", "tls-alpn-01", "--http-listen", "off"],
    );
    let root = pebble.issuing_root().await;
    eventually(60, "a certificate through TLS-ALPN-01", || async {
        served_serial(https, &root).await.ok()
    })
    .await;
    let client = https_client(&root, https);
    let res = client
        .get(format!("https://{DOMAIN}:{https}/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // SIGTERM stops the HTTPS server as promptly as the plain one.
    let began = Instant::now();
    server.stop();
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "stopped in {:?}",
        began.elapsed()
    );
}

/// A certificate and key of one's own: served, and replaced when the files change.
#[tokio::test]
async fn own_certificate_files_reload_when_changed() {
    let certs = tempfile::tempdir().unwrap();
    let issue = |name: &str| {
        let d = certs.path().display();
        let script = format!(
            "set -e; cd {d}; \
             [ -f ca.pem ] || openssl req -x509 -newkey rsa:2048 -nodes -days 3 -subj /CN=propia -keyout ca.key -out ca.pem 2>/dev/null; \
             openssl req -newkey rsa:2048 -nodes -subj /CN={DOMAIN} -keyout {name}.key -out {name}.csr 2>/dev/null; \
             printf 'subjectAltName=DNS:{DOMAIN}\\n' > ext.cnf; \
             openssl x509 -req -in {name}.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3 -extfile ext.cnf -out {name}.pem 2>/dev/null"
        );
        assert!(Command::new("sh")
            .arg("-c")
            .arg(script)
            .status()
            .unwrap()
            .success());
    };
    issue("uno");
    let (cert, key) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
    std::fs::copy(certs.path().join("uno.pem"), &cert).unwrap();
    std::fs::copy(certs.path().join("uno.key"), &key).unwrap();
    let root = std::fs::read_to_string(certs.path().join("ca.pem")).unwrap();

    let dir = tempfile::tempdir().unwrap();
    admin_create(dir.path(), ADMIN_EMAIL, "Admin", ADMIN_PASSWORD, "admin");
    let https = free_port();
    let _server = start_atiende(
        dir.path(),
        https,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
            "--http-listen",
            "off",
        ],
    );
    let first = served_serial(https, &root)
        .await
        .expect("served from the start");

    issue("dos");
    // Key first, then the certificate: a reload in between fails its check and keeps the old.
    std::fs::copy(certs.path().join("dos.key"), &key).unwrap();
    std::fs::copy(certs.path().join("dos.pem"), &cert).unwrap();
    eventually(20, "the new certificate", || {
        let (root, first) = (root.clone(), first.clone());
        async move {
            served_serial(https, &root)
                .await
                .ok()
                .filter(|s| *s != first)
        }
    })
    .await;

    // Bad files refuse to start, with a clear error.
    std::fs::write(&cert, "no es un certificado").unwrap();
    let out = Command::new(bin())
        .args(["serve", "--data"])
        .arg(dir.path().join("otro"))
        .args([
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ])
        .args(["--https-listen", "127.0.0.1:0", "--http-listen", "off"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("certificate"), "{err}");
}
