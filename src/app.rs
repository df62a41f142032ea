//! Wiring: open the store and the search index, start the HTTP server, stop cleanly.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::auth::RateLimiter;
use crate::config::{Config, TlsConfig, TlsSource};
use crate::domain::{Clock, OffsetClock, SystemClock};
use crate::error::{AppError, AppResult};
use crate::jobs::Jobs;
use crate::search::Search;
use crate::state::{AppState, Shared};
use crate::store::{users, Store};
use crate::tls::{Tls, TlsListener};

/// The clock: the system's, shifted by `ATIENDE_CLOCK_OFFSET_MS` when set (end-to-end tests of
/// day-based rules run the real binary "in the future").
fn clock() -> Arc<dyn Clock> {
    match std::env::var("ATIENDE_CLOCK_OFFSET_MS")
        .ok()
        .and_then(|v| v.parse::<i64>().ok())
    {
        Some(offset) => Arc::new(OffsetClock::new(offset)),
        None => Arc::new(SystemClock),
    }
}

pub fn serve(config: Config, demo: bool) -> AppResult<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("atiende")
        // Reads run on the blocking pool; on a small VPS 16 threads keep both cores busy, and
        // each thread's allocator cache costs memory (tokio allows 512; 64 concurrent requests
        // used ~60 and the loaded bench server held 273 MB, 165 MB with 16).
        .max_blocking_threads(16)
        .build()?;
    let result = runtime.block_on(run(config, demo));
    // A blocking task still running (a backup being streamed) must not hold the exit.
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

async fn run(config: Config, demo: bool) -> AppResult<()> {
    let started = Instant::now();
    let (bus, fanout, index_rx) = crate::bus::new();
    let data_dir = config.data_dir.clone();
    let clock = clock();
    let (store, writer_thread) = tokio::task::spawn_blocking({
        let (data_dir, backup_dir) = (data_dir.clone(), config.backup.dir.clone());
        move || {
            crate::backup::service::remove_leftovers(&data_dir, &backup_dir);
            Store::open(&data_dir, clock, fanout)
        }
    })
    .await
    .map_err(|e| AppError::internal(e.to_string()))??;

    if demo {
        let s = store.clone();
        tokio::task::spawn_blocking(move || crate::demo::fill(&s))
            .await
            .map_err(|e| AppError::internal(e.to_string()))??;
    }

    let stop_indexer = Arc::new(AtomicBool::new(false));
    let (search, indexer_thread) = {
        let (data_dir, store, stop) = (data_dir.clone(), store.clone(), stop_indexer.clone());
        tokio::task::spawn_blocking(move || Search::start(&data_dir, store, index_rx, stop))
            .await
            .map_err(|e| AppError::internal(e.to_string()))??
    };

    let tls = start_tls(&config, store.now())?;
    let listeners = Listeners::bind(&config, tls.as_ref()).await?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let state = AppState::new(Shared {
        store: store.clone(),
        search,
        bus,
        config: Arc::new(config),
        login_limiter: Arc::new(RateLimiter::new(10, Duration::from_secs(300))),
        ip_limiter: Arc::new(RateLimiter::new(50, Duration::from_secs(300))),
        form_limiter: Arc::new(RateLimiter::new(10, Duration::from_secs(600))),
        chat_limiter: Arc::new(RateLimiter::new(30, Duration::from_secs(60))),
        confirm_limiter: Arc::new(RateLimiter::new(3, Duration::from_secs(86_400))),
        sign_ins: crate::auth::SignInCache::default(),
        session_seen: Default::default(),
        two_factor_roles: Default::default(),
        accounts: Default::default(),
        password_checks: Arc::new(tokio::sync::Semaphore::new(4)),
        started,
        shutdown: shutdown_rx,
        activity: Arc::new(crate::state::Activity::default()),
        health: Arc::new(crate::health::HealthBoard::new(store.clock.clone())),
        chat_online: Arc::new(crate::channels::webchat::Online::default()),
        metrics: Arc::new(crate::metrics::Metrics::default()),
        exports: Arc::new(crate::state::ExportProgress::default()),
        compactions: Arc::new(crate::maintenance::Compactions::default()),
        tls: tls.clone(),
    });
    let mut jobs = Jobs::default();
    if let (Some(tls), Some(tls_config)) = (&tls, &state.config.tls) {
        spawn_certificate_keeper(&mut jobs, tls.clone(), tls_config, &state);
    }
    jobs.spawn("idle sweeper", idle_sweeper(state.clone()));
    jobs.spawn("disk watch", crate::disk_watch::run(state.clone()));
    jobs.spawn("audit retention", audit_retention(state.clone()));
    jobs.spawn(
        "store maintenance",
        crate::maintenance::nightly(state.clone()),
    );
    jobs.spawn("sla timers", sla_timers(state.clone()));
    jobs.spawn(
        "backup schedule",
        crate::backup::service::schedule(state.clone()),
    );
    // Removes its socket file at the stop; a backup being streamed fails its next write.
    jobs.spawn(
        "backup control socket",
        crate::backup::service::control_socket(state.clone()),
    );
    // Pollers commit what they hold and log out at the stop.
    jobs.spawn(
        "pollers",
        crate::channels::host::supervise(
            store.clone(),
            state.health.clone(),
            state.shutdown.clone(),
        ),
    );
    // The outbox finishes the deliveries in hand.
    jobs.spawn(
        "outbox",
        crate::outbox::run(
            crate::channels::SendContext {
                store: store.clone(),
                chat_online: state.chat_online.clone(),
                health: state.health.clone(),
                max_upload: state.config.max_upload_bytes,
                pauses: Default::default(),
            },
            state.shutdown.clone(),
        ),
    );

    state
        .two_factor_roles
        .set(&store.read(users::two_factor_roles).await?);
    let user_count = store.read(users::count).await?;
    // Tests and scripts read this line to learn the port (`--listen 127.0.0.1:0`).
    let addr = listeners.main_addr;
    println!("Atiende listening on {}://{addr}", listeners.scheme());
    if let Some(http) = &listeners.redirect {
        println!(
            "HTTP (redirects to HTTPS, ACME challenges) on http://{}",
            http.local_addr()?
        );
    }
    if user_count == 0 {
        println!(
            "No users yet. Create the first administrator:\n  atiende admin create --email you@example.com --name \"Your Name\" --data {}\nor open {}://{addr}/ and follow the first-run page.",
            data_dir.display(),
            listeners.scheme()
        );
    }
    tracing::info!(%addr, ms = started.elapsed().as_millis() as u64, "ready");

    let stopping = state.shutdown.clone();
    // The router takes the last AppState (and so Store) handle of this function: the writer
    // thread ends only once every handle is gone.
    let metrics = state.metrics.clone();
    let app = crate::http::router(state);
    listeners
        .serve(app, metrics, stopping, async move {
            shutdown_signal().await;
            tracing::info!("shutting down: finishing in-flight requests");
            let _ = shutdown_tx.send(true);
        })
        .await?;

    // One bound for every job keeps the whole stop within 10 s.
    jobs.stop(Duration::from_secs(6)).await;
    stop_indexer.store(true, Ordering::SeqCst);
    drop(store);
    // The writer ends once every Store handle is gone; it then drops the database, which
    // marks the file clean. Exiting before that would make the next start repair the whole
    // file (seconds on a large store).
    let clean = tokio::task::spawn_blocking(move || {
        let _ = indexer_thread.join();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !writer_thread.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        writer_thread.is_finished() && writer_thread.join().is_ok()
    })
    .await
    .unwrap_or(false);
    if clean {
        tracing::info!("stopped");
    } else {
        tracing::warn!("stopped before the writer finished; the next start checks the database");
    }
    Ok(())
}

/// The certificate to serve from the first handshake: the one kept from ACME (if it still
/// names the domain) or the configured files (which must load, or the start fails).
fn start_tls(config: &Config, now: crate::domain::Millis) -> AppResult<Option<Arc<Tls>>> {
    let Some(t) = &config.tls else {
        return Ok(None);
    };
    Ok(Some(match &t.source {
        TlsSource::Acme(acme) => {
            let tls = Tls::new("acme", Some(acme.domain.clone()));
            if let Some(kept) =
                crate::tls::acme::load_kept(&config.data_dir.join("tls"), &acme.domain)
            {
                tls.install(kept, now);
            }
            tls
        }
        TlsSource::Files { cert, key } => {
            let served = crate::tls::load_files(cert, key)?;
            // No single domain: redirects keep the name each request asked for.
            let tls = Tls::new("files", None);
            tls.install(served, now);
            tls
        }
    }))
}

/// Renews (ACME) or reloads (files) the certificate while the server runs.
fn spawn_certificate_keeper(jobs: &mut Jobs, tls: Arc<Tls>, config: &TlsConfig, state: &AppState) {
    let (clock, shutdown) = (state.store.clock.clone(), state.shutdown.clone());
    match &config.source {
        TlsSource::Acme(acme) => {
            let dir = state.config.data_dir.join("tls");
            jobs.spawn(
                "certificate (ACME)",
                crate::tls::acme::manage(tls, acme.clone(), dir, clock, shutdown),
            );
        }
        TlsSource::Files { cert, key } => {
            jobs.spawn(
                "certificate files",
                crate::tls::watch_files(tls, cert.clone(), key.clone(), clock, shutdown),
            );
        }
    }
}

async fn bind(addr: &str) -> AppResult<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| AppError::internal(format!("cannot listen on {addr}: {e}")))
}

/// Where requests come in: plain HTTP on `listen`, or HTTPS plus an HTTP listener that
/// redirects and answers ACME HTTP-01.
struct Listeners {
    main: Main,
    connections: crate::config::ConnectionLimits,
    /// Trusted proxies: held only to the overall connection cap.
    proxies: Arc<Vec<crate::config::IpNet>>,
    main_addr: std::net::SocketAddr,
    redirect: Option<TcpListener>,
    tls: Option<Arc<Tls>>,
}

enum Main {
    Plain(TcpListener),
    Tls(TlsListener),
}

impl Listeners {
    async fn bind(config: &Config, tls: Option<&Arc<Tls>>) -> AppResult<Listeners> {
        let (Some(t), Some(tls)) = (&config.tls, tls) else {
            let plain = bind(&config.listen).await?;
            return Ok(Listeners {
                connections: config.connections,
                proxies: Arc::new(config.trusted_proxies.clone()),
                main_addr: plain.local_addr()?,
                main: Main::Plain(plain),
                redirect: None,
                tls: None,
            });
        };
        let tcp = bind(&t.https_listen).await?;
        let main_addr = tcp.local_addr()?;
        let redirect = match &t.http_listen {
            Some(a) => Some(bind(a).await?),
            None => None,
        };
        let listener = TlsListener::new(tcp, crate::tls::server_config(tls.clone())?)?;
        Ok(Listeners {
            connections: config.connections,
            proxies: Arc::new(config.trusted_proxies.clone()),
            main: Main::Tls(listener),
            main_addr,
            redirect,
            tls: Some(tls.clone()),
        })
    }

    fn scheme(&self) -> &'static str {
        match self.main {
            Main::Plain(_) => "http",
            Main::Tls(_) => "https",
        }
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish.
    async fn serve(
        self,
        app: axum::Router,
        metrics: Arc<crate::metrics::Metrics>,
        stopping: watch::Receiver<bool>,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> AppResult<()> {
        let limits = self.connections;
        let proxies = self.proxies.clone();
        let redirect = match (self.redirect, &self.tls) {
            (Some(listener), Some(tls)) => {
                let router = crate::tls::http_router(tls.clone(), self.main_addr.port());
                let mut stopping = stopping.clone();
                let metrics = metrics.clone();
                let proxies = proxies.clone();
                Some(tokio::spawn(async move {
                    crate::http::serve::serve(
                        listener,
                        router,
                        limits,
                        proxies,
                        metrics,
                        async move {
                            let _ = stopping.wait_for(|s| *s).await;
                        },
                    )
                    .await
                }))
            }
            _ => None,
        };
        match self.main {
            Main::Plain(listener) => {
                crate::http::serve::serve(listener, app, limits, proxies, metrics, shutdown).await
            }
            Main::Tls(listener) => {
                let app = app.layer(
                    tower_http::set_header::SetResponseHeaderLayer::if_not_present(
                        axum::http::header::STRICT_TRANSPORT_SECURITY,
                        axum::http::HeaderValue::from_static("max-age=31536000"),
                    ),
                );
                crate::http::serve::serve(listener, app, limits, proxies, metrics, shutdown).await
            }
        }
        if let Some(task) = redirect {
            let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
        }
        Ok(())
    }
}

/// Every 30 s: agents in an assignable state who made no request for the configured minutes
/// move to the configured idle state (ASSIGN-4).
/// Drops audit entries older than the retention, every hour, a bounded number per commit.
/// Rings the SLA notifications that came due (at the start too: a stop does not lose them).
async fn sla_timers(state: AppState) {
    let mut shutdown = state.shutdown.clone();
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        let base = match &state.config.public_url {
            Some(u) => Some(u.clone()),
            None => state
                .store
                .read(crate::store::mail::stored_public_url)
                .await
                .unwrap_or_default(),
        };
        if let Err(e) = crate::desk::sla::ring_due(&state.store, base.unwrap_or_default()).await {
            tracing::warn!(error = %e.message, "SLA notifications failed");
        }
    }
}

async fn audit_retention(state: AppState) {
    let mut shutdown = state.shutdown.clone();
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    let months = i64::try_from(state.config.audit_retention_months).unwrap_or(i64::MAX / 2);
    let keep = months.saturating_mul(30 * crate::domain::DAY_MS);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        let cutoff = state.store.now().saturating_sub(keep);
        loop {
            match state
                .store
                .write(move |txn, _| crate::store::audit::prune(txn, cutoff, 5_000))
                .await
            {
                Ok(5_000) => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e.message, "audit retention failed");
                    break;
                }
            }
        }
    }
}

async fn idle_sweeper(state: AppState) {
    let started_at = state.store.now();
    let mut shutdown = state.shutdown.clone();
    let mut tick = tokio::time::interval(Duration::from_secs(30));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        if let Err(e) = sweep_idle(&state, started_at).await {
            tracing::warn!(error = %e.message, "idle state sweep failed");
        }
    }
}

async fn sweep_idle(state: &AppState, started_at: crate::domain::Millis) -> AppResult<()> {
    use crate::domain::assign::{idle_agents, Presence};
    use crate::store::assignment;
    let (settings, states, all) = state
        .store
        .read(|txn| {
            Ok((
                assignment::settings(txn)?,
                assignment::states(txn)?,
                users::list(txn)?,
            ))
        })
        .await?;
    let (Some(minutes), Some(idle)) = (settings.idle_minutes, settings.idle_state) else {
        return Ok(());
    };
    let now = state.store.now();
    let presence: Vec<Presence> =
        all.iter()
            .map(|u| Presence {
                user_id: u.id,
                active: u.active,
                assignable: u.connection_state.as_deref().is_some_and(|n| {
                    assignment::find_state(&states, n).is_some_and(|s| s.assignable)
                }),
                last_activity: state.activity.last(u.id),
            })
            .collect();
    for id in idle_agents(&presence, started_at, now, minutes) {
        let name = idle.clone();
        state
            .store
            .write(move |txn, fx| assignment::make_idle(txn, fx, id, &name, now))
            .await?;
        tracing::info!(user = id, state = %idle, "idle: connection state changed");
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
