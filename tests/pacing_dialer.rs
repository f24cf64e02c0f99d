//! The Dialer's event-driven API as the live engine will use it, driven by hand.

use outdial::agents::{AgentState, Skills};
use outdial::pacing::{
    Action, AnswerKind, CallEnd, CallId, Config, Dialer, DialerError, Millis, Mode, Params, Reason,
};

fn dialer(mode: Mode) -> Dialer {
    let config = Config {
        params: Params {
            mode,
            ..Params::default()
        },
        ..Config::default()
    };
    Dialer::new(config, Millis(0)).unwrap()
}

#[test]
fn progressive_call_lifecycle() {
    let mut d = dialer(Mode::Progressive);
    let agent = d.handle_agent_login(Millis(0), Skills::Blended);
    let (t, reason) = d.poll_timeout().unwrap();
    assert_eq!(reason, Reason::Tick);
    d.handle_timeout(t);
    let call = match d.poll_action() {
        Some(Action::Dial {
            call,
            agent: Some(a),
        }) if a == agent => call,
        other => panic!("expected a dial for the agent, got {other:?}"),
    };
    assert_eq!(d.poll_action(), None);
    assert_eq!(d.agent_state(agent), Some(AgentState::Reserved));
    d.handle_call_ringing(Millis(1_000), call).unwrap();
    d.handle_call_answered(Millis(9_000), call, AnswerKind::Live)
        .unwrap();
    assert_eq!(
        d.poll_action(),
        Some(Action::Connect {
            call,
            agent,
            wait_ms: 0
        })
    );
    // A second answer for the same call is a driver bug: an error, and nothing changes.
    let err = d
        .handle_call_answered(Millis(9_500), call, AnswerKind::Live)
        .unwrap_err();
    assert!(matches!(err, DialerError::Call(_)), "{err}");
    d.handle_call_ended(Millis(60_000), call, CallEnd::Completed)
        .unwrap();
    assert_eq!(d.agent_state(agent), Some(AgentState::WrapUp));
    d.handle_agent_ready(Millis(90_000), agent).unwrap();
    assert_eq!(d.counters().connected, 1);
    assert!(d
        .handle_call_ended(Millis(90_000), CallId(99), CallEnd::Busy)
        .is_err());
}

#[test]
fn unanswered_calls_are_cancelled_and_waiting_calls_abandoned() {
    let mut d = dialer(Mode::Power { ratio: 2.0 });
    let _agent = d.handle_agent_login(Millis(0), Skills::Outbound);
    d.handle_timeout(Millis(0));
    let calls: Vec<CallId> = std::iter::from_fn(|| d.poll_action())
        .map(|a| match a {
            Action::Dial { call, agent: None } => call,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(calls.len(), 2);
    // Both answer live: the first gets the agent, the second waits and is abandoned after 2 s.
    d.handle_call_answered(Millis(5_000), calls[0], AnswerKind::Live)
        .unwrap();
    d.handle_call_answered(Millis(6_000), calls[1], AnswerKind::Live)
        .unwrap();
    assert!(matches!(d.poll_action(), Some(Action::Connect { .. })));
    let mut now = Millis(6_000);
    while now < Millis(8_000) {
        let (t, _) = d.poll_timeout().unwrap();
        now = t;
        d.handle_timeout(now);
    }
    let actions: Vec<Action> = std::iter::from_fn(|| d.poll_action()).collect();
    assert!(
        actions.contains(&Action::Abandon { call: calls[1] }),
        "{actions:?}"
    );
    assert_eq!(d.counters().abandoned, 1);
}
