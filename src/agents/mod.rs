//! The agent state machine (logged-out, ready, reserved, talking, wrap-up, paused) and skills.
//! Sans-IO: time is passed in; no tokio, sockets or database here.
