//! Planted model errors: switches that make the model allow what the spec forbids, so that the
//! explorer (joinsim-sim's `explore`) can show it catches a wrong model. Off by default, and off
//! in trace validation: only [`State::with_flaw`](crate::State::with_flaw) turns one on.

use std::fmt;

/// A deliberate error in the model's rules (docs/explore.md, "The planted model errors").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ModelFlaw {
    /// Validation ignores the joiner's stored tag: a node initialized with another cluster's tag
    /// (at any Meta Storage version) is validated as if it were empty. Breaks spec step 4,
    /// "stored tag differs from the cluster's → reject".
    ValidationIgnoresTag,
    /// A cancel may override an answered init: the CMG log may apply `Cancelled` after
    /// `Answered`, and the cancel clears the vaults of a cluster a user was told exists. Breaks
    /// spec §5, "once any user got the tag of a cluster as the answer to an init, no cancel
    /// clears it".
    CancelIgnoresAnswer,
}

impl ModelFlaw {
    /// Every planted model error, in declaration order.
    pub const ALL: [ModelFlaw; 2] = [
        ModelFlaw::ValidationIgnoresTag,
        ModelFlaw::CancelIgnoresAnswer,
    ];

    /// Its name on the command line (`--model-bug NAME`).
    pub fn name(self) -> &'static str {
        match self {
            ModelFlaw::ValidationIgnoresTag => "validation-ignores-tag",
            ModelFlaw::CancelIgnoresAnswer => "cancel-ignores-answer",
        }
    }

    /// The flaw named `name`, if any.
    pub fn from_name(name: &str) -> Option<ModelFlaw> {
        ModelFlaw::ALL.into_iter().find(|f| f.name() == name)
    }
}

impl fmt::Display for ModelFlaw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
