//! Per-hour campaign figures from call records (pure). Filled in below.
