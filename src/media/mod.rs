//! The media plane: outdial anchors the RTP of every call it places or takes (issue 17).
//!
//! Layout, each part owning one thing:
//! - [`io`]: what crosses the media plane's edge — leg ids, commands from the engine, events
//!   back, datagrams in and out, the audio tap's frames. Plain data.
//! - [`core`]: the sans-IO media core ([`core::MediaCore`]): legs, latching, the relay switch
//!   between a customer and an agent, prompts and tones, RFC 4733 and in-band DTMF, RTCP, the
//!   per-leg figures, the tap. Takes `now` and bytes, returns transmits and events; owns no
//!   socket, clock, thread or file. Its parts: `leg` (one leg's state), [`rtp`] and [`rtcp`]
//!   (wire formats), [`stream`] (each leg's own continuous SSRC/sequence/timestamp), [`stats`]
//!   (RFC 3550 loss and jitter), [`emodel`] (MOS), [`dtmf`] (RFC 4733 and Goertzel),
//!   [`jitter`] (the tap's reordering buffer), [`transcode`] (PCMU↔PCMA), [`tones`].
//! - [`sdp`]: SDP offer/answer (RFC 3264) for audio: outdial's offers and answers, parsing what
//!   carriers send.
//! - [`g711`], [`wav`], [`recording`]: audio formats, prompt loading, the recording writer (a
//!   tap consumer; its crash sweep in `recording::stale`).
//! - [`analysis`]: call-progress analysis of tapped legs (one [`crate::cpa`] classifier per
//!   analysed leg; verdicts out as events), run by the shell's analysis thread.
//! - [`ports`]: the RTP port pool (plain data, owned by the engine core).
//! - [`shell`]: the I/O shell — mio worker threads with sockets driving [`core::MediaCore`]
//!   (threads, not tokio tasks: the relay is a hot path, as rtpengine's workers are).
//! - [`rx_stamp`], [`latency`]: kernel receive timestamps and a lock-free latency histogram,
//!   for measuring the relay's own delay (the shell's opt-in figure, the load generator's).
//! - [`rtp_load`]: the RTP load generator behind `outdial rtp-load` (outdial's shell vs rtpengine).
//!
//! Nothing here looks at SIP headers, the store or the pacing core.

pub mod analysis;
pub mod core;
pub mod dtmf;
pub mod emodel;
pub mod g711;
pub mod io;
pub mod jitter;
pub mod latency;
mod leg;
pub mod ports;
pub mod recording;
pub mod rtcp;
pub mod rtp;
pub mod rtp_load;
pub mod rx_stamp;
pub mod sdp;
pub mod shell;
pub mod stats;
pub mod stream;
pub mod tones;
pub mod transcode;
pub mod wav;
