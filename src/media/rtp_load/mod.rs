//! The RTP load generator (`outdial rtp-load`): N bidirectional G.711 streams through a relay
//! under test — outdial's media shell in-process, or rtpengine set up over its ng protocol —
//! measuring packets, loss, added latency and the relay's CPU time per call.

pub mod passthrough;
