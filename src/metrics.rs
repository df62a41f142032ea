//! Request counters and latencies for `/metrics` (OPS-5), kept in atomics: recording costs a
//! few relaxed increments per request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency histogram, in seconds (Prometheus `le`).
pub const BUCKETS: [f64; 10] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

#[derive(Default)]
pub struct Metrics {
    /// Responses by status class: 1xx..5xx.
    by_class: [AtomicU64; 5],
    /// Counts per bucket, not cumulative (index i: BUCKETS[i-1] < duration ≤ BUCKETS[i]); the
    /// sums are made when rendering, so a scrape never sees a smaller count above a larger.
    buckets: [AtomicU64; 10],
    count: AtomicU64,
    sum_micros: AtomicU64,
    /// Connections turned away: the server full, one address full.
    refused: [AtomicU64; 2],
}

impl Metrics {
    pub fn observe(&self, status: u16, took: Duration) {
        let class = (status / 100).clamp(1, 5) as usize - 1;
        self.by_class[class].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        let secs = took.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|le| secs <= *le) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.sum_micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn refused_connection(&self, why: crate::http::serve::Refusal) {
        let i = match why {
            crate::http::serve::Refusal::Full => 0,
            crate::http::serve::Refusal::AddressFull => 1,
        };
        self.refused[i].fetch_add(1, Ordering::Relaxed);
    }

    /// The request metrics in Prometheus text format.
    pub fn render(&self, out: &mut String) {
        out.push_str("# HELP atiende_connections_refused_total Connections turned away by the connection caps.\n");
        out.push_str("# TYPE atiende_connections_refused_total counter\n");
        for (reason, c) in ["server_full", "address_full"].iter().zip(&self.refused) {
            out.push_str(&format!(
                "atiende_connections_refused_total{{reason=\"{reason}\"}} {}\n",
                c.load(Ordering::Relaxed)
            ));
        }
        out.push_str("# HELP atiende_http_responses_total HTTP responses by status class.\n");
        out.push_str("# TYPE atiende_http_responses_total counter\n");
        for (i, c) in self.by_class.iter().enumerate() {
            out.push_str(&format!(
                "atiende_http_responses_total{{class=\"{}xx\"}} {}\n",
                i + 1,
                c.load(Ordering::Relaxed)
            ));
        }
        out.push_str(
            "# HELP atiende_http_request_duration_seconds Time to the response headers.\n",
        );
        out.push_str("# TYPE atiende_http_request_duration_seconds histogram\n");
        let mut cumulative = 0;
        for (i, le) in BUCKETS.iter().enumerate() {
            cumulative += self.buckets[i].load(Ordering::Relaxed);
            out.push_str(&format!(
                "atiende_http_request_duration_seconds_bucket{{le=\"{le}\"}} {cumulative}\n"
            ));
        }
        // Counted before its bucket: never below the finite buckets.
        let count = self.count.load(Ordering::Relaxed).max(cumulative);
        out.push_str(&format!(
            "atiende_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}\n"
        ));
        out.push_str(&format!(
            "atiende_http_request_duration_seconds_sum {}\n",
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        ));
        out.push_str(&format!(
            "atiende_http_request_duration_seconds_count {count}\n"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative() {
        let m = Metrics::default();
        m.observe(200, Duration::from_millis(3));
        m.observe(404, Duration::from_millis(70));
        m.observe(500, Duration::from_secs(9));
        let mut out = String::new();
        m.render(&mut out);
        assert!(out.contains("atiende_http_responses_total{class=\"2xx\"} 1"));
        assert!(out.contains("atiende_http_responses_total{class=\"4xx\"} 1"));
        assert!(out.contains("atiende_http_request_duration_seconds_bucket{le=\"0.005\"} 1"));
        assert!(out.contains("atiende_http_request_duration_seconds_bucket{le=\"0.1\"} 2"));
        assert!(out.contains("atiende_http_request_duration_seconds_bucket{le=\"+Inf\"} 3"));
    }
}
