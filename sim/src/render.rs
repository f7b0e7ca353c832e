//! Pictures of a recorded run ([`crate::record::RunRecord`]), each drawn from the run's trace
//! entries alone, so that the same seed always draws the same picture: a Mermaid sequence
//! diagram to paste into an issue ([`mermaid`]) and a Chrome Trace Event file for Perfetto and
//! `chrome://tracing` ([`chrome`]). `docs/debugging.md` ("Diagrams: Mermaid and Perfetto") shows
//! how to open each.

pub mod chrome;
pub mod mermaid;

#[cfg(test)]
pub(crate) mod testing;
