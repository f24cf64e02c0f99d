//! Dial modes as users name them (`preview`, `progressive`, `power:2`, `predictive`, `adaptive`,
//! `rate:0.5`), parsed and printed back verbatim.

use std::fmt;
use std::str::FromStr;

/// How a campaign decides when to dial.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    /// The agent is reserved and sees the lead first; the call is placed when the agent accepts.
    Preview,
    /// One call per ready agent, the agent reserved for it: no abandons.
    Progressive,
    /// Keep `ratio` × ready agents calls ringing.
    Power {
        /// Calls per ready agent.
        ratio: f64,
    },
    /// Model-based dialling under the abandon cap (see [`crate::pacing::predictive`]).
    Predictive,
    /// The VICIdial-style adaptive dial level baseline (see [`crate::pacing::adaptive`]).
    Adaptive {
        /// What happens once today's drop rate exceeds the target.
        drop_rule: DropRule,
    },
    /// Poisson dialling at `per_s` calls per second, blind to agents.
    Rate {
        /// Calls per second.
        per_s: f64,
    },
    /// The plain state-aware reference rule of pacing.md with a fixed slack `s` (for comparison).
    Slack {
        /// Safety slack in agents.
        s: f64,
    },
}

/// VICIdial's reaction when today's drop percentage exceeds the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropRule {
    /// ADAPT_AVERAGE: halve the dial level every 15 s while over.
    Average,
    /// ADAPT_HARD_LIMIT: dial level 1.0 while over.
    HardLimit,
    /// ADAPT_TAPERED: over the target, scale the level down as the shift end approaches.
    Tapered,
}

/// A dial mode that could not be parsed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("unknown strategy `{0}` (expected preview, progressive, power:R, predictive, adaptive, adaptive:hard, adaptive:tapered, rate:L or slack:S)")]
pub struct ModeError(pub String);

impl FromStr for Mode {
    type Err = ModeError;
    fn from_str(s: &str) -> Result<Self, ModeError> {
        let err = || ModeError(s.to_string());
        let num = |v: &str| -> Result<f64, ModeError> {
            v.trim()
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x > 0.0)
                .ok_or_else(err)
        };
        let (head, arg) = match s.split_once(':') {
            Some((h, a)) => (h.trim(), Some(a)),
            None => (s.trim(), None),
        };
        match (head, arg) {
            ("preview", None) => Ok(Mode::Preview),
            ("progressive", None) => Ok(Mode::Progressive),
            ("predictive", None) => Ok(Mode::Predictive),
            ("adaptive", None) | ("adaptive", Some("average")) => Ok(Mode::Adaptive {
                drop_rule: DropRule::Average,
            }),
            ("adaptive", Some("hard")) => Ok(Mode::Adaptive {
                drop_rule: DropRule::HardLimit,
            }),
            ("adaptive", Some("tapered")) => Ok(Mode::Adaptive {
                drop_rule: DropRule::Tapered,
            }),
            ("power", Some(r)) => Ok(Mode::Power { ratio: num(r)? }),
            ("rate", Some(r)) => Ok(Mode::Rate { per_s: num(r)? }),
            ("slack", Some(r)) => Ok(Mode::Slack { s: num(r)? }),
            _ => Err(err()),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mode::Preview => write!(f, "preview"),
            Mode::Progressive => write!(f, "progressive"),
            Mode::Power { ratio } => write!(f, "power:{ratio}"),
            Mode::Predictive => write!(f, "predictive"),
            Mode::Adaptive {
                drop_rule: DropRule::Average,
            } => write!(f, "adaptive"),
            Mode::Adaptive {
                drop_rule: DropRule::HardLimit,
            } => write!(f, "adaptive:hard"),
            Mode::Adaptive {
                drop_rule: DropRule::Tapered,
            } => write!(f, "adaptive:tapered"),
            Mode::Rate { per_s } => write!(f, "rate:{per_s}"),
            Mode::Slack { s } => write!(f, "slack:{s}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_user_names() {
        assert_eq!("power:2".parse::<Mode>(), Ok(Mode::Power { ratio: 2.0 }));
        assert_eq!("rate:0.5".parse::<Mode>(), Ok(Mode::Rate { per_s: 0.5 }));
        assert_eq!("rate:0.5".parse::<Mode>().unwrap().to_string(), "rate:0.5");
        assert!("power".parse::<Mode>().is_err());
        assert!("power:-1".parse::<Mode>().is_err());
        assert!("turbo".parse::<Mode>().is_err());
    }
}
