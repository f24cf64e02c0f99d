//! Final SIP responses mapped to call dispositions: the default table of docs/sip.md, which a
//! trunk's config may override code by code.

use std::collections::BTreeMap;

/// How an outbound call attempt ended, as pacing and reports see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
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

impl Disposition {
    /// The snake_case name used in configs and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Answered => "answered",
            Disposition::Busy => "busy",
            Disposition::NoAnswer => "no_answer",
            Disposition::Invalid => "invalid",
            Disposition::Rejected => "rejected",
            Disposition::TrunkFailure => "trunk_failure",
        }
    }
}

/// The default mapping for a final status code (other 4xx and 6xx: rejected; other 5xx: trunk
/// failure; 3xx: rejected, as redirects are not followed).
pub fn default_disposition(code: u16) -> Disposition {
    match code {
        200..=299 => Disposition::Answered,
        486 | 600 => Disposition::Busy,
        408 | 480 | 487 => Disposition::NoAnswer,
        404 | 484 | 604 => Disposition::Invalid,
        403 | 603 => Disposition::Rejected,
        500..=599 => Disposition::TrunkFailure,
        _ => Disposition::Rejected,
    }
}

/// A per-trunk override table: status code → disposition, falling back to the defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(transparent)]
pub struct DispositionTable(pub BTreeMap<u16, Disposition>);

impl DispositionTable {
    /// The disposition of final status `code` on this trunk.
    pub fn map(&self, code: u16) -> Disposition {
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
        use Disposition::*;
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
        assert_eq!(t.map(480), Disposition::Busy);
        assert_eq!(t.map(503), Disposition::Rejected);
        assert_eq!(t.map(486), Disposition::Busy);
        assert!(serde_yaml::from_str::<DispositionTable>("480: maybe\n").is_err());
    }
}
