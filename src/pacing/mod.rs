//! The pacing core: call state machine, online estimators and the dial-mode decisions (preview,
//! progressive, power, predictive, adaptive, rate). Sans-IO: plain data in, decisions out.

mod mode;

pub use mode::{DropRule, Mode, ModeError};
