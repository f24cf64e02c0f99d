//! A campaign's `cpa:` section: whether call-progress analysis runs on its calls, its
//! thresholds ([`CpaSettings`]), where its known carrier announcements are, and what each
//! verdict does to the call (connect it, hang up with the verdict's own disposition, or leave a
//! message after a voicemail's beep). Owns the section's shape, checks and defaults, and the
//! verdict → disposition mapping; detection is [`crate::cpa`]'s, acting on a verdict the
//! engine's.
//!
//! ```yaml
//! cpa:
//!   enabled: true              # default: on when the campaign's trunks anchor media
//!   settings: { amd: default } # crate::cpa::settings::CpaSettings, every threshold defaulted
//!   announcements: announcements   # folder of reference WAVs, relative to the campaign file
//!   policy:                    # per verdict: connect | hangup | { message: FILE.wav }
//!     human: connect           # always (a person is never hung up on by policy)
//!     unsure: connect
//!     machine: hangup          # or { message: messages/reminder.wav } (machine only)
//!     announcement: hangup
//!     sit: hangup
//!     fax: hangup
//!     silence: hangup
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::disposition::CallDisposition;
use super::media::AbandonMessage;
use crate::cpa::settings::CpaSettings;
use crate::cpa::{SitVariant, Verdict, VerdictClass};

/// The folder of reference announcements looked for next to the campaign file when
/// `cpa.announcements` is not set (used only when it exists).
pub const DEFAULT_ANNOUNCEMENTS: &str = "announcements";

/// What a verdict does to the call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CpaAction {
    /// A live answer: bridged to an agent at once.
    Connect,
    /// Hung up (cancelled, in early media) with the verdict's own disposition
    /// ([`disposition_of`]) and that disposition's retry rule.
    Hangup,
    /// Machines only: the message is played after the greeting's beep (or after the wait for
    /// one), then the call is hung up (`machine`).
    Message(AbandonMessage),
}

/// The `policy:` of a `cpa:` section: one action per verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpaPolicy {
    /// A person: always [`CpaAction::Connect`].
    pub human: CpaAction,
    /// A voicemail greeting.
    pub machine: CpaAction,
    /// A known recorded announcement.
    pub announcement: CpaAction,
    /// Special Information Tones.
    pub sit: CpaAction,
    /// A fax machine.
    pub fax: CpaAction,
    /// Dead air.
    pub silence: CpaAction,
    /// The analysis ran out of time.
    pub unsure: CpaAction,
}

impl Default for CpaPolicy {
    fn default() -> Self {
        CpaPolicy {
            human: CpaAction::Connect,
            machine: CpaAction::Hangup,
            announcement: CpaAction::Hangup,
            sit: CpaAction::Hangup,
            fax: CpaAction::Hangup,
            silence: CpaAction::Hangup,
            // Not sure is not a machine: a person hung up on is an abandoned call.
            unsure: CpaAction::Connect,
        }
    }
}

impl CpaPolicy {
    /// The action for a verdict class.
    pub fn action(&self, class: VerdictClass) -> &CpaAction {
        match class {
            VerdictClass::Human => &self.human,
            VerdictClass::Machine => &self.machine,
            VerdictClass::Announcement => &self.announcement,
            VerdictClass::Sit => &self.sit,
            VerdictClass::Fax => &self.fax,
            VerdictClass::Silence => &self.silence,
            VerdictClass::Unsure => &self.unsure,
        }
    }
}

/// A campaign's validated `cpa:` section (stored with the definition).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CampaignCpa {
    /// As written; `None`: on when the campaign's trunk group anchors media (see
    /// [`CampaignCpa::runs`]).
    pub enabled: Option<bool>,
    /// The analysis thresholds.
    pub settings: CpaSettings,
    /// The folder of reference announcements, resolved against the campaign file's folder when
    /// the file was applied (the engine loads it at start); `None`: no matching.
    pub announcements: Option<PathBuf>,
    /// What each verdict does.
    pub policy: CpaPolicy,
}

impl CampaignCpa {
    /// Whether analysis runs on this campaign's calls: never without anchored media (outdial
    /// hears nothing under flow I), else as `enabled` says, on by default.
    pub fn runs(&self, anchored: bool) -> bool {
        anchored && self.enabled.unwrap_or(true)
    }
}

/// The section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCpa {
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    settings: CpaSettings,
    #[serde(default)]
    announcements: Option<String>,
    #[serde(default)]
    policy: RawPolicy,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    human: Option<RawAction>,
    #[serde(default)]
    machine: Option<RawAction>,
    #[serde(default)]
    announcement: Option<RawAction>,
    #[serde(default)]
    sit: Option<RawAction>,
    #[serde(default)]
    fax: Option<RawAction>,
    #[serde(default)]
    silence: Option<RawAction>,
    #[serde(default)]
    unsure: Option<RawAction>,
}

/// `connect`, `hangup` or `{ message: FILE.wav }`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawAction {
    Word(String),
    Message(RawMessage),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMessage {
    message: String,
}

impl RawCpa {
    /// Validates the section; `base` is the campaign file's folder. `Err` names the field.
    pub(super) fn validate(self, base: &Path) -> Result<CampaignCpa, (String, String)> {
        let announcements = match self.announcements.as_deref().map(str::trim) {
            Some("") => {
                return Err((
                    "cpa.announcements".into(),
                    "announcements must not be empty (leave it out for the default)".into(),
                ))
            }
            Some(dir) => {
                let path = base.join(dir);
                if !path.is_dir() {
                    return Err((
                        "cpa.announcements".into(),
                        format!("{}: no such folder", path.display()),
                    ));
                }
                Some(absolute(&path))
            }
            None => {
                let path = base.join(DEFAULT_ANNOUNCEMENTS);
                path.is_dir().then(|| absolute(&path))
            }
        };
        let d = CpaPolicy::default();
        let p = self.policy;
        let action = |class: VerdictClass, raw: Option<RawAction>, default: CpaAction| {
            let field = format!("cpa.policy.{}", class.name());
            match raw {
                None => Ok(default),
                Some(RawAction::Word(w)) => match w.trim() {
                    "connect" => Ok(CpaAction::Connect),
                    "hangup" => Ok(CpaAction::Hangup),
                    other => Err((
                        field,
                        format!(
                            "unknown action {other:?} (expected connect, hangup or {{message: FILE.wav}})"
                        ),
                    )),
                },
                Some(RawAction::Message(m)) => {
                    if class != VerdictClass::Machine {
                        return Err((
                            field,
                            "a message is left only on a voicemail (machine), after its beep"
                                .into(),
                        ));
                    }
                    AbandonMessage::load(m.message.trim(), base)
                        .map(CpaAction::Message)
                        .map_err(|e| (format!("{field}.message"), e.to_string()))
                }
            }
        };
        let policy = CpaPolicy {
            human: action(VerdictClass::Human, p.human, d.human)?,
            machine: action(VerdictClass::Machine, p.machine, d.machine)?,
            announcement: action(VerdictClass::Announcement, p.announcement, d.announcement)?,
            sit: action(VerdictClass::Sit, p.sit, d.sit)?,
            fax: action(VerdictClass::Fax, p.fax, d.fax)?,
            silence: action(VerdictClass::Silence, p.silence, d.silence)?,
            unsure: action(VerdictClass::Unsure, p.unsure, d.unsure)?,
        };
        if policy.human != CpaAction::Connect {
            return Err((
                "cpa.policy.human".into(),
                "a person is always connected (human: connect); hanging up on one is an abandoned call"
                    .into(),
            ));
        }
        Ok(CampaignCpa {
            enabled: self.enabled,
            settings: self.settings,
            announcements,
            policy,
        })
    }
}

/// The answer-to-verdict delay pacing plans with before the campaign's first analysed call
/// (its cold-start prior): how long a *person's* verdict takes under `settings` — a "喂?" or
/// "Hello?" starting about 0.5 s after the answer and lasting about 0.8 s, then the silence
/// that makes it a person (`after_utterance_silence`, app_amd's `after_greeting_silence`) —
/// ±40 %, never past the total analysis time. People are the calls that need an agent, and
/// their delay is the shortest of the verdicts': planning with it expects agents to be needed
/// sooner than with a greeting's, the cautious side for the abandon cap. With `amd: off`
/// people end as `unsure` when the early limit passes, capped at the adaptive total.
pub fn delay_prior(settings: &CpaSettings) -> crate::pacing::dist::Dist {
    use crate::cpa::settings::AmdMode;
    let a = &settings.adaptive;
    let b = &settings.baseline;
    let (mean, total) = match settings.amd {
        AmdMode::Default => (
            1.3 + a.after_utterance_silence.secs_f64(),
            a.total_analysis.secs_f64(),
        ),
        AmdMode::Baseline => (
            1.3 + b.after_greeting_silence.secs_f64(),
            b.total_analysis_time.secs_f64(),
        ),
        AmdMode::Off => (settings.early_limit.secs_f64(), a.total_analysis.secs_f64()),
    };
    let mean = mean.min(total).max(0.1);
    crate::pacing::dist::Dist::lognormal(mean, 0.4 * mean)
        .unwrap_or(crate::pacing::dist::Dist::Constant { mean })
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The disposition a call hung up on (or cancelled) for `verdict` gets, and with it its retry
/// rule. An announcement's kind is its reference name's last part (`cmn/powered-off` →
/// `powered-off`; a suffix such as `powered-off-2` is allowed): a powered-off phone retries in
/// hours, a vacant number never.
pub fn disposition_of(verdict: &Verdict) -> CallDisposition {
    match verdict {
        // A person is connected, never hung up on by policy; an unsure call hung up on is
        // counted with the machines (its share of people is the false-positive estimate).
        Verdict::Human => CallDisposition::Connected,
        Verdict::Machine | Verdict::Unsure => CallDisposition::Machine,
        Verdict::Announcement(Some(name)) => announcement_disposition(name),
        // Only the class is known (the name is awaited, and may never come).
        Verdict::Announcement(None) => CallDisposition::Announcement,
        Verdict::Sit(v) => match v {
            SitVariant::Intercept | SitVariant::VacantCode => CallDisposition::Invalid,
            SitVariant::NoCircuit | SitVariant::Reorder => CallDisposition::Busy,
            SitVariant::IneffectiveOther | SitVariant::Unknown => CallDisposition::Rejected,
        },
        Verdict::Fax(_) => CallDisposition::Fax,
        Verdict::Silence => CallDisposition::Silence,
    }
}

fn announcement_disposition(name: &str) -> CallDisposition {
    let kind = name.rsplit(['/', '\\']).next().unwrap_or(name);
    const KINDS: [(&str, CallDisposition); 6] = [
        ("powered-off", CallDisposition::PoweredOff),
        ("vacant", CallDisposition::Invalid),
        ("not-in-service", CallDisposition::Invalid),
        ("suspended", CallDisposition::Suspended),
        ("unreachable", CallDisposition::Unreachable),
        ("busy", CallDisposition::Busy),
    ];
    KINDS
        .iter()
        .find(|(k, _)| kind.starts_with(k))
        .map(|(_, d)| *d)
        .unwrap_or(CallDisposition::Announcement)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpa::FaxTone;

    #[test]
    fn an_announcement_kind_picks_its_disposition_and_retry() {
        let d = |n: &str| disposition_of(&Verdict::Announcement(Some(n.into())));
        assert_eq!(d("cmn/powered-off"), CallDisposition::PoweredOff);
        assert_eq!(d("yue/powered-off-2"), CallDisposition::PoweredOff);
        assert_eq!(d("cmn/vacant"), CallDisposition::Invalid);
        assert_eq!(d("en/not-in-service"), CallDisposition::Invalid);
        assert_eq!(d("cmn/suspended"), CallDisposition::Suspended);
        assert_eq!(d("cmn/unreachable"), CallDisposition::Unreachable);
        assert_eq!(d("cmn/busy"), CallDisposition::Busy);
        assert_eq!(
            d("carrier-x/holiday-greeting"),
            CallDisposition::Announcement
        );
        // A powered-off phone retries in hours, a vacant number never.
        let rule = CallDisposition::PoweredOff.default_rule();
        assert!(rule.retry && rule.delay.0.as_secs() >= 3600);
        assert!(!CallDisposition::Invalid.default_rule().retry);
    }

    #[test]
    fn tones_and_dead_air_have_their_own_rules() {
        assert_eq!(
            disposition_of(&Verdict::Sit(SitVariant::VacantCode)),
            CallDisposition::Invalid
        );
        assert_eq!(
            disposition_of(&Verdict::Sit(SitVariant::Reorder)),
            CallDisposition::Busy
        );
        let fax = disposition_of(&Verdict::Fax(FaxTone::Ced));
        assert_eq!(fax, CallDisposition::Fax);
        assert!(!fax.default_rule().retry, "a fax is never called again");
        let silence = disposition_of(&Verdict::Silence);
        assert!(silence.default_rule().retry, "dead air is retried");
        assert!(!silence.is_live_answer() && !fax.is_live_answer());
    }

    #[test]
    fn the_delay_prior_follows_the_person_rule_of_the_detector_in_use() {
        use crate::cpa::settings::AmdMode;
        let mut s = CpaSettings::default();
        // 0.5 s to the first word, 0.8 s of it, then 450 ms of silence: a person.
        assert!((delay_prior(&s).mean() - 1.75).abs() < 1e-9);
        s.adaptive.after_utterance_silence = crate::yaml::Dur(std::time::Duration::from_secs(2));
        assert!((delay_prior(&s).mean() - 3.3).abs() < 1e-9);
        s.amd = AmdMode::Baseline;
        // app_amd's after-greeting silence is 800 ms.
        assert!((delay_prior(&s).mean() - 2.1).abs() < 1e-9);
        s.amd = AmdMode::Off;
        // Never past the total analysis time (the early-media limit is longer than it).
        let total = s.adaptive.total_analysis.secs_f64();
        assert!(s.early_limit.secs_f64() > total);
        assert!((delay_prior(&s).mean() - total).abs() < 1e-9);
    }

    #[test]
    fn runs_only_with_anchored_media_and_on_by_default() {
        let c = CampaignCpa::default();
        assert!(c.runs(true) && !c.runs(false));
        let off = CampaignCpa {
            enabled: Some(false),
            ..CampaignCpa::default()
        };
        assert!(!off.runs(true));
        assert_eq!(c.policy.action(VerdictClass::Unsure), &CpaAction::Connect);
        assert_eq!(c.policy.action(VerdictClass::Machine), &CpaAction::Hangup);
    }
}
