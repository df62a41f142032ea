//! Process-wide setup shared by the commands: logging and the allocator.

/// Hands freed heap pages back to the OS after a burst (demo generation, index rebuild), so
/// the resident set reflects what the server keeps, not what it once used.
pub fn release_free_memory() {
    // SAFETY: mi_collect only frees what mimalloc holds unused; `true` also purges it now.
    unsafe { libmimalloc_sys::mi_collect(true) };
}

/// Logs to stderr: level and format from `ATIENDE_LOG` / `ATIENDE_LOG_FORMAT`, else the
/// configuration file's `log` / `log_format`, else info and pretty.
pub fn init_tracing(level: Option<&str>, format: Option<&str>) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("ATIENDE_LOG")
        .ok()
        .or_else(|| level.and_then(|l| EnvFilter::try_new(l).ok()))
        .unwrap_or_else(|| EnvFilter::new("info,tantivy=warn"));
    let json = std::env::var("ATIENDE_LOG_FORMAT")
        .ok()
        .or(format.map(str::to_string))
        .is_some_and(|v| v == "json");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
