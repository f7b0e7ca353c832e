//! Fuzzing campaigns: random scenarios drawn swarm-style from seeds, run with every invariant and
//! the liveness phase, failures shrunk to minimal scenario files. See `docs/fuzzing.md`.

pub mod campaign;
pub mod case;
pub mod guide;
pub mod marks;

pub use crate::failure::FailureKind;
pub use campaign::{fuzz, Finding, FuzzOptions, Summary, DEFAULT_SHRINK_BUDGET};
pub use case::{fuzz_case, FuzzCase, Weather};
