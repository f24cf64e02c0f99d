//! Call outcomes (dispositions) as written into call-detail records, and the retry rule a campaign
//! attaches to each. Owns no scheduling arithmetic beyond "retry or not, after how long".

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::yaml::Dur;

/// How an attempt ended: network outcomes first, then agent wrap-up codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// A person answered and was connected to an agent (no wrap-up code given).
    Connected,
    /// A person answered but no agent was connected within `patience`.
    Abandoned,
    /// The callee was busy (SIP 486/600).
    Busy,
    /// Nobody answered within the ring timeout (SIP 480/487 after our CANCEL).
    NoAnswer,
    /// An answering machine or voicemail answered.
    Machine,
    /// The number does not exist (SIP 404/484/604).
    Invalid,
    /// The callee or the network rejected the call (SIP 403/603).
    Rejected,
    /// Our trunk failed (SIP 5xx, timeout, transport error).
    TrunkFailure,
    /// The outcome is not known (the node dialling it crashed before the call was answered).
    Unknown,
    /// The customer was talking to an agent when the engine's shutdown cut the call at the end
    /// of `shutdown_grace`: interrupted by us, not by the customer. A live, connected answer
    /// (it counts in the abandon denominator and the contact cap); retried by default after an
    /// hour so the conversation can be finished, within the attempt and contact caps.
    Shutdown,
    /// A person answered and was talking to an agent when the node handling the call crashed:
    /// recovery hung both legs up. Counts as a live answer and against the contact cap.
    Interrupted,
    /// Agent wrap-up: the customer asked to be called back (optionally at a time).
    Callback,
    /// Agent wrap-up: the purpose of the call was achieved (verified, paid, sold…).
    Completed,
    /// Agent wrap-up: the customer is not interested.
    NotInterested,
    /// Agent wrap-up: the customer refused further calls; the number goes on the DNC list.
    DoNotCall,
}

impl Disposition {
    /// Every disposition, in declaration order.
    pub const ALL: [Disposition; 15] = [
        Disposition::Connected,
        Disposition::Abandoned,
        Disposition::Busy,
        Disposition::NoAnswer,
        Disposition::Machine,
        Disposition::Invalid,
        Disposition::Rejected,
        Disposition::TrunkFailure,
        Disposition::Unknown,
        Disposition::Shutdown,
        Disposition::Interrupted,
        Disposition::Callback,
        Disposition::Completed,
        Disposition::NotInterested,
        Disposition::DoNotCall,
    ];

    /// The snake_case name used in YAML, JSON and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Connected => "connected",
            Disposition::Abandoned => "abandoned",
            Disposition::Busy => "busy",
            Disposition::NoAnswer => "no_answer",
            Disposition::Machine => "machine",
            Disposition::Invalid => "invalid",
            Disposition::Rejected => "rejected",
            Disposition::TrunkFailure => "trunk_failure",
            Disposition::Unknown => "unknown",
            Disposition::Shutdown => "shutdown",
            Disposition::Interrupted => "interrupted",
            Disposition::Callback => "callback",
            Disposition::Completed => "completed",
            Disposition::NotInterested => "not_interested",
            Disposition::DoNotCall => "do_not_call",
        }
    }

    /// A person answered (the denominator of the abandon rate).
    pub fn is_live_answer(self) -> bool {
        self == Disposition::Abandoned || self.is_connected()
    }

    /// A person answered and talked to an agent (what contact frequency caps count).
    pub fn is_connected(self) -> bool {
        matches!(
            self,
            Disposition::Connected
                | Disposition::Shutdown
                | Disposition::Interrupted
                | Disposition::Callback
                | Disposition::Completed
                | Disposition::NotInterested
                | Disposition::DoNotCall
        )
    }

    /// The rule used when a campaign does not list this disposition.
    pub fn default_rule(self) -> RetryRule {
        let (retry, delay) = match self {
            Disposition::Busy => (true, 10 * 60),
            Disposition::NoAnswer => (true, 60 * 60),
            Disposition::Machine => (true, 2 * 60 * 60),
            Disposition::Abandoned => (true, 72 * 60 * 60),
            Disposition::TrunkFailure => (true, 5 * 60),
            Disposition::Unknown => (true, 15 * 60),
            Disposition::Shutdown => (true, 60 * 60),
            // The customer was talking to an agent: called again a day later at the earliest,
            // and only when the contact cap allows (the attempt counts as connected).
            Disposition::Interrupted => (true, 24 * 60 * 60),
            Disposition::Rejected => (true, 4 * 60 * 60),
            Disposition::Callback => (true, 60 * 60),
            Disposition::Connected
            | Disposition::Completed
            | Disposition::NotInterested
            | Disposition::DoNotCall
            | Disposition::Invalid => (false, 0),
        };
        RetryRule {
            retry,
            delay: Dur(std::time::Duration::from_secs(delay)),
        }
    }
}

/// The agent disposition (`agent_disposition` of a call record) written at exit for a connected
/// call whose agent was still in wrap-up when the engine stopped: the agent gave no code, so the
/// record says so explicitly and the lead keeps the schedule its call outcome gave it.
pub const AGENT_NOT_SET: &str = "not_set";

impl fmt::Display for Disposition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Disposition {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Disposition::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| format!("unknown disposition {s:?}"))
    }
}

/// What to do after an attempt ended with a given disposition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryRule {
    /// Whether the lead is dialled again (subject to the attempt caps).
    #[serde(default = "yes")]
    pub retry: bool,
    /// How long after the attempt ended the lead becomes due again.
    #[serde(default)]
    pub delay: Dur,
}

fn yes() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for d in Disposition::ALL {
            assert_eq!(d.as_str().parse::<Disposition>().unwrap(), d);
            let json = serde_json::to_string(&d).unwrap();
            assert_eq!(json, format!("\"{}\"", d.as_str()));
        }
    }

    #[test]
    fn live_and_connected() {
        assert!(Disposition::Abandoned.is_live_answer());
        assert!(!Disposition::Abandoned.is_connected());
        assert!(Disposition::Completed.is_connected());
        assert!(!Disposition::Machine.is_live_answer());
        assert!(Disposition::Interrupted.is_connected());
        assert!(Disposition::Interrupted.is_live_answer());
    }

    #[test]
    fn a_call_cut_by_shutdown_is_a_connected_contact_retried_later() {
        let d = Disposition::Shutdown;
        assert!(d.is_live_answer() && d.is_connected());
        let rule = d.default_rule();
        assert!(rule.retry);
        assert_eq!(rule.delay.0, std::time::Duration::from_secs(3600));
        assert!(!Disposition::ALL.iter().any(|d| d.as_str() == AGENT_NOT_SET));
    }
}
