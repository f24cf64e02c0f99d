//! Command-line front ends, one file per domain. Each parses its raw arguments (clap), calls the
//! library, and prints; no domain rules live here.

pub mod admin;
pub mod campaign;
pub mod cpa;
pub mod dnc;
pub mod recordings;
pub mod report;
pub mod rtp_load;
pub mod run;
pub mod sim;
pub mod sip;

/// Builds the tokio runtime used by commands that talk to the store or the network.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
