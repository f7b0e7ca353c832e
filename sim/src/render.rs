//! Pictures of a recorded run ([`crate::record::RunRecord`]), each drawn from the run's trace
//! entries alone, so that the same seed always draws the same picture: the timeline page, an
//! SVG swimlane diagram in one self-contained HTML file ([`timeline`]); a Mermaid sequence
//! diagram to paste into an issue ([`mermaid`]); and a Chrome Trace Event file for Perfetto and
//! `chrome://tracing` ([`chrome`]). `docs/debugging.md` ("The timeline", "Diagrams: Mermaid and
//! Perfetto") shows how to read each.

pub mod chrome;
pub mod mermaid;
pub mod timeline;

#[cfg(test)]
pub(crate) mod testing;
