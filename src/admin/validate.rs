//! Validation of supervisor and agent input, done by the router BEFORE anything reaches
//! [`Control`](super::Control): a value rejected here changes nothing and writes no audit row.
//! Pure functions; the messages are the `{"error": …}` text the user sees.

use serde::{Deserialize, Serialize};

use super::control::{PacingChange, PacingRequest, PacingSettings, WrapUpCode};
use crate::campaign::{DialMode, DialModeError};

pub use crate::campaign::def::{
    DEFAULT_ABANDON_CAP, MAX_ABANDON_CAP, MAX_RATIO, MIN_RATE, MIN_TARGET_ABANDON,
};
pub use crate::campaign::MODES;

/// Why a supervisor's or an agent's input was refused; the message is the `{"error": …}` text
/// the user sees, naming the field and its allowed range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Invalid {
    /// A pacing change with no field set.
    #[error("nothing to change: give at least one of mode, ratio, max_ratio, target_abandon")]
    NothingToChange,
    /// `ratio` or `max_ratio` outside [1, [`MAX_RATIO`]] (or not finite).
    #[error("{field} must be in [1, {MAX_RATIO}], got {value}")]
    Ratio {
        /// `ratio` or `max_ratio`.
        field: &'static str,
        /// The value given.
        value: f64,
    },
    /// `ratio` above `max_ratio`, both in the change.
    #[error("ratio {ratio} is above max_ratio {max}")]
    RatioAboveMax {
        /// The ratio given.
        ratio: f64,
        /// The max ratio given.
        max: f64,
    },
    /// `target_abandon` outside its absolute bounds (or not finite).
    #[error(
        "target_abandon must be in [{MIN_TARGET_ABANDON}, {MAX_ABANDON_CAP}] and at most the \
         campaign's abandon_cap, got {0}"
    )]
    TargetAbandon(f64),
    /// An unknown or out-of-bounds dial mode.
    #[error(transparent)]
    Mode(#[from] DialModeError),
    /// The resulting ratio would be above the resulting max ratio.
    #[error("ratio {ratio} would be above max_ratio {max}")]
    RatioWouldExceedMax {
        /// Ratio after the change.
        ratio: f64,
        /// Max ratio after the change.
        max: f64,
    },
    /// `power:R` above the resulting max ratio.
    #[error("mode {mode}: the power ratio must be at most max_ratio {max}")]
    PowerAboveMax {
        /// Mode after the change.
        mode: DialMode,
        /// Max ratio after the change.
        max: f64,
    },
    /// `target_abandon` above the campaign's legal cap.
    #[error(
        "target_abandon must be in [{MIN_TARGET_ABANDON}, {cap}] (the campaign's abandon_cap), \
         got {value}"
    )]
    TargetAboveCap {
        /// The campaign's `abandon_cap`.
        cap: f64,
        /// The target given.
        value: f64,
    },
    /// A pause without a reason.
    #[error("pause needs a reason")]
    PauseReasonMissing,
    /// A pause reason over 200 characters.
    #[error("pause reason must be at most 200 characters, got {0}")]
    PauseReasonTooLong(usize),
    /// A pause reason with a control character (said apart from the length: a short reason
    /// holding a tab was once refused as "too long").
    #[error("pause reason must not contain control characters (found U+{0:04X})")]
    PauseReasonControl(u32),
    /// `callback` without `at_ms`.
    #[error("disposition callback needs at_ms (epoch milliseconds)")]
    CallbackNeedsTime,
    /// `callback` at a time not after the epoch.
    #[error("callback at_ms must be a positive time, got {0}")]
    CallbackTime(i64),
    /// A custom wrap-up code outside the allowed alphabet or length.
    #[error("disposition {0:?} must be 1-64 characters of a-z, 0-9, _ or -")]
    Code(String),
    /// `at_ms` with a code other than `callback`.
    #[error("at_ms is only for disposition callback, not {0}")]
    AtMsWithoutCallback(String),
}

/// Checks a dial mode as typed and returns it (canonical when printed: trimmed, lowercase).
///
/// Accepted: the names in [`MODES`], `power:R` with R in [1, [`MAX_RATIO`]], `rate:λ` with λ in
/// [[`MIN_RATE`], ∞) calls per second (the engine caps it at the trunks' CPS).
pub fn mode(raw: &str) -> Result<DialMode, Invalid> {
    Ok(raw.parse()?)
}

/// Checks a pacing change as sent and returns it with the mode parsed.
///
/// Rules, checked in this order: at least one field; `ratio` and `max_ratio` in [1,
/// [`MAX_RATIO`]]; `ratio` ≤ `max_ratio` when both are given; `target_abandon` in
/// [[`MIN_TARGET_ABANDON`], [`MAX_ABANDON_CAP`]] (the campaign's own cap, 3 % by default, is
/// checked by [`pacing_against`]); a known mode. Every number must be finite. Each message names
/// the field and its allowed range.
pub fn pacing_request(req: PacingRequest) -> Result<PacingChange, Invalid> {
    // The numbers first, as ever: a bad ratio is reported before a bad mode.
    check_numbers(&req)?;
    Ok(PacingChange {
        mode: req.mode.as_deref().map(mode).transpose()?,
        ratio: req.ratio,
        max_ratio: req.max_ratio,
        target_abandon: req.target_abandon,
    })
}

/// Checks a pacing change alone, with the rules of [`pacing_request`]: for a change that did not
/// come through it (one another node or an older version wrote to the store).
pub fn pacing_change(change: &PacingChange) -> Result<(), Invalid> {
    check_numbers(change)?;
    if let Some(m) = change.mode {
        m.check()?;
    }
    Ok(())
}

fn check_numbers<M>(change: &PacingChange<M>) -> Result<(), Invalid> {
    if change.is_empty() {
        return Err(Invalid::NothingToChange);
    }
    for (field, value) in [("ratio", change.ratio), ("max_ratio", change.max_ratio)] {
        if let Some(r) = value {
            if !(r.is_finite() && (1.0..=MAX_RATIO).contains(&r)) {
                return Err(Invalid::Ratio { field, value: r });
            }
        }
    }
    if let (Some(r), Some(m)) = (change.ratio, change.max_ratio) {
        if r > m {
            return Err(Invalid::RatioAboveMax { ratio: r, max: m });
        }
    }
    if let Some(t) = change.target_abandon {
        if !(t.is_finite() && (MIN_TARGET_ABANDON..=MAX_ABANDON_CAP).contains(&t)) {
            return Err(Invalid::TargetAbandon(t));
        }
    }
    Ok(())
}

/// Checks a change against the current settings (fields the change leaves alone included) and
/// the campaign's legal `abandon_cap`: the resulting `ratio` and `power:R` may not exceed the
/// resulting `max_ratio`, and `target_abandon` may not exceed the cap.
pub fn pacing_against(
    current: &PacingSettings,
    abandon_cap: f64,
    change: &PacingChange,
) -> Result<(), Invalid> {
    let ratio = change.ratio.unwrap_or(current.ratio);
    let max = change.max_ratio.unwrap_or(current.max_ratio);
    if ratio > max {
        return Err(Invalid::RatioWouldExceedMax { ratio, max });
    }
    let mode = change.mode.unwrap_or(current.mode);
    if let DialMode::Power { ratio: Some(r) } = mode {
        if r > max {
            return Err(Invalid::PowerAboveMax { mode, max });
        }
    }
    if let Some(t) = change.target_abandon {
        if t > abandon_cap {
            return Err(Invalid::TargetAboveCap {
                cap: abandon_cap,
                value: t,
            });
        }
    }
    Ok(())
}

/// One audited field of a pacing change: `(field, old, new)` for each field whose value changed.
pub fn changed_fields(
    old: &PacingSettings,
    new: &PacingSettings,
) -> Vec<(&'static str, String, String)> {
    let mut out = Vec::new();
    if old.mode != new.mode {
        out.push(("mode", old.mode.to_string(), new.mode.to_string()));
    }
    // Exact comparison on purpose: any different value the supervisor set is a change to audit.
    for (field, o, n) in [
        ("ratio", old.ratio, new.ratio),
        ("max_ratio", old.max_ratio, new.max_ratio),
        ("target_abandon", old.target_abandon, new.target_abandon),
    ] {
        if o != n {
            out.push((field, o.to_string(), n.to_string()));
        }
    }
    out
}

/// Checks a pause reason: 1–200 characters after trimming, no control characters.
pub fn pause_reason(raw: &str) -> Result<String, Invalid> {
    let reason = raw.trim();
    if reason.is_empty() {
        return Err(Invalid::PauseReasonMissing);
    }
    let len = reason.chars().count();
    if len > 200 {
        return Err(Invalid::PauseReasonTooLong(len));
    }
    if let Some(c) = reason.chars().find(|c| c.is_control()) {
        return Err(Invalid::PauseReasonControl(u32::from(c)));
    }
    Ok(reason.to_string())
}

/// The JSON form of a [`WrapUpCode`]: `{"disposition": CODE, "at_ms": …}` (named `WrapUpCode`
/// in the OpenAPI description, the type the handlers decode it into).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WrapUpCode)]
pub struct DispositionWire {
    /// Wrap-up code: `callback` (with `at_ms`), `not_interested`, `do_not_call`, `completed`,
    /// `machine` (voicemail the analysis passed as a person), or any other code of lowercase
    /// letters, digits, `_` and `-`, 1–64 characters.
    #[schema(example = "completed", min_length = 1, max_length = 64)]
    pub disposition: String,
    /// Callback time, epoch milliseconds UTC (required for `callback`, positive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1)]
    pub at_ms: Option<i64>,
}

impl TryFrom<DispositionWire> for WrapUpCode {
    type Error = Invalid;

    fn try_from(w: DispositionWire) -> Result<Self, Invalid> {
        let code = w.disposition.trim();
        let d = match code {
            "callback" => {
                let at_ms = w.at_ms.ok_or(Invalid::CallbackNeedsTime)?;
                if at_ms <= 0 {
                    return Err(Invalid::CallbackTime(at_ms));
                }
                return Ok(WrapUpCode::Callback { at_ms });
            }
            "not_interested" => WrapUpCode::NotInterested,
            "do_not_call" => WrapUpCode::DoNotCall,
            "completed" => WrapUpCode::Completed,
            "machine" => WrapUpCode::Machine,
            other => {
                let ok = (1..=64).contains(&other.len())
                    && other.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                    });
                if !ok {
                    return Err(Invalid::Code(other.to_string()));
                }
                WrapUpCode::Other {
                    code: other.to_string(),
                }
            }
        };
        if w.at_ms.is_some() {
            return Err(Invalid::AtMsWithoutCallback(code.to_string()));
        }
        Ok(d)
    }
}

impl From<WrapUpCode> for DispositionWire {
    fn from(d: WrapUpCode) -> Self {
        let at_ms = match d {
            WrapUpCode::Callback { at_ms } => Some(at_ms),
            _ => None,
        };
        DispositionWire {
            disposition: d.code().to_string(),
            at_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(ratio: Option<f64>, max: Option<f64>, target: Option<f64>) -> PacingRequest {
        PacingRequest {
            mode: None,
            ratio,
            max_ratio: max,
            target_abandon: target,
        }
    }

    #[test]
    fn modes() {
        for m in MODES {
            assert_eq!(mode(m).unwrap().to_string(), m);
        }
        assert_eq!(mode(" Predictive ").unwrap(), DialMode::Predictive);
        assert_eq!(mode("power:2").unwrap().to_string(), "power:2");
        assert_eq!(mode("rate:0.5").unwrap().to_string(), "rate:0.5");
        for bad in [
            "",
            "turbo",
            "power:0.5",
            "rate:0",
            "rate:-1",
            "rate:x",
            "rate:inf",
            "power:nan",
            "rate",
        ] {
            assert!(mode(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn ranges() {
        assert!(pacing_request(change(Some(1.0), None, None)).is_ok());
        assert!(pacing_request(change(Some(0.99), None, None)).is_err());
        assert!(pacing_request(change(None, Some(0.5), None)).is_err());
        assert!(pacing_request(change(Some(3.0), Some(2.0), None)).is_err());
        assert!(pacing_request(change(None, None, Some(0.03))).is_ok());
        assert!(pacing_request(change(None, None, Some(0.0))).is_err());
        assert!(pacing_request(change(None, None, Some(0.2))).is_err());
        assert!(pacing_request(change(None, None, Some(f64::NAN))).is_err());
        assert!(pacing_request(PacingRequest::default()).is_err());
    }

    #[test]
    fn values_that_broke_the_abandon_law_are_refused_with_the_field_and_its_range() {
        let err = |c: PacingRequest| pacing_request(c).expect_err("accepted").to_string();
        let e = err(change(Some(1e308), None, None));
        assert!(e.starts_with("ratio must be in [1, 5]"), "{e}");
        let e = err(change(None, Some(1e308), None));
        assert!(e.starts_with("max_ratio must be in [1, 5]"), "{e}");
        let e = err(change(None, None, Some(5e-324)));
        assert!(
            e.starts_with("target_abandon must be in [0.001, 0.1]"),
            "{e}"
        );
        let e = mode("power:1e308").expect_err("accepted").to_string();
        assert!(e.contains("[1, 5]"), "{e}");
        let e = mode("rate:1e-300").expect_err("accepted").to_string();
        assert!(e.contains("at least 0.01 calls/s"), "{e}");
        assert_eq!(mode("power:5").unwrap().to_string(), "power:5");
        assert_eq!(mode("rate:0.01").unwrap().to_string(), "rate:0.01");
    }

    #[test]
    fn against_current() {
        let cur = PacingSettings {
            mode: DialMode::Power { ratio: None },
            ratio: 1.5,
            max_ratio: 2.0,
            target_abandon: 0.03,
        };
        let against = |c: &PacingRequest| {
            let c = pacing_request(c.clone()).expect("valid alone");
            pacing_against(&cur, 0.03, &c).map_err(|e| e.to_string())
        };
        assert!(against(&change(Some(2.5), None, None)).is_err());
        assert!(against(&change(None, Some(1.2), None)).is_err());
        assert!(against(&change(Some(2.5), Some(3.0), None)).is_ok());
        // power:R above the campaign's max_ratio, and a target above its legal cap.
        let power = PacingRequest {
            mode: Some("power:3".into()),
            ..PacingRequest::default()
        };
        let e = against(&power).expect_err("power above max_ratio");
        assert!(e.contains("at most max_ratio 2"), "{e}");
        let e = against(&change(None, None, Some(0.05))).expect_err("over the cap");
        assert!(e.contains("[0.001, 0.03]"), "{e}");
        let five = pacing_request(change(None, None, Some(0.05))).unwrap();
        assert!(pacing_against(&cur, 0.05, &five).is_ok());
    }

    #[test]
    fn changed_fields_lists_only_changes() {
        let old = PacingSettings {
            mode: DialMode::Power { ratio: None },
            ratio: 1.5,
            max_ratio: 2.0,
            target_abandon: 0.03,
        };
        let new = PacingSettings {
            mode: DialMode::Predictive,
            target_abandon: 0.02,
            ..old.clone()
        };
        assert_eq!(
            changed_fields(&old, &new),
            vec![
                ("mode", "power".into(), "predictive".into()),
                ("target_abandon", "0.03".into(), "0.02".into())
            ]
        );
    }

    #[test]
    fn dispositions() {
        let parse = |s: &str| serde_json::from_str::<WrapUpCode>(s);
        assert_eq!(
            parse(r#"{"disposition":"callback","at_ms":5}"#).unwrap(),
            WrapUpCode::Callback { at_ms: 5 }
        );
        assert!(parse(r#"{"disposition":"callback"}"#).is_err());
        assert_eq!(
            parse(r#"{"disposition":"do_not_call"}"#).unwrap(),
            WrapUpCode::DoNotCall
        );
        assert_eq!(
            parse(r#"{"disposition":"promise_to_pay"}"#).unwrap(),
            WrapUpCode::Other {
                code: "promise_to_pay".into()
            }
        );
        assert_eq!(
            parse(r#"{"disposition":"machine"}"#).unwrap(),
            WrapUpCode::Machine
        );
        assert!(parse(r#"{"disposition":"machine","at_ms":1}"#).is_err());
        assert!(parse(r#"{"disposition":"Bad Code"}"#).is_err());
        assert!(parse(r#"{"disposition":"not_interested","at_ms":1}"#).is_err());
        let json = serde_json::to_string(&WrapUpCode::Callback { at_ms: 7 }).unwrap();
        assert_eq!(json, r#"{"disposition":"callback","at_ms":7}"#);
    }

    #[test]
    fn pause_reasons() {
        assert_eq!(pause_reason(" lunch ").unwrap(), "lunch");
        assert!(pause_reason("  ").is_err());
        // Found by the API fuzzer: a short reason with a control character was refused as
        // "at most 200 printable characters"; the message now says what is wrong.
        assert_eq!(
            pause_reason("M\u{9e}t").unwrap_err().to_string(),
            "pause reason must not contain control characters (found U+009E)"
        );
        assert_eq!(
            pause_reason("a\nb").unwrap_err(),
            Invalid::PauseReasonControl(0x0a)
        );
        assert_eq!(
            pause_reason(&"x".repeat(201)).unwrap_err().to_string(),
            "pause reason must be at most 200 characters, got 201"
        );
        assert!(pause_reason(&format!(" {} ", "x".repeat(200))).is_ok());
    }
}
