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
    #[error(
        "disposition callback needs its time: at (ISO 8601 with zone, or a delay such as 2h) \
         or at_ms (epoch milliseconds)"
    )]
    CallbackNeedsTime,
    /// `callback` at a time not after the epoch.
    #[error("callback at_ms must be a positive time, got {0}")]
    CallbackTime(i64),
    /// A wrap-up code that is neither a known one nor a custom one of the allowed alphabet
    /// and length.
    #[error("disposition {0:?}: expected {CODES}")]
    Code(String),
    /// A wrap-up body field that is not one of the body's fields.
    #[error("unknown field {0:?}: expected disposition, at_ms, at, note")]
    WrapUpField(String),
    /// A wrap-up body field of the wrong JSON type.
    #[error("{field} must be {expected}")]
    WrapUpType {
        /// The field.
        field: &'static str,
        /// What it must be, with its allowed values.
        expected: &'static str,
    },
    /// `at_ms` with a code other than `callback`.
    #[error("at_ms is only for disposition callback, not {0}")]
    AtMsWithoutCallback(String),
    /// `at` with a code other than `callback`.
    #[error("at is only for disposition callback, not {0}")]
    AtWithoutCallback(String),
    /// Both `at` and `at_ms`.
    #[error("give the callback time once: at (ISO 8601 or a delay) or at_ms, not both")]
    CallbackTwice,
    /// `at` that is neither an ISO 8601 time with its zone nor a delay.
    #[error(
        "callback at {0:?} is neither an ISO 8601 time with its zone (2026-03-04T15:30:00+08:00) \
         nor a delay (2h, 90m, PT2H30M)"
    )]
    CallbackAt(String),
    /// A delay given where the request time is unknown (decoding a code alone).
    #[error("callback at {0:?} is a delay: only the wrap-up request can turn it into a time")]
    CallbackDelayWithoutNow(String),
    /// A callback time in the past, or further ahead than a retry may be.
    #[error("callback time (at or at_ms) must be in the future and within 365 days, got {0}")]
    CallbackRange(String),
    /// A note too long or with control characters other than line breaks and tabs.
    #[error("note must be at most {MAX_NOTE} characters, without control characters")]
    Note,
}

/// Longest wrap-up note, in characters.
pub const MAX_NOTE: usize = 2000;

/// The text of [`CODES`] (a macro so messages can `concat!` it).
macro_rules! codes {
    () => {
        "one of callback (with at or at_ms), not_interested, do_not_call, completed, machine, \
         or a custom code of 1-64 characters a-z, 0-9, _ or -"
    };
}

/// The wrap-up codes an agent may give, as error messages list them.
pub const CODES: &str = codes!();

/// Reads the JSON object of `POST /agents/{id}/wrapup` field by field, so a value of the wrong
/// type is refused naming its field and what it may be (serde's message names neither).
pub fn disposition_wire(body: serde_json::Value) -> Result<DispositionWire, Invalid> {
    use serde_json::Value;
    let Value::Object(fields) = body else {
        return Err(Invalid::WrapUpType {
            field: "the body",
            expected: "a JSON object: {\"disposition\": CODE, \"at\" or \"at_ms\": …, \"note\": …}",
        });
    };
    let mut w = DispositionWire::default();
    let mut code = None;
    let text = |v: Value, field: &'static str, expected: &'static str| match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        _ => Err(Invalid::WrapUpType { field, expected }),
    };
    for (name, value) in fields {
        match name.as_str() {
            "disposition" => {
                code = text(value, "disposition", CODE_EXPECTED)?;
            }
            "at_ms" => {
                w.at_ms = match value {
                    Value::Null => None,
                    Value::Number(n) => Some(n.as_i64().ok_or(Invalid::WrapUpType {
                        field: "at_ms",
                        expected: AT_MS_EXPECTED,
                    })?),
                    _ => {
                        return Err(Invalid::WrapUpType {
                            field: "at_ms",
                            expected: AT_MS_EXPECTED,
                        })
                    }
                };
            }
            "at" => w.at = text(value, "at", AT_EXPECTED)?,
            "note" => w.note = text(value, "note", NOTE_EXPECTED)?,
            _ => return Err(Invalid::WrapUpField(name)),
        }
    }
    w.disposition = code.ok_or(Invalid::WrapUpType {
        field: "disposition",
        expected: CODE_EXPECTED,
    })?;
    Ok(w)
}

const CODE_EXPECTED: &str = concat!("a string, ", codes!());
const AT_MS_EXPECTED: &str = "an integer: the callback time in epoch milliseconds (or give at: \
                              ISO 8601 with its zone, or a delay such as 2h)";
const AT_EXPECTED: &str = "a string: ISO 8601 with its zone (2026-03-04T15:30:00+08:00) or a \
                           delay (2h, 90m, PT2H30M)";
const NOTE_EXPECTED: &str = "a string of at most 2000 characters";

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

/// The JSON body of `POST /agents/{id}/wrapup`, and the JSON form of a [`WrapUpCode`]:
/// `{"disposition": CODE, "at_ms": …}` or `{"disposition": "callback", "at":
/// "2026-03-04T15:30:00+08:00", "note": "…"}` (`at` may also be a delay: `2h`, `90m`,
/// `PT2H30M`). Named `WrapUpCode` in the OpenAPI description.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WrapUpCode)]
pub struct DispositionWire {
    /// Wrap-up code: `callback` (with `at` or `at_ms`), `not_interested`, `do_not_call`, `completed`,
    /// `machine` (voicemail the analysis passed as a person), or any other code of lowercase
    /// letters, digits, `_` and `-`, 1–64 characters.
    #[schema(example = "completed", min_length = 1, max_length = 64)]
    pub disposition: String,
    /// Callback time, epoch milliseconds UTC (for `callback`, unless `at` gives it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1)]
    pub at_ms: Option<i64>,
    /// Callback time as ISO 8601 with its zone, or a delay from now (only for `callback`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// The agent's note on the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A checked wrap-up: the code (a callback with its absolute time) and the note.
#[derive(Debug, Clone, PartialEq)]
pub struct WrapUp {
    /// The code.
    pub disposition: WrapUpCode,
    /// The note, trimmed; `None` when empty.
    pub note: Option<String>,
}

/// Checks a wrap-up request made at `now_ms` (epoch ms): the code (see [`WrapUpCode`]), a
/// callback's time (`at_ms`, or `at` as ISO 8601 with its zone or a delay from `now_ms`), which
/// must lie in the future and within 365 days, and the note (at most [`MAX_NOTE`] characters;
/// line breaks and tabs are the only control characters kept).
pub fn wrap_up(w: DispositionWire, now_ms: i64) -> Result<WrapUp, Invalid> {
    let note = note(w.note.as_deref())?;
    let disposition = code(w, Some(now_ms))?;
    if let WrapUpCode::Callback { at_ms } = disposition {
        let latest = now_ms.saturating_add(365 * 86_400_000);
        if at_ms <= now_ms || at_ms > latest {
            let when = chrono::DateTime::from_timestamp_millis(at_ms)
                .map_or_else(|| at_ms.to_string(), |t| t.to_rfc3339());
            return Err(Invalid::CallbackRange(when));
        }
    }
    Ok(WrapUp { disposition, note })
}

fn note(raw: Option<&str>) -> Result<Option<String>, Invalid> {
    let Some(n) = raw.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    let bad = n
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r');
    if bad || n.chars().count() > MAX_NOTE {
        return Err(Invalid::Note);
    }
    Ok(Some(n.to_string()))
}

/// A callback's `at`: ISO 8601 with its zone, or a delay from `now_ms` (humantime `2h30m`, or
/// ISO 8601 `PT2H30M` / `P1DT2H`).
fn callback_at(raw: &str, now_ms: Option<i64>) -> Result<i64, Invalid> {
    let text = raw.trim();
    let bad = || Invalid::CallbackAt(raw.to_string());
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp_millis());
    }
    // Browsers' datetime fields give minutes only: 2026-03-04T15:30+08:00.
    if let Ok(t) = chrono::DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M%:z") {
        return Ok(t.timestamp_millis());
    }
    let delay = match text.strip_prefix(['P', 'p']) {
        Some(iso) => iso_duration(iso).ok_or_else(bad)?,
        None if text.starts_with(|c: char| c.is_ascii_digit()) => {
            humantime::parse_duration(text).map_err(|_| bad())?
        }
        None => return Err(bad()),
    };
    let now = now_ms.ok_or_else(|| Invalid::CallbackDelayWithoutNow(raw.to_string()))?;
    let ms = i64::try_from(delay.as_millis()).map_err(|_| bad())?;
    Ok(now.saturating_add(ms))
}

/// An ISO 8601 duration after its `P`: days (or weeks) before `T`, hours, minutes, seconds
/// after it. Months and years are refused (their length depends on the date).
fn iso_duration(s: &str) -> Option<std::time::Duration> {
    let (date, time) = match s.split_once(['T', 't']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut secs: u64 = 0;
    let mut any = false;
    for (part, units) in [
        (date, &[('W', 604_800), ('D', 86_400)][..]),
        (time.unwrap_or(""), &[('H', 3600), ('M', 60), ('S', 1)][..]),
    ] {
        let mut num = String::new();
        for ch in part.chars() {
            if ch.is_ascii_digit() {
                num.push(ch);
                continue;
            }
            let unit = units.iter().find(|(u, _)| u.eq_ignore_ascii_case(&ch))?.1;
            let n: u64 = num.parse().ok()?;
            secs = secs.checked_add(n.checked_mul(unit)?)?;
            num.clear();
            any = true;
        }
        if !num.is_empty() {
            return None;
        }
    }
    if time == Some("") || !any {
        return None;
    }
    Some(std::time::Duration::from_secs(secs))
}

impl TryFrom<DispositionWire> for WrapUpCode {
    type Error = Invalid;

    fn try_from(w: DispositionWire) -> Result<Self, Invalid> {
        code(w, None)
    }
}

/// The code of a wrap-up; a delay in `at` needs `now_ms`.
fn code(w: DispositionWire, now_ms: Option<i64>) -> Result<WrapUpCode, Invalid> {
    {
        let code = w.disposition.trim();
        let d = match code {
            "callback" => {
                let at_ms = match (w.at_ms, w.at.as_deref()) {
                    (Some(_), Some(_)) => return Err(Invalid::CallbackTwice),
                    (Some(ms), None) => ms,
                    (None, Some(at)) => callback_at(at, now_ms)?,
                    (None, None) => return Err(Invalid::CallbackNeedsTime),
                };
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
        if w.at.is_some() {
            return Err(Invalid::AtWithoutCallback(code.to_string()));
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
            at: None,
            note: None,
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
    fn wrap_up_times_and_notes() {
        let now = 1_780_000_000_000;
        let w = |at: &str| DispositionWire {
            disposition: "callback".into(),
            at: Some(at.into()),
            ..DispositionWire::default()
        };
        let at = |s: &str| match wrap_up(w(s), now).map(|x| x.disposition) {
            Ok(WrapUpCode::Callback { at_ms }) => Ok(at_ms - now),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e.to_string()),
        };
        assert_eq!(at("2h"), Ok(7_200_000));
        assert_eq!(at("90m"), Ok(5_400_000));
        assert_eq!(at("PT2H30M"), Ok(9_000_000));
        assert_eq!(at("P1DT1S"), Ok(86_401_000));
        // 2026-05-28T20:26:40Z is `now`; the same instant written in Shanghai time plus 1 h.
        assert_eq!(at("2026-05-29T05:26:40+08:00"), Ok(3_600_000));
        assert_eq!(at("2026-05-29T05:27+08:00"), Ok(3_620_000));
        for bad in ["tomorrow", "P1M", "PT", "2026-05-29T05:26:40", "-2h"] {
            assert!(at(bad).is_err(), "{bad} accepted");
        }
        assert!(at("2026-05-28T20:00:00Z")
            .unwrap_err()
            .contains("in the future"));
        assert!(at("P400D").unwrap_err().contains("within 365 days"));
        let mut both = w("2h");
        both.at_ms = Some(now + 1);
        assert_eq!(wrap_up(both, now).unwrap_err(), Invalid::CallbackTwice);
        // A delay needs the request's time: decoding a code alone refuses it.
        assert!(
            serde_json::from_str::<WrapUpCode>(r#"{"disposition":"callback","at":"2h"}"#).is_err()
        );
        let noted = DispositionWire {
            disposition: "completed".into(),
            note: Some("  promised to pay Friday\nsecond line ".into()),
            ..DispositionWire::default()
        };
        let got = wrap_up(noted, now).unwrap();
        assert_eq!(
            got.note.as_deref(),
            Some("promised to pay Friday\nsecond line")
        );
        let bell = DispositionWire {
            disposition: "completed".into(),
            note: Some("a\u{7}b".into()),
            ..DispositionWire::default()
        };
        assert_eq!(wrap_up(bell, now).unwrap_err(), Invalid::Note);
        let at_on_dnc = DispositionWire {
            disposition: "do_not_call".into(),
            at: Some("2h".into()),
            ..DispositionWire::default()
        };
        assert!(wrap_up(at_on_dnc, now).is_err());
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
