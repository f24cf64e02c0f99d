//! The model-based strategies: `predictive` launches calls one at a time while the marginal
//! abandon probability stays under the controller's price θ (see [`crate::pacing::predictive`]);
//! `slack:S` launches while the forecast keeps `S` agents of slack (the plain reference rule of
//! pacing.md). Both decide from the forecast and [`Inputs`]; the forecast, estimators and the
//! abandon record stay the dialer's.

use crate::pacing::dialer::Floor;
use crate::pacing::strategy::{Inputs, Strategy};
use crate::pacing::Millis;

/// Up to this many active agents and calls in flight the marginal abandon probability is
/// convolved exactly; above, the normal approximation is used.
const EXACT_AGENTS: u32 = 64;
const EXACT_IN_FLIGHT: u32 = 400;

/// `predictive`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Predictive;

/// `slack:S`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Slack {
    /// Safety slack in agents.
    pub(crate) s: f64,
}

impl Strategy for Predictive {
    fn decide(&mut self, now: Millis, floor: &mut Floor<'_>) {
        let room = floor.model_room(now);
        if room == 0 {
            return;
        }
        let inputs: Inputs = floor.inputs(now);
        let ahead0 = inputs.ahead + inputs.bias;
        let theta = floor.price(floor.warmth());
        let mut prices = Vec::new();
        if floor.active_agents() <= EXACT_AGENTS && floor.in_flight() <= EXACT_IN_FLIGHT {
            let mut ex = floor
                .forecast()
                .exact(now, inputs.idle, ahead0, inputs.inbound_rate);
            while (prices.len() as u32) < room {
                let p = ex.marginal_and_push(true);
                if p > theta {
                    break;
                }
                prices.push(p);
            }
        } else {
            let sums = floor
                .forecast()
                .sums(now, inputs.idle, ahead0, inputs.inbound_rate, false);
            while (prices.len() as u32) < room {
                let p = sums.marginal(prices.len() as u32);
                if p > theta {
                    break;
                }
                prices.push(p);
            }
        }
        for &p in &prices {
            floor.dial_priced(now, p * inputs.live);
        }
        fallback(now, floor, prices.len());
    }

    fn clone_box(&self) -> Box<dyn Strategy> {
        Box::new(*self)
    }
}

/// Graceful fallback: nothing in flight or waiting, an agent idle, yet the model will not risk
/// a call (inbound load, a tight abandon budget). A call with the agent reserved cannot be
/// abandoned, so the dialler is never worse than progressive.
fn fallback(now: Millis, floor: &mut Floor<'_>, launched: usize) {
    if launched == 0 && floor.in_flight() == 0 && floor.waiting() == 0 && floor.inbound_ahead() == 0
    {
        if let Some(a) = floor.pop_ready_agent() {
            floor.dial(now, Some(a));
        }
    }
}

impl Strategy for Slack {
    fn decide(&mut self, now: Millis, floor: &mut Floor<'_>) {
        let room = floor.model_room(now);
        if room == 0 {
            return;
        }
        // The reference rule runs without the calibration offset nor inbound arrivals.
        let inputs = floor.inputs(now);
        let sums = floor
            .forecast()
            .sums(now, inputs.idle, inputs.ahead, 0.0, true);
        let mut n = 0;
        while n < room && sums.slack(n) >= self.s {
            n += 1;
        }
        for _ in 0..n {
            floor.dial(now, None);
        }
    }

    fn clone_box(&self) -> Box<dyn Strategy> {
        Box::new(*self)
    }
}
