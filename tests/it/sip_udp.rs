//! End to end over real UDP on 127.0.0.1: three outdial endpoints (dialler, trunk UAS, agent)
//! driven by the tokio driver. Covers answered → connect → customer BYE → agent BYE, busy, and a
//! 503 on the primary re-placed on the secondary. Every wait is bounded by a timeout.

use crate::dialler;

use std::time::Duration;

use dialler::{live_endpoint, trunk_group};
use outdial::sip::{CallerId, EndedBy, Event, PlaceCall, SipOutcome, SipUri, E164};
use tokio::sync::mpsc::Receiver;

const OFFER: &str = "v=0\r\no=c 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
const ANSWER: &str = "v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n";

async fn next(ev: &mut Receiver<Event>) -> Event {
    tokio::time::timeout(Duration::from_secs(5), ev.recv())
        .await
        .expect("event within 5 s")
        .expect("driver alive")
}

fn req(offer: Option<&str>) -> PlaceCall {
    PlaceCall {
        group: "g".into(),
        number: E164::new("+33612345678").unwrap(),
        caller_id: CallerId::new("+33100000000").unwrap(),
        headers: vec![],
        ring_timeout: Duration::from_secs(20),
        offer: offer.map(str::to_string),
    }
}

#[tokio::test]
async fn answered_call_is_connected_to_an_agent_and_hangups_propagate() {
    let empty = "trunks: []\ngroups: []\n";
    let (trunk, mut trunk_ev) = live_endpoint(empty).await;
    let (agent, mut agent_ev) = live_endpoint(empty).await;
    let (dialer, mut ev) = live_endpoint(&trunk_group(&[trunk.local_addr()], "")).await;

    let call = dialer.place_call(req(None)).await.unwrap().unwrap();
    let Event::InboundCall {
        call: tc,
        offer: None,
        ..
    } = next(&mut trunk_ev).await
    else {
        panic!()
    };
    trunk.ring(tc).await.unwrap().unwrap();
    assert_eq!(next(&mut ev).await, Event::Ringing { call });
    trunk
        .answer(tc, Some(OFFER.into()), vec![])
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(
        next(&mut ev).await,
        Event::Answered { machine: false, .. }
    ));

    let uri = SipUri::parse(&format!("sip:agent0001@{}", agent.local_addr())).unwrap();
    dialer.connect(call, uri.clone()).await.unwrap().unwrap();
    let Event::InboundCall {
        call: ac, offer, ..
    } = next(&mut agent_ev).await
    else {
        panic!()
    };
    assert_eq!(offer.as_deref(), Some(OFFER));
    agent
        .answer(ac, Some(ANSWER.into()), vec![])
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(next(&mut ev).await, Event::Connected { agent, .. } if agent == uri));
    assert_eq!(
        next(&mut trunk_ev).await,
        Event::Acked {
            call: tc,
            answer: Some(ANSWER.into())
        }
    );

    // Customer hangs up: both legs end, the agent is released by our BYE.
    trunk.hangup(tc).await.unwrap().unwrap();
    assert_eq!(
        next(&mut ev).await,
        Event::Ended {
            call,
            by: EndedBy::Customer
        }
    );
    assert!(matches!(next(&mut agent_ev).await, Event::Acked { .. }));
    assert_eq!(
        next(&mut agent_ev).await,
        Event::Ended {
            call: ac,
            by: EndedBy::Customer
        }
    );
}

#[tokio::test]
async fn agent_hangup_ends_the_customer_leg() {
    let empty = "trunks: []\ngroups: []\n";
    let (trunk, mut trunk_ev) = live_endpoint(empty).await;
    let (agent, mut agent_ev) = live_endpoint(empty).await;
    let (dialer, mut ev) = live_endpoint(&trunk_group(&[trunk.local_addr()], "")).await;
    let call = dialer.place_call(req(None)).await.unwrap().unwrap();
    let Event::InboundCall { call: tc, .. } = next(&mut trunk_ev).await else {
        panic!()
    };
    trunk
        .answer(tc, Some(OFFER.into()), vec![])
        .await
        .unwrap()
        .unwrap();
    next(&mut ev).await;
    let uri = SipUri::parse(&format!("sip:agent0002@{}", agent.local_addr())).unwrap();
    dialer.connect(call, uri).await.unwrap().unwrap();
    let Event::InboundCall { call: ac, .. } = next(&mut agent_ev).await else {
        panic!()
    };
    agent
        .answer(ac, Some(ANSWER.into()), vec![])
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(next(&mut ev).await, Event::Connected { .. }));
    assert!(matches!(next(&mut agent_ev).await, Event::Acked { .. }));
    agent.hangup(ac).await.unwrap().unwrap();
    assert_eq!(
        next(&mut ev).await,
        Event::Ended {
            call,
            by: EndedBy::Agent
        }
    );
    assert!(matches!(next(&mut trunk_ev).await, Event::Acked { .. }));
    assert_eq!(
        next(&mut trunk_ev).await,
        Event::Ended {
            call: tc,
            by: EndedBy::Customer
        }
    );
}

#[tokio::test]
async fn busy_and_failover_over_udp() {
    let empty = "trunks: []\ngroups: []\n";
    let (primary, mut p_ev) = live_endpoint(empty).await;
    let (secondary, mut s_ev) = live_endpoint(empty).await;
    let (dialer, mut ev) = live_endpoint(&trunk_group(
        &[primary.local_addr(), secondary.local_addr()],
        "",
    ))
    .await;

    let call = dialer.place_call(req(Some(OFFER))).await.unwrap().unwrap();
    let Event::InboundCall { call: pc, .. } = next(&mut p_ev).await else {
        panic!()
    };
    primary.reject(pc, 503).await.unwrap().unwrap();
    let Event::InboundCall { call: sc, .. } = next(&mut s_ev).await else {
        panic!()
    };
    secondary.reject(sc, 486).await.unwrap().unwrap();
    assert_eq!(
        next(&mut ev).await,
        Event::Failed {
            call,
            code: Some(486),
            disposition: SipOutcome::Busy
        }
    );
    assert_eq!(
        dialer.available_lines("g".into()).await.unwrap(),
        8,
        "5+5 channels, cps 5+5 minus 2 used"
    );
}
