//! A dialer handed back to `rate:λ` after some time in another mode (the live engine does this
//! when a campaign's abandon budget recovers, or a supervisor switches modes) resumes at λ from
//! that moment: it does not launch at once the calls the rate "owed" while it was away.

use outdial::agents::Skills;
use outdial::pacing::{Action, Config, Dialer, Millis, Mode, Params};

#[test]
fn returning_to_rate_mode_dials_at_the_rate_not_the_backlog() {
    let params = Params {
        mode: Mode::Progressive,
        channels: 500,
        ..Params::default()
    };
    let mut d = Dialer::new(
        Config {
            params: params.clone(),
            seed: 7,
            ..Config::default()
        },
        Millis(0),
    )
    .expect("dialer");
    let _agent = d.handle_agent_login(Millis(0), Skills::Outbound);
    // Ten minutes in progressive, then rate:1 (one call per second on average).
    let back = Millis(600_000);
    d.set_params(
        back,
        Params {
            mode: Mode::Rate { per_s: 1.0 },
            ..params
        },
    )
    .expect("set params");
    let mut dials = 0;
    let mut now = back;
    while now < back.plus(1_000) {
        now = now.plus(50);
        d.handle_timeout(now);
        dials += std::iter::from_fn(|| d.poll_action())
            .filter(|a| matches!(a, Action::Dial { .. }))
            .count();
    }
    // Poisson(1) over one second: P(N > 8) < 1e-5. The backlog since 0 would be about 600.
    assert!(dials <= 8, "{dials} dials in the first second of rate:1");
}
