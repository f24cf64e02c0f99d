//! The SIPp scenarios shipped in `sim/sipp/` checked against SIPp itself on loopback: each test
//! UAS answers `outbound-uac.xml` (a dialler-like UAC) and each call ends the way the scenario's
//! comment promises. No outdial code runs here; these guard what users are told to run.
//! (uas-200-crossing-cancel.xml is checked against outdial only: SIPp's UAC cannot match a 200 to
//! the INVITE arriving after its CANCEL.)

use crate::sipp;

use std::time::Duration;

use sipp::{Builder, Report};

/// Runs `calls` calls from outbound-uac.xml against `uas` and returns the UAC's report after
/// checking that both sides finished with every call successful.
fn run_pair(uas: &str, uas_args: &[&str], uac_args: &[&str], calls: u32) -> Report {
    let mut server = Builder::new(uas).args(uas_args.iter().copied()).spawn();
    let mut client = Builder::new("outbound-uac.xml")
        .args(["-s", "13800138000", "-r", "20", "-l", "100", "-m"])
        .args([calls.to_string()])
        .args(uac_args.iter().copied())
        .remote(server.addr)
        .timeout(Duration::from_secs(45))
        .spawn();
    let report = client.wait(Duration::from_secs(50));
    let server_report = server.stop();
    assert_eq!(
        report.status,
        Some(0),
        "uac against {uas} did not succeed:\n{}\n--- uas ---\n{}",
        report.screen,
        server_report.screen
    );
    assert_eq!(report.successful, u64::from(calls), "{}", report.screen);
    assert_eq!(report.failed, 0, "{}", report.screen);
    report
}

#[test]
fn answered_call_gets_an_sdp_offer_and_the_customer_hangs_up() {
    if !sipp::available() {
        return;
    }
    let r = run_pair("uas-answer.xml", &[], &[], 2);
    assert_eq!(r.messages("200 <"), 2, "{}", r.screen);
    // The customer's BYE arrives before the UAC's 5 s hold runs out.
    assert_eq!(r.messages("BYE <"), 2, "{}", r.screen);
}

#[test]
fn busy_invalid_and_503_are_final_responses_acked() {
    if !sipp::available() {
        return;
    }
    for (uas, code) in [
        ("uas-busy.xml", "486"),
        ("uas-invalid.xml", "404"),
        ("uas-503.xml", "503"),
    ] {
        let r = run_pair(uas, &[], &[], 2);
        assert_eq!(r.messages(&format!("{code} <")), 2, "{uas}: {}", r.screen);
        assert_eq!(r.messages("200 <"), 0, "{uas}: {}", r.screen);
    }
}

#[test]
fn no_answer_rings_until_cancel_then_487() {
    if !sipp::available() {
        return;
    }
    let r = run_pair("uas-noanswer.xml", &[], &[], 2);
    assert_eq!(r.messages("CANCEL"), 2, "{}", r.screen);
    assert_eq!(r.messages("487 <"), 2, "{}", r.screen);
}

#[test]
fn first_invite_is_answered_only_after_a_retransmission() {
    if !sipp::available() {
        return;
    }
    let r = run_pair("uas-ignore-first-invite.xml", &[], &[], 2);
    assert!(r.retrans("INVITE") >= 2, "no retransmission: {}", r.screen);
    assert_eq!(r.messages("200 <"), 2, "{}", r.screen);
}

#[test]
fn digest_challenge_is_answered_with_credentials() {
    if !sipp::available() {
        return;
    }
    let r = run_pair(
        "uas-digest.xml",
        &[],
        &["-au", "outdial", "-ap", "secret"],
        2,
    );
    assert_eq!(r.messages("401 <"), 2, "{}", r.screen);
    assert_eq!(r.messages("403 <"), 0, "{}", r.screen);
}

#[test]
fn digest_with_a_wrong_password_is_forbidden() {
    if !sipp::available() {
        return;
    }
    let r = run_pair(
        "uas-digest.xml",
        &[],
        &["-au", "outdial", "-ap", "wrong"],
        1,
    );
    assert_eq!(r.messages("403 <"), 1, "{}", r.screen);
}

#[test]
fn trunk_uas_draws_every_outcome_in_proportion() {
    if !sipp::available() {
        return;
    }
    // 60 calls; -set scale 100 divides ring and talk times by 100 (12 s ring -> 120 ms).
    let n = 60u32;
    let r = run_pair("trunk-uas.xml", &["-set", "scale", "100"], &[], n);
    let answered = r.messages("200 <");
    let busy = r.messages("486 <");
    let invalid = r.messages("404 <");
    let cancelled = r.messages("487 <");
    assert_eq!(
        answered + busy + invalid + cancelled,
        u64::from(n),
        "{}",
        r.screen
    );
    // SIPp draws with its own unseeded RNG, so the bounds are 5 binomial standard deviations
    // around n·p (a false failure has probability < 1e-6 per count).
    let within = |count: u64, p: f64| {
        let mean = f64::from(n) * p;
        let sd = (f64::from(n) * p * (1.0 - p)).sqrt();
        (count as f64 - mean).abs() <= 5.0 * sd
    };
    assert!(within(answered, 0.40), "answered {answered}: {}", r.screen);
    assert!(within(busy, 0.10), "busy {busy}: {}", r.screen);
    assert!(
        within(cancelled, 0.48),
        "no answer {cancelled}: {}",
        r.screen
    );
}

#[test]
fn agent_answers_the_offer_and_either_side_hangs_up() {
    if !sipp::available() {
        return;
    }
    let mut agent = Builder::new("agent.xml")
        .args(["-set", "scale", "100"])
        .spawn();
    let mut caller = Builder::new("inbound-uac.xml")
        .args([
            "-s",
            "agent0001",
            "-r",
            "10",
            "-m",
            "4",
            "-set",
            "scale",
            "100",
        ])
        .remote(agent.addr)
        .timeout(Duration::from_secs(40))
        .spawn();
    let r = caller.wait(Duration::from_secs(45));
    let a = agent.stop();
    assert_eq!(
        r.status,
        Some(0),
        "{}\n--- agent ---\n{}",
        r.screen,
        a.screen
    );
    assert_eq!(r.successful, 4, "{}", r.screen);
}
