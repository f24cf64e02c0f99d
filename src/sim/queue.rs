//! The simulator's event queue: earliest (time, push sequence) first.
//!
//! Events due within [`WINDOW_MS`] go to a *bucket wheel*: buckets of [`BUCKET_MS`] ms, each an
//! unsorted list in a node pool, and a bitmap of non-empty buckets. Only the current bucket is
//! ordered: when it is reached its entries (two or three on large-centre) are sorted into a small
//! vector popped from the back. Events further out (the long tail of talk times) go to a 4-ary
//! min-heap, `Heap`. A 4-ary heap of all ~5,000 pending events cost over a fifth of an event
//! on large-centre (mispredicted compares, load latency down the tree); a wheel of 1 ms slots
//! spent as much in cache misses on its 2 MB slot array, where these 4,096 buckets take 32 KB.
//!
//! The pop order is exactly the one of a heap on (time, push sequence), so results are
//! bit-identical to a binary heap's:
//! - the wheel holds the current bucket `cur` (sorted by key) and lists for buckets in
//!   `(cur, cur + BUCKETS)`, one per ring position, so the first non-empty list after `cur`
//!   holds the wheel's next entries and sorting it restores their key order;
//! - `pop` compares the wheel's first entry with the heap's by the full key, so it does not
//!   matter which part holds an event (one earlier than the current bucket, which the simulator
//!   hardly ever pushes, goes to the heap and still pops in order).

/// Width of a bucket in ms (a power of two).
pub const BUCKET_MS: u64 = 1 << SHIFT;
const SHIFT: u32 = 6;
/// Buckets on the wheel (a power of two).
const BUCKETS: u64 = 1 << 12;
/// Span of the wheel: 2^18 ms ≈ 4.4 min covers ring times, wrap-ups and most talks.
pub const WINDOW_MS: u64 = BUCKET_MS * BUCKETS;
const MASK: u64 = BUCKETS - 1;
const WORDS: usize = (BUCKETS / 64) as usize;
/// End of a bucket list.
const NIL: u32 = u32::MAX;

/// An entry: its time, its push sequence number (ties in time pop in push order) and a payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<T> {
    /// Virtual time, ms.
    pub t: u64,
    /// Push sequence number.
    pub seq: u64,
    /// The event.
    pub item: T,
}

/// A wheel entry in the node pool; `next` links a bucket's list (or the free list).
#[derive(Clone, Copy, Debug)]
struct Node<T> {
    key: u128,
    item: T,
    next: u32,
}

/// Min-queue of [`Entry`], earliest (then first pushed) first.
#[derive(Clone, Debug)]
pub struct EventQueue<T> {
    /// Entries of bucket `cur`, sorted by descending key (the earliest is last).
    current: Vec<(u128, T)>,
    /// Absolute number (time / `BUCKET_MS`) of the current bucket.
    cur: u64,
    /// Head node of each ring position's list, `NIL` when empty.
    heads: Vec<u32>,
    /// Bit `b` set iff list `b` is non-empty.
    bits: [u64; WORDS],
    nodes: Vec<Node<T>>,
    free: u32,
    /// Entries in the lists (not counting `current`).
    listed: usize,
    far: Heap<T>,
    seq: u64,
}

impl<T: Copy> Default for EventQueue<T> {
    fn default() -> Self {
        EventQueue {
            current: Vec::new(),
            cur: 0,
            heads: vec![NIL; BUCKETS as usize],
            bits: [0; WORDS],
            nodes: Vec::new(),
            free: NIL,
            listed: 0,
            far: Heap::default(),
            seq: 0,
        }
    }
}

impl<T: Copy> EventQueue<T> {
    /// Number of pending entries.
    pub fn len(&self) -> usize {
        self.current.len() + self.listed + self.far.len()
    }
    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Time of the earliest entry.
    #[inline]
    pub fn peek_time(&self) -> Option<u64> {
        // `current` is empty only when the whole wheel is (see `pop`).
        let wheel = self.current.last().map(|e| (e.0 >> 64) as u64);
        match (wheel, self.far.peek_time()) {
            (Some(w), Some(f)) => Some(w.min(f)),
            (w, f) => w.or(f),
        }
    }

    /// Queues `item` at `t`.
    #[inline]
    pub fn push(&mut self, t: u64, item: T) {
        self.seq += 1;
        let key = key(t, self.seq);
        let b = t >> SHIFT;
        if self.current.is_empty() {
            // The wheel is empty: it starts again at this bucket.
            self.cur = b;
            self.current.push((key, item));
        } else if b == self.cur {
            // Rare (an event less than a bucket ahead): keep `current` sorted.
            let i = self.current.partition_point(|e| e.0 > key);
            self.current.insert(i, (key, item));
        } else if b > self.cur && b - self.cur < BUCKETS {
            let pos = (b & MASK) as usize;
            let node = Node {
                key,
                item,
                next: self.heads[pos],
            };
            let n = if self.free != NIL {
                let n = self.free;
                self.free = self.nodes[n as usize].next;
                self.nodes[n as usize] = node;
                n
            } else {
                // More than 4 G pending events would not fit in memory anyway.
                let n = u32::try_from(self.nodes.len()).expect("event pool below 2^32");
                self.nodes.push(node);
                n
            };
            self.heads[pos] = n;
            self.bits[pos >> 6] |= 1 << (pos & 63);
            self.listed += 1;
        } else {
            self.far.push(key, item);
        }
    }

    /// Removes and returns the earliest entry. Inlined into the event loop, which then gets the
    /// entry in registers rather than through a returned copy on the stack.
    #[inline]
    pub fn pop(&mut self) -> Option<Entry<T>> {
        let from_wheel = match (self.current.last(), self.far.peek_key()) {
            (None, None) => return None,
            (Some(w), Some(f)) => w.0 < f,
            (w, _) => w.is_some(),
        };
        let (key, item) = if from_wheel {
            let e = self.current.pop()?;
            if self.current.is_empty() && self.listed > 0 {
                self.advance();
            }
            e
        } else {
            self.far.pop()?
        };
        Some(Entry {
            t: (key >> 64) as u64,
            seq: key as u64,
            item,
        })
    }

    /// Makes the next non-empty bucket current (`current` is empty, some list is not).
    fn advance(&mut self) {
        let from = ((self.cur + 1) & MASK) as usize;
        let Some(pos) = self
            .first_list_from(from)
            .or_else(|| self.first_list_from(0))
        else {
            return;
        };
        self.cur += 1 + ((pos as u64).wrapping_sub(from as u64) & MASK);
        let mut n = std::mem::replace(&mut self.heads[pos], NIL);
        self.bits[pos >> 6] &= !(1 << (pos & 63));
        while n != NIL {
            let node = self.nodes[n as usize];
            self.current.push((node.key, node.item));
            self.nodes[n as usize].next = self.free;
            self.free = n;
            self.listed -= 1;
            n = node.next;
        }
        // Keys are unique, so an unstable sort gives the one order.
        self.current
            .sort_unstable_by_key(|e| std::cmp::Reverse(e.0));
    }

    /// The first non-empty list at or after ring position `pos` (not wrapping around).
    fn first_list_from(&self, pos: usize) -> Option<usize> {
        let mut w = pos >> 6;
        let mut m = *self.bits.get(w)? & (!0u64 << (pos & 63));
        loop {
            if m != 0 {
                return Some(w << 6 | m.trailing_zeros() as usize);
            }
            w += 1;
            m = *self.bits.get(w)?;
        }
    }
}

/// Time in the high half, push sequence in the low half: one branch-free compare orders both.
fn key(t: u64, seq: u64) -> u128 {
    ((t as u128) << 64) | seq as u128
}

/// 4-ary min-heap on (time, push sequence) for the events beyond the wheel. Keys are stored
/// apart from the payloads, so the four children of a node share one cache line, and moves go
/// through a hole instead of swaps.
#[derive(Clone, Debug)]
struct Heap<T> {
    keys: Vec<u128>,
    items: Vec<T>,
}

impl<T> Default for Heap<T> {
    fn default() -> Self {
        Heap {
            keys: Vec::new(),
            items: Vec::new(),
        }
    }
}

impl<T: Copy> Heap<T> {
    fn len(&self) -> usize {
        self.keys.len()
    }

    fn peek_key(&self) -> Option<u128> {
        self.keys.first().copied()
    }

    fn peek_time(&self) -> Option<u64> {
        self.keys.first().map(|&k| (k >> 64) as u64)
    }

    fn push(&mut self, key: u128, item: T) {
        let mut i = self.keys.len();
        self.keys.push(key);
        self.items.push(item);
        // Sift the hole up.
        while i > 0 {
            let parent = (i - 1) / 4;
            if key < self.keys[parent] {
                self.keys[i] = self.keys[parent];
                self.items[i] = self.items[parent];
                i = parent;
            } else {
                break;
            }
        }
        self.keys[i] = key;
        self.items[i] = item;
    }

    fn pop(&mut self) -> Option<(u128, T)> {
        let last_key = self.keys.pop()?;
        let last_item = self.items.pop()?;
        let n = self.keys.len();
        if n == 0 {
            return Some((last_key, last_item));
        }
        let top = (self.keys[0], self.items[0]);
        let mut i = 0;
        // Sift the hole down from the root, then fill it with the last entry.
        loop {
            let first = 4 * i + 1;
            if first >= n {
                break;
            }
            let end = (first + 4).min(n);
            let mut best = first;
            let mut best_key = self.keys[first];
            for c in first + 1..end {
                let k = self.keys[c];
                if k < best_key {
                    best = c;
                    best_key = k;
                }
            }
            if best_key < last_key {
                self.keys[i] = best_key;
                self.items[i] = self.items[best];
                i = best;
            } else {
                break;
            }
        }
        self.keys[i] = last_key;
        self.items[i] = last_item;
        Some(top)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pushes at `cur + delay` with delays drawn below `spread`, interleaving pops as the
    /// simulator does, and checks the order against a sorted list of (time, push index).
    fn check(spread: u64, pushes: u32) {
        let mut q = EventQueue::default();
        let mut rng = 12345u64 ^ spread;
        let mut want = Vec::new();
        let mut now = 0u64;
        for k in 0..pushes {
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let t = now + (rng >> 33) % spread;
            q.push(t, k);
            want.push((t, k));
            if k.is_multiple_of(3) {
                let e = q.pop().map(|e| (e.t, e.item));
                want.sort();
                let w = want.remove(0);
                assert_eq!(e, Some(w));
                now = w.0;
                assert_eq!(q.peek_time(), want.iter().map(|w| w.0).min());
            }
        }
        want.sort();
        let mut got = Vec::new();
        while let Some(e) = q.pop() {
            got.push((e.t, e.item));
        }
        assert_eq!(got, want);
        assert!(q.is_empty());
    }

    #[test]
    fn pops_in_time_then_push_order() {
        // Many ties (all in the wheel), a mix of wheel and heap, and mostly heap.
        check(97, 2000);
        check(3 * WINDOW_MS / 2, 20_000);
        check(40 * WINDOW_MS, 5000);
    }

    #[test]
    fn pushes_before_the_current_bucket_still_come_first() {
        let mut q = EventQueue::default();
        q.push(1000, 'a');
        q.push(2000, 'b');
        q.push(2000, 'c');
        assert_eq!(q.pop().map(|e| (e.t, e.item)), Some((1000, 'a')));
        // The wheel moved on to 2000's bucket; these are behind it or in it.
        q.push(100, 'd');
        q.push(1990, 'e');
        q.push(2000, 'f');
        assert_eq!(q.peek_time(), Some(100));
        let order: Vec<_> = std::iter::from_fn(|| q.pop().map(|e| (e.t, e.item))).collect();
        assert_eq!(
            order,
            vec![
                (100, 'd'),
                (1990, 'e'),
                (2000, 'b'),
                (2000, 'c'),
                (2000, 'f')
            ]
        );
    }
}
