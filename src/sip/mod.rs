//! SIP signalling built on rsip: transport (UDP, TCP), RFC 3261 transactions and timers, dialogs,
//! digest authentication, trunk groups with health and failover, and synthetic peers.
