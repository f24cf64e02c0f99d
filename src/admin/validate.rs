//! Validation of supervisor and agent input, done by the router BEFORE anything reaches
//! [`Control`](super::Control): a value rejected here changes nothing and writes no audit row.
//! Pure functions; the messages are the `{"error": …}` text the user sees.

use serde::{Deserialize, Serialize};

use super::control::{PacingChange, PacingSettings, WrapUpCode};

pub use crate::campaign::def::{
    DEFAULT_ABANDON_CAP, MAX_ABANDON_CAP, MAX_RATIO, MIN_RATE, MIN_TARGET_ABANDON,
};

/// The plain dial-mode names (`power:R` and `rate:λ` carry a number after a colon).
pub const MODES: [&str; 5] = ["preview", "progressive", "power", "predictive", "adaptive"];

/// Checks a dial mode and returns its canonical form (trimmed, lowercase).
///
/// Accepted: the names in [`MODES`], `power:R` with R in [1, [`MAX_RATIO`]], `rate:λ` with λ in
/// [[`MIN_RATE`], ∞) calls per second (the engine caps it at the trunks' CPS).
pub fn mode(raw: &str) -> Result<String, String> {
    let mode = raw.trim().to_ascii_lowercase();
    let bad = || {
        format!(
            "mode: unknown mode {raw:?}: expected one of preview, progressive, power, power:R, \
             predictive, adaptive, rate:λ"
        )
    };
    if MODES.contains(&mode.as_str()) {
        return Ok(mode);
    }
    let (name, value) = mode.split_once(':').ok_or_else(bad)?;
    let value: f64 = value.trim().parse().map_err(|_| bad())?;
    match name {
        "power" if value.is_finite() && (1.0..=MAX_RATIO).contains(&value) => {
            Ok(format!("power:{value}"))
        }
        "power" => Err(format!(
            "mode {raw:?}: the power ratio R must be in [1, {MAX_RATIO}] lines per agent"
        )),
        "rate" if value.is_finite() && value >= MIN_RATE => Ok(format!("rate:{value}")),
        "rate" => Err(format!(
            "mode {raw:?}: the rate must be at least {MIN_RATE} calls/s (and at most the \
             trunks' CPS)"
        )),
        _ => Err(bad()),
    }
}

/// Checks a pacing change alone, and returns it with the mode in canonical form.
///
/// Rules: at least one field; `ratio` and `max_ratio` in [1, [`MAX_RATIO`]]; `ratio` ≤
/// `max_ratio` when both are given; `target_abandon` in [[`MIN_TARGET_ABANDON`],
/// [`MAX_ABANDON_CAP`]] (the campaign's own cap, 3 % by default, is checked by
/// [`pacing_against`]); a known mode. Every number must be finite. Each message names the field
/// and its allowed range.
pub fn pacing_change(change: PacingChange) -> Result<PacingChange, String> {
    if change.is_empty() {
        return Err(
            "nothing to change: give at least one of mode, ratio, max_ratio, target_abandon".into(),
        );
    }
    for (field, value) in [("ratio", change.ratio), ("max_ratio", change.max_ratio)] {
        if let Some(r) = value {
            if !(r.is_finite() && (1.0..=MAX_RATIO).contains(&r)) {
                return Err(format!("{field} must be in [1, {MAX_RATIO}], got {r}"));
            }
        }
    }
    if let (Some(r), Some(m)) = (change.ratio, change.max_ratio) {
        if r > m {
            return Err(format!("ratio {r} is above max_ratio {m}"));
        }
    }
    if let Some(t) = change.target_abandon {
        if !(t.is_finite() && (MIN_TARGET_ABANDON..=MAX_ABANDON_CAP).contains(&t)) {
            return Err(format!(
                "target_abandon must be in [{MIN_TARGET_ABANDON}, {MAX_ABANDON_CAP}] and at \
                 most the campaign's abandon_cap, got {t}"
            ));
        }
    }
    let mode = change.mode.as_deref().map(mode).transpose()?;
    Ok(PacingChange { mode, ..change })
}

/// Checks a change against the current settings (fields the change leaves alone included) and
/// the campaign's legal `abandon_cap`: the resulting `ratio` and `power:R` may not exceed the
/// resulting `max_ratio`, and `target_abandon` may not exceed the cap.
pub fn pacing_against(
    current: &PacingSettings,
    abandon_cap: f64,
    change: &PacingChange,
) -> Result<(), String> {
    let ratio = change.ratio.unwrap_or(current.ratio);
    let max = change.max_ratio.unwrap_or(current.max_ratio);
    if ratio > max {
        return Err(format!("ratio {ratio} would be above max_ratio {max}"));
    }
    let mode = change.mode.as_deref().unwrap_or(&current.mode);
    if let Some(r) = mode
        .strip_prefix("power:")
        .and_then(|r| r.trim().parse::<f64>().ok())
    {
        if r > max {
            return Err(format!(
                "mode {mode}: the power ratio must be at most max_ratio {max}"
            ));
        }
    }
    if let Some(t) = change.target_abandon {
        if t > abandon_cap {
            return Err(format!(
                "target_abandon must be in [{MIN_TARGET_ABANDON}, {abandon_cap}] (the \
                 campaign's abandon_cap), got {t}"
            ));
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
        out.push(("mode", old.mode.clone(), new.mode.clone()));
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
pub fn pause_reason(raw: &str) -> Result<String, String> {
    let reason = raw.trim();
    if reason.is_empty() {
        return Err("pause needs a reason".into());
    }
    if reason.chars().count() > 200 || reason.chars().any(char::is_control) {
        return Err("pause reason must be at most 200 printable characters".into());
    }
    Ok(reason.to_string())
}

/// The JSON form of a [`WrapUpCode`]: `{"disposition": CODE, "at_ms": …}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DispositionWire {
    /// Wrap-up code.
    pub disposition: String,
    /// Callback time, epoch milliseconds UTC (only for `callback`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_ms: Option<i64>,
}

impl TryFrom<DispositionWire> for WrapUpCode {
    type Error = String;

    fn try_from(w: DispositionWire) -> Result<Self, String> {
        let code = w.disposition.trim();
        let d = match code {
            "callback" => {
                let at_ms = w
                    .at_ms
                    .ok_or("disposition callback needs at_ms (epoch milliseconds)")?;
                if at_ms <= 0 {
                    return Err(format!(
                        "callback at_ms must be a positive time, got {at_ms}"
                    ));
                }
                return Ok(WrapUpCode::Callback { at_ms });
            }
            "not_interested" => WrapUpCode::NotInterested,
            "do_not_call" => WrapUpCode::DoNotCall,
            "completed" => WrapUpCode::Completed,
            other => {
                let ok = (1..=64).contains(&other.len())
                    && other.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                    });
                if !ok {
                    return Err(format!(
                        "disposition {other:?} must be 1-64 characters of a-z, 0-9, _ or -"
                    ));
                }
                WrapUpCode::Other {
                    code: other.to_string(),
                }
            }
        };
        if w.at_ms.is_some() {
            return Err(format!(
                "at_ms is only for disposition callback, not {code}"
            ));
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

    fn change(ratio: Option<f64>, max: Option<f64>, target: Option<f64>) -> PacingChange {
        PacingChange {
            mode: None,
            ratio,
            max_ratio: max,
            target_abandon: target,
        }
    }

    #[test]
    fn modes() {
        for m in MODES {
            assert_eq!(mode(m).unwrap(), m);
        }
        assert_eq!(mode(" Predictive ").unwrap(), "predictive");
        assert_eq!(mode("power:2").unwrap(), "power:2");
        assert_eq!(mode("rate:0.5").unwrap(), "rate:0.5");
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
        assert!(pacing_change(change(Some(1.0), None, None)).is_ok());
        assert!(pacing_change(change(Some(0.99), None, None)).is_err());
        assert!(pacing_change(change(None, Some(0.5), None)).is_err());
        assert!(pacing_change(change(Some(3.0), Some(2.0), None)).is_err());
        assert!(pacing_change(change(None, None, Some(0.03))).is_ok());
        assert!(pacing_change(change(None, None, Some(0.0))).is_err());
        assert!(pacing_change(change(None, None, Some(0.2))).is_err());
        assert!(pacing_change(change(None, None, Some(f64::NAN))).is_err());
        assert!(pacing_change(PacingChange::default()).is_err());
    }

    #[test]
    fn values_that_broke_the_abandon_law_are_refused_with_the_field_and_its_range() {
        let err = |c: PacingChange| pacing_change(c).expect_err("accepted");
        let e = err(change(Some(1e308), None, None));
        assert!(e.starts_with("ratio must be in [1, 5]"), "{e}");
        let e = err(change(None, Some(1e308), None));
        assert!(e.starts_with("max_ratio must be in [1, 5]"), "{e}");
        let e = err(change(None, None, Some(5e-324)));
        assert!(
            e.starts_with("target_abandon must be in [0.001, 0.1]"),
            "{e}"
        );
        let e = mode("power:1e308").expect_err("accepted");
        assert!(e.contains("[1, 5]"), "{e}");
        let e = mode("rate:1e-300").expect_err("accepted");
        assert!(e.contains("at least 0.01 calls/s"), "{e}");
        assert_eq!(mode("power:5").unwrap(), "power:5");
        assert_eq!(mode("rate:0.01").unwrap(), "rate:0.01");
    }

    #[test]
    fn against_current() {
        let cur = PacingSettings {
            mode: "power".into(),
            ratio: 1.5,
            max_ratio: 2.0,
            target_abandon: 0.03,
        };
        let against = |c: &PacingChange| pacing_against(&cur, 0.03, c);
        assert!(against(&change(Some(2.5), None, None)).is_err());
        assert!(against(&change(None, Some(1.2), None)).is_err());
        assert!(against(&change(Some(2.5), Some(3.0), None)).is_ok());
        // power:R above the campaign's max_ratio, and a target above its legal cap.
        let power = PacingChange {
            mode: Some("power:3".into()),
            ..PacingChange::default()
        };
        let e = against(&power).expect_err("power above max_ratio");
        assert!(e.contains("at most max_ratio 2"), "{e}");
        let e = against(&change(None, None, Some(0.05))).expect_err("over the cap");
        assert!(e.contains("[0.001, 0.03]"), "{e}");
        assert!(pacing_against(&cur, 0.05, &change(None, None, Some(0.05))).is_ok());
    }

    #[test]
    fn changed_fields_lists_only_changes() {
        let old = PacingSettings {
            mode: "power".into(),
            ratio: 1.5,
            max_ratio: 2.0,
            target_abandon: 0.03,
        };
        let new = PacingSettings {
            mode: "predictive".into(),
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
        assert!(parse(r#"{"disposition":"Bad Code"}"#).is_err());
        assert!(parse(r#"{"disposition":"not_interested","at_ms":1}"#).is_err());
        let json = serde_json::to_string(&WrapUpCode::Callback { at_ms: 7 }).unwrap();
        assert_eq!(json, r#"{"disposition":"callback","at_ms":7}"#);
    }

    #[test]
    fn pause_reasons() {
        assert_eq!(pause_reason(" lunch ").unwrap(), "lunch");
        assert!(pause_reason("  ").is_err());
        assert!(pause_reason("a\nb").is_err());
    }
}
