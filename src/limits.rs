//! Connection limits of the two TCP listeners (SIP over TCP, admin HTTP): how many connections
//! may be open at once, how long a request's header may take to arrive, and how long a
//! connection may sit idle. Plain values and the permit pool that enforces the cap (a tokio
//! [`Semaphore`], as mini-redis does); each listener applies the timeouts its own way.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Limits of one listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    /// Connections open at once; one more is closed as soon as it is accepted.
    pub max_connections: usize,
    /// A request (header, and body for SIP) started on a connection must be complete within
    /// this long, or the connection is closed (slowloris).
    pub header_timeout: Duration,
    /// A connection with no request in progress is closed after this long without one.
    pub idle_timeout: Duration,
}

/// Why a listener closed or refused a connection (the `reason` label of the refusal counters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `max_connections` were open: closed at accept.
    Cap,
    /// The request's header did not arrive within `header_timeout`.
    HeaderTimeout,
    /// No request within `idle_timeout`.
    IdleTimeout,
}

impl Refusal {
    /// Label value in `/metrics`.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Cap => "cap",
            Refusal::HeaderTimeout => "header_timeout",
            Refusal::IdleTimeout => "idle_timeout",
        }
    }
}

/// The permits of one listener: a connection holds one for as long as it is open.
#[derive(Debug, Clone)]
pub struct ConnCap {
    permits: Arc<Semaphore>,
    max: usize,
}

impl ConnCap {
    /// A pool of `max` permits.
    pub fn new(max: usize) -> Self {
        ConnCap {
            permits: Arc::new(Semaphore::new(max)),
            max,
        }
    }

    /// A permit for one more connection, or `None` when `max` are open (the caller closes the
    /// connection at once rather than queue it: a queued slowloris still holds a descriptor).
    pub fn try_admit(&self) -> Option<OwnedSemaphorePermit> {
        self.permits.clone().try_acquire_owned().ok()
    }
}

impl ConnCap {
    /// Waits until every permit is back: every connection admitted so far has closed.
    pub async fn drained(&self) {
        let all = u32::try_from(self.max()).unwrap_or(u32::MAX);
        // The semaphore is never closed, so acquiring cannot fail; the permits drop at once.
        if let Ok(permits) = self.permits.acquire_many(all).await {
            drop(permits);
        }
    }

    fn max(&self) -> usize {
        self.max
    }
}
