//! Voice activity: speech or not, per 20 ms frame.
//!
//! SKELETON (owned by the cpa-amd branch).
