//! Self-tests of the media test peers (tests/media_support): the correlation tells a phrase from
//! another, baresip A calling baresip B directly carries A's microphone into B's recording, and
//! SIPp's customer scenarios stream their audio as RTP to the address of an SDP offer (after the
//! answer, and as early media in a 183). Real processes on loopback; every wait bounded.

use crate::dialler;
use crate::media_support;

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use media_support::audio::{best_correlation, read_wav_mono_8k, rms, say};
use media_support::baresip::Baresip;
use media_support::sipp_media::{customer, Customer};
use media_support::{peers_available, temp_dir};
use outdial::media::g711;
use outdial::media::io::Codec;
use outdial::sip::{CallId, CallerId, Event, PlaceCall, SipHandle, E164};
use tokio::sync::mpsc::Receiver;

const CUSTOMER_TEXT: &str = "Hello, this is the customer. My account number is four four seven \
                             two, and I would like to talk about my loan repayment.";
const AGENT_TEXT: &str = "Good morning, you are speaking with the lending office. How may I help \
                          you today?";

/// The customer's and the agent's phrases as 8 kHz WAVs in `dir`.
fn phrases(dir: &Path) -> (PathBuf, PathBuf) {
    (
        say(dir, "customer", CUSTOMER_TEXT),
        say(dir, "agent", AGENT_TEXT),
    )
}

#[test]
fn correlation_finds_a_phrase_through_g711_and_not_another_phrase() {
    if !peers_available() {
        return;
    }
    let dir = temp_dir("corr");
    let (cust, agent) = phrases(&dir);
    let cust = read_wav_mono_8k(&cust);
    let agent = read_wav_mono_8k(&agent);
    // What a recorder would hold: 0.7 s of line noise, the phrase through G.711 µ-law at half
    // volume, then more noise (a fixed LCG: deterministic).
    let mut seed = 7u32;
    let mut noise = |n: usize| -> Vec<i16> {
        (0..n)
            .map(|_| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                ((seed >> 16) as i16) >> 8
            })
            .collect()
    };
    let half: Vec<i16> = cust.iter().map(|&s| s / 2).collect();
    let mut coded = Vec::new();
    g711::encode(Codec::Pcmu, &half, &mut coded);
    let mut through = Vec::new();
    g711::decode(Codec::Pcmu, &coded, &mut through);
    let mut recorded = noise(5_600);
    recorded.extend_from_slice(&through);
    recorded.extend(noise(8_000));

    let (lag, peak) = best_correlation(&cust, &recorded);
    assert_eq!(lag, 5_600, "found at the right place");
    assert!(peak > 0.9, "the phrase scores high: {peak}");
    let (_, other) = best_correlation(&agent, &recorded);
    assert!(other < 0.3, "an unrelated phrase scores low: {other}");
    let (_, silence) = best_correlation(&cust, &vec![0; 40_000]);
    assert_eq!(silence, 0.0, "silence cannot score");
    // Only the first half of the phrase recorded: at most about half the score.
    let (_, part) = best_correlation(&cust, &through[..through.len() / 2]);
    assert!(part < 0.8, "a partial copy scores its share: {part}");
}

#[test]
fn baresip_a_calls_baresip_b_directly_and_each_hears_the_other() {
    if !peers_available() {
        return;
    }
    let dir = temp_dir("baresip-pair");
    let (cust_wav, agent_wav) = phrases(&dir);
    let cust = read_wav_mono_8k(&cust_wav);
    let agent = read_wav_mono_8k(&agent_wav);
    let mut a = Baresip::start("alice", &cust_wav);
    let mut b = Baresip::start("bob", &agent_wav);
    a.dial(&b.uri());
    assert!(
        a.wait_event("CALL_ESTABLISHED", Duration::from_secs(10))
            .is_some(),
        "call established; A's log:\n{}\nB's log:\n{}",
        a.log(),
        b.log()
    );
    // Both phrases are under 8 s; the microphones then play silence.
    let talk = cust.len().max(agent.len()) as u64 * 1000 / 8000 + 1500;
    std::thread::sleep(Duration::from_millis(talk));
    a.hangup();
    assert!(a
        .wait_event("CALL_CLOSED", Duration::from_secs(10))
        .is_some());
    assert!(b
        .wait_event("CALL_CLOSED", Duration::from_secs(10))
        .is_some());
    // sndfile closes its files when the audio stream is torn down, just after CALL_CLOSED.
    std::thread::sleep(Duration::from_millis(300));

    let heard_b = read_wav_mono_8k(b.recordings().last().expect("B recorded the call"));
    let heard_a = read_wav_mono_8k(a.recordings().last().expect("A recorded the call"));
    let (_, b_cust) = best_correlation(&cust, &heard_b);
    let (_, b_agent) = best_correlation(&agent, &heard_b);
    assert!(b_cust > 0.5, "B heard A's phrase: {b_cust}");
    assert!(b_agent < 0.3, "B did not hear its own phrase: {b_agent}");
    let (_, a_agent) = best_correlation(&agent, &heard_a);
    let (_, a_cust) = best_correlation(&cust, &heard_a);
    assert!(a_agent > 0.5, "A heard B's phrase: {a_agent}");
    assert!(a_cust < 0.3, "A did not hear its own phrase: {a_cust}");
}

/// An SDP offer whose audio goes to `rtp` (PCMU).
fn offer(rtp: SocketAddr) -> String {
    format!(
        "v=0\r\no=test 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n",
        ip = rtp.ip(),
        port = rtp.port()
    )
}

/// RTP packets received on a socket: (arrival, source, payload type, sequence, payload).
type Received = Vec<(Instant, SocketAddr, u8, u16, Vec<u8>)>;

/// Receives RTP on `sock` on a thread until nothing came for `quiet` (or 60 s passed).
fn collect_rtp(sock: UdpSocket, quiet: Duration) -> std::thread::JoinHandle<Received> {
    std::thread::spawn(move || {
        sock.set_read_timeout(Some(quiet)).expect("timeout");
        let mut got = Vec::new();
        let mut buf = [0u8; 2048];
        let end = Instant::now() + Duration::from_secs(60);
        // Wait up to 20 s for the first packet, then until a quiet gap.
        let first_deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < end {
            match sock.recv_from(&mut buf) {
                Ok((n, from)) => {
                    let p = &buf[..n];
                    // A valid RTP packet: version 2, header plus CSRCs present.
                    if n >= 12 && p[0] >> 6 == 2 {
                        let head = 12 + 4 * usize::from(p[0] & 0x0F);
                        if n >= head {
                            got.push((
                                Instant::now(),
                                from,
                                p[1] & 0x7F,
                                u16::from_be_bytes([p[2], p[3]]),
                                p[head..].to_vec(),
                            ));
                        }
                    }
                }
                Err(_) if got.is_empty() && Instant::now() < first_deadline => {}
                Err(_) => break,
            }
        }
        got
    })
}

/// The decoded audio of PCMU packets, in arrival order.
fn pcmu_audio(got: &Received) -> Vec<i16> {
    let mut out = Vec::new();
    for (_, _, pt, _, payload) in got {
        if *pt == 0 {
            g711::decode(Codec::Pcmu, payload, &mut out);
        }
    }
    out
}

async fn place(d: &SipHandle, offer: String) -> CallId {
    d.place_call(PlaceCall {
        group: "g".into(),
        number: E164::new("+8613800138000").expect("number"),
        caller_id: CallerId::new("+864001234567").expect("caller id"),
        headers: vec![],
        ring_timeout: Duration::from_secs(10),
        offer: Some(offer),
    })
    .await
    .expect("driver")
    .expect("placed")
}

/// Waits for the call's answer; returns when it came and the answer's SDP.
async fn answered(ev: &mut Receiver<Event>, call: CallId) -> (Instant, Option<String>) {
    let wait = async {
        loop {
            match ev.recv().await.expect("driver alive") {
                Event::Answered { call: c, offer, .. } if c == call => {
                    return (Instant::now(), offer)
                }
                Event::Failed { call: c, .. } if c == call => panic!("call failed"),
                _ => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .expect("answered in time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_customer_answers_an_offer_and_streams_its_wav_as_rtp_to_it() {
    if !peers_available() {
        return;
    }
    let dir = temp_dir("sipp-rtp");
    let (cust_wav, agent_wav) = phrases(&dir);
    let mut sipp = customer(Customer::Answer, &cust_wav, None, 1);
    let rtp = UdpSocket::bind("127.0.0.1:0").expect("bind rtp");
    let rtp_addr = rtp.local_addr().expect("addr");
    let rx = collect_rtp(rtp, Duration::from_millis(1500));
    let (d, mut ev) = dialler::live_endpoint(&dialler::trunk_group(&[sipp.addr], "")).await;
    let call = place(&d, offer(rtp_addr)).await;
    let (_, answer) = answered(&mut ev, call).await;
    let answer = answer.expect("the 200 carries an SDP answer");
    assert!(answer.contains("m=audio"), "{answer}");
    let got = tokio::task::spawn_blocking(move || rx.join().expect("rtp thread"))
        .await
        .expect("join");
    d.hangup(call).await.expect("driver").expect("hangup");
    let report = sipp.wait(Duration::from_secs(10));

    assert!(got.len() > 100, "RTP arrived: {} packets", got.len());
    let media_port = answer
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|p| p.parse::<u16>().ok())
        .expect("answer's media port");
    assert!(
        got.iter()
            .all(|(_, from, pt, _, p)| from.port() == media_port && *pt == 0 && p.len() == 160),
        "PCMU, 20 ms a packet, from the port of SIPp's SDP (symmetric RTP)"
    );
    assert!(
        got.windows(2).all(|w| w[1].3 == w[0].3.wrapping_add(1)),
        "consecutive sequence numbers"
    );
    let heard = pcmu_audio(&got);
    let (_, peak) = best_correlation(&read_wav_mono_8k(&cust_wav), &heard);
    assert!(peak > 0.9, "the RTP carries the customer's WAV: {peak}");
    let (_, other) = best_correlation(&read_wav_mono_8k(&agent_wav), &heard);
    assert!(other < 0.3, "and not another phrase: {other}");
    assert_eq!(report.successful, 1, "{}", report.screen);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_customer_plays_early_media_in_a_183_before_answering() {
    if !peers_available() {
        return;
    }
    let dir = temp_dir("sipp-early");
    let (cust_wav, _) = phrases(&dir);
    // Under the 2 s of early media.
    let early_wav = say(&dir, "early", "Please hold.");
    let mut sipp = customer(Customer::Early, &cust_wav, Some(&early_wav), 1);
    let rtp = UdpSocket::bind("127.0.0.1:0").expect("bind rtp");
    let rtp_addr = rtp.local_addr().expect("addr");
    let rx = collect_rtp(rtp, Duration::from_millis(1500));
    let (d, mut ev) = dialler::live_endpoint(&dialler::trunk_group(&[sipp.addr], "")).await;
    let call = place(&d, offer(rtp_addr)).await;
    let (at, _) = answered(&mut ev, call).await;
    let got = tokio::task::spawn_blocking(move || rx.join().expect("rtp thread"))
        .await
        .expect("join");
    d.hangup(call).await.expect("driver").expect("hangup");
    let report = sipp.wait(Duration::from_secs(10));

    let early: Vec<_> = got.iter().filter(|p| p.0 < at).cloned().collect();
    assert!(
        early.len() > 50,
        "RTP before the answer: {} packets",
        early.len()
    );
    let early_audio = pcmu_audio(&early);
    let (_, peak) = best_correlation(&read_wav_mono_8k(&early_wav), &early_audio);
    assert!(peak > 0.9, "the early media is the announcement: {peak}");
    assert!(rms(&early_audio) > 100.0, "not silence");
    let (_, peak) = best_correlation(&read_wav_mono_8k(&cust_wav), &pcmu_audio(&got));
    assert!(peak > 0.9, "then the customer speaks: {peak}");
    assert_eq!(report.successful, 1, "{}", report.screen);
}
