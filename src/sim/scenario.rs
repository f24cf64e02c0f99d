//! Scenario files for `outdial sim` (and `outdial trunk-sim`, which reuses [`TrunkSpec`]): the
//! YAML types, their validation, and the trunk model they describe. Unknown keys are errors that
//! name the file, line and field.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::pacing::dist::Dist;
use crate::pacing::Mode;
use crate::sim::analysis::AnalysisSpec;
use crate::sim::dist::TrunkModel;
use crate::yaml::{check_count, check_dist, check_dur, read as yaml_read, Dur, YamlError};

/// A simulation scenario (see `sim/*.yaml`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Name printed in reports.
    pub name: String,
    /// Random seed (overridable on the command line).
    #[serde(default)]
    pub seed: u64,
    /// Simulated time, warm-up included (at most [`MAX_DURATION`]).
    pub duration: Dur,
    /// Initial period excluded from the figures.
    #[serde(default)]
    pub warmup: Dur,
    /// Agents logged in for the whole run. All are blended (inbound and outbound) unless
    /// `inbound_agents` / `outbound_agents` set aside inbound-only / outbound-only agents; the
    /// rest stay blended. 1 to [`MAX_AGENTS`].
    pub agents: u32,
    /// Agents taking inbound calls only.
    #[serde(default)]
    pub inbound_agents: Option<u32>,
    /// Agents taking outbound calls only.
    #[serde(default)]
    pub outbound_agents: Option<u32>,
    /// How long an answered call waits for an agent before it is abandoned (at most
    /// [`MAX_PATIENCE`]).
    #[serde(default = "default_patience")]
    pub patience: Dur,
    /// Talk time of connected outbound calls (every parameter at most [`MAX_CALL_TIME`], as for
    /// every distribution of a scenario).
    pub talk_time: Dist,
    /// Wrap-up time after every call.
    #[serde(default)]
    pub wrap_time: Dist,
    /// The synthetic trunk.
    pub trunk: TrunkSpec,
    /// Inbound traffic (blending).
    #[serde(default)]
    pub inbound: InboundSpec,
    /// Abandon-rate cap of the campaign (share of live answers).
    #[serde(default = "default_target")]
    pub target_abandon: f64,
    /// The dialer's assumed share of machine verdicts that were people (the campaign's
    /// `amd_false_positive`; 0.02 when absent). Used only with `trunk.analysis`.
    #[serde(default)]
    pub amd_false_positive: Option<f64>,
    /// Strategies run side by side (see [`Mode`]).
    #[serde(default)]
    pub strategies: Vec<String>,
}

/// The `trunk` section: how dialled numbers respond.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkSpec {
    /// Outbound lines: calls dialling, ringing, waiting or connected at once (1 to
    /// [`MAX_CHANNELS`]).
    pub channels: u32,
    /// Probability a call is answered by a person.
    pub live_answer: f64,
    /// Probability a call is answered by a machine.
    #[serde(default)]
    pub machine: f64,
    /// Probability of busy.
    #[serde(default)]
    pub busy: f64,
    /// Probability of an invalid number.
    #[serde(default)]
    pub invalid: f64,
    /// Probability of a trunk failure (5xx, congestion).
    #[serde(default)]
    pub failure: f64,
    /// Dial-to-answer time of answered calls.
    pub ring_time: Dist,
    /// Unanswered calls are given up after this long (at most [`MAX_PATIENCE`]).
    #[serde(default = "default_no_answer")]
    pub no_answer_timeout: Dur,
    /// Call-progress analysis of answered calls: its delay and confusion matrix (see
    /// [`crate::sim::analysis`]). Absent: answers are known at once and without error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<AnalysisSpec>,
}

/// The `inbound` section: Poisson arrivals served by inbound-capable agents first.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundSpec {
    /// Mean arrivals per hour (0: no inbound; at most [`MAX_INBOUND_PER_HOUR`]).
    #[serde(default)]
    pub rate_per_hour: f64,
    /// Talk time of inbound calls.
    #[serde(default = "default_inbound_talk")]
    pub talk_time: Dist,
    /// Service-level objective: this share of inbound calls answered within `service_time`.
    #[serde(default = "default_sl")]
    pub service_level: f64,
    /// Service-level threshold (at most [`MAX_PATIENCE`]).
    #[serde(default = "default_sl_time")]
    pub service_time: Dur,
}

impl Default for InboundSpec {
    fn default() -> Self {
        InboundSpec {
            rate_per_hour: 0.0,
            talk_time: default_inbound_talk(),
            service_level: default_sl(),
            service_time: default_sl_time(),
        }
    }
}

/// Longest simulated `duration`: a week (a run takes seconds per simulated day and strategy).
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 86_400);
/// Most `agents` (and of `inbound_agents`, `outbound_agents`).
pub const MAX_AGENTS: u32 = 10_000;
/// Most trunk `channels`.
pub const MAX_CHANNELS: u32 = 100_000;
/// Longest `patience`, `trunk.no_answer_timeout` and `inbound.service_time`.
pub const MAX_PATIENCE: Duration = Duration::from_secs(600);
/// Largest parameter of the talk, wrap-up and ring time distributions.
pub const MAX_CALL_TIME: Duration = Duration::from_secs(4 * 3600);
/// Highest `inbound.rate_per_hour`.
pub const MAX_INBOUND_PER_HOUR: f64 = 1_000_000.0;
/// Most `strategies` run side by side.
pub const MAX_STRATEGIES: usize = 16;

fn default_patience() -> Dur {
    Dur(std::time::Duration::from_secs(2))
}
fn default_target() -> f64 {
    0.03
}
fn default_no_answer() -> Dur {
    Dur(std::time::Duration::from_secs(25))
}
fn default_inbound_talk() -> Dist {
    Dist::Exponential { mean: 240.0 }
}
fn default_sl() -> f64 {
    0.8
}
fn default_sl_time() -> Dur {
    Dur(std::time::Duration::from_secs(20))
}

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, YamlError> {
        let file = path.display().to_string();
        let text = yaml_read(path)?;
        Scenario::parse(&file, &text)
    }

    /// Parses and validates scenario text (`file` names it in errors).
    pub fn parse(file: &str, text: &str) -> Result<Scenario, YamlError> {
        let s: Scenario = crate::yaml::parse(file, text).map_err(|e| relocate(e, text))?;
        s.validate(file, text)?;
        Ok(s)
    }

    /// Checks the rules serde cannot express.
    pub fn validate(&self, file: &str, text: &str) -> Result<(), YamlError> {
        let bad = |field: &str, msg: String| Err(YamlError::invalid(file, text, field, msg));
        if let Err((field, msg)) = self.check_bounds() {
            return bad(&field, msg);
        }
        if self.duration.0.is_zero() {
            return bad("duration", "must be above 0".into());
        }
        if self.warmup >= self.duration {
            return bad("warmup", "must be shorter than duration".into());
        }
        if self.agents == 0 {
            return bad("agents", "must be at least 1".into());
        }
        let fixed =
            self.inbound_agents.unwrap_or(0) as u64 + self.outbound_agents.unwrap_or(0) as u64;
        if fixed > self.agents as u64 {
            return bad(
                "inbound_agents",
                format!(
                    "inbound_agents + outbound_agents ({fixed}) exceed agents ({})",
                    self.agents
                ),
            );
        }
        let t = &self.trunk;
        if t.channels == 0 {
            return bad("trunk.channels", "must be at least 1".into());
        }
        for (key, p) in [
            ("trunk.live_answer", t.live_answer),
            ("trunk.machine", t.machine),
            ("trunk.busy", t.busy),
            ("trunk.invalid", t.invalid),
            ("trunk.failure", t.failure),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return bad(key, format!("{p} is not a probability (0 to 1)"));
            }
        }
        let sum = t.live_answer + t.machine + t.busy + t.invalid + t.failure;
        if sum > 1.0 + 1e-9 {
            return bad(
                "trunk",
                format!("outcome probabilities add up to {sum:.3}, above 1"),
            );
        }
        if let Some(a) = &t.analysis {
            if let Err((field, msg)) = a.check() {
                return bad(&field, msg);
            }
        }
        if t.no_answer_timeout.0.is_zero() {
            return bad("trunk.no_answer_timeout", "must be above 0".into());
        }
        if !(self.inbound.rate_per_hour >= 0.0 && self.inbound.rate_per_hour.is_finite()) {
            return bad("inbound.rate_per_hour", "must be 0 or more".into());
        }
        if !(0.0..=1.0).contains(&self.inbound.service_level) {
            return bad("inbound.service_level", "must be between 0 and 1".into());
        }
        if !(self.target_abandon > 0.0 && self.target_abandon < 1.0) {
            return bad(
                "target_abandon",
                "must be between 0 and 1 (0.03 is 3 %)".into(),
            );
        }
        if let Some(fp) = self.amd_false_positive {
            if !(0.0..=1.0).contains(&fp) {
                return bad(
                    "amd_false_positive",
                    format!("{fp} is not a probability (0 to 1)"),
                );
            }
        }
        for (i, s) in self.strategies.iter().enumerate() {
            if let Err(e) = s.parse::<Mode>() {
                return bad(&format!("strategies[{i}]"), e.to_string());
            }
        }
        Ok(())
    }

    /// Every duration and count within its documented bound (checked before anything sized by
    /// them is allocated).
    fn check_bounds(&self) -> Result<(), (String, String)> {
        let ms = Duration::from_millis;
        check_dur("duration", self.duration, ms(1), MAX_DURATION)?;
        check_count("agents", self.agents as u64, 1, MAX_AGENTS as u64)?;
        for (key, n) in [
            ("inbound_agents", self.inbound_agents),
            ("outbound_agents", self.outbound_agents),
        ] {
            check_count(key, n.unwrap_or(0) as u64, 0, MAX_AGENTS as u64)?;
        }
        check_dur("patience", self.patience, ms(0), MAX_PATIENCE)?;
        check_count(
            "trunk.channels",
            self.trunk.channels as u64,
            1,
            MAX_CHANNELS as u64,
        )?;
        check_dur(
            "trunk.no_answer_timeout",
            self.trunk.no_answer_timeout,
            ms(1),
            MAX_PATIENCE,
        )?;
        check_dur(
            "inbound.service_time",
            self.inbound.service_time,
            ms(0),
            MAX_PATIENCE,
        )?;
        for (key, d) in [
            ("talk_time", &self.talk_time),
            ("wrap_time", &self.wrap_time),
            ("trunk.ring_time", &self.trunk.ring_time),
            ("inbound.talk_time", &self.inbound.talk_time),
        ] {
            check_dist(key, d, MAX_CALL_TIME)?;
        }
        if let Some(a) = &self.trunk.analysis {
            check_dist("trunk.analysis.delay", &a.delay, MAX_PATIENCE)?;
        }
        let rate = self.inbound.rate_per_hour;
        if !(0.0..=MAX_INBOUND_PER_HOUR).contains(&rate) {
            return Err((
                "inbound.rate_per_hour".into(),
                format!("must be 0 to {MAX_INBOUND_PER_HOUR}"),
            ));
        }
        if self.strategies.len() > MAX_STRATEGIES {
            return Err((
                "strategies".into(),
                format!("at most {MAX_STRATEGIES} strategies"),
            ));
        }
        Ok(())
    }

    /// The trunk model of this scenario (talk time included, for live answers).
    pub fn trunk_model(&self) -> TrunkModel {
        self.trunk.model(&self.talk_time)
    }

    /// Counts of (blended, inbound-only, outbound-only) agents.
    pub fn agent_mix(&self) -> (u32, u32, u32) {
        let i = self.inbound_agents.unwrap_or(0);
        let o = self.outbound_agents.unwrap_or(0);
        (self.agents - i - o, i, o)
    }
}

/// serde_yaml reports errors raised while converting a nested value (a bad `Dist`) at the start
/// of the document; the field path is right, so look its line up in the text instead.
fn relocate(e: YamlError, text: &str) -> YamlError {
    match e {
        YamlError::Parse {
            file,
            line,
            field,
            message,
        } => YamlError::Parse {
            line: crate::yaml::line_of_key(text, &field).unwrap_or(line),
            file,
            field,
            message,
        },
        other => other,
    }
}

impl TrunkSpec {
    /// The sampler of call outcomes this section describes, with `talk` as the customers' talk
    /// time once connected.
    pub fn model(&self, talk: &Dist) -> TrunkModel {
        TrunkModel {
            live: self.live_answer,
            machine: self.machine,
            busy: self.busy,
            invalid: self.invalid,
            failure: self.failure,
            ring: self.ring_time.clone(),
            no_answer_timeout_s: self.no_answer_timeout.secs_f64(),
            talk: talk.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MID: &str = "name: mid-team
seed: 7
duration: 8h
warmup: 10m
agents: 200
patience: 2s
talk_time: {dist: lognormal, mean: 180s, sd: 120s}
wrap_time: {dist: constant, mean: 30s}
trunk:
  channels: 1000
  live_answer: 0.30
  machine: 0.10
  busy: 0.10
  invalid: 0.02
  ring_time: {dist: lognormal, mean: 12s, sd: 6s}
  no_answer_timeout: 25s
inbound: {rate_per_hour: 0, talk_time: {dist: lognormal, mean: 240s, sd: 120s}}
target_abandon: 0.03
strategies: [progressive, \"power:2\", adaptive, predictive]
";

    #[test]
    fn issue_example_parses() {
        let s = Scenario::parse("mid.yaml", MID).unwrap();
        assert_eq!(s.agents, 200);
        assert_eq!(s.trunk_model().ring.mean(), 12.0);
        assert_eq!(s.strategies.len(), 4);
    }

    #[test]
    fn errors_name_line_and_field() {
        let text = MID.replace("  busy: 0.10", "  busy: 0.10\n  colour: red");
        let e = Scenario::parse("mid.yaml", &text).unwrap_err().to_string();
        assert!(
            e.starts_with("mid.yaml:14: trunk.colour: unknown field"),
            "{e}"
        );
        let text = MID.replace("live_answer: 0.30", "live_answer: 1.30");
        let e = Scenario::parse("mid.yaml", &text).unwrap_err().to_string();
        assert!(e.starts_with("mid.yaml:11: trunk.live_answer:"), "{e}");
        let text = MID.replace("\"power:2\"", "turbo");
        let e = Scenario::parse("mid.yaml", &text).unwrap_err().to_string();
        assert!(e.contains("strategies[1]: unknown strategy `turbo`"), "{e}");
        let text = MID.replace("sd: 120s}\nwrap", "}\nwrap");
        let e = Scenario::parse("mid.yaml", &text).unwrap_err().to_string();
        assert!(e.contains("mid.yaml:7: talk_time"), "{e}");
    }

    #[test]
    fn shipped_scenarios_load() {
        for name in [
            "small-team",
            "mid-team",
            "large-centre",
            "erlang-check",
            "mid-team-cpa",
        ] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("sim/{name}.yaml"));
            let s = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(s.name, name);
        }
    }
}
