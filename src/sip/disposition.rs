//! Final SIP responses mapped to [`SipOutcome`]s: the default table of docs/sip.md, which a
//! trunk's config may override code by code.
//!
//! One of the three disposition kinds, each its own type: [`SipOutcome`] (what the network said,
//! here), [`crate::campaign::CallDisposition`] (what the call record and retry rules say) and
//! [`crate::admin::WrapUpCode`] (what the agent reported at wrap-up). The engine maps the first
//! and the last into the second.

use std::collections::BTreeMap;

/// How an outbound call attempt ended, as SIP said it (before the engine turns it into a
/// [`crate::campaign::CallDisposition`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SipOutcome {
    /// 2xx: someone (or a machine) answered.
    Answered,
    /// 486, 600: busy; retry later.
    Busy,
    /// 408, 480, 487 after our CANCEL, ring timeout: no answer; retry later.
    NoAnswer,
    /// 404, 484, 604: the number does not exist; never retry.
    Invalid,
    /// 403, 603: refused.
    Rejected,
    /// 5xx or transport error: the trunk failed; retry at once on another trunk.
    TrunkFailure,
}

impl SipOutcome {
    /// The snake_case name used in configs and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            SipOutcome::Answered => "answered",
            SipOutcome::Busy => "busy",
            SipOutcome::NoAnswer => "no_answer",
            SipOutcome::Invalid => "invalid",
            SipOutcome::Rejected => "rejected",
            SipOutcome::TrunkFailure => "trunk_failure",
        }
    }
}

/// The default mapping for a final status code (other 4xx and 6xx: rejected; other 5xx: trunk
/// failure; 3xx: rejected, as redirects are not followed).
pub fn default_disposition(code: u16) -> SipOutcome {
    match code {
        200..=299 => SipOutcome::Answered,
        486 | 600 => SipOutcome::Busy,
        408 | 480 | 487 => SipOutcome::NoAnswer,
        404 | 484 | 604 => SipOutcome::Invalid,
        403 | 603 => SipOutcome::Rejected,
        500..=599 => SipOutcome::TrunkFailure,
        _ => SipOutcome::Rejected,
    }
}

/// A per-trunk override table: status code → disposition, falling back to the defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(transparent)]
pub struct DispositionTable(pub BTreeMap<u16, SipOutcome>);

impl DispositionTable {
    /// The disposition of final status `code` on this trunk.
    pub fn map(&self, code: u16) -> SipOutcome {
        self.0
            .get(&code)
            .copied()
            .unwrap_or_else(|| default_disposition(code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_table() {
        use SipOutcome::*;
        for (code, d) in [
            (200, Answered),
            (486, Busy),
            (600, Busy),
            (408, NoAnswer),
            (480, NoAnswer),
            (487, NoAnswer),
            (404, Invalid),
            (484, Invalid),
            (604, Invalid),
            (403, Rejected),
            (603, Rejected),
            (500, TrunkFailure),
            (502, TrunkFailure),
            (503, TrunkFailure),
            (504, TrunkFailure),
        ] {
            assert_eq!(default_disposition(code), d, "{code}");
        }
    }

    #[test]
    fn overrides_win() {
        let t: DispositionTable = serde_yaml::from_str("480: busy\n503: rejected\n").unwrap();
        assert_eq!(t.map(480), SipOutcome::Busy);
        assert_eq!(t.map(503), SipOutcome::Rejected);
        assert_eq!(t.map(486), SipOutcome::Busy);
        assert!(serde_yaml::from_str::<DispositionTable>("480: maybe\n").is_err());
    }
}
