//! One predictive pacing decision for a campaign with 9,000 agents and about 2,000 calls in
//! flight (target < 1 ms). The state is built through the public event API: Poisson dialling
//! for ~12 minutes of virtual time with calls answered 60 s after launch, agents talking 4–7 min
//! and wrapping 30 s, then the mode is switched to predictive and one tick is timed: one where
//! the agents' bucket keys have not moved since the previous tick (their sums are reused, nine
//! ticks in ten) and one 2 s later, where they have (every bucket is walked).
//!
//! Run: `cargo bench --bench pacing`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use outdial::agents::{AgentId, Skills};
use outdial::pacing::{Action, AnswerKind, CallEnd, CallId, Config, Dialer, Millis, Mode, Params};
use std::collections::BTreeMap;

#[derive(Clone, Copy)]
enum Due {
    Answer(CallId),
    Hangup(CallId, AgentId),
    Ready(AgentId),
}

fn build() -> (Dialer, Millis) {
    let params = Params {
        mode: Mode::Rate { per_s: 40.0 },
        no_answer_timeout_ms: 3_600_000,
        ..Params::default()
    };
    let mut d = Dialer::new(
        Config {
            params: params.clone(),
            ..Config::default()
        },
        Millis(0),
    )
    .unwrap();
    for _ in 0..9_000 {
        d.handle_agent_login(Millis(0), Skills::Outbound);
    }
    let mut due: BTreeMap<(u64, u64), Due> = BTreeMap::new();
    let mut seq = 0u64;
    let mut push = |due: &mut BTreeMap<(u64, u64), Due>, t: u64, x: Due| {
        seq += 1;
        due.insert((t, seq), x);
    };
    let end = 720_000u64;
    let mut now = 0u64;
    while now < end {
        now += 100;
        while let Some((&(t, s), &x)) = due.iter().next() {
            if t > now {
                break;
            }
            due.remove(&(t, s));
            let at = Millis(t);
            match x {
                Due::Answer(c) => {
                    let _ = d.handle_call_answered(at, c, AnswerKind::Live);
                }
                Due::Hangup(c, a) => {
                    let _ = d.handle_call_ended(at, c, CallEnd::Completed);
                    push(&mut due, t + 30_000, Due::Ready(a));
                }
                Due::Ready(a) => {
                    let _ = d.handle_agent_ready(at, a);
                }
            }
            drain(&mut d, &mut due, &mut push, t);
        }
        d.handle_timeout(Millis(now));
        drain(&mut d, &mut due, &mut push, now);
    }
    d.set_params(
        Millis(now),
        Params {
            mode: Mode::Predictive,
            ..params
        },
    )
    .unwrap();
    // The first predictive tick fits the tables (refits then happen every 30 s to 5 min);
    // the timed decision is the next tick, as in steady state.
    d.handle_timeout(Millis(now + 200));
    let mut sink = BTreeMap::new();
    drain(&mut d, &mut sink, &mut |_, _, _| {}, now + 200);
    (d, Millis(now + 400))
}

fn drain(
    d: &mut Dialer,
    due: &mut BTreeMap<(u64, u64), Due>,
    push: &mut impl FnMut(&mut BTreeMap<(u64, u64), Due>, u64, Due),
    now: u64,
) {
    while let Some(a) = d.poll_action() {
        match a {
            Action::Dial { call, .. } => push(due, now + 60_000, Due::Answer(call)),
            Action::Connect { call, agent, .. } => {
                let talk = 240_000 + (call.0 * 7_919) % 180_000;
                push(due, now + talk, Due::Hangup(call, agent));
            }
            _ => {}
        }
    }
}

fn bench(c: &mut Criterion) {
    let (d, at) = build();
    eprintln!(
        "state: {} agents, {} lines in use, {} active",
        d.agent_count(),
        d.lines_in_use(),
        d.active_agents()
    );
    // Agents' sums are kept while their bucket keys stay (2 s for talk, 1 s for wrap-up): nine
    // ticks in ten reuse them, the tenth walks every bucket again. Both are timed.
    for (name, at) in [
        (
            "predictive decision, 9000 agents, ~2000 calls, agent keys unchanged",
            at,
        ),
        (
            "predictive decision, 9000 agents, ~2000 calls, agent keys moved",
            Millis(at.0 + 2_000),
        ),
    ] {
        c.bench_function(name, |b| {
            b.iter_batched(
                || d.clone(),
                |mut d| {
                    d.handle_timeout(at);
                    d
                },
                BatchSize::LargeInput,
            )
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
