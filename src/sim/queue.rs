//! The simulator's event queue: a 4-ary min-heap on (time, push sequence). Keys are unique, so it
//! pops exactly the order a binary heap would; with four children per node it is half as deep,
//! and the moves go through a hole instead of swaps — popping was over a quarter of an event's
//! cost with `std::collections::BinaryHeap` on large-centre (about 5,000 pending events).

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

/// Min-heap of [`Entry`], earliest (then first pushed) on top. Keys (time in the high half, push
/// sequence in the low half of a `u128`: one branch-free compare) are stored apart from the
/// payloads, so the four children of a node share one cache line.
#[derive(Clone, Debug)]
pub struct EventQueue<T> {
    keys: Vec<u128>,
    items: Vec<T>,
    seq: u64,
}

impl<T: Copy> Default for EventQueue<T> {
    fn default() -> Self {
        EventQueue {
            keys: Vec::new(),
            items: Vec::new(),
            seq: 0,
        }
    }
}

impl<T: Copy> EventQueue<T> {
    /// Number of pending entries.
    pub fn len(&self) -> usize {
        self.keys.len()
    }
    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
    /// Time of the earliest entry.
    #[inline]
    pub fn peek_time(&self) -> Option<u64> {
        self.keys.first().map(|&k| (k >> 64) as u64)
    }

    /// Queues `item` at `t`.
    pub fn push(&mut self, t: u64, item: T) {
        self.seq += 1;
        let key = ((t as u128) << 64) | self.seq as u128;
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

    /// Removes and returns the earliest entry.
    pub fn pop(&mut self) -> Option<Entry<T>> {
        let last_key = self.keys.pop()?;
        let last_item = self.items.pop()?;
        let n = self.keys.len();
        if n == 0 {
            return Some(entry(last_key, last_item));
        }
        let top = entry(self.keys[0], self.items[0]);
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

fn entry<T>(key: u128, item: T) -> Entry<T> {
    Entry {
        t: (key >> 64) as u64,
        seq: key as u64,
        item,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_time_then_push_order() {
        let mut q = EventQueue::default();
        let mut rng = 12345u64;
        let mut want = Vec::new();
        for k in 0..2000u32 {
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let t = (rng >> 33) % 97;
            q.push(t, k);
            want.push((t, k));
            if k % 3 == 0 {
                // Interleave pops, as the simulator does.
                let e = q.pop().map(|e| (e.t, e.item));
                want.sort();
                let w = want.remove(0);
                assert_eq!(e, Some(w));
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
}
