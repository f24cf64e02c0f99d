//! The RTP port pool: the even ports of a configured range (RTP on the even port, RTCP on the
//! odd one above it), handed out and taken back by the engine core. Plain data: it binds
//! nothing and never touches a socket (the media shell binds what the engine opens).
//!
//! Reuse is first-in first-out: a released port goes to the back of the queue, so a port is
//! used again only after every other free port, and late packets of an old call seldom reach
//! a new one.
//!
//! A port the media plane could not bind (another program holds it) is quarantined for
//! [`QUARANTINE`]: once released it is not handed out again until that time has passed, so the
//! next calls do not fail on it too. Time comes in as `now`; the pool reads no clock.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How long a port that could not be bound stays out of use (after that it is tried again:
/// whatever held it may have let it go; if not, it is quarantined again).
pub const QUARANTINE: Duration = Duration::from_secs(10 * 60);

/// Why a port range cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PortRangeError {
    /// Not `LOW-HIGH` with two port numbers.
    #[error("expected LOW-HIGH, e.g. 20000-29999, got {0:?}")]
    Syntax(String),
    /// The range holds no even port with its odd partner (or starts below 1024).
    #[error("{0}-{1} holds no RTP/RTCP port pair at or above 1024")]
    Empty(u16, u16),
}

/// A range of UDP ports, both ends included (`ports: 20000-29999` in the engine file).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRange {
    /// First port.
    pub low: u16,
    /// Last port.
    pub high: u16,
}

impl PortRange {
    /// Parses `LOW-HIGH`.
    pub fn parse(s: &str) -> Result<PortRange, PortRangeError> {
        let syntax = || PortRangeError::Syntax(s.to_string());
        let (a, b) = s.split_once('-').ok_or_else(syntax)?;
        let low: u16 = a.trim().parse().map_err(|_| syntax())?;
        let high: u16 = b.trim().parse().map_err(|_| syntax())?;
        let r = PortRange { low, high };
        if r.pairs() == 0 || low < 1024 {
            return Err(PortRangeError::Empty(low, high));
        }
        Ok(r)
    }

    /// The even ports whose odd partner is in the range too.
    fn even_ports(self) -> impl Iterator<Item = u16> {
        let first = self.low.saturating_add(self.low % 2);
        (u32::from(first)..u32::from(self.high))
            .step_by(2)
            .filter_map(|p| u16::try_from(p).ok())
    }

    /// How many RTP/RTCP pairs the range holds.
    pub fn pairs(self) -> usize {
        self.even_ports().count()
    }
}

impl std::fmt::Display for PortRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.low, self.high)
    }
}

impl<'de> serde::Deserialize<'de> for PortRange {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PortRange::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The free even ports of a range.
#[derive(Clone, Debug)]
pub struct PortPool {
    range: PortRange,
    free: VecDeque<u16>,
    /// Whether each pair (index `(port - first) / 2`) is handed out: a release of a port that is
    /// not out (twice, or foreign) is ignored instead of duplicating it in the pool.
    out: Vec<bool>,
    /// Until when each pair is quarantined (see [`PortPool::fail`]).
    bad_until: Vec<Option<Instant>>,
    /// Released quarantined ports with the end of their quarantine, in release order.
    held: VecDeque<(Instant, u16)>,
    first: u16,
}

impl PortPool {
    /// Every even port of `range` free.
    pub fn new(range: PortRange) -> PortPool {
        let free: VecDeque<u16> = range.even_ports().collect();
        let first = free.front().copied().unwrap_or(range.low);
        PortPool {
            range,
            out: vec![false; free.len()],
            bad_until: vec![None; free.len()],
            held: VecDeque::new(),
            free,
            first,
        }
    }

    /// The range served.
    pub fn range(&self) -> PortRange {
        self.range
    }

    /// Takes the free port released longest ago; `None` when every port is in use or
    /// quarantined.
    pub fn allocate(&mut self, now: Instant) -> Option<u16> {
        self.thaw(now);
        let p = self.free.pop_front()?;
        if let Some(slot) = self.slot(p) {
            self.out[slot] = true;
        }
        Some(p)
    }

    /// Gives `port` back. Returns false (and changes nothing) for a port not handed out.
    pub fn release(&mut self, port: u16) -> bool {
        match self.slot(port) {
            Some(slot) if self.out[slot] => {
                self.out[slot] = false;
                match self.bad_until[slot] {
                    Some(until) => self.held.push_back((until, port)),
                    None => self.free.push_back(port),
                }
                true
            }
            _ => {
                tracing::debug!(port, "release of an RTP port that is not in use: ignored");
                false
            }
        }
    }

    /// `port` could not be bound at `now`: it is not handed out again for [`QUARANTINE`]
    /// (from its release, if it is out now). Returns false (and changes nothing) for a port not
    /// in the range.
    pub fn fail(&mut self, port: u16, now: Instant) -> bool {
        let Some(slot) = self.slot(port) else {
            return false;
        };
        let until = now + QUARANTINE;
        self.bad_until[slot] = Some(until);
        if !self.out[slot] {
            // Already given back (the failure was reported after the leg closed).
            if let Some(i) = self.free.iter().position(|&p| p == port) {
                self.free.remove(i);
            }
            self.held.retain(|&(_, p)| p != port);
            self.held.push_back((until, port));
        }
        true
    }

    /// Ports quarantined now (released or still out).
    pub fn quarantined(&self, now: Instant) -> usize {
        self.bad_until
            .iter()
            .filter(|u| u.is_some_and(|u| u > now))
            .count()
    }

    /// Ports free at `now` (quarantined ones are not).
    pub fn free(&self, now: Instant) -> usize {
        self.free.len() + self.held.iter().filter(|(until, _)| *until <= now).count()
    }

    /// Quarantined ports whose time is up go back to the pool (at the back of the queue).
    fn thaw(&mut self, now: Instant) {
        let mut still = VecDeque::with_capacity(self.held.len());
        while let Some((until, port)) = self.held.pop_front() {
            if until > now {
                still.push_back((until, port));
                continue;
            }
            if let Some(slot) = self.slot(port) {
                self.bad_until[slot] = None;
            }
            self.free.push_back(port);
        }
        self.held = still;
    }

    /// Ports the pool holds in all.
    pub fn capacity(&self) -> usize {
        self.out.len()
    }

    fn slot(&self, port: u16) -> Option<usize> {
        if port < self.first || port % 2 != self.first % 2 {
            return None;
        }
        let i = usize::from((port - self.first) / 2);
        (i < self.out.len()).then_some(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_hands_out_even_ports_with_their_rtcp_partner_inside_the_range() {
        let mut p = PortPool::new(PortRange::parse("20001-20008").expect("range"));
        // 20002, 20004, 20006 (20008's partner 20009 is outside).
        assert_eq!(p.capacity(), 3);
        let now = Instant::now();
        let got: Vec<u16> = std::iter::from_fn(|| p.allocate(now)).collect();
        assert_eq!(got, [20002, 20004, 20006]);
        assert_eq!(p.allocate(now), None);
    }

    #[test]
    fn a_released_port_is_reused_last_and_never_twice() {
        let mut p = PortPool::new(PortRange::parse("30000-30005").expect("range"));
        let now = Instant::now();
        let a = p.allocate(now).expect("a");
        let b = p.allocate(now).expect("b");
        assert!(p.release(a));
        assert!(!p.release(a), "a double release is ignored");
        assert!(!p.release(30001), "an odd port is not ours");
        assert!(!p.release(40000), "a foreign port is not ours");
        assert_eq!(p.free(now), 2);
        assert_eq!(p.allocate(now), Some(30004));
        assert_eq!(p.allocate(now), Some(a));
        assert!(p.release(b));
        assert_eq!(p.free(now), 1);
    }

    #[test]
    fn a_port_that_failed_is_not_handed_out_until_its_quarantine_is_over() {
        let mut p = PortPool::new(PortRange::parse("30000-30005").expect("range"));
        let t0 = Instant::now();
        let a = p.allocate(t0).expect("a");
        assert!(p.fail(a, t0));
        assert!(p.release(a));
        assert_eq!(p.free(t0), 2, "the failed port is not free");
        assert_eq!(p.quarantined(t0), 1);
        let b = p.allocate(t0).expect("b");
        let c = p.allocate(t0).expect("c");
        assert!(b != a && c != a);
        assert_eq!(p.allocate(t0), None, "only the quarantined port is left");
        let later = t0 + QUARANTINE;
        assert_eq!(p.free(later), 1);
        assert_eq!(
            p.allocate(later),
            Some(a),
            "tried again once the quarantine is over"
        );
        // A failure reported after the leg closed takes the port out of the free list too.
        assert!(p.release(b));
        assert!(p.fail(b, later));
        assert_eq!(p.free(later), 0);
        assert_eq!(p.allocate(later), None);
        assert!(!p.fail(40000, later), "a foreign port is not ours");
    }

    #[test]
    fn bad_ranges_are_refused() {
        assert!(matches!(
            PortRange::parse("20000"),
            Err(PortRangeError::Syntax(_))
        ));
        assert!(matches!(
            PortRange::parse("abc-def"),
            Err(PortRangeError::Syntax(_))
        ));
        assert!(matches!(
            PortRange::parse("20001-20001"),
            Err(PortRangeError::Empty(..))
        ));
        assert!(matches!(
            PortRange::parse("30000-20000"),
            Err(PortRangeError::Empty(..))
        ));
        assert!(matches!(
            PortRange::parse("100-200"),
            Err(PortRangeError::Empty(..))
        ));
        assert_eq!(
            PortRange::parse("65534-65535").expect("top").pairs(),
            1,
            "the top pair of the port space fits"
        );
    }
}
