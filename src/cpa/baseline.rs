//! app_amd's documented energy state machine, restated.
//!
//! SKELETON (owned by the cpa-amd branch).
