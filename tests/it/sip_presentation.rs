//! What each side is told about a call: the trunk gets the caller-ID presentation its config asks
//! for (Request-URI form with the prefix rewrite, From user and display, P-Asserted-Identity,
//! Privacy) and none of outdial's internal identifiers unless it opts in; the agent's phone gets
//! the customer's number, the lead's name when given, outdial's identifiers and the screen pop.
//! Sans-IO endpoint on virtual time; the test plays the trunk (tests/common/uac.rs).

use crate::uac;

use outdial::sip::{AgentLeg, CallInfo, DisplayName, ExtraHeader, SipUri, TrunksConfig};
use uac::{addr, one_trunk, response, Uac, OFFER};

#[test]
fn by_default_the_carrier_gets_no_internal_identifier_and_a_user_phone_uri() {
    let mut u = Uac::new(&one_trunk(""));
    u.place(None);
    let inv = u.only("INVITE");
    assert_eq!(
        inv.start_line(),
        "INVITE sip:+14155550100@127.0.0.1:5001;user=phone SIP/2.0"
    );
    assert!(inv.header("X-Outdial-Lead").is_none(), "{}", inv.text);
    assert!(inv.header("X-Outdial-Campaign").is_none(), "{}", inv.text);
    assert!(inv.header("P-Asserted-Identity").is_none());
    assert!(inv.header("Privacy").is_none());
    let from = inv.header("From").expect("From");
    assert!(
        from.starts_with("<sip:+14155550000@127.0.0.1;user=phone>;tag="),
        "{from}"
    );
}

#[test]
fn a_trunk_that_opts_in_gets_the_lead_and_campaign() {
    let mut u = Uac::new(&one_trunk("    internal_headers: true\n"));
    u.place(None);
    let inv = u.only("INVITE");
    assert_eq!(inv.header("X-Outdial-Lead").as_deref(), Some("L1"));
    assert_eq!(inv.header("X-Outdial-Campaign").as_deref(), Some("c1"));
}

#[test]
fn the_trunk_presentation_sets_from_pai_privacy_and_a_national_request_uri() {
    let mut u = Uac::new(&one_trunk(
        "    prefix: { strip: \"+1\", add: \"9\" }\n    uri_form: national\n    from_user: \"+14155559999\"\n    from_display: 'ACME \"Sales\"'\n    asserted_identity: from\n    privacy: id;critical\n",
    ));
    u.place(None);
    let inv = u.only("INVITE");
    assert_eq!(
        inv.start_line(),
        "INVITE sip:94155550100@127.0.0.1:5001 SIP/2.0"
    );
    assert_eq!(
        inv.header("To").as_deref(),
        Some("<sip:94155550100@127.0.0.1:5001>")
    );
    let from = inv.header("From").expect("From");
    assert!(
        from.starts_with("\"ACME \\\"Sales\\\"\" <sip:+14155559999@127.0.0.1;user=phone>;tag="),
        "{from}"
    );
    assert_eq!(
        inv.header("P-Asserted-Identity").as_deref(),
        Some("\"ACME \\\"Sales\\\"\" <sip:+14155559999@127.0.0.1;user=phone>")
    );
    assert_eq!(inv.header("Privacy").as_deref(), Some("id;critical"));
    // The message still parses (the quoted display name did not break From).
    assert!(inv.msg().from_tag.is_some());
}

#[test]
fn a_tel_trunk_gets_tel_uris_and_an_explicit_asserted_identity() {
    let mut u = Uac::new(&one_trunk(
        "    uri_form: tel\n    asserted_identity: \"+14155558888\"\n    privacy: none\n",
    ));
    u.place(None);
    let inv = u.only("INVITE");
    assert_eq!(inv.start_line(), "INVITE tel:+14155550100 SIP/2.0");
    assert_eq!(inv.header("To").as_deref(), Some("<tel:+14155550100>"));
    assert_eq!(
        inv.header("P-Asserted-Identity").as_deref(),
        Some("<tel:+14155558888>")
    );
    assert_eq!(inv.header("Privacy").as_deref(), Some("none"));
    assert_eq!(inv.dest, addr(5001));
}

#[test]
fn bad_presentation_values_are_refused_with_file_line_and_field() {
    let cases = [
        ("    privacy: id;bogus\n", "privacy"),
        ("    privacy: none;id\n", "privacy"),
        ("    from_user: \"a b\"\n", "from_user"),
        ("    from_display: \"x\\r\\nVia: y\"\n", "from_display"),
        ("    asserted_identity: \"<sip:x>\"\n", "asserted_identity"),
        ("    uri_form: sms\n", "uri_form"),
        (
            "    uri_form: tel\n    prefix: { strip: \"+1\", add: \"0\" }\n",
            "uri_form",
        ),
        ("    outbound_proxy: proxy.example.com\n", "outbound_proxy"),
    ];
    for (yaml, field) in cases {
        let text = one_trunk(yaml);
        let err = TrunksConfig::from_yaml("t.yaml", &text)
            .expect_err(yaml)
            .to_string();
        assert!(
            err.contains("t.yaml:7") && err.contains(field),
            "{yaml:?} → {err}"
        );
    }
}

#[test]
fn the_agent_is_shown_the_customer_the_lead_and_the_screen_pop() {
    let mut u = Uac::new(&one_trunk(""));
    let call = u.place(None);
    let inv = u.only("INVITE");
    u.receive(
        addr(5001),
        &response(
            &inv,
            200,
            "uas1",
            &["Contact: <sip:t@127.0.0.1:5001>"],
            Some(OFFER),
        ),
    );
    let agent = SipUri::parse("sip:agent0001@127.0.0.1:5080").expect("uri");
    let shown = AgentLeg {
        from_user: None,
        display: Some(DisplayName::new("Zoë \"Zed\" O'Neil").expect("name")),
        headers: vec![
            ExtraHeader::lead("L1").expect("lead"),
            ExtraHeader::campaign("c1").expect("campaign"),
        ],
        call_info: Some(CallInfo::screen_pop(addr(8080), "agent0001")),
    };
    u.ep.connect_with(u.now, call, agent, shown)
        .expect("connect");
    let ainv = u.only("INVITE");
    assert_eq!(ainv.dest, addr(5080));
    let from = ainv.header("From").expect("From");
    assert!(
        from.starts_with("\"Zoë \\\"Zed\\\" O'Neil\" <sip:+14155550100@127.0.0.1;user=phone>;tag="),
        "the customer's number and name: {from}"
    );
    assert_eq!(ainv.header("X-Outdial-Lead").as_deref(), Some("L1"));
    assert_eq!(ainv.header("X-Outdial-Campaign").as_deref(), Some("c1"));
    assert_eq!(
        ainv.header("Call-Info").as_deref(),
        Some("<http://127.0.0.1:8080/agents/agent0001/current>;purpose=info")
    );
    assert!(ainv.msg().from_tag.is_some());
}

#[test]
fn a_plain_connect_still_shows_the_customer_number_to_the_agent() {
    let mut u = Uac::new(&one_trunk(""));
    let call = u.place(None);
    let inv = u.only("INVITE");
    u.receive(addr(5001), &response(&inv, 200, "uas1", &[], Some(OFFER)));
    let agent = SipUri::parse("sip:agent0001@127.0.0.1:5080").expect("uri");
    u.ep.connect(u.now, call, agent).expect("connect");
    let ainv = u.only("INVITE");
    let from = ainv.header("From").expect("From");
    assert!(
        from.starts_with("<sip:+14155550100@127.0.0.1;user=phone>;tag="),
        "{from}"
    );
    assert!(ainv.header("X-Outdial-Lead").is_none());
}

#[test]
fn an_inbound_callers_number_is_shown_to_the_agent() {
    let mut u = Uac::new(&one_trunk(""));
    let invite = "INVITE sip:+6560885500@127.0.0.1:5000 SIP/2.0\r\n\
        Via: SIP/2.0/UDP 127.0.0.1:5001;branch=z9hG4bKin1\r\n\
        From: \"Caller\" <sip:+6591234567@127.0.0.1:5001>;tag=caller\r\n\
        To: <sip:+6560885500@127.0.0.1>\r\n\
        Call-ID: inbound-2@127.0.0.1\r\n\
        CSeq: 1 INVITE\r\n\
        Contact: <sip:caller@127.0.0.1:5001>\r\n\
        Content-Type: application/sdp\r\n";
    u.receive(
        addr(5001),
        &format!("{invite}Content-Length: {}\r\n\r\n{OFFER}", OFFER.len()),
    );
    let call = u
        .events()
        .into_iter()
        .find_map(|e| match e {
            outdial::sip::Event::InboundCall { call, .. } => Some(call),
            _ => None,
        })
        .expect("inbound call");
    u.sent();
    let agent = SipUri::parse("sip:agent0001@127.0.0.1:5080").expect("uri");
    u.ep.connect(u.now, call, agent).expect("connect");
    let ainv = u.only("INVITE");
    let from = ainv.header("From").expect("From");
    assert!(
        from.starts_with("<sip:+6591234567@127.0.0.1;user=phone>;tag="),
        "{from}"
    );
}
