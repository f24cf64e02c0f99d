//! A hash map keyed by the dialer's own sequence numbers (call and inbound ids). The keys are
//! small consecutive integers chosen by the dialer, not by an adversary, so SipHash's
//! flood resistance buys nothing and costs a sixth of a simulator event; one multiply spreads
//! them over hashbrown's buckets and control bytes instead.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// `HashMap` from an id to `V` with [`IdHasher`].
pub type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

/// Fibonacci hashing of one `u64`: the multiply mixes low bits into the top ones (hashbrown's
/// control bytes) while the low bits (the bucket index) stay a permutation of the id's.
#[derive(Clone, Copy, Debug, Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used by the maps above; any other key type still hashes correctly.
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}
