//! The synthetic SIP side of a multi-campaign run: the engine harness's
//! [`ScriptedSip`](crate::engine::harness::ScriptedSip) (trunk-group channels and CPS, agent legs
//! answering, customers hanging up after their talk time), scripted with each campaign's
//! [`TrunkModel`]. Common random numbers: a lead's customer draws from its own stream keyed by
//! the lead id, so every strategy meets the same customer on the same lead. Owns no call state.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::cpa::{CpaEvent, Decision, Phase};
use crate::engine::harness::{Answer, CpaScript, Script, TalkScript};
use crate::pacing::Verdict;
use crate::sim::analysis::{AnalysisSpec, AGENT_ON_MACHINE_S};
use crate::sim::dist::{stream_rng, CallDraw, Outcome, TrunkModel};
use crate::sim::engine::{STREAM_ANALYSIS, STREAM_CALLS};
use crate::sip::SipOutcome;

/// The customers of every campaign (by name).
#[derive(Clone)]
pub struct Customers {
    models: Arc<BTreeMap<String, TrunkModel>>,
    /// The analysis of the campaigns whose trunk group analyses its calls.
    analysis: Arc<BTreeMap<String, AnalysisSpec>>,
    seed: u64,
}

impl Customers {
    /// Customers drawn from `models` with `seed`; the campaigns in `analysis` are analysed.
    pub fn new(
        models: BTreeMap<String, TrunkModel>,
        analysis: BTreeMap<String, AnalysisSpec>,
        seed: u64,
    ) -> Customers {
        Customers {
            models: Arc::new(models),
            analysis: Arc::new(analysis),
            seed,
        }
    }

    /// The verdict and delay (s) of the analysed answer of `lead` on `campaign`: from the
    /// lead's own analysis stream, so every strategy meets the same mistakes on the same lead.
    pub fn verdict(&self, campaign: &str, lead: i64) -> Option<(Verdict, f64)> {
        let spec = self.analysis.get(campaign)?;
        let d = self.draw(campaign, lead)?;
        let person = match d.outcome {
            Outcome::Live => true,
            Outcome::Machine => false,
            _ => return None,
        };
        let mut rng = stream_rng(self.seed, STREAM_ANALYSIS, lead as u64);
        Some(spec.draw(&mut rng, person))
    }

    /// The media side's verdicts: the harness's CPA script. A person's "other" verdict is dead
    /// air (hung up, `silence`).
    pub fn cpa(&self) -> CpaScript {
        let me = self.clone();
        CpaScript(Box::new(move |campaign, lead, phase| {
            if phase != Phase::Answer {
                return Vec::new();
            }
            let Some((v, delay_s)) = me.verdict(campaign, lead) else {
                return Vec::new();
            };
            let verdict = match v {
                Verdict::Human => crate::cpa::Verdict::Human,
                Verdict::Machine => crate::cpa::Verdict::Machine,
                Verdict::Other => crate::cpa::Verdict::Silence,
            };
            let delay = Duration::from_secs_f64(delay_s);
            vec![(
                delay,
                CpaEvent::Verdict(Decision {
                    verdict,
                    decided_ms: delay.as_millis() as u32,
                    detail: "simulated".into(),
                }),
            )]
        }))
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
            // An analysed trunk answers machines like people (a 200): analysis tells them
            // apart.
            Some(d) if d.outcome == Outcome::Machine && me.analysis.contains_key(campaign) => {
                Answer::Live(Duration::from_secs_f64(d.after_s))
            }
            Some(d) => answer(&d),
            None => Answer::Never,
        })
    }

    /// How long the customer talks once connected.
    pub fn talk(&self) -> TalkScript {
        let me = self.clone();
        Box::new(move |campaign, lead| {
            me.draw(campaign, lead).map_or(Duration::ZERO, |d| {
                // A greeting passed as a person: the agent listens a while and hangs up.
                if d.outcome == Outcome::Machine {
                    Duration::from_secs_f64(AGENT_ON_MACHINE_S)
                } else {
                    Duration::from_secs_f64(d.talk_s)
                }
            })
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
