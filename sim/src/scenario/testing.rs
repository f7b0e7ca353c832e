//! Helpers for the unit tests of the scenario language: a small valid head of a file, and checks
//! of an error's position and message.

use super::{parse_scenario, ScenarioError};

/// The start of a valid file: a name, a description and two nodes, `a` and `b` (lines 1 to 6).
pub(super) const HEAD: &str =
    "name = \"t\"\ndescription = \"d\"\n[[node]]\nname = \"a\"\n[[node]]\nname = \"b\"\n";

/// A file of [`HEAD`], one step with `body`, and an empty `[expect]`.
pub(super) fn step(body: &str) -> String {
    format!("{HEAD}[[step]]\n{body}\n[expect]\n")
}

/// The error of text that must be refused.
pub(super) fn error_of(text: &str) -> ScenarioError {
    parse_scenario("t.toml", text).expect_err("the text is invalid")
}

/// Checks that `text` is refused at `line`:`column` with a message that contains `contains`.
pub(super) fn at(text: &str, line: usize, column: usize, contains: &str) {
    let e = error_of(text);
    assert_eq!((e.line, e.column), (line, column), "{e}");
    assert!(e.message.contains(contains), "{e}");
    assert!(
        e.to_string()
            .starts_with(&format!("t.toml:{line}:{column}: ")),
        "{e}"
    );
}
