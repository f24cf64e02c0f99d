//! Every integration test of outdial, as one test binary: each file here is one suite (a module),
//! and the shared helpers are compiled once instead of once per suite. Why one binary: 51
//! binaries each linking the whole library took minutes of every CI build. `make test` runs the
//! suites in parallel lanes, one process per suite (.ci/test-lanes), so a suite still has its
//! process to itself; `cargo test --test it SUITE::` runs one suite by hand.

#[path = "../admin_support/mod.rs"]
mod admin_support;
#[macro_use]
#[path = "../common/mod.rs"]
mod common;
#[path = "../cpa_support/mod.rs"]
mod cpa_support;
#[path = "../common/dialler.rs"]
mod dialler;
#[path = "../engine_support/mod.rs"]
mod engine_support;
#[path = "../common/kamailio.rs"]
mod kamailio;
#[path = "../media_support/mod.rs"]
mod media_support;
#[path = "../common/uac.rs"]
mod uac;
#[path = "../web_support/mod.rs"]
mod web_support;
// SIPp helpers live in media_support (which includes tests/common/sipp.rs): one copy of the file.
use media_support::sipp;

mod admin_api;
mod admin_cli;
mod agent_dial_in;
mod api_fuzz;
mod api_spec;
mod cli_campaign;
mod cli_hostile;
mod config_mutation;
mod cpa_cli;
mod cpa_corpus;
mod cpa_e2e;
mod cpa_e2e_corpus;
mod engine_budget;
mod engine_callbacks;
mod engine_core;
mod engine_cpa;
mod engine_crash;
mod engine_e2e;
mod engine_fidelity;
mod engine_hostile;
mod engine_inbound;
mod engine_inbound_queue;
mod engine_media;
mod engine_media_inbound;
mod engine_opening;
mod engine_outage;
mod engine_pg;
mod engine_rates;
mod engine_records;
mod engine_sharing;
mod kamailio_routing;
mod listener_limits;
mod media_e2e;
mod media_peers;
mod media_shell;
mod pacing_budget;
mod pacing_cold_start;
mod pacing_cpa;
mod pacing_dialer;
mod pacing_opening;
mod pacing_strategies;
mod pacing_warm_start;
mod probe;
mod recordings_cli;
mod rtp_load;
mod sim_cpa;
mod sim_multi;
mod sim_queueing;
mod sip_core;
mod sip_dialog_routing;
mod sip_fuzz;
mod sip_hostile;
mod sip_media;
mod sip_presentation;
mod sip_recovery;
mod sip_udp;
mod sip_wire_headers;
mod sipp_outdial;
mod sipp_scenarios;
mod sipp_sim_peers;
mod store_callbacks;
mod store_engine;
mod store_lease;
mod store_load;
mod store_progress;
mod store_records;
mod store_writes;
mod web_desktop;
mod web_wallboard;
