//! The files a run can be written to (docs/trace.md, docs/debugging.md): the trace file, and the
//! pictures drawn from it. `joinsim run` and `joinsim demo` take them as flags; every fuzz
//! finding writes them beside its scenario file.

use std::path::{Path, PathBuf};

use crate::record::RunRecord;
use crate::render::chrome::chrome_trace;
use crate::render::mermaid::{mermaid, MermaidOptions};
use crate::render::timeline::timeline_html;
use crate::trace_file;

/// Which files to write for one run (each `None`: not written).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunFiles {
    /// The trace file, JSON Lines (`--trace-out`, docs/trace.md).
    pub trace_out: Option<PathBuf>,
    /// The timeline picture, one self-contained HTML page (`--timeline`, docs/debugging.md).
    pub timeline: Option<PathBuf>,
    /// The Mermaid sequence diagram, Markdown (`--mermaid`, docs/debugging.md).
    pub mermaid: Option<PathBuf>,
    /// Draw every message kind in the Mermaid diagram, Raft traffic and probes included
    /// (`--mermaid-all`).
    pub mermaid_all: bool,
    /// The Chrome Trace Event file for Perfetto (`--chrome-trace`, docs/debugging.md).
    pub chrome_trace: Option<PathBuf>,
}

impl RunFiles {
    /// The files written beside a scenario file `file` (a fuzz finding's): `X.toml` gets
    /// `X.jsonl`, the trace of its replay, and `X.html`, its timeline.
    pub fn beside(file: &Path) -> RunFiles {
        RunFiles {
            trace_out: Some(file.with_extension("jsonl")),
            timeline: Some(file.with_extension("html")),
            ..RunFiles::default()
        }
    }

    /// True when no file is asked for.
    pub fn is_empty(&self) -> bool {
        self.trace_out.is_none()
            && self.timeline.is_none()
            && self.mermaid.is_none()
            && self.chrome_trace.is_none()
    }

    /// Writes every file asked for and returns their paths, in the order above.
    ///
    /// # Errors
    /// Two files given one path (nothing is written), or a file that cannot be written: its
    /// path and the system's reason.
    pub fn write(&self, record: &RunRecord) -> Result<Vec<PathBuf>, String> {
        let named = [
            ("--trace-out", &self.trace_out),
            ("--timeline", &self.timeline),
            ("--mermaid", &self.mermaid),
            ("--chrome-trace", &self.chrome_trace),
        ];
        for (i, (flag, path)) in named.iter().enumerate() {
            let Some(path) = path else { continue };
            if let Some((other, _)) = named[..i].iter().find(|(_, p)| p.as_ref() == Some(path)) {
                return Err(format!(
                    "{other} and {flag} both name {}: give each file its own path",
                    path.display()
                ));
            }
        }
        let mut written = Vec::new();
        if let Some(path) = &self.trace_out {
            write_file(path, &trace_file::to_jsonl(record))?;
            written.push(path.clone());
        }
        if let Some(path) = &self.timeline {
            write_file(path, &timeline_html(record))?;
            written.push(path.clone());
        }
        if let Some(path) = &self.mermaid {
            let options = MermaidOptions {
                all_kinds: self.mermaid_all,
                ..MermaidOptions::default()
            };
            write_file(path, &mermaid(record, &options))?;
            written.push(path.clone());
        }
        if let Some(path) = &self.chrome_trace {
            write_file(path, &chrome_trace(record))?;
            written.push(path.clone());
        }
        Ok(written)
    }
}

/// Writes `text` to `path`.
///
/// # Errors
/// The path and the system's reason.
pub fn write_file(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_asked_writes_nothing_and_a_bad_path_says_which() {
        let record = RunRecord::default();
        assert!(RunFiles::default().is_empty());
        assert_eq!(RunFiles::default().write(&record), Ok(Vec::new()));
        let bad = RunFiles {
            trace_out: Some(PathBuf::from("/nonexistent-dir/run.jsonl")),
            ..RunFiles::default()
        };
        let error = bad.write(&record).unwrap_err();
        let beside = RunFiles::beside(Path::new("out/fuzz-7.toml"));
        assert_eq!(beside.trace_out, Some(PathBuf::from("out/fuzz-7.jsonl")));
        assert_eq!(beside.timeline, Some(PathBuf::from("out/fuzz-7.html")));
        assert!(
            error.starts_with("cannot write /nonexistent-dir/run.jsonl: "),
            "{error}"
        );
        let twice = RunFiles {
            trace_out: Some(PathBuf::from("x.html")),
            timeline: Some(PathBuf::from("x.html")),
            ..RunFiles::default()
        };
        assert_eq!(
            twice.write(&record).unwrap_err(),
            "--trace-out and --timeline both name x.html: give each file its own path"
        );
    }
}
