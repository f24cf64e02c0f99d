//! The agent state machine (logged-out, ready, reserved, talking, wrap-up, paused) and skills.
//! Sans-IO: time is passed in; no tokio, sockets or database here. Owns each agent's state and the
//! time spent in every state (for occupancy and talk share); it does not pick calls for agents —
//! that is [`crate::pacing`]'s job.

use serde::{Deserialize, Serialize};

use crate::pacing::Millis;

/// Index of an agent within one campaign's dialer (dense, from 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct AgentId(pub u32);

/// What an agent is doing: the one state type of the crate (the pacing core moves it, the admin
/// API shows it, the metrics label it).
///
/// Serde and [`AgentState::as_str`] use the snake_case names of the admin API and the metrics
/// (`logged_out`, `wrap_up`, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgentState {
    /// Not staffed.
    LoggedOut,
    /// Idle, waiting for a call.
    Ready,
    /// Held for one call being previewed or dialled for this agent (preview, progressive), or
    /// chosen for a call being placed or answered.
    Reserved,
    /// On a call.
    Talking,
    /// After-call work, until wrap-up done.
    WrapUp,
    /// Logged in but not taking calls.
    Paused,
}

impl AgentState {
    /// All states, in the order of [`StateTimes`] (also the display order).
    pub const ALL: [AgentState; 6] = [
        AgentState::LoggedOut,
        AgentState::Ready,
        AgentState::Reserved,
        AgentState::Talking,
        AgentState::WrapUp,
        AgentState::Paused,
    ];

    /// The snake_case name used in JSON and as the metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            AgentState::LoggedOut => "logged_out",
            AgentState::Ready => "ready",
            AgentState::Reserved => "reserved",
            AgentState::Talking => "talking",
            AgentState::WrapUp => "wrap_up",
            AgentState::Paused => "paused",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// Whether `self → to` is a legal move.
    pub fn can_go(self, to: AgentState) -> bool {
        use AgentState::*;
        matches!(
            (self, to),
            (LoggedOut, Ready)
                | (LoggedOut, Paused)
                | (Ready, Reserved)
                | (Ready, Talking)
                | (Ready, Paused)
                | (Ready, LoggedOut)
                | (Reserved, Talking)
                | (Reserved, Ready)
                | (Talking, WrapUp)
                | (WrapUp, Ready)
                | (WrapUp, Paused)
                | (WrapUp, LoggedOut)
                | (Paused, Ready)
                | (Paused, LoggedOut)
        )
    }
}

/// Which calls an agent takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Skills {
    /// Outbound calls only.
    Outbound,
    /// Inbound calls only.
    Inbound,
    /// Both (blended).
    Blended,
}

impl Skills {
    /// Takes outbound calls.
    pub fn outbound(self) -> bool {
        !matches!(self, Skills::Inbound)
    }
    /// Takes inbound calls.
    pub fn inbound(self) -> bool {
        !matches!(self, Skills::Outbound)
    }
}

/// An illegal agent state change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentError {
    /// The move is not allowed from the current state.
    #[error("agent {agent}: cannot go from {from:?} to {to:?}")]
    Transition {
        /// The agent.
        agent: u32,
        /// Current state.
        from: AgentState,
        /// Requested state.
        to: AgentState,
    },
    /// No such agent.
    #[error("unknown agent {0}")]
    Unknown(u32),
}

/// Milliseconds spent in each state, indexed like [`AgentState::ALL`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StateTimes(pub [u64; 6]);

impl StateTimes {
    /// Time in `s`.
    pub fn get(&self, s: AgentState) -> u64 {
        self.0[s.index()]
    }
    /// Staffed time: logged in and not paused.
    pub fn staffed(&self) -> u64 {
        self.get(AgentState::Ready)
            + self.get(AgentState::Reserved)
            + self.get(AgentState::Talking)
            + self.get(AgentState::WrapUp)
    }
    /// Busy time: talking and wrap-up.
    pub fn busy(&self) -> u64 {
        self.get(AgentState::Talking) + self.get(AgentState::WrapUp)
    }
    /// Busy / staffed (0 when never staffed).
    pub fn occupancy(&self) -> f64 {
        ratio(self.busy(), self.staffed())
    }
    /// Talk / staffed (0 when never staffed).
    pub fn talk_share(&self) -> f64 {
        ratio(self.get(AgentState::Talking), self.staffed())
    }
    /// Adds `other` into `self`.
    pub fn add(&mut self, other: &StateTimes) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a += b;
        }
    }
    /// `self - other`, saturating.
    pub fn minus(&self, other: &StateTimes) -> StateTimes {
        let mut out = *self;
        for (a, b) in out.0.iter_mut().zip(other.0) {
            *a = a.saturating_sub(b);
        }
        out
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// One agent: its skills, state, when it entered the state, and time accounting.
#[derive(Clone, Debug)]
pub struct Agent {
    id: AgentId,
    skills: Skills,
    state: AgentState,
    since: Millis,
    times: StateTimes,
}

impl Agent {
    /// A logged-out agent.
    pub fn new(id: AgentId, skills: Skills, now: Millis) -> Agent {
        Agent {
            id,
            skills,
            state: AgentState::LoggedOut,
            since: now,
            times: StateTimes::default(),
        }
    }
    /// Its id.
    pub fn id(&self) -> AgentId {
        self.id
    }
    /// Its skills.
    pub fn skills(&self) -> Skills {
        self.skills
    }
    /// Its current state.
    pub fn state(&self) -> AgentState {
        self.state
    }
    /// When it entered the current state.
    pub fn since(&self) -> Millis {
        self.since
    }
    /// Moves to `to` at `now`, or says why not (the agent is unchanged on error).
    pub fn transition(&mut self, now: Millis, to: AgentState) -> Result<(), AgentError> {
        if !self.state.can_go(to) {
            return Err(AgentError::Transition {
                agent: self.id.0,
                from: self.state,
                to,
            });
        }
        self.times.0[self.state.index()] += now.0.saturating_sub(self.since.0);
        self.state = to;
        self.since = now.max(self.since);
        Ok(())
    }
    /// Time in each state up to `now` (the current state included).
    pub fn times(&self, now: Millis) -> StateTimes {
        let mut t = self.times;
        t.0[self.state.index()] += now.0.saturating_sub(self.since.0);
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_name_is_the_metrics_label_for_every_state() {
        for st in AgentState::ALL {
            let json = serde_json::to_string(&st).unwrap();
            assert_eq!(json, format!("\"{}\"", st.as_str()));
            assert_eq!(serde_json::from_str::<AgentState>(&json).unwrap(), st);
        }
        assert_eq!(AgentState::WrapUp.as_str(), "wrap_up");
    }

    #[test]
    fn lifecycle_and_accounting() {
        let mut a = Agent::new(AgentId(0), Skills::Blended, Millis(0));
        a.transition(Millis(0), AgentState::Ready).unwrap();
        a.transition(Millis(1_000), AgentState::Talking).unwrap();
        a.transition(Millis(4_000), AgentState::WrapUp).unwrap();
        // Wrap-up cannot jump straight into a call.
        let err = a
            .transition(Millis(4_500), AgentState::Talking)
            .unwrap_err();
        assert!(err.to_string().contains("cannot go from WrapUp to Talking"));
        assert_eq!(a.state(), AgentState::WrapUp);
        a.transition(Millis(5_000), AgentState::Ready).unwrap();
        let t = a.times(Millis(6_000));
        assert_eq!(t.busy(), 4_000);
        assert_eq!(t.staffed(), 6_000);
        assert!((t.occupancy() - 4.0 / 6.0).abs() < 1e-12);
        assert!((t.talk_share() - 0.5).abs() < 1e-12);
    }
}
