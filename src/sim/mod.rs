//! Discrete-event simulator: drives the pacing core and agent state machines on a virtual clock
//! against synthetic trunks and agents, with common random numbers across strategies.
