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

/// The live engine grants new calls before each tick (0 while a campaign is paused). Lines freed
/// inside the tick — here, ring time-outs of the calls in flight — must not be refilled.
#[test]
fn launch_limit_holds_when_calls_end_inside_the_tick() {
    let mut d = dialer(Mode::Power { ratio: 3.0 });
    let _agent = d.handle_agent_login(Millis(0), Skills::Outbound);
    d.handle_timeout(Millis(0));
    let first = std::iter::from_fn(|| d.poll_action()).count();
    assert_eq!(first, 3, "power:3 with one idle agent dials three");
    // Paused: no new call, while the three ring out at the no-answer timeout.
    d.set_launch_limit(Some(0));
    let timeout = Params::default().no_answer_timeout_ms;
    let mut now = Millis(0);
    let mut dials = 0;
    let mut cancels = 0;
    while now < Millis(timeout + 5_000) {
        now = Millis(now.0 + 100);
        d.handle_timeout(now);
        for a in std::iter::from_fn(|| d.poll_action()) {
            match a {
                Action::Dial { .. } => dials += 1,
                Action::Cancel { .. } => cancels += 1,
                other => panic!("{other:?}"),
            }
        }
    }
    assert_eq!(cancels, 3, "the calls in flight ring out");
    assert_eq!(dials, 0, "a paused campaign dialled");
    // Resumed with room for two: exactly two, although three lines are free.
    d.set_launch_limit(Some(2));
    d.handle_timeout(Millis(now.0 + 1_000));
    let resumed = std::iter::from_fn(|| d.poll_action())
        .filter(|a| matches!(a, Action::Dial { .. }))
        .count();
    assert_eq!(resumed, 2);
}

/// Dials a predictive dialer with 10 outbound agents places at its first decision, after
/// `inbound` callers arrived for its one inbound-only agent (logged in, paused).
fn first_dials_with_inbound_waiting(inbound: usize) -> usize {
    let mut d = dialer(Mode::Predictive);
    for _ in 0..10 {
        d.handle_agent_login(Millis(0), Skills::Outbound);
    }
    let desk = d.handle_agent_login(Millis(0), Skills::Inbound);
    d.handle_agent_pause(Millis(0), desk).unwrap();
    for _ in 0..inbound {
        d.handle_inbound_arrival(Millis(0));
    }
    let (t, _) = d.poll_timeout().unwrap();
    d.handle_timeout(t);
    std::iter::from_fn(|| d.poll_action())
        .filter(|a| matches!(a, Action::Dial { .. }))
        .count()
}

#[test]
fn inbound_callers_only_an_inbound_only_agent_can_take_do_not_slow_outbound_dialling() {
    // Without a blended agent no inbound caller can ever take an outbound agent's time, so a
    // queue of them must not stand ahead of outbound customers in the forecast.
    let clean = first_dials_with_inbound_waiting(0);
    assert!(clean >= 5, "too few dials to compare: {clean}");
    assert_eq!(first_dials_with_inbound_waiting(20), clean);
}

/// A supervisor switch into adaptive after an hour in another mode: the dial level starts at 1
/// on its own 1 s / 15 s / 2.5 s timers from the switch. Before the strategies were split, the
/// adaptive timers had stood still since the dialer was created and the switch replayed an
/// hour of them at once: 240 adjustments on the same sample raised the level to its 3.0 cap
/// in one step (30 calls for 10 ready agents on the next cycle).
#[test]
fn switching_into_adaptive_starts_its_level_afresh() {
    let mut d = dialer(Mode::Progressive);
    for _ in 0..10 {
        d.handle_agent_login(Millis(0), Skills::Outbound);
    }
    // No leads at hand for an hour: progressive places nothing, the agents stay ready.
    d.set_launch_limit(Some(0));
    let hour = Millis(3_600_000);
    d.handle_timeout(hour);
    let mut params = d.params().clone();
    params.mode = Mode::Adaptive {
        drop_rule: outdial::pacing::DropRule::Average,
    };
    d.set_params(hour, params).unwrap();
    let (next, reason) = d.poll_timeout().unwrap();
    assert_eq!(reason, Reason::Adaptive);
    assert!(next > hour, "a stale adaptive wake-up at {next:?}");
    d.handle_timeout(hour);
    assert_eq!(
        d.adaptive_level(),
        1.0,
        "level replayed from the hour before"
    );
}

/// The engine drops a campaign from predictive to progressive when its abandon budget is spent
/// and back when it recovers: the switch must not move the next decision (a tick's worth of
/// extra dialling at every switch otherwise).
#[test]
fn switching_between_tick_driven_modes_keeps_the_tick() {
    let mut d = dialer(Mode::Predictive);
    d.handle_agent_login(Millis(0), Skills::Outbound);
    d.handle_timeout(Millis(0));
    let (tick, reason) = d.poll_timeout().unwrap();
    assert_eq!((tick, reason), (Millis(200), Reason::Tick));
    for mode in [
        Mode::Progressive,
        Mode::Power { ratio: 2.0 },
        Mode::Predictive,
    ] {
        let mut params = d.params().clone();
        params.mode = mode;
        d.set_params(Millis(50), params).unwrap();
        assert_eq!(
            d.poll_timeout(),
            Some((tick, Reason::Tick)),
            "after a switch to {mode}"
        );
    }
}
