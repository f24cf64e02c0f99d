//! Preview and progressive: one call per ready outbound agent, the agent reserved for it, so a
//! live answer always has its agent (no abandons). Owns nothing; the agents and lines are the
//! dialer's.

use crate::pacing::dialer::Floor;
use crate::pacing::strategy::Strategy;
use crate::pacing::Millis;

/// `preview`: the reserved agent sees the lead first; the call is dialled when they accept.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Preview;

/// `progressive`: the call is dialled at once with the agent reserved.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Progressive;

impl Strategy for Preview {
    fn decide(&mut self, now: Millis, floor: &mut Floor<'_>) {
        // A queued preview holds no line, so only the launch limit and the ready agents stop
        // this loop; `lines_free` is read again after every launch.
        while floor.lines_free() > 0 {
            match floor.pop_ready_agent() {
                Some(a) => floor.preview(now, a),
                None => break,
            }
        }
    }
    fn clone_box(&self) -> Box<dyn Strategy> {
        Box::new(*self)
    }
}

impl Strategy for Progressive {
    fn decide(&mut self, now: Millis, floor: &mut Floor<'_>) {
        while floor.lines_free() > 0 {
            match floor.pop_ready_agent() {
                Some(a) => floor.dial(now, Some(a)),
                None => break,
            }
        }
    }
    fn clone_box(&self) -> Box<dyn Strategy> {
        Box::new(*self)
    }
}
