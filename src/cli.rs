//! Subcommands: serve, config check, admin create, reindex, bench, compact, backup, restore.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};

use crate::config::Config;
use crate::domain::{Clock, Role, SystemClock};
use crate::error::{AppError, AppResult};
use crate::store::{users, Store};

#[derive(Parser)]
#[command(
    name = "atiende",
    version,
    about = "Omnichannel customer-support help desk in one binary"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct DataArg {
    /// Data directory (database, attachments, search index).
    #[arg(
        long = "data",
        env = "ATIENDE_DATA",
        default_value = "./atiende-data",
        global = true
    )]
    data: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Run the help desk.
    Serve {
        #[command(flatten)]
        settings: ServeArgs,
        /// Fill an empty data dir with a Spanish demo workspace and print its logins.
        #[arg(long)]
        demo: bool,
        #[command(flatten)]
        data: DataArg,
    },
    /// Check the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Manage administrators and users.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Rebuild the search index from the database (with the server stopped).
    Reindex {
        #[command(flatten)]
        data: DataArg,
    },
    /// Measure the performance targets against a real server on a temporary data dir.
    Bench(crate::bench::BenchArgs),
    /// Compact the database file (with the server stopped).
    Compact {
        #[command(flatten)]
        data: DataArg,
    },
    /// Show what the database holds, table by table: rows, bytes, bytes per message (with the
    /// server stopped).
    Usage {
        #[command(flatten)]
        data: DataArg,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Write a backup of the data dir to FILE (a consistent snapshot, also while the server runs).
    Backup {
        /// The archive to write (.tar.zst); it must not exist yet.
        file: PathBuf,
        #[command(flatten)]
        data: DataArg,
    },
    /// Restore a backup into an empty (or new) data dir.
    Restore {
        /// An archive written by `atiende backup` or a scheduled backup.
        file: PathBuf,
        #[command(flatten)]
        data: DataArg,
    },
}

/// Settings a flag or an `ATIENDE_*` variable can give; each overrides the TOML file.
#[derive(Args, Clone)]
struct ServeArgs {
    /// The TOML configuration (default: atiende.toml in the data dir, when it exists).
    #[arg(long, env = "ATIENDE_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on (default 0.0.0.0:8080).
    #[arg(long, env = "ATIENDE_LISTEN")]
    listen: Option<String>,
    /// Mark session cookies Secure (when served over HTTPS by a proxy).
    #[arg(long, env = "ATIENDE_SECURE_COOKIES", num_args = 0..=1, default_missing_value = "true")]
    secure_cookies: Option<bool>,
    /// The URL people open Atiende at, for links in mail (e.g. https://soporte.tienda.cl).
    #[arg(long, env = "ATIENDE_PUBLIC_URL")]
    public_url: Option<String>,
    /// Largest file agents, customers and visitors may upload, in MB (default 25).
    #[arg(long, env = "ATIENDE_MAX_UPLOAD_MB")]
    max_upload_mb: Option<u64>,
    #[command(flatten)]
    https: crate::config::Https,
}

impl ServeArgs {
    /// The file, the flags and the environment, layered and checked.
    fn resolve(&self, data: PathBuf) -> AppResult<(Config, crate::config::FileConfig)> {
        let path = crate::config::file_path(self.config.as_deref(), &data);
        let file = crate::config::read_file(path.as_deref())?;
        let overrides = crate::config::Overrides {
            listen: self.listen.clone(),
            public_url: self.public_url.clone(),
            secure_cookies: self.secure_cookies,
            max_upload_mb: self.max_upload_mb,
            https: self.https.clone(),
        };
        Ok((Config::resolve(data, &file, &overrides)?, file))
    }
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate the configuration and print the effective values (secrets hidden).
    Check {
        #[command(flatten)]
        settings: ServeArgs,
        #[command(flatten)]
        data: DataArg,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a user (the first one should be an admin).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// Omit to have one generated and printed.
        #[arg(long)]
        password: Option<String>,
        #[arg(long, default_value = "admin", value_parser = ["admin", "supervisor", "agent"])]
        role: String,
        #[command(flatten)]
        data: DataArg,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve { .. }) {
        // `serve` starts logging once its configuration file is read.
        crate::process::init_tracing(None, None);
    }
    let result = match cli.command {
        Command::Serve {
            settings,
            demo,
            data,
        } => match settings.resolve(data.data) {
            Ok((config, file)) => {
                crate::process::init_tracing(file.log.as_deref(), file.log_format.as_deref());
                crate::app::serve(config, demo)
            }
            Err(e) => Err(e),
        },
        Command::Config {
            command: ConfigCommand::Check { settings, data },
        } => settings.resolve(data.data).map(|(config, file)| {
            print!("{}", config.describe(&file));
            println!("# configuration OK");
        }),
        Command::Admin {
            command:
                AdminCommand::Create {
                    email,
                    name,
                    password,
                    role,
                    data,
                },
        } => admin_create(data.data, email, name, password, &role),
        Command::Reindex { data } => reindex(data.data),
        Command::Bench(args) => crate::bench::main(args),
        Command::Backup { file, data } => backup(&data.data, &file),
        Command::Restore { file, data } => restore(&file, &data.data),
        Command::Usage { data, json } => usage(&data.data, json),
        Command::Compact { data } => Store::compact_file(&data.data).map(|c| {
            println!(
                "compacted: {:.1} MB → {:.1} MB, on disk {:.1} MB → {:.1} MB (tables repacked in {:.1} s, pages moved in {:.1} s)",
                c.before.length as f64 / 1e6,
                c.after.length as f64 / 1e6,
                c.before.on_disk as f64 / 1e6,
                c.after.on_disk as f64 / 1e6,
                c.repack_seconds,
                c.compact_seconds
            );
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e.message);
            ExitCode::FAILURE
        }
    }
}

/// Prints the database's usage per table (issue 21), read as it is (no migration).
fn usage(data: &std::path::Path, json: bool) -> AppResult<()> {
    let db = crate::store::open_for_snapshot(data)?.ok_or_else(|| {
        AppError::conflict(
            "database_in_use",
            "a running Atiende holds this data dir: stop it first",
        )
    })?;
    let usage = crate::store::usage::of_database(&db, &data.join(crate::store::DB_FILE))?;
    if json {
        let text =
            serde_json::to_string_pretty(&usage).map_err(|e| AppError::internal(e.to_string()))?;
        println!("{text}");
    } else {
        print!("{}", usage.render());
    }
    Ok(())
}

/// Opens the store for a one-off command (no live subscribers; the search index catches up
/// at the next start).
fn open_offline(data: &std::path::Path) -> AppResult<Store> {
    let (_, fanout, _rx) = crate::bus::new();
    let (store, _writer) = Store::open(data, Arc::new(SystemClock), fanout)?;
    Ok(store)
}

fn admin_create(
    data: PathBuf,
    email: String,
    name: String,
    password: Option<String>,
    role: &str,
) -> AppResult<()> {
    let role = Role::parse(role).unwrap_or(Role::Admin);
    let generated = password.is_none();
    let password = password.unwrap_or_else(|| crate::auth::random_token(12));
    crate::auth::validate_password(&password)?;
    crate::domain::validate_email(&email)?;
    let store = open_offline(&data)?;
    let new = users::NewUser {
        email,
        name,
        role,
        password_hash: crate::auth::hash_password(&password)?,
        language: "es".into(),
        invited: false,
    };
    let now = store.now();
    let user = store.write_blocking(move |txn, fx| users::create(txn, fx, &new, now))?;
    println!(
        "created {} {} <{}>",
        user.role.as_str(),
        user.name,
        user.email
    );
    if generated {
        println!("password: {password}");
    }
    Ok(())
}

fn backup(data: &std::path::Path, file: &std::path::Path) -> AppResult<()> {
    use crate::backup::{prepare, service, write_file};
    if file.exists() {
        return Err(crate::error::AppError::internal(format!(
            "{} already exists; name a new file",
            file.display()
        )));
    }
    let manifest = match crate::store::open_for_snapshot(data)? {
        Some(db) => write_file(file, |out| {
            let now = SystemClock.now_ms();
            let prepared = prepare(data, now, |p| {
                crate::store::snapshot_database(&db, p, &|| false)
            })?;
            prepared.stream(std::io::BufWriter::new(out)).map(|_| ())
        })?,
        None => write_file(file, |out| service::request(data, out))?,
    };
    println!(
        "backup written to {} and checked: {} files ({} attachments), {:.1} MB before compression, schema {}",
        file.display(),
        manifest.files.len(),
        manifest.attachments(),
        manifest.total_bytes() as f64 / 1e6,
        manifest.schema_version
    );
    Ok(())
}

fn restore(file: &std::path::Path, data: &std::path::Path) -> AppResult<()> {
    let manifest = crate::backup::restore(file, data)?;
    println!(
        "restored {} files ({} attachments) from the backup of {} into {}; \
         start atiende with --data {} (the search index is rebuilt at the first start)",
        manifest.files.len(),
        manifest.attachments(),
        manifest.created_at,
        data.display(),
        data.display()
    );
    Ok(())
}

fn reindex(data: PathBuf) -> AppResult<()> {
    let store = open_offline(&data)?;
    let n = crate::search::Search::rebuild_offline(&data, store)?;
    println!("search index rebuilt: {n} documents");
    Ok(())
}
