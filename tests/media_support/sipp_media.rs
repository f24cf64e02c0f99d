//! SIPp as a customer with audio (issue 17): the UAS scenarios `sim/sipp/uas-media-answer.xml`
//! (200 with SDP, then streams `customer.ulaw` as RTP) and `uas-media-early.xml` (183 with SDP
//! streaming `early.ulaw`, then 200 and `customer.ulaw`), run in a temp dir holding the audio,
//! with SIPp's media port chosen free.

use std::path::Path;

use super::sipp::{Builder, Sipp};
use super::{audio, free_udp_ports, temp_dir};

/// Which customer scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Customer {
    /// `uas-media-answer.xml`: answers with SDP, streams the customer's audio after the ACK.
    Answer,
    /// `uas-media-early.xml`: 183 with SDP and early media for 2 s, then as `Answer`.
    Early,
}

/// A SIPp customer for `calls` calls that streams `speech` (any WAV) after answering, and
/// `early` (any WAV; required for [`Customer::Early`]) as early media. SIPp's RTP comes from
/// `[media_port]`, the port its SDP names.
pub fn customer(kind: Customer, speech: &Path, early: Option<&Path>, calls: u32) -> Sipp {
    let dir = temp_dir("sipp-customer");
    audio::to_ulaw(speech, &dir.join("customer.ulaw"));
    let scenario = match kind {
        Customer::Answer => "uas-media-answer.xml",
        Customer::Early => {
            let early = early.expect("early media audio for Customer::Early");
            audio::to_ulaw(early, &dir.join("early.ulaw"));
            "uas-media-early.xml"
        }
    };
    // SIPp binds [media_port] and the port two above it (video echo): four free ports.
    let media = free_udp_ports(4);
    Builder::new(scenario)
        .dir(&dir)
        .args(["-mi", "127.0.0.1", "-mp", &media.to_string()])
        .args(["-m", &calls.to_string()])
        .args(["-default_behaviors", "all,-abortunexp"])
        .spawn()
}
