//! The job host: every background task of the server (pollers, the outbox workers, sweepers,
//! schedules, the certificate keeper, the backup control socket) is started here. Each watches
//! the shutdown signal; at the stop the host waits for all of them within one bound, so none
//! still holds the store when the writer is asked to close the database. (The writer and the
//! search indexer are threads, joined by `app::serve` after the jobs.)

use std::future::Future;
use std::time::Duration;

use tokio::task::JoinHandle;

#[derive(Default)]
pub struct Jobs {
    running: Vec<(&'static str, JoinHandle<()>)>,
}

impl Jobs {
    pub fn spawn(&mut self, name: &'static str, job: impl Future<Output = ()> + Send + 'static) {
        self.running.push((name, tokio::spawn(job)));
    }

    /// Waits for every job to end (the shutdown signal was sent), at most `within` in all;
    /// jobs still running then are aborted, and named in the log.
    pub async fn stop(self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        for (name, mut handle) in self.running {
            match tokio::time::timeout_at(deadline, &mut handle).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) if e.is_panic() => tracing::error!(job = name, "job panicked"),
                Ok(Err(_)) => {}
                Err(_) => {
                    tracing::warn!(job = name, "job did not stop in time: aborted");
                    handle.abort();
                }
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.running.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::watch;

    #[tokio::test]
    async fn waits_for_jobs_that_stop_and_aborts_one_that_does_not() {
        let (tx, rx) = watch::channel(false);
        let stopped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut jobs = Jobs::default();
        let (mut rx1, flag) = (rx.clone(), stopped.clone());
        jobs.spawn("polite", async move {
            let _ = rx1.wait_for(|s| *s).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        jobs.spawn("stubborn", std::future::pending());
        assert_eq!(jobs.len(), 2);
        tx.send(true).unwrap();
        let began = std::time::Instant::now();
        jobs.stop(Duration::from_millis(300)).await;
        assert!(stopped.load(std::sync::atomic::Ordering::SeqCst));
        assert!(began.elapsed() < Duration::from_secs(2));
    }
}
