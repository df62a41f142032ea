//! Committed events fan out from the writer to live subscribers (SSE) and to the search
//! indexer. The broadcast may drop events for a slow SSE client (it then resumes from the
//! event table); the indexer's channel never drops.

use std::sync::mpsc;
use std::sync::Arc;

use tokio::sync::broadcast;

use crate::domain::Event;
use crate::store::EventSink;

/// Where live subscribers (the SSE stream, chat sockets) get committed events, and where
/// live-only events go. The local implementation is a broadcast channel inside the process;
/// one for several nodes (NATS) would forward its subscription into the same receiver type.
pub trait EventBus: Send + Sync + 'static {
    /// Events from now on. A reader that falls behind gets `Lagged` and resumes from the
    /// event table (`store::events`), so nothing is lost to it.
    fn subscribe(&self) -> broadcast::Receiver<Arc<Event>>;

    /// A live-only event (who is viewing or typing): id 0, never stored, replayed or indexed,
    /// since it means nothing a minute later.
    fn ephemeral(&self, event: Event);
}

pub type Bus = Arc<dyn EventBus>;

/// The bus of one process.
struct LocalBus {
    live: broadcast::Sender<Arc<Event>>,
}

impl EventBus for LocalBus {
    fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.live.subscribe()
    }

    fn ephemeral(&self, mut event: Event) {
        event.id = 0;
        let _ = self.live.send(Arc::new(event));
    }
}

pub struct Fanout {
    live: broadcast::Sender<Arc<Event>>,
    indexer: mpsc::Sender<Arc<Event>>,
}

impl EventSink for Fanout {
    fn committed(&self, events: Vec<Arc<Event>>) {
        for e in events {
            // No subscribers is fine; a stopped indexer is rebuilt at next start.
            let _ = self.indexer.send(e.clone());
            let _ = self.live.send(e);
        }
    }
}

pub fn new() -> (Bus, Arc<Fanout>, mpsc::Receiver<Arc<Event>>) {
    let (live, _) = broadcast::channel(16_384);
    let (tx, rx) = mpsc::channel();
    (
        Arc::new(LocalBus { live: live.clone() }),
        Arc::new(Fanout { live, indexer: tx }),
        rx,
    )
}
