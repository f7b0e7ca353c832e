//! A recorded run: what the trace file, the timeline picture, the Mermaid diagram and the Chrome
//! trace are made from (docs/trace.md). One seed's trace entries with the run's identity and each
//! node's final outcome.

use std::collections::BTreeMap;

use crate::demo::DemoOutcome;
use crate::scenario::SeedResult;
use crate::sim::RunReport;
use crate::trace::{TraceEntry, TraceKind};

/// One run, ready to be written or drawn.
#[derive(Clone, Debug, Default)]
pub struct RunRecord {
    /// The scenario's name (`demo` for the canonical run).
    pub scenario: String,
    /// The scenario's file (empty for the demo).
    pub file: String,
    /// The seed.
    pub seed: u64,
    /// The trace hash, 16 hex digits.
    pub trace_hash: String,
    /// Simulated time at the end, milliseconds.
    pub sim_time_ms: u64,
    /// True when the run passed every check.
    pub passed: bool,
    /// Each node's final outcome by label (`joined`, `rejected: ...`, `down`, ...): the lanes
    /// of a picture, in label order.
    pub nodes: BTreeMap<String, String>,
    /// Every trace entry of the run, in order.
    pub entries: Vec<TraceEntry>,
    /// The expectations and liveness conditions that did not hold (empty when none failed).
    pub failures: Vec<String>,
}

impl RunRecord {
    /// The record of one scenario seed run with its trace kept (`run_scenario(.., true)`).
    pub fn from_result(result: &SeedResult) -> RunRecord {
        RunRecord {
            scenario: result.scenario.clone(),
            file: result.file.clone(),
            seed: result.seed,
            trace_hash: result.trace_hash.clone(),
            sim_time_ms: result.sim_time_ms,
            passed: result.passed,
            nodes: result.nodes.clone(),
            entries: result.trace.clone(),
            failures: result.failures.clone(),
        }
    }

    /// The record of a demo run (`joinsim demo`): scenario `demo`, each node's outcome from its
    /// final state.
    pub fn from_demo(report: &RunReport<DemoOutcome>) -> RunRecord {
        let nodes = report
            .value
            .nodes
            .iter()
            .map(|(label, _, _)| {
                let view = report.final_views.get(label);
                (label.clone(), crate::scenario::runner::describe(view))
            })
            .collect();
        RunRecord {
            scenario: "demo".into(),
            file: String::new(),
            seed: report.seed,
            trace_hash: format!("{:016x}", report.trace_hash),
            sim_time_ms: report.sim_time.as_millis() as u64,
            passed: report.value.all_joined && report.value.init.is_ok(),
            nodes,
            entries: report.trace.clone(),
            failures: match (&report.value.init, report.value.all_joined) {
                (Err(e), _) => vec![format!("the init failed: {e}")],
                (Ok(_), false) => vec!["not every node joined".to_string()],
                (Ok(_), true) => Vec::new(),
            },
        }
    }

    /// The lanes of a picture: every node label of the outcomes, then any other label the trace
    /// names (the simulated `user`, a node added during the run), in first-appearance order;
    /// never the world's `-`.
    pub fn lanes(&self) -> Vec<String> {
        let mut lanes: Vec<String> = self.nodes.keys().cloned().collect();
        for entry in &self.entries {
            let mut names = vec![entry.node.as_str()];
            if let TraceKind::Message(m) = &entry.kind {
                names.push(m.from.as_str());
                names.push(m.to.as_str());
            }
            for name in names {
                if name != "-" && !lanes.iter().any(|l| l == name) {
                    lanes.push(name.to_string());
                }
            }
        }
        lanes
    }

    /// The first checker verdict of the run, if any.
    pub fn first_violation(&self) -> Option<&TraceEntry> {
        self.entries
            .iter()
            .find(|e| matches!(e.kind, TraceKind::Verdict(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{HarnessEvent, MessageFate, MessageRecord, VerdictRecord};
    use joinsim::MessageKind;

    fn entry(time_us: u64, node: &str, kind: TraceKind) -> TraceEntry {
        TraceEntry {
            time_us,
            node: node.into(),
            kind,
        }
    }

    #[test]
    fn lanes_are_the_nodes_then_other_names_in_order_and_the_first_verdict_is_found() {
        let record = RunRecord {
            nodes: [("n2", "joined"), ("n1", "joined")]
                .into_iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            entries: vec![
                entry(1, "-", TraceKind::Harness(HarnessEvent::Healed)),
                entry(
                    2,
                    "user",
                    TraceKind::Message(MessageRecord {
                        id: 1,
                        from: "user".into(),
                        to: "n3".into(),
                        kind: MessageKind::InitRequest,
                        fate: MessageFate::Sent,
                    }),
                ),
                entry(
                    3,
                    "-",
                    TraceKind::Verdict(VerdictRecord {
                        invariant: "always_x".into(),
                        nodes: vec![],
                        detail: "d".into(),
                    }),
                ),
            ],
            ..RunRecord::default()
        };
        assert_eq!(record.lanes(), ["n1", "n2", "user", "n3"]);
        assert_eq!(record.first_violation().unwrap().time_us, 3);
    }
}
