//! The dial mode a campaign runs in, as users name it: the one type behind a campaign file's
//! `dialing.mode`, the admin API's `mode`, and the pacing override the store keeps for every node.
//! Owns the names, their canonical text and their bounds; how each mode paces is the pacing core's
//! business (see [`DialMode::pacing`] and [`crate::pacing::Mode`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::def::{MAX_RATIO, MIN_RATE};
use crate::pacing::{DropRule, Mode};

/// The plain dial-mode names (`power:R` and `rate:λ` carry a number after a colon). A campaign
/// file accepts only these.
pub const MODES: [&str; 5] = ["preview", "progressive", "power", "predictive", "adaptive"];

/// How a campaign's calls are paced (see docs/pacing.md for the meaning of each mode).
///
/// Text form (serde, [`fmt::Display`], [`FromStr`]): `preview`, `progressive`, `power`,
/// `power:R`, `predictive`, `adaptive`, `rate:λ`, numbers in Rust's shortest round-trip form.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DialMode {
    /// Agent sees the lead first, then the call is placed.
    Preview,
    /// One call per ready agent.
    Progressive,
    /// A fixed ratio of calls per ready agent.
    Power {
        /// `power:R`: R lines per ready agent. `None` (plain `power`): the campaign's `ratio`
        /// setting, so a later change of `ratio` moves it.
        ratio: Option<f64>,
    },
    /// Model-based pacing under the abandon cap.
    Predictive,
    /// Feedback on the dial level (VICIdial style).
    Adaptive,
    /// `rate:λ`: Poisson dialling at λ calls per second, blind to agents (the engine caps it at
    /// the trunks' CPS).
    Rate {
        /// Calls per second, at least [`MIN_RATE`].
        per_s: f64,
    },
}

/// A dial mode that is unknown or out of bounds; the message is what the admin API answers.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DialModeError {
    /// Not a mode name, or a number that does not parse.
    #[error(
        "mode: unknown mode {0:?}: expected one of preview, progressive, power, power:R, \
         predictive, adaptive, rate:λ"
    )]
    Unknown(String),
    /// `power:R` with R outside [1, [`MAX_RATIO`]] (the text as given).
    #[error("mode {0:?}: the power ratio R must be in [1, {MAX_RATIO}] lines per agent")]
    PowerRatio(String),
    /// `rate:λ` under [`MIN_RATE`] (the text as given).
    #[error(
        "mode {0:?}: the rate must be at least {MIN_RATE} calls/s (and at most the trunks' CPS)"
    )]
    Rate(String),
}

impl DialMode {
    /// Checks the numbers a mode carries (a value built in code, or read back from the store,
    /// has not been through [`FromStr`]).
    pub fn check(self) -> Result<DialMode, DialModeError> {
        match self {
            DialMode::Power { ratio: Some(r) }
                if !(r.is_finite() && (1.0..=MAX_RATIO).contains(&r)) =>
            {
                Err(DialModeError::PowerRatio(self.to_string()))
            }
            DialMode::Rate { per_s } if !(per_s.is_finite() && per_s >= MIN_RATE) => {
                Err(DialModeError::Rate(self.to_string()))
            }
            _ => Ok(self),
        }
    }

    /// The pacing core's mode for this dial mode; `ratio` is the campaign's `ratio` setting,
    /// which plain `power` follows.
    pub fn pacing(self, ratio: f64) -> Mode {
        match self {
            DialMode::Preview => Mode::Preview,
            DialMode::Progressive => Mode::Progressive,
            DialMode::Power { ratio: r } => Mode::Power {
                ratio: r.unwrap_or(ratio),
            },
            DialMode::Predictive => Mode::Predictive,
            DialMode::Adaptive => Mode::Adaptive {
                drop_rule: DropRule::Average,
            },
            DialMode::Rate { per_s } => Mode::Rate { per_s },
        }
    }
}

impl FromStr for DialMode {
    type Err = DialModeError;

    /// Accepts the names in [`MODES`] (trimmed, any case), `power:R` with R in [1,
    /// [`MAX_RATIO`]] and `rate:λ` with λ ≥ [`MIN_RATE`].
    fn from_str(raw: &str) -> Result<DialMode, DialModeError> {
        let mode = raw.trim().to_ascii_lowercase();
        let unknown = || DialModeError::Unknown(raw.to_string());
        if let Some(plain) = plain(&mode) {
            return Ok(plain);
        }
        let (name, value) = mode.split_once(':').ok_or_else(unknown)?;
        let value: f64 = value.trim().parse().map_err(|_| unknown())?;
        let parsed = match name {
            "power" => DialMode::Power { ratio: Some(value) },
            "rate" => DialMode::Rate { per_s: value },
            _ => return Err(unknown()),
        };
        // Out of bounds: the message quotes the text as given, as it always has.
        parsed.check().map_err(|e| match e {
            DialModeError::PowerRatio(_) => DialModeError::PowerRatio(raw.to_string()),
            DialModeError::Rate(_) => DialModeError::Rate(raw.to_string()),
            other => other,
        })
    }
}

/// One of the plain names of [`MODES`], exactly as written.
fn plain(name: &str) -> Option<DialMode> {
    Some(match name {
        "preview" => DialMode::Preview,
        "progressive" => DialMode::Progressive,
        "power" => DialMode::Power { ratio: None },
        "predictive" => DialMode::Predictive,
        "adaptive" => DialMode::Adaptive,
        _ => return None,
    })
}

impl fmt::Display for DialMode {
    /// The canonical text; honours width and alignment (`{:<12}` in `campaign list`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text: std::borrow::Cow<'_, str> = match self {
            DialMode::Preview => "preview".into(),
            DialMode::Progressive => "progressive".into(),
            DialMode::Power { ratio: None } => "power".into(),
            DialMode::Power { ratio: Some(r) } => format!("power:{r}").into(),
            DialMode::Predictive => "predictive".into(),
            DialMode::Adaptive => "adaptive".into(),
            DialMode::Rate { per_s } => format!("rate:{per_s}").into(),
        };
        f.pad(&text)
    }
}

impl Serialize for DialMode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DialMode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<DialMode, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A campaign file's `dialing.mode`: one of the plain names of [`MODES`], exactly as written
/// (`power:R` and `rate:λ` are set live, through the admin API), refused with serde's own
/// "unknown variant" message as before the type was shared.
pub(crate) fn deserialize_plain<'de, D: Deserializer<'de>>(d: D) -> Result<DialMode, D::Error> {
    let text = String::deserialize(d)?;
    plain(&text).ok_or_else(|| serde::de::Error::unknown_variant(&text, &MODES))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_wire_form_round_trips_text_enum_json() {
        for text in [
            "preview",
            "progressive",
            "power",
            "power:2",
            "power:1.5",
            "predictive",
            "adaptive",
            "rate:0.5",
            "rate:0.01",
        ] {
            let mode: DialMode = text.parse().unwrap();
            assert_eq!(mode.to_string(), text);
            let json = serde_json::to_string(&mode).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<DialMode>(&json).unwrap(), mode);
        }
    }

    #[test]
    fn the_text_pads_in_tables() {
        assert_eq!(
            format!("{:<8}|", DialMode::Power { ratio: None }),
            "power   |"
        );
        assert_eq!(
            format!("{:<8}|", DialMode::Rate { per_s: 2.0 }),
            "rate:2  |"
        );
    }

    #[test]
    fn plain_power_follows_the_ratio_setting_and_power_r_does_not() {
        let plain: DialMode = "power".parse().unwrap();
        assert_eq!(plain.pacing(1.5), Mode::Power { ratio: 1.5 });
        let fixed: DialMode = "power:2".parse().unwrap();
        assert_eq!(fixed.pacing(1.5), Mode::Power { ratio: 2.0 });
        assert_eq!(
            "adaptive".parse::<DialMode>().unwrap().pacing(1.0),
            Mode::Adaptive {
                drop_rule: DropRule::Average
            }
        );
    }

    #[test]
    fn a_campaign_file_takes_only_plain_names() {
        #[derive(Deserialize, Debug)]
        struct D {
            #[serde(deserialize_with = "deserialize_plain")]
            #[allow(dead_code)] // read through Debug only
            mode: DialMode,
        }
        assert!(serde_json::from_str::<D>(r#"{"mode":"power"}"#).is_ok());
        let e = serde_json::from_str::<D>(r#"{"mode":"rate:1"}"#).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("unknown variant `rate:1`, expected one of `preview`"),
            "{e}"
        );
    }
}
