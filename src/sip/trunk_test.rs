//! `outdial trunk-test`: places N calls at a fixed rate through one trunk (the target), holds the
//! answered ones, ends them with BYE, and measures what a user needs to size a trunk.
