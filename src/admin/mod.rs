//! Supervisor control of a running engine: the admin HTTP API (axum, bearer tokens, audit trail),
//! Prometheus metrics, and the client used by `outdial pacing|agents|campaign pause`.
//! Owns no pacing logic: it validates requests and hands changes to the engine.
