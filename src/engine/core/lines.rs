//! Trunk line budgets: how many new calls each campaign may place before the next housekeeping
//! tick, out of the free lines of its trunk group (the SIP side counts them, calls-per-second
//! included). Owns the sharing rule between campaigns on one group; must not touch agents,
//! leases or calls (it reads only what the dialers and the buffers hold).
//!
//! Sharing is by need, then by priority: first each campaign, highest priority first, takes the
//! lines its dialer can use now ([`lines_wanted`]: its dial ceiling times its ready agents,
//! capped by its leads at hand); then what is left goes again in
//! priority order, up to the leads at hand. So a higher-priority campaign never waits for a
//! line a lower one holds idle, and a lower one is not starved by lines the higher one could
//! not use (before, each campaign in turn took as many lines as it held leads, used or not).
//! A campaign alone on its group gets every free line up to its leads, as it always did.

use std::cmp::Reverse;
use std::collections::HashMap;

use crate::agents::AgentState;
use crate::pacing::Mode;

use super::{Camp, Core};

/// New lines campaign `c`'s dialer could use now: its dial ceiling per ready agent (one for
/// progressive and preview, the ratio for power, `max_ratio` for the model-based modes) times
/// its ready agents. Counted on ready agents rather than all active ones: a model-based dialer
/// never fills `max_ratio` lines for every agent, and a ceiling on all of them would keep the
/// whole group (and its calls per second) for the higher priority. A rate mode is blind to
/// agents: no ceiling.
fn lines_wanted(c: &Camp) -> u32 {
    let p = c.dialer.params();
    let per_agent = match p.mode {
        Mode::Preview | Mode::Progressive => 1.0,
        Mode::Power { ratio } => ratio,
        Mode::Predictive | Mode::Slack { .. } => p.max_ratio,
        Mode::Adaptive { .. } => p.max_ratio.max(1.0),
        Mode::Rate { .. } => return u32::MAX,
    };
    let ready = c
        .agents
        .keys()
        .filter(|&&id| c.dialer.agent_state(id) == Some(AgentState::Ready))
        .count();
    let wanted = (per_agent * ready as f64).ceil();
    if wanted.is_finite() && wanted > 0.0 {
        wanted.min(u32::MAX as f64) as u32
    } else {
        0
    }
}

impl Core {
    /// Tells each dialer how many lines it may hold: the free trunk lines of its group, shared
    /// by need and then by priority (see the module doc); none while paused, stopping or when
    /// dialling is blocked.
    pub(super) fn update_lines(&mut self, lines: Vec<(String, u32)>) {
        let mut order: Vec<usize> = (0..self.camps.len()).collect();
        order.sort_by_key(|&ci| Reverse(self.camps[ci].def.priority));
        // Calls committed but not yet placed hold no trunk channel yet.
        let unplaced = self.calls.values().filter(|c| c.sip.is_none()).count() as u32;
        let mut free: HashMap<String, u32> = lines
            .into_iter()
            .map(|(g, n)| (g, n.saturating_sub(unplaced)))
            .collect();
        let blocked = self.dial_blocked() || self.stopping.is_some();
        let mut take = vec![0u32; self.camps.len()];
        for by_need in [true, false] {
            for &ci in &order {
                let c = &self.camps[ci];
                if c.paused || blocked {
                    continue;
                }
                let Some(left) = free.get_mut(&c.def.trunk_group) else {
                    continue;
                };
                // Owned callbacks at hand are leads too (`callbacks`).
                let at_hand = c.buffer.len() + c.owned.len();
                let mut room = (at_hand as u32).saturating_sub(take[ci]);
                if by_need {
                    room = room.min(lines_wanted(c));
                }
                let more = room.min(*left);
                *left -= more;
                take[ci] += more;
            }
        }
        for ci in order {
            self.camps[ci].line_budget = take[ci];
            self.sync_channels(ci);
        }
    }
}
