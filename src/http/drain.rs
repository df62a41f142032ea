//! Security finding 15: a body refused as too large (413) is answered only after the rest of
//! it was read and thrown away (up to a bound), so an ordinary HTTP client — which writes its
//! whole body before it reads — gets the 413 instead of a connection reset.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use futures_util::StreamExt;
use http_body::{Body as _, Frame, SizeHint};

/// Past this much, or this long, a refused body is not read further (the connection closes).
const DRAIN_MAX_BYTES: u64 = 128 * 1024 * 1024;
const DRAIN_MAX_TIME: Duration = Duration::from_secs(30);

/// The request body, shared with the middleware that handed it on: what the handler leaves
/// unread is still reachable once the handler is done.
struct Shared(Arc<Mutex<Option<Body>>>);

impl http_body::Body for Shared {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let Ok(mut slot) = self.0.lock() else {
            return Poll::Ready(None);
        };
        match slot.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.0
            .lock()
            .map_or(true, |s| s.as_ref().is_none_or(|b| b.is_end_stream()))
    }

    fn size_hint(&self) -> SizeHint {
        self.0
            .lock()
            .ok()
            .and_then(|s| s.as_ref().map(|b| b.size_hint()))
            .unwrap_or_default()
    }
}

/// Hands the handler a shared body; on a 413, reads the rest before answering, and tells the
/// client the connection closes.
pub async fn drain_refused_body(req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    // Requests without a body (GET, upgrades) go through as they are.
    if body.is_end_stream() {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let slot = Arc::new(Mutex::new(Some(body)));
    let mut res = next
        .run(Request::from_parts(parts, Body::new(Shared(slot.clone()))))
        .await;
    if res.status() != StatusCode::PAYLOAD_TOO_LARGE {
        return res;
    }
    let rest = slot.lock().ok().and_then(|mut s| s.take());
    if let Some(rest) = rest.filter(|_| declared.is_none_or(|n| n <= DRAIN_MAX_BYTES)) {
        let deadline = tokio::time::Instant::now() + DRAIN_MAX_TIME;
        let mut stream = rest.into_data_stream();
        let mut read = 0u64;
        while let Ok(Some(Ok(chunk))) = tokio::time::timeout_at(deadline, stream.next()).await {
            read += chunk.len() as u64;
            if read > DRAIN_MAX_BYTES {
                break;
            }
        }
    }
    // It may still carry part of that body: not to be reused.
    res.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    res
}
