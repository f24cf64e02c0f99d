//! The live engine: a thin tokio shell that leases leads from the store, asks the pacing core how
//! many calls to place, places them over SIP trunks and connects answers to agents.
