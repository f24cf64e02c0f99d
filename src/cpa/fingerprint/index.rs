//! The hash → (reference, time) table of a [`super::Library`]: entries sorted by hash with a
//! direct table of where each hash's entries start, so a lookup is two array reads whatever the
//! library's size (a hash map would hash, a binary search would take ~20 steps). Owns the
//! entries only; built once, then read-only and shared by every stream.

use super::landmarks::{Landmark, HASH_BITS};

/// Where a hash occurs in the references.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The reference's position in the library.
    pub reference: u32,
    /// Column of the landmark in the reference.
    pub t: u32,
}

/// Every landmark of every reference, by hash.
#[derive(Default)]
pub struct Index {
    /// `starts[h]..starts[h + 1]` are hash `h`'s entries.
    starts: Vec<u32>,
    entries: Vec<Entry>,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("entries", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl Index {
    /// From each reference's landmarks (the reference's number is its position).
    pub fn build(references: &[Vec<Landmark>]) -> Index {
        let buckets = 1usize << HASH_BITS;
        let mut all: Vec<(u32, Entry)> = references
            .iter()
            .enumerate()
            .flat_map(|(r, marks)| {
                marks.iter().map(move |m| {
                    (
                        m.hash,
                        Entry {
                            reference: r as u32,
                            t: m.t,
                        },
                    )
                })
            })
            .collect();
        all.sort_unstable_by_key(|&(h, e)| (h, e.reference, e.t));
        let mut starts = vec![0u32; buckets + 1];
        for &(h, _) in &all {
            starts[h as usize + 1] += 1;
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        Index {
            starts,
            entries: all.into_iter().map(|(_, e)| e).collect(),
        }
    }

    /// Where `hash` occurs (empty for an unknown or out-of-range hash).
    pub fn lookup(&self, hash: u32) -> &[Entry] {
        let h = hash as usize;
        match (self.starts.get(h), self.starts.get(h + 1)) {
            (Some(&a), Some(&b)) => self.entries.get(a as usize..b as usize).unwrap_or(&[]),
            _ => &[],
        }
    }

    /// Entries in all.
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}
