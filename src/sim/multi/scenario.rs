//! The multi-campaign scenario file (`campaigns:` and agent groups): its YAML types, their
//! bounds and validation (file:line errors, unknown keys refused), and how it becomes the live
//! engine's own config and campaign definitions. Owns no run state and no result.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::campaign::{Campaign, DialMode};
use crate::engine::config::{AgentEntry, EngineConfig, WrapUp};
use crate::pacing::dist::Dist;
use crate::pacing::Mode;
use crate::sim::dist::TrunkModel;
use crate::sim::scenario::{MAX_CALL_TIME, MAX_CHANNELS, MAX_DURATION, MAX_STRATEGIES};
use crate::yaml::{check_count, check_dist, check_dur, read as yaml_read, Dur, YamlError};

/// Longest mean analysis delay a trunk group's `analysis:` may give (app_amd's total is 5 s).
const MAX_ANALYSIS_DELAY: Duration = Duration::from_secs(30);

/// Most campaigns in one scenario.
pub const MAX_CAMPAIGNS: usize = 16;
/// Most agents in all groups.
pub const MAX_AGENTS: u32 = 10_000;
/// Most leads on one campaign's list.
pub const MAX_LIST: u64 = 1_000_000;
/// Highest `arrivals_per_hour` of one campaign.
pub const MAX_ARRIVALS_PER_HOUR: f64 = 100_000.0;
/// Most trunk groups.
pub const MAX_TRUNKS: usize = 16;
/// Highest `cps` of a trunk group.
pub const MAX_CPS: u32 = 10_000;

/// A scenario with several campaigns sharing agents and trunks (see `sim/multi-campaign.yaml`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultiScenario {
    /// Name printed in reports.
    pub name: String,
    /// Random seed (overridable on the command line).
    #[serde(default)]
    pub seed: u64,
    /// Simulated time (at most a week).
    pub duration: Dur,
    /// Agent groups, all logged in for the whole run.
    pub agents: Vec<AgentGroup>,
    /// Wrap-up time after every call (the engine's `auto_wrap_time`; at most 1 h).
    #[serde(default = "default_wrap")]
    pub wrap_time: Dist,
    /// Trunk groups the campaigns dial through.
    pub trunks: Vec<TrunkGroup>,
    /// The campaigns.
    pub campaigns: Vec<CampaignSpec>,
    /// Dial modes run side by side, each applied to every campaign without its own `mode`:
    /// preview, progressive, power:R, predictive, adaptive.
    #[serde(default)]
    pub strategies: Vec<String>,
}

/// `count` agents of one group with the same skills (blended: outbound and inbound).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentGroup {
    /// Agent group (campaigns name it in `agent_group`).
    pub group: String,
    /// Agents (1 to [`MAX_AGENTS`] in all).
    pub count: u32,
    /// Campaign skills (a campaign is worked only by agents with all of its skills).
    #[serde(default)]
    pub skills: Vec<String>,
}

/// One trunk group: lines and calls per second shared by the campaigns that use it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkGroup {
    /// Name (campaigns name it in `trunk_group`).
    pub name: String,
    /// Calls up at once (1 to 100,000).
    pub channels: u32,
    /// Calls started in any one second (1 to [`MAX_CPS`]).
    pub cps: u32,
    /// Call-progress analysis of the answered calls of the campaigns dialling through this
    /// group, as the single-campaign trunk's `analysis:` ([`crate::sim::analysis`]): the
    /// trunk anchors media, each campaign on it gets a CPA setup with the default policy, and
    /// every answer (person or machine) waits for a verdict drawn from `delay` and
    /// `confusion`. Absent: answers are known at once, machines reported by the trunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<crate::sim::analysis::AnalysisSpec>,
}

/// One campaign.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignSpec {
    /// Campaign name.
    pub name: String,
    /// Higher first: agents shared with a lower-priority campaign work for this one while it
    /// has leads.
    #[serde(default)]
    pub priority: i32,
    /// Agent group whose agents may work it.
    pub agent_group: String,
    /// Skills an agent needs for it.
    #[serde(default)]
    pub skills: Vec<String>,
    /// Trunk group it dials through.
    pub trunk_group: String,
    /// Dial mode fixed for this campaign (same names as `strategies`); without it, the
    /// strategy being run.
    #[serde(default)]
    pub mode: Option<String>,
    /// Abandon rate the pacing keeps under (0.003 to 0.03).
    #[serde(default = "default_target")]
    pub target_abandon: f64,
    /// How long an answered call waits for an agent before it is abandoned (at most 60 s).
    #[serde(default = "default_patience")]
    pub patience: Dur,
    /// How long an unanswered call rings before it is given up (15 s to 180 s).
    #[serde(default = "default_ring_timeout")]
    pub ring_timeout: Dur,
    /// Leads on the list at the start (0 to [`MAX_LIST`]).
    #[serde(default)]
    pub list_size: u64,
    /// Leads arriving during the run, a Poisson stream (per hour).
    #[serde(default)]
    pub arrivals_per_hour: f64,
    /// First attempt due within this of a lead's arrival (the live `sla.first_attempt_within`;
    /// nearest deadline leased first).
    #[serde(default)]
    pub sla: Option<Dur>,
    /// How the campaign's customers respond.
    pub customers: CustomerSpec,
    /// Talk time once connected to an agent.
    pub talk_time: Dist,
    /// A supervisor pauses the campaign this long into the run...
    #[serde(default)]
    pub pause_at: Option<Dur>,
    /// ...and resumes it this long into the run (default: never).
    #[serde(default)]
    pub resume_at: Option<Dur>,
}

/// How a campaign's numbers respond (the rest of the probability is no answer).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerSpec {
    /// A person answers.
    pub live_answer: f64,
    /// A machine answers.
    #[serde(default)]
    pub machine: f64,
    /// Busy.
    #[serde(default)]
    pub busy: f64,
    /// Invalid number.
    #[serde(default)]
    pub invalid: f64,
    /// Trunk failure.
    #[serde(default)]
    pub failure: f64,
    /// Dial-to-answer time of answered calls (beyond the ring timeout: no answer).
    pub ring_time: Dist,
}

fn default_wrap() -> Dist {
    Dist::Constant { mean: 30.0 }
}
fn default_target() -> f64 {
    0.03
}
fn default_patience() -> Dur {
    Dur(Duration::from_secs(2))
}
fn default_ring_timeout() -> Dur {
    Dur(Duration::from_secs(25))
}

/// Whether scenario text is of the multi-campaign form (it has a top-level `campaigns:` key).
pub fn is_multi(text: &str) -> bool {
    text.lines().any(|l| l.starts_with("campaigns:"))
}

/// A name used as an identifier in the generated engine config.
fn plain_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl MultiScenario {
    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<MultiScenario, YamlError> {
        let file = path.display().to_string();
        let text = yaml_read(path)?;
        MultiScenario::parse(&file, &text)
    }

    /// Parses and validates scenario text (`file` names it in errors).
    pub fn parse(file: &str, text: &str) -> Result<MultiScenario, YamlError> {
        let s: MultiScenario = crate::yaml::parse(file, text)?;
        if let Err((field, msg)) = s.check(None) {
            return Err(YamlError::invalid(file, text, &field, msg));
        }
        // The engine's own rules on a campaign (bounds of patience, ring timeout, abandon
        // target...), checked on the definition each strategy will build.
        for i in 0..s.campaigns.len() {
            let mode = s.campaigns[i].mode.as_deref().unwrap_or("predictive");
            if let Err(e) = s.campaign_def(i, mode) {
                return Err(YamlError::invalid(
                    file,
                    text,
                    &format!("campaigns[{i}]"),
                    e.to_string(),
                ));
            }
        }
        Ok(s)
    }

    /// Checks bounds and cross-references; `strategy`, when given, must parse too.
    fn check(&self, strategy: Option<&str>) -> Result<(), (String, String)> {
        let ms = Duration::from_millis;
        check_dur("duration", self.duration, ms(1), MAX_DURATION)?;
        check_dist("wrap_time", &self.wrap_time, Duration::from_secs(3600))?;
        check_count("agents", self.agents.len() as u64, 1, 64)?;
        let mut total = 0u64;
        let mut groups = BTreeSet::new();
        for (i, a) in self.agents.iter().enumerate() {
            let f = |k: &str| format!("agents[{i}].{k}");
            check_count(&f("count"), a.count as u64, 1, MAX_AGENTS as u64)?;
            total += a.count as u64;
            if total > MAX_AGENTS as u64 {
                return Err((f("count"), format!("more than {MAX_AGENTS} agents in all")));
            }
            if !plain_name(&a.group) {
                return Err((f("group"), "letters, digits, - and _ only".into()));
            }
            if a.skills.len() > 32 || a.skills.iter().any(|s| !plain_name(s)) {
                return Err((f("skills"), "at most 32, letters, digits, - and _".into()));
            }
            if a.skills.iter().any(|s| s == "outbound" || s == "inbound") {
                return Err((
                    f("skills"),
                    "agents are blended: name campaign skills only".into(),
                ));
            }
            groups.insert(a.group.as_str());
        }
        check_count("trunks", self.trunks.len() as u64, 1, MAX_TRUNKS as u64)?;
        let mut trunks = BTreeSet::new();
        for (i, t) in self.trunks.iter().enumerate() {
            let f = |k: &str| format!("trunks[{i}].{k}");
            if !plain_name(&t.name) || !trunks.insert(t.name.as_str()) {
                return Err((f("name"), "a unique name: letters, digits, - and _".into()));
            }
            check_count(&f("channels"), t.channels as u64, 1, MAX_CHANNELS as u64)?;
            check_count(&f("cps"), t.cps as u64, 1, MAX_CPS as u64)?;
            if let Some(a) = &t.analysis {
                check_dist(&f("analysis.delay"), &a.delay, MAX_ANALYSIS_DELAY)?;
                a.check()
                    .map_err(|(k, m)| (f(k.trim_start_matches("trunk.")), m))?;
            }
        }
        check_count(
            "campaigns",
            self.campaigns.len() as u64,
            1,
            MAX_CAMPAIGNS as u64,
        )?;
        let mut names = BTreeSet::new();
        for (i, c) in self.campaigns.iter().enumerate() {
            let f = |k: &str| format!("campaigns[{i}].{k}");
            if !plain_name(&c.name) || !names.insert(c.name.as_str()) {
                return Err((f("name"), "a unique name: letters, digits, - and _".into()));
            }
            if !groups.contains(c.agent_group.as_str()) {
                return Err((
                    f("agent_group"),
                    format!("no agents in group {:?}", c.agent_group),
                ));
            }
            if !trunks.contains(c.trunk_group.as_str()) {
                return Err((
                    f("trunk_group"),
                    format!("no trunk group {:?}", c.trunk_group),
                ));
            }
            if c.skills.len() > 32 || c.skills.iter().any(|s| !plain_name(s)) {
                return Err((f("skills"), "at most 32, letters, digits, - and _".into()));
            }
            if let Some(m) = &c.mode {
                parse_mode(m).map_err(|e| (f("mode"), e.to_string()))?;
            }
            check_count(&f("list_size"), c.list_size, 0, MAX_LIST)?;
            if !(0.0..=MAX_ARRIVALS_PER_HOUR).contains(&c.arrivals_per_hour) {
                return Err((
                    f("arrivals_per_hour"),
                    format!("must be 0 to {MAX_ARRIVALS_PER_HOUR}"),
                ));
            }
            if let Some(sla) = c.sla {
                check_dur(&f("sla"), sla, ms(1), Duration::from_secs(7 * 86_400))?;
            }
            for (k, d) in [("pause_at", c.pause_at), ("resume_at", c.resume_at)] {
                if let Some(d) = d {
                    check_dur(&f(k), d, ms(0), self.duration.0)?;
                }
            }
            if c.resume_at.is_some() && c.pause_at.is_none_or(|p| Some(p) >= c.resume_at) {
                return Err((f("resume_at"), "needs an earlier pause_at".into()));
            }
            check_dist(&f("talk_time"), &c.talk_time, MAX_CALL_TIME)?;
            let k = &c.customers;
            check_dist(&f("customers.ring_time"), &k.ring_time, MAX_CALL_TIME)?;
            let ps = [
                ("live_answer", k.live_answer),
                ("machine", k.machine),
                ("busy", k.busy),
                ("invalid", k.invalid),
                ("failure", k.failure),
            ];
            for (key, p) in ps {
                if !(0.0..=1.0).contains(&p) {
                    return Err((
                        f(&format!("customers.{key}")),
                        format!("{p} is not a probability (0 to 1)"),
                    ));
                }
            }
            let sum: f64 = ps.iter().map(|(_, p)| p).sum();
            if sum > 1.0 + 1e-9 {
                return Err((
                    f("customers"),
                    format!("outcome probabilities add up to {sum:.3}, above 1"),
                ));
            }
        }
        if self.strategies.len() > MAX_STRATEGIES {
            return Err((
                "strategies".into(),
                format!("at most {MAX_STRATEGIES} strategies"),
            ));
        }
        for (i, s) in self.strategies.iter().enumerate() {
            parse_mode(s).map_err(|e| (format!("strategies[{i}]"), e.to_string()))?;
        }
        if let Some(s) = strategy {
            parse_mode(s).map_err(|e| ("strategy".to_string(), e.to_string()))?;
        }
        Ok(())
    }

    /// The engine config of a run: every agent group blended with automatic wrap-up, the trunk
    /// groups (one trunk each), the campaigns in order.
    pub fn engine_config(&self) -> Result<EngineConfig, BuildError> {
        let mut text = String::from("node: sim\nsip:\n  listen: 127.0.0.1:5060\n  trunks:\n");
        for t in &self.trunks {
            text.push_str(&format!(
                "    - {{name: {0}, address: \"127.0.0.1:5070\", max_channels: {1}, max_cps: {2}, \
                 ping_interval: 0s, media: {3}}}\n",
                t.name,
                t.channels,
                t.cps,
                // Analysis listens to the calls' audio: their media is anchored.
                if t.analysis.is_some() {
                    "anchor"
                } else {
                    "flow-i"
                }
            ));
        }
        text.push_str("  groups:\n");
        for t in &self.trunks {
            text.push_str(&format!("    - {{name: {0}, trunks: [{0}]}}\n", t.name));
        }
        text.push_str("agents: []\ncampaigns:\n");
        for c in &self.campaigns {
            text.push_str(&format!("  - {{name: {}}}\n", c.name));
        }
        let mut cfg = EngineConfig::parse("sim-engine.yaml", &text)?;
        cfg.auto_wrap_time = self.wrap_time.clone();
        cfg.agents = self
            .agents
            .iter()
            .enumerate()
            .map(|(i, a)| AgentEntry {
                id: None,
                uri: format!("sip:{}-{i}-{{n}}@127.0.0.1:5080", a.group),
                count: Some(a.count),
                first: 1,
                skills: ["outbound", "inbound"]
                    .into_iter()
                    .map(String::from)
                    .chain(a.skills.iter().cloned())
                    .collect(),
                group: a.group.clone(),
                wrap_up: WrapUp::Auto,
                connect: None,
                password_env: None,
                password_file: None,
                password: None,
            })
            .collect();
        Ok(cfg)
    }

    /// The live definition of campaign `i` dialled with `strategy` (its own `mode` wins).
    pub fn campaign_def(&self, i: usize, strategy: &str) -> Result<Campaign, BuildError> {
        let c = &self.campaigns[i];
        let (mode, ratio) = parse_mode(c.mode.as_deref().unwrap_or(strategy))?;
        // The campaign file's plain name (`power`, with its ratio on its own line).
        let mode_name = mode.to_string();
        let mode_name = mode_name.trim();
        // The fixed parts: a window open all day (the simulated day has no clock hours), no
        // retries (each lead is one customer, dialled once: the common random numbers key on it).
        let text = format!(
            "name: {name}
kind: service
priority: {priority}
region: SG
timezone: Asia/Singapore
dialing:
  mode: {mode_name}
  ratio: {ratio}
  max_ratio: {max_ratio}
  target_abandon: {target}
  patience: \"{patience}\"
  ring_timeout: \"{ring}\"
window:
  default: \"00:00-24:00\"
retry:
  max_attempts: 1
caller_id: \"6560885500\"
trunk_group: {trunk}
agent_group: {group}
skills: [{skills}]
{sla}",
            name = c.name,
            priority = c.priority,
            max_ratio = ratio.max(3.0),
            target = c.target_abandon,
            trunk = c.trunk_group,
            group = c.agent_group,
            patience = c.patience,
            ring = c.ring_timeout,
            skills = c.skills.join(", "),
            sla = c
                .sla
                .map(|d| format!("sla: {{first_attempt_within: \"{d}\"}}\n"))
                .unwrap_or_default(),
        );
        // The engine's own rules (bounds of patience, ring timeout, abandon target, SLA) apply;
        // the error names the definition's field.
        Campaign::parse("campaign", &text).map_err(|e| {
            let e = e.to_string();
            BuildError::Campaign(
                e.strip_prefix("campaign:")
                    .map_or(e.clone(), |r| r.to_string()),
            )
        })
    }

    /// The trunk model of campaign `i`: its customers, no answer at its ring timeout, its talk
    /// time.
    pub fn trunk_model(&self, i: usize) -> TrunkModel {
        let c = &self.campaigns[i];
        let k = &c.customers;
        TrunkModel {
            live: k.live_answer,
            machine: k.machine,
            busy: k.busy,
            invalid: k.invalid,
            failure: k.failure,
            ring: k.ring_time.clone(),
            no_answer_timeout_s: c.ring_timeout.secs_f64(),
            talk: c.talk_time.clone(),
        }
    }

    /// The `analysis:` of campaign `i`'s trunk group, if it has one.
    pub fn analysis_of(&self, i: usize) -> Option<&crate::sim::analysis::AnalysisSpec> {
        let group = &self.campaigns.get(i)?.trunk_group;
        self.trunks
            .iter()
            .find(|t| &t.name == group)?
            .analysis
            .as_ref()
    }

    /// Checks a strategy named on the command line.
    pub fn check_strategy(&self, s: &str) -> Result<(), BuildError> {
        parse_mode(s).map(|_| ())
    }

    /// Agents in all groups.
    pub fn agent_count(&self) -> u32 {
        self.agents.iter().map(|a| a.count).sum()
    }
}

/// What keeps a parsed scenario from becoming a live engine's configuration.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Not a dial mode name at all.
    #[error(transparent)]
    Mode(#[from] crate::pacing::ModeError),
    /// A simulator-only mode (`rate:L`, `slack:S`, ...): the live engine has no such mode.
    #[error(
        "`{0}` is not a dial mode of the live engine (preview, progressive, power:R, predictive, \
         adaptive)"
    )]
    NotLive(String),
    /// The generated engine config was refused (a scenario bound the engine checks too).
    #[error(transparent)]
    Engine(#[from] crate::yaml::YamlError),
    /// The generated campaign definition was refused, with the definition's field named.
    #[error("{0}")]
    Campaign(String),
}

/// A strategy or campaign `mode` as the live engine's dial mode and ratio. `rate:L` has no
/// live counterpart and is refused.
fn parse_mode(s: &str) -> Result<(DialMode, f64), BuildError> {
    let m: Mode = s.parse()?;
    Ok(match m {
        Mode::Preview => (DialMode::Preview, 1.0),
        Mode::Progressive => (DialMode::Progressive, 1.0),
        Mode::Power { ratio } => (DialMode::Power { ratio: None }, ratio),
        Mode::Predictive => (DialMode::Predictive, 1.0),
        Mode::Adaptive { .. } => (DialMode::Adaptive, 1.0),
        _ => return Err(BuildError::NotLive(s.to_string())),
    })
}
