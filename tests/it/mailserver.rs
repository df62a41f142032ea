//! Real mail servers on loopback for the email tests: Dovecot (IMAP in, LMTP delivery into
//! Maildir) and OpenSMTPD (SMTP) delivering into Dovecot over LMTP. One pair per test binary
//! (OpenSMTPD's queue directory is system-wide); each test uses its own mailbox users.
//! Both need root (they drop privileges themselves), as the test run has in CI.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const PASSWORD: &str = "secreto";

pub struct MailServers {
    pub imap_port: u16,
    /// IMAP over TLS (and STARTTLS on `imap_port`), with a certificate for "localhost" signed
    /// by `ca_file`'s test CA.
    pub imaps_port: u16,
    pub smtp_port: u16,
    pub ca_file: PathBuf,
    pub dir: PathBuf,
}

/// A test CA and a "localhost" certificate it signs (rustls refuses a self-signed leaf).
pub fn make_certs(dir: &Path) {
    require("/usr/bin/openssl", "openssl");
    let d = dir.display();
    let script = format!(
        "set -e; cd {d}; \
         openssl req -x509 -newkey rsa:2048 -nodes -days 3 -subj /CN=atiende-test-ca -keyout ca.key -out ca.pem 2>/dev/null; \
         openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key -out server.csr 2>/dev/null; \
         printf 'subjectAltName=DNS:localhost\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > ext.cnf; \
         openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3 -extfile ext.cnf -out server.pem 2>/dev/null; \
         chmod 644 server.key"
    );
    let status = Command::new("sh")
        .arg("-c")
        .arg(script)
        .status()
        .expect("openssl");
    assert!(status.success(), "making test certificates failed");
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub fn require(tool: &str, package: &str) {
    assert!(
        Path::new(tool).exists(),
        "{tool} is missing: install the Debian package {package} (scripts/test does)"
    );
}

pub fn wait_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The servers die with the test process: PR_SET_PDEATHSIG fires when the *thread* that
/// spawned them ends, so they are spawned from a thread that never does.
fn spawn_forever(cmd: Command) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut cmd = cmd;
        use std::os::unix::process::CommandExt;
        // SAFETY: prctl only sets a flag on the child before exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let child = cmd.spawn();
        let ok = child.is_ok();
        tx.send(child.map(|_| ()).map_err(|e| e.to_string())).ok();
        if ok {
            loop {
                std::thread::park();
            }
        }
    });
    rx.recv().expect("spawner").expect("start mail server");
}

pub fn servers() -> &'static MailServers {
    static SERVERS: OnceLock<MailServers> = OnceLock::new();
    SERVERS.get_or_init(start)
}

/// The servers live as long as the test process (a static), so their dir outlives it: the
/// dirs of test processes that are gone are removed here.
fn remove_stale_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix("atiende-mail-")) else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn start() -> MailServers {
    require("/usr/sbin/dovecot", "dovecot-imapd and dovecot-lmtpd");
    require("/usr/sbin/smtpd", "opensmtpd");
    // SAFETY: geteuid has no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "the mail servers of the email tests run as root (as CI does)"
    );
    remove_stale_dirs();
    let dir = std::env::temp_dir().join(format!("atiende-mail-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for sub in ["mail", "run", "state"] {
        std::fs::create_dir_all(dir.join(sub)).expect("mail dirs");
    }
    chown_dovecot(&dir.join("mail"));
    std::fs::write(dir.join("users"), "").expect("users file");
    let (imap_port, lmtp_port, smtp_port) = (free_port(), free_port(), free_port());
    let imaps_port = free_port();
    make_certs(&dir);
    let d = dir.display();
    let dovecot_conf = format!(
        r#"base_dir = {d}/run
state_dir = {d}/state
protocols = imap lmtp
listen = 127.0.0.1
ssl = yes
ssl_cert = <{d}/server.pem
ssl_key = <{d}/server.key
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
log_path = {d}/dovecot.log
mail_location = maildir:{d}/mail/%n
recipient_delimiter = +
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {d}/users
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={d}/mail/%n
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp_port}
  }}
  unix_listener lmtp {{
    mode = 0
  }}
}}
service anvil {{
  chroot =
}}
default_internal_user = dovecot
default_login_user = dovenull
protocol lmtp {{
  postmaster_address = postmaster@atiende.test
}}
"#
    );
    std::fs::write(dir.join("dovecot.conf"), dovecot_conf).expect("dovecot.conf");
    let smtpd_conf = format!(
        "listen on 127.0.0.1 port {smtp_port}\n\
         table vusers {{ \"@\" = \"dovecot\" }}\n\
         action \"dovecot\" lmtp \"127.0.0.1:{lmtp_port}\" rcpt-to virtual <vusers>\n\
         match from any for any action \"dovecot\"\n"
    );
    let smtpd_path = dir.join("smtpd.conf");
    std::fs::write(&smtpd_path, smtpd_conf).expect("smtpd.conf");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&smtpd_path, std::fs::Permissions::from_mode(0o600)).expect("chmod");

    let mut dovecot = Command::new("/usr/sbin/dovecot");
    dovecot
        .arg("-F")
        .arg("-c")
        .arg(dir.join("dovecot.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    spawn_forever(dovecot);
    let mut smtpd = Command::new("/usr/sbin/smtpd");
    smtpd
        .arg("-d")
        .arg("-f")
        .arg(&smtpd_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    spawn_forever(smtpd);
    wait_port(imap_port, "dovecot (IMAP)");
    wait_port(imaps_port, "dovecot (IMAPS)");
    wait_port(lmtp_port, "dovecot (LMTP)");
    wait_port(smtp_port, "OpenSMTPD");
    MailServers {
        imap_port,
        imaps_port,
        smtp_port,
        ca_file: dir.join("ca.pem"),
        dir,
    }
}

fn chown_dovecot(path: &Path) {
    let status = Command::new("chown")
        .args(["-R", "dovecot:dovecot"])
        .arg(path)
        .status()
        .expect("chown");
    assert!(status.success(), "chown {}", path.display());
}

impl MailServers {
    /// Adds a mailbox user (Dovecot re-reads the users file on change).
    pub fn add_user(&self, name: &str) {
        use std::io::Write;
        // Tests add users in parallel: one lock, one write per line (a formatted write may be
        // several syscalls, and interleaved lines break the file).
        static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.join("users"))
            .expect("users file");
        f.write_all(format!("{name}:{{PLAIN}}{PASSWORD}\n").as_bytes())
            .expect("write user");
        let maildir = self.dir.join("mail").join(name);
        for sub in ["new", "cur", "tmp"] {
            std::fs::create_dir_all(maildir.join(sub)).expect("maildir");
        }
        chown_dovecot(&maildir);
    }

    /// Drops a raw mail straight into a user's Maildir (as a delivery agent would).
    pub fn deliver_file(&self, user: &str, raw: &[u8]) {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let maildir = self.dir.join("mail").join(user);
        let name = format!(
            "{}.P{}Q{n}.atiende-test",
            1_700_000_000 + n,
            std::process::id()
        );
        let tmp = maildir.join("tmp").join(&name);
        std::fs::write(&tmp, raw).expect("write mail");
        chown_dovecot(&tmp);
        std::fs::rename(&tmp, maildir.join("new").join(&name)).expect("deliver");
    }

    /// Every mail in a user's mailbox, raw.
    pub fn mailbox(&self, user: &str) -> Vec<String> {
        let maildir = self.dir.join("mail").join(user);
        let mut files: Vec<(std::time::SystemTime, String)> = Vec::new();
        for sub in ["new", "cur"] {
            let Ok(entries) = std::fs::read_dir(maildir.join(sub)) else {
                continue;
            };
            for e in entries.flatten() {
                let modified = e
                    .metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH);
                if let Ok(bytes) = std::fs::read(e.path()) {
                    files.push((modified, String::from_utf8_lossy(&bytes).into_owned()));
                }
            }
        }
        files.sort_by_key(|(t, _)| *t);
        files.into_iter().map(|(_, m)| m).collect()
    }

    /// Sends raw RFC 5322 bytes through the SMTP server, as a customer's mail client would.
    pub async fn send(&self, from: &str, to: &str, raw: &str) {
        use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
        let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
            .port(self.smtp_port)
            .build();
        let envelope = lettre::address::Envelope::new(
            if from.is_empty() {
                None
            } else {
                Some(from.parse().expect("from"))
            },
            vec![to.parse().expect("to")],
        )
        .expect("envelope");
        transport
            .send_raw(
                &envelope,
                raw.replace('\n', "\r\n")
                    .replace("\r\r\n", "\r\n")
                    .as_bytes(),
            )
            .await
            .expect("SMTP send");
    }

    /// Settings of an email account reading `user`'s mailbox and sending through SMTP.
    pub fn account_settings(&self, user: &str) -> serde_json::Value {
        serde_json::json!({
            "address": format!("{user}@atiende.test"),
            "from_name": "Soporte Tienda",
            "imap": {"host": "127.0.0.1", "port": self.imap_port, "security": "plain",
                     "username": user, "password": PASSWORD},
            "smtp": {"host": "127.0.0.1", "port": self.smtp_port, "security": "plain"},
        })
    }
}

/// The value of a header in a raw mail (first occurrence, unfolded).
pub fn header(raw: &str, name: &str) -> Option<String> {
    let head = raw.split("\r\n\r\n").next().unwrap_or(raw);
    let head = head.split("\n\n").next().unwrap_or(head);
    let mut lines = head.lines().peekable();
    while let Some(line) = lines.next() {
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case(name) {
                let mut value = v.trim().to_string();
                while lines.peek().is_some_and(|l| l.starts_with([' ', '\t'])) {
                    value.push(' ');
                    value.push_str(lines.next().unwrap_or_default().trim());
                }
                return Some(value);
            }
        }
    }
    None
}
