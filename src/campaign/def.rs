//! The campaign definition: what a YAML file in `campaigns/` states, and the rules it must obey.
//! [`Campaign::parse`] turns YAML into a validated [`Campaign`]; every error names the file, the
//! line and the field. The validated value is what the store keeps (as JSON, with a content hash).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use chrono::NaiveDate;
use chrono_tz::Tz;
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

use super::cpa::{CampaignCpa, RawCpa};
use super::disposition::{CallDisposition, RetryRule};
use super::media::{AbandonMessage, RecordingPolicy};
use super::phone::{normalize_e164, parse_region, parse_timezone};
use super::window::{CallingWindow, DayWindow};
use crate::yaml::{self, check_count, check_dur, read as yaml_read, Dur, YamlError};

/// Default cap on attempts per callee-local day (the CN guideline's limit).
pub const DEFAULT_MAX_PER_DAY: u32 = 6;

/// What a campaign is for (drives reporting and which rules apply by default).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignKind {
    /// Verifying an application (identity, income) shortly after it arrives.
    Verification,
    /// Welcome / onboarding calls to new customers.
    Onboarding,
    /// Payment reminders and early-stage collection.
    Collection,
    /// Marketing (cross-sell, up-sell): consent required, refusals go on DNC.
    Marketing,
    /// Service or survey calls.
    Service,
}

// Bounds of the pacing values, shared by campaign files, the admin API (`admin::validate`) and
// the overrides nodes share through the store.

/// The legal abandon cap of a campaign whose file sets no `dialing.abandon_cap`: 3 % of live
/// answers (the US TCPA safe harbour and the UK Ofcom rule).
pub const DEFAULT_ABANDON_CAP: f64 = 0.03;

/// Highest `dialing.abandon_cap` a campaign file may set (10 %), for regions whose law allows
/// more than [`DEFAULT_ABANDON_CAP`]. No supervisor value goes above the campaign's own cap.
pub const MAX_ABANDON_CAP: f64 = 0.1;

/// Lowest accepted `target_abandon` (0.1 %): below it the predictive controller has nothing to
/// estimate from, and the value is a typo rather than a policy.
pub const MIN_TARGET_ABANDON: f64 = 0.001;

/// Highest `ratio`, `max_ratio` and `power:R` (lines per agent). Five lines per agent already
/// abandons most answers when the answer rate is high; the abandon budget stops it anyway.
pub const MAX_RATIO: f64 = 5.0;

/// Lowest accepted `rate:λ` (one call every 100 s); the highest is the campaign's trunks' CPS,
/// checked by the engine, which knows its trunks.
pub const MIN_RATE: f64 = 0.01;

pub use super::mode::DialMode;

/// Dial mode and pacing parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dialing {
    /// Dial mode: a plain name (`power:R` and `rate:λ` are for live changes).
    #[serde(deserialize_with = "super::mode::deserialize_plain")]
    pub mode: DialMode,
    /// Starting (power: fixed) lines per ready agent.
    #[serde(default = "one")]
    pub ratio: f64,
    /// Upper bound on lines per ready agent.
    #[serde(default = "three")]
    pub max_ratio: f64,
    /// Abandon rate the pacing must stay under (abandoned / live answers), in
    /// [[`MIN_TARGET_ABANDON`], `abandon_cap`].
    #[serde(default = "three_percent")]
    pub target_abandon: f64,
    /// The legal abandon cap this campaign is under, in (0, [`MAX_ABANDON_CAP`]]: no supervisor
    /// may set `target_abandon` above it. 3 % unless set.
    #[serde(default = "three_percent")]
    pub abandon_cap: f64,
    /// How long an answered call may wait for an agent before it is abandoned (at most 60s).
    #[serde(default = "two_seconds")]
    pub patience: Dur,
    /// How long an unanswered call rings before we give up (15s to 180s).
    #[serde(default = "twenty_five_seconds")]
    pub ring_timeout: Dur,
}

fn one() -> f64 {
    1.0
}
fn three() -> f64 {
    3.0
}
fn three_percent() -> f64 {
    0.03
}
fn two_seconds() -> Dur {
    Dur(std::time::Duration::from_secs(2))
}
fn twenty_five_seconds() -> Dur {
    Dur(std::time::Duration::from_secs(25))
}

impl Dialing {
    /// Checks every dialing value against its bound (see the constants above); `Err` names the
    /// field (`dialing.…`) and says the allowed range. Run on every campaign file, and by the
    /// engine on every definition it reads from the store (one stored by an older version may
    /// predate a bound).
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if !(self.ratio.is_finite() && self.ratio >= 1.0) {
            return Err((
                "dialing.ratio",
                format!("ratio {} must be at least 1.0", self.ratio),
            ));
        }
        if !(self.max_ratio.is_finite()
            && self.max_ratio >= self.ratio
            && self.max_ratio <= MAX_RATIO)
        {
            return Err((
                "dialing.max_ratio",
                format!(
                    "max_ratio {} must be between ratio ({}) and {MAX_RATIO}",
                    self.max_ratio, self.ratio
                ),
            ));
        }
        if !(self.abandon_cap > 0.0 && self.abandon_cap <= MAX_ABANDON_CAP) {
            return Err((
                "dialing.abandon_cap",
                format!(
                    "abandon_cap {} must be in (0, {MAX_ABANDON_CAP}]",
                    self.abandon_cap
                ),
            ));
        }
        if !(self.target_abandon >= MIN_TARGET_ABANDON && self.target_abandon <= self.abandon_cap) {
            return Err((
                "dialing.target_abandon",
                format!(
                    "target_abandon {} must be in [{MIN_TARGET_ABANDON}, {}] (abandon_cap)",
                    self.target_abandon, self.abandon_cap
                ),
            ));
        }
        if self.patience.0.as_secs_f64() > 60.0 {
            return Err(("dialing.patience", "patience must be at most 60s".into()));
        }
        if self.ring_timeout.0.as_secs() < 15 {
            return Err((
                "dialing.ring_timeout",
                format!("ring_timeout {} is under 15s", self.ring_timeout),
            ));
        }
        if self.ring_timeout.0.as_secs() > 180 {
            return Err((
                "dialing.ring_timeout",
                "ring_timeout must be at most 180s".into(),
            ));
        }
        Ok(())
    }
}

/// Attempt caps and the retry rule of each disposition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    /// Attempts per lead over its lifetime (1 to [`MAX_ATTEMPTS`]).
    #[serde(default = "ten")]
    pub max_attempts: u32,
    /// Attempts per lead per callee-local day (1 to [`MAX_ATTEMPTS_PER_DAY`]; CN: at most 6).
    #[serde(default = "six")]
    pub max_attempts_per_day: u32,
    /// After an abandoned call, the number is not dialled again for this long (any campaign; at
    /// most [`MAX_RETRY_DELAY`]).
    #[serde(default = "seventy_two_hours")]
    pub abandon_cooldown: Dur,
    /// Rule per disposition; dispositions not listed use [`CallDisposition::default_rule`]. Delays
    /// at most [`MAX_RETRY_DELAY`].
    #[serde(default)]
    pub rules: BTreeMap<CallDisposition, RetryRule>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: ten(),
            max_attempts_per_day: six(),
            abandon_cooldown: seventy_two_hours(),
            rules: BTreeMap::new(),
        }
    }
}

fn ten() -> u32 {
    10
}
fn six() -> u32 {
    DEFAULT_MAX_PER_DAY
}
fn seventy_two_hours() -> Dur {
    Dur(std::time::Duration::from_secs(72 * 3600))
}

/// Contact frequency cap, counted across all campaigns by E.164 number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactCap {
    /// At most this many connected calls (a person talked to an agent; 1 to [`MAX_CONTACTS`])…
    pub max_connected: u32,
    /// …within this sliding window (at most [`MAX_RETRY_DELAY`]).
    pub per: Dur,
}

/// Default of `callbacks.owner_grace`: how long past its time a callback waits for the agent who
/// scheduled it before any agent of the campaign may take it (VICIdial's "USERONLY" callbacks
/// wait forever; a lender's callback promised for 15:30 should not wait past 15:45 for one
/// agent's lunch).
pub const DEFAULT_OWNER_GRACE: Duration = Duration::from_secs(15 * 60);

/// Callbacks agents schedule at wrap-up (`callbacks:` in the campaign file).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallbackPolicy {
    /// A callback is dialled only for (and connected only to) the agent who scheduled it, while
    /// that agent works this campaign, until this long after its time; then for any agent of
    /// the campaign. `0s`: any agent from the start. At most [`MAX_RETRY_DELAY`]; default
    /// [`DEFAULT_OWNER_GRACE`] (15 minutes).
    #[serde(default = "default_owner_grace")]
    pub owner_grace: Dur,
}

fn default_owner_grace() -> Dur {
    Dur(DEFAULT_OWNER_GRACE)
}

impl Default for CallbackPolicy {
    fn default() -> Self {
        CallbackPolicy {
            owner_grace: default_owner_grace(),
        }
    }
}

/// Service level for leads that arrive continuously.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sla {
    /// The first attempt must start within this long of the lead's arrival (at most [`MAX_SLA`]).
    pub first_attempt_within: Dur,
}

/// The YAML file as written (before validation).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCampaign {
    name: String,
    kind: CampaignKind,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    priority: i32,
    region: String,
    timezone: String,
    dialing: Dialing,
    #[serde(default)]
    window: RawWindow,
    #[serde(default)]
    holidays: Vec<NaiveDate>,
    #[serde(default)]
    retry: RetryPolicy,
    #[serde(default)]
    contact_cap: Option<ContactCap>,
    #[serde(default)]
    sla: Option<Sla>,
    #[serde(default)]
    callbacks: CallbackPolicy,
    caller_id: String,
    trunk_group: String,
    agent_group: String,
    #[serde(default)]
    skills: Vec<String>,
    #[serde(default)]
    abandon_message: Option<String>,
    #[serde(default)]
    recording: RecordingPolicy,
    #[serde(default)]
    amd_false_positive: Option<f64>,
    #[serde(default)]
    amd_false_negative: Option<f64>,
    #[serde(default)]
    cpa: RawCpa,
}

/// Calling window as written: `default` applies to days not listed; `"closed"` closes a day.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWindow {
    default: Option<String>,
    monday: Option<String>,
    tuesday: Option<String>,
    wednesday: Option<String>,
    thursday: Option<String>,
    friday: Option<String>,
    saturday: Option<String>,
    sunday: Option<String>,
}

/// A validated campaign definition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Campaign {
    /// Unique name (`[a-z0-9_-]`, at most 64 characters).
    pub name: String,
    /// What the campaign is for.
    pub kind: CampaignKind,
    /// Free text for supervisors.
    pub description: Option<String>,
    /// Priority among campaigns sharing agents (higher first).
    pub priority: i32,
    /// Default region for national phone numbers (ISO 3166, upper case).
    pub region: String,
    /// Default time zone of callees (IANA).
    pub timezone: String,
    /// Dial mode and pacing parameters.
    pub dialing: Dialing,
    /// Calling window in the callee's local time, with holidays.
    pub window: CallingWindow,
    /// Caps and retry rules.
    pub retry: RetryPolicy,
    /// Contact frequency cap across campaigns.
    pub contact_cap: Option<ContactCap>,
    /// First-attempt deadline for leads arriving continuously.
    pub sla: Option<Sla>,
    /// Agents' callbacks: whose they are, and for how long.
    #[serde(default)]
    pub callbacks: CallbackPolicy,
    /// Caller ID presented (E.164).
    pub caller_id: String,
    /// Trunk group the calls leave on.
    pub trunk_group: String,
    /// Agent group that takes the connected calls.
    pub agent_group: String,
    /// Skills an agent needs for this campaign.
    pub skills: Vec<String>,
    /// outdial's own safe-harbour message (converted audio); the engine file's external
    /// `announcement` stays an alternative.
    #[serde(default)]
    pub abandon_message: Option<AbandonMessage>,
    /// Which calls are recorded, where, and for how long.
    #[serde(default)]
    pub recording: RecordingPolicy,
    /// When call-progress analysis runs: the share of its machine verdicts taken to be people
    /// hung up on (AMD false positives), 0 to 1; `None` means the default 0.02
    /// ([`crate::pacing::DEFAULT_AMD_FALSE_POSITIVE`]). The abandon figure adds machine
    /// verdicts × this share to the abandons, and pacing keeps the cap on the sum (UK Ofcom
    /// counts AMD false positives as abandoned calls). Measure it with `outdial cpa score` on
    /// your own labelled recordings; agents' `machine` wrap-up marks can raise it (see
    /// [`crate::pacing::analysis`]).
    #[serde(default)]
    pub amd_false_positive: Option<f64>,
    /// The share of machines the analysis passes to agents as people, from the same offline
    /// test (0 to 1, above 0; `None`: 0.10): the reference the agents' `machine` marks are
    /// compared with.
    #[serde(default)]
    pub amd_false_negative: Option<f64>,
    /// Call-progress analysis: on or off, its thresholds, known announcements, and what each
    /// verdict does ([`super::cpa`]).
    #[serde(default)]
    pub cpa: CampaignCpa,
}

impl Campaign {
    /// Reads and validates a campaign YAML file.
    pub fn load(path: &Path) -> Result<Campaign, YamlError> {
        let file = path.display().to_string();
        let text = yaml_read(path)?;
        Campaign::parse(&file, &text)
    }

    /// Parses and validates YAML `text` (named `file` in errors).
    pub fn parse(file: &str, text: &str) -> Result<Campaign, YamlError> {
        let raw: RawCampaign = yaml::parse(file, text)?;
        let bad = |field: &str, msg: String| YamlError::invalid(file, text, field, msg);

        let name_ok = !raw.name.is_empty()
            && raw.name.len() <= 64
            && raw
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !name_ok {
            return Err(bad(
                "name",
                format!("invalid name {:?}: use 1-64 of a-z 0-9 - _", raw.name),
            ));
        }
        let region = parse_region(&raw.region).map_err(|m| bad("region", m.to_string()))?;
        let region_code = raw.region.trim().to_ascii_uppercase();
        parse_timezone(&raw.timezone).map_err(|m| bad("timezone", m.to_string()))?;

        raw.dialing.check().map_err(|(field, m)| bad(field, m))?;

        let window = build_window(&raw.window, &raw.holidays, &region_code)
            .map_err(|(field, m)| bad(&field, m))?;

        let r = &raw.retry;
        if r.max_attempts == 0 {
            return Err(bad(
                "retry.max_attempts",
                "max_attempts must be at least 1".into(),
            ));
        }
        if r.max_attempts_per_day == 0 {
            return Err(bad(
                "retry.max_attempts_per_day",
                "max_attempts_per_day must be at least 1".into(),
            ));
        }
        if region_code == "CN" && r.max_attempts_per_day > DEFAULT_MAX_PER_DAY {
            return Err(bad(
                "retry.max_attempts_per_day",
                format!(
                    "max_attempts_per_day {} exceeds the CN limit of {DEFAULT_MAX_PER_DAY} per day",
                    r.max_attempts_per_day
                ),
            ));
        }
        if let Some(cap) = &raw.contact_cap {
            if cap.max_connected == 0 {
                return Err(bad(
                    "contact_cap.max_connected",
                    "max_connected must be at least 1".into(),
                ));
            }
            if cap.per.0.is_zero() {
                return Err(bad("contact_cap.per", "per must be longer than 0s".into()));
            }
        }
        if let Some(sla) = &raw.sla {
            if sla.first_attempt_within.0.is_zero() {
                return Err(bad(
                    "sla.first_attempt_within",
                    "first_attempt_within must be longer than 0s".into(),
                ));
            }
        }
        check_bounds(&raw).map_err(|(field, m)| bad(&field, m))?;
        let caller_id =
            normalize_e164(&raw.caller_id, region).map_err(|m| bad("caller_id", m.to_string()))?;
        for (field, value) in [
            ("trunk_group", &raw.trunk_group),
            ("agent_group", &raw.agent_group),
        ] {
            if value.trim().is_empty() {
                return Err(bad(field, format!("{field} must not be empty")));
            }
        }

        raw.recording
            .check(&region_code)
            .map_err(|(field, m)| bad(field, m))?;
        if let Some(fp) = raw.amd_false_positive {
            if !(0.0..=1.0).contains(&fp) {
                return Err(bad(
                    "amd_false_positive",
                    format!("{fp} is not a rate between 0 and 1 (0.02 is 2 %)"),
                ));
            }
        }
        if let Some(fneg) = raw.amd_false_negative {
            if !(fneg > 0.0 && fneg <= 1.0) {
                return Err(bad(
                    "amd_false_negative",
                    format!("{fneg} is not a rate above 0 and at most 1 (0.10 is 10 %)"),
                ));
            }
        }
        // Relative to the campaign file, converted now: a bad file is refused at apply time,
        // not discovered when the first customer is abandoned.
        let base = Path::new(file).parent().unwrap_or(Path::new(""));
        let abandon_message = match &raw.abandon_message {
            None => None,
            Some(f) if f.trim().is_empty() => {
                return Err(bad(
                    "abandon_message",
                    "abandon_message must not be empty".into(),
                ))
            }
            Some(f) => Some(
                AbandonMessage::load(f.trim(), base)
                    .map_err(|e| bad("abandon_message", e.to_string()))?,
            ),
        };

        // Also relative to the campaign file: the announcements folder and a machine's message.
        let cpa = raw
            .cpa
            .validate(base)
            .map_err(|(field, m)| bad(&field, m))?;

        Ok(Campaign {
            name: raw.name,
            kind: raw.kind,
            description: raw.description,
            priority: raw.priority,
            region: region_code,
            timezone: raw.timezone.trim().to_string(),
            dialing: raw.dialing,
            window,
            retry: raw.retry,
            contact_cap: raw.contact_cap,
            sla: raw.sla,
            callbacks: raw.callbacks,
            caller_id,
            trunk_group: raw.trunk_group,
            agent_group: raw.agent_group,
            skills: raw.skills,
            abandon_message,
            recording: raw.recording,
            amd_false_positive: raw.amd_false_positive,
            amd_false_negative: raw.amd_false_negative,
            cpa,
        })
    }

    /// The default time zone (validated at parse time; UTC if the stored value was tampered with).
    pub fn tz(&self) -> Tz {
        parse_timezone(&self.timezone).unwrap_or(chrono_tz::UTC)
    }

    /// The default region (validated at parse time; CN if the stored value was tampered with).
    pub fn region_id(&self) -> phonenumber::country::Id {
        parse_region(&self.region).unwrap_or(phonenumber::country::Id::CN)
    }

    /// The retry rule for `d`: the campaign's own, else the built-in default.
    pub fn rule(&self, d: CallDisposition) -> RetryRule {
        self.retry
            .rules
            .get(&d)
            .copied()
            .unwrap_or_else(|| d.default_rule())
    }

    /// Canonical JSON of the definition (what the store keeps).
    pub fn to_json(&self) -> String {
        // Serialising plain data (strings, numbers, maps with string keys) cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Content hash of the canonical JSON: equal hashes mean "nothing to update".
    pub fn content_hash(&self) -> String {
        let digest = Md5::digest(self.to_json().as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Most lifetime attempts per lead (`retry.max_attempts`).
pub const MAX_ATTEMPTS: u32 = 100;
/// Most attempts per lead per day (`retry.max_attempts_per_day`; CN campaigns: 6).
pub const MAX_ATTEMPTS_PER_DAY: u32 = 24;
/// Longest retry delay, `retry.abandon_cooldown` and `contact_cap.per`.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(365 * 86_400);
/// Longest `sla.first_attempt_within`.
pub const MAX_SLA: Duration = Duration::from_secs(30 * 86_400);
/// Most connected calls in a `contact_cap`.
pub const MAX_CONTACTS: u32 = 1000;
/// Most `holidays` and most `skills` entries.
pub const MAX_LIST_ENTRIES: usize = 1000;

/// Every duration and count of the file within its documented bound.
fn check_bounds(raw: &RawCampaign) -> Result<(), (String, String)> {
    let r = &raw.retry;
    check_count(
        "retry.max_attempts",
        r.max_attempts as u64,
        1,
        MAX_ATTEMPTS as u64,
    )?;
    check_count(
        "retry.max_attempts_per_day",
        r.max_attempts_per_day as u64,
        1,
        MAX_ATTEMPTS_PER_DAY as u64,
    )?;
    let zero = Duration::ZERO;
    check_dur(
        "retry.abandon_cooldown",
        r.abandon_cooldown,
        zero,
        MAX_RETRY_DELAY,
    )?;
    for (d, rule) in &r.rules {
        let field = format!("retry.rules.{}", d.as_str());
        check_dur(&field, rule.delay, zero, MAX_RETRY_DELAY)?;
    }
    check_dur(
        "callbacks.owner_grace",
        raw.callbacks.owner_grace,
        zero,
        MAX_RETRY_DELAY,
    )?;
    if let Some(cap) = &raw.contact_cap {
        check_count(
            "contact_cap.max_connected",
            cap.max_connected as u64,
            1,
            MAX_CONTACTS as u64,
        )?;
        check_dur(
            "contact_cap.per",
            cap.per,
            Duration::from_millis(1),
            MAX_RETRY_DELAY,
        )?;
    }
    if let Some(sla) = &raw.sla {
        check_dur(
            "sla.first_attempt_within",
            sla.first_attempt_within,
            Duration::from_millis(1),
            MAX_SLA,
        )?;
    }
    for (key, n) in [
        ("holidays", raw.holidays.len()),
        ("skills", raw.skills.len()),
    ] {
        check_count(key, n as u64, 0, MAX_LIST_ENTRIES as u64)?;
    }
    Ok(())
}

const DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

fn build_window(
    raw: &RawWindow,
    holidays: &[NaiveDate],
    region: &str,
) -> Result<CallingWindow, (String, String)> {
    let mut window = CallingWindow::default();
    let default = match &raw.default {
        Some(text) => {
            DayWindow::parse(text).map_err(|m| ("window.default".to_string(), m.to_string()))?
        }
        None => window.days[0],
    };
    let given = [
        &raw.monday,
        &raw.tuesday,
        &raw.wednesday,
        &raw.thursday,
        &raw.friday,
        &raw.saturday,
        &raw.sunday,
    ];
    for (i, text) in given.iter().enumerate() {
        let field = format!("window.{}", DAYS[i]);
        window.days[i] = match text {
            Some(text) => DayWindow::parse(text).map_err(|m| (field.clone(), m.to_string()))?,
            None => default,
        };
        // CN guideline: no calls 22:00-08:00 without consent.
        if let (Some(day), "CN") = (window.days[i], region) {
            if day.start < 8 * 60 || day.end > 22 * 60 {
                let field = if text.is_some() {
                    field
                } else {
                    "window.default".into()
                };
                return Err((
                    field,
                    "CN rules forbid calls between 22:00 and 08:00 callee-local time".into(),
                ));
            }
        }
    }
    window.holidays = holidays.iter().copied().collect();
    Ok(window)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "\
name: test-campaign
kind: collection
priority: 10
region: CN
timezone: Asia/Shanghai
dialing:
  mode: predictive
  ratio: 1.2
  max_ratio: 2.5
  ring_timeout: 25s
window:
  default: \"09:00-20:00\"
  sunday: closed
holidays: [2026-10-01]
retry:
  max_attempts: 8
  rules:
    busy: { delay: 15m }
    machine: { retry: false }
caller_id: \"021 6123 4567\"
trunk_group: cn-telecom
agent_group: collections
";

    #[test]
    fn good_file_parses() {
        let c = Campaign::parse("c.yaml", GOOD).unwrap();
        assert_eq!(c.caller_id, "+862161234567");
        assert_eq!(c.dialing.target_abandon, 0.03);
        assert_eq!(c.dialing.patience.millis(), 2000);
        assert_eq!(c.retry.max_attempts_per_day, 6);
        assert_eq!(c.retry.abandon_cooldown.millis(), 72 * 3_600_000);
        assert_eq!(c.rule(CallDisposition::Busy).delay.millis(), 15 * 60_000);
        assert!(!c.rule(CallDisposition::Machine).retry);
        assert!(c.rule(CallDisposition::NoAnswer).retry);
        assert_eq!(c.window.days[6], None);
        assert_eq!(c.window.describe_day(0), "09:00-20:00");
        let back: Campaign = serde_json::from_str(&c.to_json()).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.content_hash(), c.content_hash());
    }

    fn err(text: &str) -> String {
        Campaign::parse("c.yaml", text).unwrap_err().to_string()
    }

    #[test]
    fn errors_name_file_line_field() {
        let e = err(&GOOD.replace("ring_timeout: 25s", "ring_timeout: 10s"));
        assert!(e.starts_with("c.yaml:10: dialing.ring_timeout:"), "{e}");
        let e = err(&GOOD.replace("sunday: closed", "sunday: \"18:00-09:00\""));
        assert!(
            e.starts_with("c.yaml:13: window.sunday: window ends"),
            "{e}"
        );
        let e = err(&GOOD.replace("priority: 10", "priority: 10\ncolour: red"));
        assert!(e.starts_with("c.yaml:4: colour: unknown field"), "{e}");
        let e = err(&GOOD.replace("ratio: 1.2", "ratio: lots"));
        assert!(e.starts_with("c.yaml:8: dialing.ratio:"), "{e}");
        let e = err(&GOOD.replace("busy: {", "bizzy: {"));
        assert!(e.contains("retry.rules"), "{e}");
        let e = err(&GOOD.replace("\"09:00-20:00\"", "\"07:00-20:00\""));
        assert!(e.starts_with("c.yaml:12: window.default: CN rules"), "{e}");
        let e = err(&GOOD.replace(
            "max_attempts: 8",
            "max_attempts: 8\n  max_attempts_per_day: 9",
        ));
        assert!(
            e.starts_with("c.yaml:17: retry.max_attempts_per_day:"),
            "{e}"
        );
        let e = err(&GOOD.replace("timezone: Asia/Shanghai", "timezone: Asia/Beijing"));
        assert!(
            e.starts_with("c.yaml:5: timezone: unknown time zone"),
            "{e}"
        );
    }

    #[test]
    fn amd_false_positive_is_a_rate_and_defaults_when_absent() {
        let c = Campaign::parse("c.yaml", GOOD).unwrap();
        assert_eq!(c.amd_false_positive, None);
        let text = GOOD.replace("priority: 10", "priority: 10\namd_false_positive: 0.035");
        let c = Campaign::parse("c.yaml", &text).unwrap();
        assert_eq!(c.amd_false_positive, Some(0.035));
        let e = err(&GOOD.replace("priority: 10", "priority: 10\namd_false_positive: 2"));
        assert!(
            e.starts_with("c.yaml:4: amd_false_positive: 2 is not a rate"),
            "{e}"
        );
    }

    #[test]
    fn pacing_values_beyond_their_bounds_are_refused_with_file_line_and_range() {
        let e = err(&GOOD.replace("max_ratio: 2.5", "max_ratio: 1e308"));
        assert!(
            e.starts_with("c.yaml:9: dialing.max_ratio:") && e.contains("and 5"),
            "{e}"
        );
        let e = err(&GOOD.replace("ratio: 1.2", "ratio: 6"));
        assert!(e.contains("dialing.max_ratio"), "{e}");
        let e = err(&GOOD.replace("max_ratio: 2.5", "max_ratio: 2.5\n  target_abandon: 5e-324"));
        assert!(
            e.contains("dialing.target_abandon") && e.contains("[0.001, 0.03]"),
            "{e}"
        );
        // Above the default legal cap: refused unless the campaign sets a higher cap, itself
        // bounded.
        let e = err(&GOOD.replace("max_ratio: 2.5", "max_ratio: 2.5\n  target_abandon: 0.05"));
        assert!(e.contains("(abandon_cap)"), "{e}");
        let ok = GOOD.replace(
            "max_ratio: 2.5",
            "max_ratio: 2.5\n  target_abandon: 0.05\n  abandon_cap: 0.05",
        );
        let c = Campaign::parse("c.yaml", &ok).expect("a 5 % cap is allowed");
        assert_eq!(c.dialing.abandon_cap, 0.05);
        let e = err(&GOOD.replace("max_ratio: 2.5", "max_ratio: 2.5\n  abandon_cap: 0.5"));
        assert!(
            e.contains("dialing.abandon_cap") && e.contains("(0, 0.1]"),
            "{e}"
        );
    }
}

#[cfg(test)]
mod media_settings {
    use super::*;
    use crate::campaign::media::RecordingMode;

    fn campaign_in(dir: &Path, extra: &str) -> Result<Campaign, String> {
        let file = dir.join("c.yaml");
        let text = format!("{}{extra}", tests_good());
        Campaign::parse(&file.display().to_string(), &text).map_err(|e| e.to_string())
    }

    fn tests_good() -> &'static str {
        "name: t\nkind: collection\nregion: CN\ntimezone: Asia/Shanghai\ndialing:\n  mode: predictive\n\
         caller_id: \"021 6123 4567\"\ntrunk_group: g\nagent_group: a\n"
    }

    fn dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("outdial-camp-{}-{name}", std::process::id()));
        std::fs::create_dir_all(d.join("messages")).unwrap();
        d
    }

    #[test]
    fn abandon_message_is_read_relative_to_the_campaign_file_and_stored_converted() {
        let d = dir("ok");
        // 0.5 s of 16 kHz 16-bit: stored as 0.5 s at 8 kHz.
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 16000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(d.join("messages/m.wav"), spec).unwrap();
        for i in 0..8000 {
            w.write_sample(((i % 40) * 500 - 10000) as i16).unwrap();
        }
        w.finalize().unwrap();
        let c = campaign_in(&d, "abandon_message: messages/m.wav\n").unwrap();
        let msg = c.abandon_message.clone().unwrap();
        assert_eq!(msg.file, "messages/m.wav");
        let n = msg.prompt().unwrap().0.len();
        assert!((3998..=4002).contains(&n), "{n}");
        // Survives the store's JSON round trip; a changed file changes the content hash.
        let back: Campaign = serde_json::from_str(&c.to_json()).unwrap();
        assert_eq!(back, c);
        let plain = campaign_in(&d, "").unwrap();
        assert_ne!(plain.content_hash(), c.content_hash());
        assert_eq!(plain.recording.mode, RecordingMode::All);
        assert_eq!(plain.recording.dir, "recordings");
        assert_eq!(plain.recording.retention.0.as_secs(), 30 * 86_400);
    }

    #[test]
    fn a_bad_message_or_recording_policy_is_refused_naming_file_and_field() {
        let d = dir("bad");
        std::fs::write(d.join("messages/mp3.wav"), b"ID3 this is an mp3").unwrap();
        let file = d.join("c.yaml").display().to_string();
        let e = campaign_in(&d, "abandon_message: messages/mp3.wav\n").unwrap_err();
        assert!(
            e.starts_with(&format!("{file}:10: abandon_message:")),
            "{e}"
        );
        assert!(e.contains("mp3.wav: not a WAV file"), "{e}");
        let e = campaign_in(&d, "abandon_message: messages/none.wav\n").unwrap_err();
        assert!(
            e.contains("abandon_message") && e.contains("cannot read"),
            "{e}"
        );
        let e = campaign_in(&d, "recording: { mode: all, retention: 7d }\n").unwrap_err();
        assert!(
            e.contains("recording.retention") && e.contains("30 days"),
            "{e}"
        );
        let e = campaign_in(&d, "recording: { mode: sometimes }\n").unwrap_err();
        assert!(e.contains("recording"), "{e}");
        let c = campaign_in(
            &d,
            "recording: { mode: connected, dir: /var/rec, retention: 90d }\n",
        )
        .unwrap();
        assert_eq!(c.recording.mode, RecordingMode::Connected);
    }
}

#[cfg(test)]
mod cpa_section {
    use super::*;
    use crate::campaign::cpa::CpaAction;
    use crate::cpa::VerdictClass;

    fn parse(dir: &Path, extra: &str) -> Result<Campaign, String> {
        let text = format!(
            "name: t\nkind: collection\nregion: CN\ntimezone: Asia/Shanghai\ndialing:\n  \
             mode: predictive\ncaller_id: \"021 6123 4567\"\ntrunk_group: g\nagent_group: a\n{extra}"
        );
        Campaign::parse(&dir.join("c.yaml").display().to_string(), &text).map_err(|e| e.to_string())
    }

    #[test]
    fn the_cpa_section_defaults_and_its_errors_name_file_line_and_field() {
        let d = std::env::temp_dir().join(format!("outdial-cpa-{}", std::process::id()));
        std::fs::create_dir_all(d.join("refs")).unwrap();
        let c = parse(&d, "").unwrap();
        assert_eq!(c.cpa.enabled, None, "on when anchored, by default");
        assert_eq!(
            c.cpa.announcements, None,
            "no announcements folder next to the file"
        );
        assert_eq!(
            c.cpa.policy.action(VerdictClass::Unsure),
            &CpaAction::Connect
        );
        let c = parse(
            &d,
            "cpa:\n  announcements: refs\n  policy: { unsure: hangup }\n",
        )
        .unwrap();
        assert!(c
            .cpa
            .announcements
            .as_ref()
            .is_some_and(|p| p.is_absolute() && p.ends_with("refs")));
        assert_eq!(
            c.cpa.policy.action(VerdictClass::Unsure),
            &CpaAction::Hangup
        );
        // The stored definition keeps it.
        let back: Campaign = serde_json::from_str(&c.to_json()).unwrap();
        assert_eq!(back.cpa, c.cpa);

        let file = d.join("c.yaml").display().to_string();
        let e = parse(&d, "cpa:\n  announcements: nowhere\n").unwrap_err();
        assert!(
            e.starts_with(&format!("{file}:11: cpa.announcements:")),
            "{e}"
        );
        let e = parse(&d, "cpa:\n  policy:\n    human: hangup\n").unwrap_err();
        assert!(
            e.starts_with(&format!("{file}:12: cpa.policy.human:")),
            "{e}"
        );
        let e = parse(&d, "cpa:\n  policy:\n    fax: { message: m.wav }\n").unwrap_err();
        assert!(
            e.contains("cpa.policy.fax") && e.contains("voicemail"),
            "{e}"
        );
        let e = parse(&d, "cpa:\n  policy:\n    machine: { message: none.wav }\n").unwrap_err();
        assert!(
            e.contains("cpa.policy.machine.message") && e.contains("none.wav"),
            "{e}"
        );
        let e = parse(&d, "cpa:\n  policy:\n    silence: redial\n").unwrap_err();
        assert!(
            e.contains("cpa.policy.silence") && e.contains("redial"),
            "{e}"
        );
        let e = parse(&d, "cpa:\n  enabeld: true\n").unwrap_err();
        assert!(e.contains("cpa") && e.contains("enabeld"), "{e}");
        std::fs::remove_dir_all(&d).ok();
    }
}

#[cfg(test)]
mod shipped {
    use super::*;

    #[test]
    fn shipped_campaigns_are_valid_and_cn_compliant() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("campaigns");
        for name in [
            "credit-verification",
            "welcome",
            "repayment-reminder",
            "cross-sell",
        ] {
            let c = Campaign::load(&dir.join(format!("{name}.yaml"))).unwrap();
            assert_eq!(c.name, name);
            assert_eq!(
                (c.region.as_str(), c.timezone.as_str()),
                ("CN", "Asia/Shanghai")
            );
            assert!(c.retry.max_attempts_per_day <= 6);
            for day in c.window.days.iter().flatten() {
                assert!(day.start >= 8 * 60 && day.end <= 21 * 60, "{name}");
            }
            // The shipped placeholder message is loaded, converted and kept with the campaign.
            let msg = c.abandon_message.as_ref().expect("abandon_message");
            let secs = msg.seconds();
            assert!((3.0..=15.0).contains(&secs), "{name}: {secs} s");
            assert_eq!(
                msg.prompt().map(|p| p.0.len()),
                Some((secs * 8000.0) as usize)
            );
            assert_eq!(c.recording.mode, super::super::media::RecordingMode::All);
            // Call-progress analysis on, with the shipped placeholder announcements.
            assert_eq!(c.cpa.enabled, Some(true), "{name}");
            assert!(
                c.cpa
                    .announcements
                    .as_ref()
                    .is_some_and(|p| p.ends_with("announcements")),
                "{name}"
            );
            let leaves_message = matches!(
                c.cpa.policy.machine,
                crate::campaign::cpa::CpaAction::Message(_)
            );
            assert_eq!(leaves_message, name == "repayment-reminder", "{name}");
        }
    }
}
