//! The headers on the wire, as peers outdial did not write receive them: `outdial run` (the real
//! binary, SQLite store) dials one lead through a SIPp trunk and connects it to a SIPp agent; both
//! SIPp peers record what they received (`-trace_msg`) and the test reads the INVITEs.
//! - The carrier gets the trunk's presentation (From display and user, P-Asserted-Identity,
//!   Privacy, `+E.164;user=phone` Request-URI) and none of outdial's identifiers.
//! - The agent gets the customer's number in From with the lead's name (the campaign allows it;
//!   quotes in the name escaped), `X-Outdial-Lead` / `X-Outdial-Campaign`, and a `Call-Info`
//!   pointing at the agent's screen pop on the admin listener.
//!
//! Bounded: the engine runs for 7 s, SIPp exits after its one call or its `-timeout`.

use crate::engine_support;
use crate::sipp;

use std::path::Path;
use std::time::Duration;

use engine_support::{
    campaign_yaml, finish_engine, free_port, open_and_closed_zones, outdial, start_engine, temp_dir,
};
use sipp::Builder;

/// The first INVITE in a SIPp `-trace_msg` file: its request line and headers.
fn received_invite(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let start = text
        .find("INVITE sip:")
        .or_else(|| text.find("INVITE tel:"))
        .unwrap_or_else(|| panic!("no INVITE received:\n{text}"));
    let rest = &text[start..];
    let end = rest
        .find("\n\n")
        .or_else(|| rest.find("\r\n\r\n"))
        .unwrap_or(rest.len());
    rest[..end].replace('\r', "")
}

/// The value of header `name` in `msg` (first occurrence), if any.
fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn the_carrier_sees_the_trunk_presentation_and_the_agent_sees_the_customer() {
    if !sipp::available() {
        return;
    }
    let dir = temp_dir("wire-headers");
    let db = format!("sqlite://{}", dir.join("lab.db").display());
    let trunk_log = dir.join("trunk-msgs.log");
    let agent_log = dir.join("agent-msgs.log");
    // uas-answer.xml: rings 200 ms, answers with an offer, hangs up 2 s after the ACK.
    let mut trunk = Builder::new("uas-answer.xml")
        .args(["-m", "1", "-trace_msg", "-message_file"])
        .args([trunk_log.to_str().expect("path")])
        .timeout(Duration::from_secs(30))
        .spawn();
    // agent.xml talks for minutes: its call ends by our BYE when the customer hangs up.
    let mut agent = Builder::new("agent.xml")
        .args(["-m", "1", "-trace_msg", "-message_file"])
        .args([agent_log.to_str().expect("path")])
        .timeout(Duration::from_secs(30))
        .spawn();

    let campaign = dir.join("hdr.yaml");
    std::fs::write(&campaign, campaign_yaml("hdr", "progressive")).expect("campaign");
    outdial(
        &db,
        &["campaign", "apply", campaign.to_str().expect("path")],
        None,
    );
    let (open, _) = open_and_closed_zones();
    let csv = format!(
        "phone,name,external_id,timezone,loan_amount\n91234567,\"Ann \"\"Zed\"\" O'Neil\",APP-1,{open},1000\n"
    );
    outdial(&db, &["campaign", "load", "hdr", "-"], Some(&csv));

    let (sip_port, admin_port) = (free_port(), free_port());
    let config = format!(
        "node: wire-1\nsip:\n  listen: 127.0.0.1:{sip_port}\n  trunks:\n    - name: carrier\n      \
         address: \"{trunk}\"\n      max_channels: 2\n      max_cps: 2\n      ping_interval: 0s\n      media: flow-i\n      \
         from_display: \"ACME Verify\"\n      asserted_identity: from\n      privacy: id\n  \
         groups:\n    - {{name: lab, trunks: [carrier]}}\nadmin:\n  listen: 127.0.0.1:{admin_port}\n\
         agents:\n  - {{uri: \"sip:agent0001@{agent}\", group: lab, skills: [outbound, verification], \
         wrap_up: auto}}\nauto_wrap_time: {{dist: constant, mean: 1s}}\ncampaigns:\n  - {{name: hdr, \
         agent_display_name: true}}\nrun_for: 7s\nshutdown_grace: 2s\n",
        trunk = trunk.addr,
        agent = agent.addr,
    );
    let cfg = dir.join("engine.yaml");
    std::fs::write(&cfg, config).expect("engine config");
    let engine = start_engine(&db, &cfg);
    finish_engine(engine, Duration::from_secs(30));
    let t = trunk.wait(Duration::from_secs(10));
    let a = agent.wait(Duration::from_secs(10));
    assert_eq!(t.successful, 1, "trunk:\n{}", t.screen);
    assert_eq!(a.successful, 1, "agent:\n{}", a.screen);

    // What the carrier received.
    let inv = received_invite(&trunk_log);
    let line = inv.lines().next().unwrap_or("");
    assert!(
        line.starts_with("INVITE sip:+6591234567@") && line.ends_with(";user=phone SIP/2.0"),
        "{inv}"
    );
    let from = header(&inv, "From").unwrap_or("");
    assert!(
        from.starts_with("\"ACME Verify\" <sip:+6560885500@127.0.0.1;user=phone>;tag="),
        "{inv}"
    );
    assert_eq!(
        header(&inv, "P-Asserted-Identity"),
        Some("\"ACME Verify\" <sip:+6560885500@127.0.0.1;user=phone>"),
        "{inv}"
    );
    assert_eq!(header(&inv, "Privacy"), Some("id"), "{inv}");
    assert!(header(&inv, "X-Outdial-Lead").is_none(), "{inv}");
    assert!(header(&inv, "X-Outdial-Campaign").is_none(), "{inv}");

    // What the agent's phone received.
    let inv = received_invite(&agent_log);
    let from = header(&inv, "From").unwrap_or("");
    assert!(
        from.starts_with("\"Ann \\\"Zed\\\" O'Neil\" <sip:+6591234567@127.0.0.1;user=phone>;tag="),
        "{inv}"
    );
    assert!(
        header(&inv, "X-Outdial-Lead").is_some_and(|v| v.parse::<i64>().is_ok()),
        "{inv}"
    );
    assert_eq!(header(&inv, "X-Outdial-Campaign"), Some("hdr"), "{inv}");
    assert_eq!(
        header(&inv, "Call-Info"),
        Some(
            format!("<http://127.0.0.1:{admin_port}/agents/agent0001/current>;purpose=info")
                .as_str()
        ),
        "{inv}"
    );
}
