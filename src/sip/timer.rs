//! The one scheduler of an endpoint: every retransmission, transaction timeout, ring timeout and
//! trunk ping is an entry in a single binary heap (not a task or a tokio timer per call).
//! Cancelling is lazy: the owner of an entry remembers the deadline it still wants, and a popped
//! entry whose owner has moved on is ignored.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use super::transaction::TransactionKey;

/// What a wake-up is for. Keys and ids refer to the endpoint's tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Timer {
    /// When to retransmit a client request (RFC 3261 timers A and E).
    Retransmit(TransactionKey),
    /// When a client transaction gives up (B, F) or, once completed, is forgotten (D, M, K).
    TxEnd(TransactionKey),
    /// When an unanswered outbound leg is cancelled (the ring timeout).
    Ring(u64),
    /// When flow I stops waiting for `connect`/`abandon` and ends the answered customer leg.
    AckHold(u64),
    /// When a UAS leg retransmits its final response (timer G, RFC 6026 2xx retransmission).
    UasRetransmit(u64),
    /// When a UAS leg gives up waiting for the ACK (timer H, 64·T1 for 2xx).
    UasGiveUp(u64),
    /// When a cached response to a non-INVITE request is forgotten (timer J).
    ServerCacheEnd(u64),
    /// When a trunk is pinged with OPTIONS.
    TrunkPing(usize),
}

/// A min-heap of `(deadline, timer)`.
#[derive(Debug, Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<(Instant, Timer)>>,
}

impl Timers {
    /// Schedules `t` at `at`.
    pub fn set(&mut self, at: Instant, t: Timer) {
        self.heap.push(Reverse((at, t)));
    }
    /// The earliest deadline (possibly of a stale entry; firing it is then a no-op).
    pub fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }
    /// Pops one entry due at or before `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<(Instant, Timer)> {
        match self.heap.peek() {
            Some(Reverse((at, _))) if *at <= now => self.heap.pop().map(|Reverse(e)| e),
            _ => None,
        }
    }
    /// Number of entries (live and stale).
    pub fn len(&self) -> usize {
        self.heap.len()
    }
    /// True when nothing is scheduled.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}
