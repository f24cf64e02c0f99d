//! Call outcomes (dispositions) as written into call-detail records, and the retry rule a campaign
//! attaches to each. [`CallDisposition`] is the record's vocabulary; the SIP layer's
//! [`crate::sip::SipOutcome`] and the agent's [`crate::admin::WrapUpCode`] are mapped into it by
//! the engine. Owns no scheduling arithmetic beyond "retry or not, after how long".

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::yaml::Dur;

/// How an attempt ended: network outcomes first, then agent wrap-up codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallDisposition {
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
    /// Call-progress analysis heard the carrier say the phone is switched off (关机): the
    /// person may switch it on later; retried in hours by default.
    PoweredOff,
    /// The carrier said the phone cannot be reached now (无法接通, no coverage): retried
    /// within the hour by default.
    Unreachable,
    /// The carrier said the line is suspended (停机, unpaid bill): retried a day later by
    /// default.
    Suspended,
    /// A known recorded announcement whose kind names no other disposition: retried in hours.
    Announcement,
    /// A fax machine answered: never retried by default.
    Fax,
    /// Dead air after the answer: retried within the hour by default.
    Silence,
    /// The far end hung up while call-progress analysis was still listening (no verdict, so
    /// no live answer the dialer knew of, and no agent): retried within the hour by default.
    AnalysisHangup,
    /// Agent wrap-up: the customer asked to be called back (optionally at a time).
    Callback,
    /// Agent wrap-up: the purpose of the call was achieved (verified, paid, sold…).
    Completed,
    /// Agent wrap-up: the customer is not interested.
    NotInterested,
    /// Agent wrap-up: the customer refused further calls; the number goes on the DNC list.
    DoNotCall,
}

impl CallDisposition {
    /// Every disposition, in declaration order.
    pub const ALL: [CallDisposition; 22] = [
        CallDisposition::Connected,
        CallDisposition::Abandoned,
        CallDisposition::Busy,
        CallDisposition::NoAnswer,
        CallDisposition::Machine,
        CallDisposition::Invalid,
        CallDisposition::Rejected,
        CallDisposition::TrunkFailure,
        CallDisposition::Unknown,
        CallDisposition::Shutdown,
        CallDisposition::Interrupted,
        CallDisposition::PoweredOff,
        CallDisposition::Unreachable,
        CallDisposition::Suspended,
        CallDisposition::Announcement,
        CallDisposition::Fax,
        CallDisposition::Silence,
        CallDisposition::AnalysisHangup,
        CallDisposition::Callback,
        CallDisposition::Completed,
        CallDisposition::NotInterested,
        CallDisposition::DoNotCall,
    ];

    /// The snake_case name used in YAML, JSON and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            CallDisposition::Connected => "connected",
            CallDisposition::Abandoned => "abandoned",
            CallDisposition::Busy => "busy",
            CallDisposition::NoAnswer => "no_answer",
            CallDisposition::Machine => "machine",
            CallDisposition::Invalid => "invalid",
            CallDisposition::Rejected => "rejected",
            CallDisposition::TrunkFailure => "trunk_failure",
            CallDisposition::Unknown => "unknown",
            CallDisposition::Shutdown => "shutdown",
            CallDisposition::Interrupted => "interrupted",
            CallDisposition::PoweredOff => "powered_off",
            CallDisposition::Unreachable => "unreachable",
            CallDisposition::Suspended => "suspended",
            CallDisposition::Announcement => "announcement",
            CallDisposition::Fax => "fax",
            CallDisposition::Silence => "silence",
            CallDisposition::AnalysisHangup => "analysis_hangup",
            CallDisposition::Callback => "callback",
            CallDisposition::Completed => "completed",
            CallDisposition::NotInterested => "not_interested",
            CallDisposition::DoNotCall => "do_not_call",
        }
    }

    /// A person answered (the denominator of the abandon rate).
    pub fn is_live_answer(self) -> bool {
        self == CallDisposition::Abandoned || self.is_connected()
    }

    /// A person answered and talked to an agent (what contact frequency caps count).
    pub fn is_connected(self) -> bool {
        matches!(
            self,
            CallDisposition::Connected
                | CallDisposition::Shutdown
                | CallDisposition::Interrupted
                | CallDisposition::Callback
                | CallDisposition::Completed
                | CallDisposition::NotInterested
                | CallDisposition::DoNotCall
        )
    }

    /// The rule used when a campaign does not list this disposition.
    pub fn default_rule(self) -> RetryRule {
        let (retry, delay) = match self {
            CallDisposition::Busy => (true, 10 * 60),
            CallDisposition::NoAnswer => (true, 60 * 60),
            CallDisposition::Machine => (true, 2 * 60 * 60),
            CallDisposition::Abandoned => (true, 72 * 60 * 60),
            CallDisposition::TrunkFailure => (true, 5 * 60),
            CallDisposition::Unknown => (true, 15 * 60),
            CallDisposition::Shutdown => (true, 60 * 60),
            // The customer was talking to an agent: called again a day later at the earliest,
            // and only when the contact cap allows (the attempt counts as connected).
            CallDisposition::Interrupted => (true, 24 * 60 * 60),
            CallDisposition::Rejected => (true, 4 * 60 * 60),
            CallDisposition::PoweredOff => (true, 2 * 60 * 60),
            CallDisposition::Unreachable => (true, 60 * 60),
            CallDisposition::Suspended => (true, 24 * 60 * 60),
            CallDisposition::Announcement => (true, 4 * 60 * 60),
            CallDisposition::Silence => (true, 60 * 60),
            CallDisposition::AnalysisHangup => (true, 60 * 60),
            CallDisposition::Callback => (true, 60 * 60),
            CallDisposition::Connected
            | CallDisposition::Completed
            | CallDisposition::NotInterested
            | CallDisposition::DoNotCall
            | CallDisposition::Fax
            | CallDisposition::Invalid => (false, 0),
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

impl fmt::Display for CallDisposition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CallDisposition {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CallDisposition::ALL
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
        for d in CallDisposition::ALL {
            assert_eq!(d.as_str().parse::<CallDisposition>().unwrap(), d);
            let json = serde_json::to_string(&d).unwrap();
            assert_eq!(json, format!("\"{}\"", d.as_str()));
        }
    }

    #[test]
    fn live_and_connected() {
        assert!(CallDisposition::Abandoned.is_live_answer());
        assert!(!CallDisposition::Abandoned.is_connected());
        assert!(CallDisposition::Completed.is_connected());
        assert!(!CallDisposition::Machine.is_live_answer());
        assert!(CallDisposition::Interrupted.is_connected());
        assert!(CallDisposition::Interrupted.is_live_answer());
    }

    #[test]
    fn a_call_cut_by_shutdown_is_a_connected_contact_retried_later() {
        let d = CallDisposition::Shutdown;
        assert!(d.is_live_answer() && d.is_connected());
        let rule = d.default_rule();
        assert!(rule.retry);
        assert_eq!(rule.delay.0, std::time::Duration::from_secs(3600));
        assert!(!CallDisposition::ALL
            .iter()
            .any(|d| d.as_str() == AGENT_NOT_SET));
    }
}
