//! The synthetic SIP side of a multi-campaign run: the engine harness's
//! [`ScriptedSip`](crate::engine::harness::ScriptedSip) (trunk-group channels and CPS, agent legs
//! answering, customers hanging up after their talk time), scripted with each campaign's
//! [`TrunkModel`]. Common random numbers: a lead's customer draws from its own stream keyed by
//! the lead id, so every strategy meets the same customer on the same lead. Owns no call state.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::engine::harness::{Answer, Script, TalkScript};
use crate::sim::dist::{stream_rng, CallDraw, Outcome, TrunkModel};
use crate::sim::engine::STREAM_CALLS;
use crate::sip::SipOutcome;

/// The customers of every campaign (by name).
#[derive(Clone)]
pub struct Customers {
    models: Arc<BTreeMap<String, TrunkModel>>,
    seed: u64,
}

impl Customers {
    /// Customers drawn from `models` with `seed`.
    pub fn new(models: BTreeMap<String, TrunkModel>, seed: u64) -> Customers {
        Customers {
            models: Arc::new(models),
            seed,
        }
    }

    /// The draw of the customer of `lead` on `campaign` (none for a campaign not modelled).
    pub fn draw(&self, campaign: &str, lead: i64) -> Option<CallDraw> {
        let model = self.models.get(campaign)?;
        let mut rng = stream_rng(self.seed, STREAM_CALLS, lead as u64);
        Some(model.draw(&mut rng))
    }

    /// How the customer responds to the dial: the harness's script.
    pub fn script(&self) -> Script {
        let me = self.clone();
        Box::new(move |campaign, lead| match me.draw(campaign, lead) {
            Some(d) => answer(&d),
            None => Answer::Never,
        })
    }

    /// How long the customer talks once connected.
    pub fn talk(&self) -> TalkScript {
        let me = self.clone();
        Box::new(move |campaign, lead| {
            me.draw(campaign, lead)
                .map_or(Duration::ZERO, |d| Duration::from_secs_f64(d.talk_s))
        })
    }
}

/// The SIP side of a drawn outcome. A no-answer rings until the engine gives up at the
/// campaign's ring timeout (the model's no-answer timeout is that same timeout).
fn answer(d: &CallDraw) -> Answer {
    let after = Duration::from_secs_f64(d.after_s);
    match d.outcome {
        Outcome::Live => Answer::Live(after),
        Outcome::Machine => Answer::Machine(after),
        Outcome::Busy => Answer::Busy(after),
        Outcome::Invalid => Answer::Failed(after, 404, SipOutcome::Invalid),
        Outcome::Failure => Answer::Failed(after, 503, SipOutcome::TrunkFailure),
        Outcome::NoAnswer => Answer::Never,
    }
}
