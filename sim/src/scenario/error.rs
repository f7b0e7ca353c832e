//! A scenario file that cannot be used, and where: every mistake names the file, the line and the
//! column of what is wrong.

use std::fmt;
use std::ops::Range;

/// A scenario file that cannot be used, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

impl std::error::Error for ScenarioError {}

/// The text of a scenario file and the name it goes by in errors: turns byte offsets (the spans
/// that `toml` keeps) into lines and columns.
pub(super) struct Source<'a> {
    /// The file's name, as errors show it.
    pub(super) file: &'a str,
    /// Its text.
    pub(super) text: &'a str,
}

impl Source<'_> {
    /// The 1-based line and column (in bytes) of a byte offset; an offset past the end is the end.
    pub(super) fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let column = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
        (line, column)
    }

    /// An error at the start of `span`.
    pub(super) fn error(&self, span: Range<usize>, message: impl Into<String>) -> ScenarioError {
        let (line, column) = self.position(span.start);
        ScenarioError {
            file: self.file.to_string(),
            line,
            column,
            message: message.into(),
        }
    }
}
