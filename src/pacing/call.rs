//! The outbound call state machine: queued → dialling → ringing → answered (live | machine) →
//! waiting for an agent → connected → ended, or ended early (busy, no-answer, invalid, trunk
//! failure) or abandoned. With call-progress analysis an answered call is `analysing` until
//! the verdict: a person goes on to waiting, anything else ends. Transitions are checked; an
//! illegal one is an error value.

use serde::Serialize;

/// A dial sequence number, unique per dialer (0, 1, 2, …): the simulator's common-random-numbers
/// key and the live engine's handle for the attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct CallId(pub u64);

/// Who answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AnswerKind {
    /// A person.
    Live,
    /// An answering machine (ends without an agent; not an abandon).
    Machine,
}

/// How a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallEnd {
    /// Connected to an agent and hung up afterwards.
    Completed,
    /// Answered by a machine.
    Machine,
    /// Busy.
    Busy,
    /// Not answered before the no-answer timeout.
    NoAnswer,
    /// Number does not exist.
    Invalid,
    /// The trunk failed the call.
    TrunkFailure,
    /// Answered live, no agent within patience.
    Abandoned,
}

/// Where a call is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallState {
    /// Chosen for dialling (preview: the agent is looking at the lead).
    Queued,
    /// INVITE sent.
    Dialling,
    /// The far end is ringing.
    Ringing,
    /// Answered; call-progress analysis is listening and has not given its verdict yet (the
    /// no-answer timeout no longer applies).
    Analysing,
    /// Answered live, waiting for an agent.
    Waiting,
    /// Bridged to an agent.
    Connected,
    /// Over.
    Ended(CallEnd),
}

/// An illegal call state change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The move is not allowed from the current state.
    #[error("call {call}: cannot go from {from:?} to {to:?}")]
    Transition {
        /// The call.
        call: u64,
        /// Current state.
        from: CallState,
        /// Requested state.
        to: CallState,
    },
    /// No such call (already ended, or never dialled).
    #[error("unknown call {0}")]
    Unknown(u64),
}

impl CallState {
    /// Still before an answer or an early end.
    pub fn in_flight(self) -> bool {
        matches!(
            self,
            CallState::Queued | CallState::Dialling | CallState::Ringing
        )
    }

    /// Whether `self → to` is legal.
    pub fn can_go(self, to: CallState) -> bool {
        use CallState::*;
        matches!(
            (self, to),
            (Queued, Dialling)
                | (Dialling, Ringing)
                | (Dialling | Ringing, Waiting | Connected | Analysing)
                | (Analysing, Waiting | Connected)
                | (
                    Dialling | Ringing | Analysing,
                    Ended(
                        CallEnd::Machine
                            | CallEnd::Busy
                            | CallEnd::NoAnswer
                            | CallEnd::Invalid
                            | CallEnd::TrunkFailure,
                    ),
                )
                | (Waiting, Connected)
                | (Waiting, Ended(CallEnd::Abandoned))
                | (Connected, Ended(CallEnd::Completed))
        )
    }

    /// Checked move of call `id` to `to`.
    pub fn go(&mut self, id: CallId, to: CallState) -> Result<(), CallError> {
        if self.can_go(to) {
            *self = to;
            Ok(())
        } else {
            Err(CallError::Transition {
                call: id.0,
                from: *self,
                to,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legal_paths_only() {
        let mut s = CallState::Queued;
        s.go(CallId(1), CallState::Dialling).unwrap();
        s.go(CallId(1), CallState::Ringing).unwrap();
        s.go(CallId(1), CallState::Waiting).unwrap();
        assert!(s.go(CallId(1), CallState::Ended(CallEnd::Busy)).is_err());
        assert_eq!(s, CallState::Waiting);
        s.go(CallId(1), CallState::Ended(CallEnd::Abandoned))
            .unwrap();
        assert!(s.go(CallId(1), CallState::Connected).is_err());
    }
}
