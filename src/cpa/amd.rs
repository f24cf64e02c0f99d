//! outdial's answering-machine detector: the greeting's cadence.
//!
//! SKELETON (owned by the cpa-amd branch).
