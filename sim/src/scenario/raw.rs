//! The file as written: the TOML tables and fields of a scenario file, read with serde.
//!
//! Every table refuses fields it does not know (`deny_unknown_fields`), and every value that a
//! later check may refuse keeps its byte span ([`Spanned`]), so that the error can name its line
//! and column. Nothing here knows what the values mean: `validate.rs` turns these types into the
//! model (`model.rs`). See `docs/scenarios.md` for the fields.

use std::collections::BTreeMap;

use serde::Deserialize;
use strum::IntoStaticStr;
use toml::Spanned;

use super::error::{ScenarioError, Source};

/// The whole file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScenario {
    pub(super) name: Spanned<String>,
    pub(super) description: String,
    pub(super) seed: Option<Spanned<u64>>,
    pub(super) seeds: Option<Spanned<u64>>,
    pub(super) regression_seeds: Option<Spanned<Vec<u64>>>,
    pub(super) bug: Option<Spanned<String>>,
    pub(super) origin: Option<Spanned<RawOrigin>>,
    pub(super) network: Option<Spanned<RawNetwork>>,
    #[serde(default, rename = "cluster")]
    pub(super) clusters: Vec<Spanned<RawCluster>>,
    #[serde(rename = "node")]
    pub(super) nodes: Vec<Spanned<RawNode>>,
    #[serde(default, rename = "step")]
    pub(super) steps: Vec<Spanned<RawStep>>,
    pub(super) expect: Spanned<RawExpect>,
    pub(super) liveness: Option<Spanned<RawLiveness>>,
}

/// `[origin]`: where a fuzzer finding came from.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOrigin {
    pub(super) joinsim: Option<String>,
    pub(super) commit: Option<String>,
    pub(super) command: Option<String>,
    pub(super) failure: Option<String>,
    pub(super) trace_hash: Option<Spanned<String>>,
}

/// `[network]`: the network at the start.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNetwork {
    pub(super) latency_ms: Option<Spanned<Vec<u64>>>,
    pub(super) loss: Option<Spanned<f64>>,
}

/// `[[cluster]]`: a cluster that existed before the run.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCluster {
    pub(super) name: Spanned<String>,
    pub(super) id: Spanned<String>,
    pub(super) cmg: Vec<String>,
    pub(super) ms: Option<Vec<String>>,
    pub(super) ms_version: Option<Spanned<u64>>,
    pub(super) product: Option<Spanned<String>>,
    pub(super) protocol: Option<u32>,
}

/// `[[node]]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNode {
    pub(super) name: Spanned<String>,
    pub(super) label: Option<Spanned<String>>,
    pub(super) product: Option<Spanned<String>>,
    pub(super) protocol: Option<u32>,
    pub(super) seeds: Option<Vec<Spanned<String>>>,
    pub(super) start: Option<bool>,
    pub(super) vault: Option<Spanned<RawVault>>,
}

/// A node's `vault = { cluster = ..., ms_version = ... }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVault {
    pub(super) cluster: Spanned<String>,
    pub(super) ms_version: Option<Spanned<u64>>,
}

/// `[[step]]`: a trigger (`at_ms`, or `after` with `delay_ms`), the action's name, and the
/// fields of every action (which ones an action takes is its validation's business).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStep {
    pub(super) at_ms: Option<Spanned<u64>>,
    pub(super) after: Option<Spanned<RawCondition>>,
    pub(super) delay_ms: Option<Spanned<RawDelay>>,
    pub(super) action: Spanned<String>,
    pub(super) node: Option<Spanned<String>>,
    pub(super) via: Option<Spanned<String>>,
    pub(super) cluster: Option<String>,
    pub(super) cmg: Option<Vec<String>>,
    pub(super) ms: Option<Vec<String>>,
    pub(super) nodes: Option<Vec<String>>,
    pub(super) groups: Option<Vec<Vec<Spanned<String>>>>,
    pub(super) from: Option<Spanned<String>>,
    pub(super) to: Option<Spanned<String>>,
    pub(super) kind: Option<Spanned<String>>,
    pub(super) for_ms: Option<Spanned<u64>>,
    pub(super) id: Option<Spanned<String>>,
    pub(super) rule: Option<Spanned<String>>,
    pub(super) latency_ms: Option<Spanned<Vec<u64>>>,
    pub(super) loss: Option<Spanned<f64>>,
    pub(super) expect: Option<Spanned<String>>,
    pub(super) chance: Option<Spanned<f64>>,
    pub(super) skew_ms: Option<Spanned<u64>>,
    pub(super) drift_ppm: Option<Spanned<i64>>,
    pub(super) fault: Option<Spanned<String>>,
}

/// A step's `delay_ms`: a number of milliseconds (the wait after an `after` event), or, for a
/// `delay` step, the range `[min, max]` of extra latency it adds.
#[derive(Deserialize)]
#[serde(
    untagged,
    expecting = "a number of milliseconds, or [min, max] (the range of a `delay` step)"
)]
pub(super) enum RawDelay {
    /// Milliseconds.
    Ms(u64),
    /// `[min, max]` milliseconds.
    Range(Vec<u64>),
}

/// A step field that only some actions take, named as the file spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, IntoStaticStr)]
#[cfg_attr(test, derive(strum::VariantArray))]
#[strum(serialize_all = "snake_case")]
pub(super) enum StepField {
    Node,
    Via,
    Cluster,
    Cmg,
    Ms,
    Nodes,
    Groups,
    From,
    To,
    Kind,
    ForMs,
    Id,
    Rule,
    LatencyMs,
    Loss,
    Expect,
    Chance,
    SkewMs,
    DriftPpm,
    Fault,
    /// `delay_ms` without `after` (or of a `delay` step, whose range it is): with `after` it belongs to the trigger, which every action has.
    DelayMs,
}

impl StepField {
    /// The field's name in the file.
    pub(super) fn name(self) -> &'static str {
        self.into()
    }
}

impl RawStep {
    /// The action fields this step gives, in the order an error names the first one that its
    /// action does not take.
    pub(super) fn fields_given(&self) -> Vec<StepField> {
        // Every field, named: a field added to `RawStep` is a compile error here until it is
        // sorted into the trigger (`at_ms`, `after`, `action`) or the action fields.
        let RawStep {
            at_ms: _,
            after,
            delay_ms,
            action: _,
            node,
            via,
            cluster,
            cmg,
            ms,
            nodes,
            groups,
            from,
            to,
            kind,
            for_ms,
            id,
            rule,
            latency_ms,
            loss,
            expect,
            chance,
            skew_ms,
            drift_ppm,
            fault,
        } = self;
        let delay_is_the_actions = self.action.get_ref() == "delay";
        [
            (StepField::Node, node.is_some()),
            (StepField::Via, via.is_some()),
            (StepField::Cluster, cluster.is_some()),
            (StepField::Cmg, cmg.is_some()),
            (StepField::Ms, ms.is_some()),
            (StepField::Nodes, nodes.is_some()),
            (StepField::Groups, groups.is_some()),
            (StepField::From, from.is_some()),
            (StepField::To, to.is_some()),
            (StepField::Kind, kind.is_some()),
            (StepField::ForMs, for_ms.is_some()),
            (StepField::Id, id.is_some()),
            (StepField::Rule, rule.is_some()),
            (StepField::LatencyMs, latency_ms.is_some()),
            (StepField::Loss, loss.is_some()),
            (StepField::Expect, expect.is_some()),
            (StepField::Chance, chance.is_some()),
            (StepField::SkewMs, skew_ms.is_some()),
            (StepField::DriftPpm, drift_ppm.is_some()),
            (StepField::Fault, fault.is_some()),
            (
                StepField::DelayMs,
                delay_ms.is_some() && (after.is_none() || delay_is_the_actions),
            ),
        ]
        .into_iter()
        .filter_map(|(field, given)| given.then_some(field))
        .collect()
    }
}

/// A step's `after = { event = ..., node = ..., id = ..., group = ..., version = ... }`, and
/// either side of an `[[expect.order]]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCondition {
    pub(super) event: Spanned<String>,
    pub(super) node: Option<Spanned<String>>,
    pub(super) id: Option<Spanned<String>>,
    pub(super) group: Option<Spanned<String>>,
    pub(super) version: Option<Spanned<u64>>,
}

/// `[expect]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawExpect {
    pub(super) deadline_ms: Option<Spanned<u64>>,
    pub(super) lt: Option<Vec<Spanned<String>>>,
    pub(super) nodes: Option<BTreeMap<String, Spanned<String>>>,
    pub(super) hazards: Option<Vec<Spanned<String>>>,
    pub(super) allow_hazards: Option<bool>,
    pub(super) lt_version: Option<Spanned<u64>>,
    pub(super) cmg_lts_agree: Option<bool>,
    pub(super) lts: Option<Spanned<Vec<Vec<Spanned<String>>>>>,
    pub(super) ms_voters: Option<Spanned<Vec<Spanned<String>>>>,
    pub(super) ms_learners: Option<Vec<Spanned<String>>>,
    pub(super) ms_version: Option<Spanned<u64>>,
    pub(super) order: Option<Vec<Spanned<RawOrder>>>,
}

/// The fields of `[expect]`, named as the file spells them (`docs/scenarios.md` lists exactly
/// these; a test here checks that the parser takes each).
#[derive(Clone, Copy, Debug, PartialEq, Eq, IntoStaticStr, strum::VariantNames)]
#[cfg_attr(test, derive(strum::VariantArray))]
#[strum(serialize_all = "snake_case")]
pub enum ExpectField {
    /// `deadline_ms`.
    DeadlineMs,
    /// `lt`.
    Lt,
    /// `lt_version`.
    LtVersion,
    /// `lts`.
    Lts,
    /// `cmg_lts_agree`.
    CmgLtsAgree,
    /// `nodes`.
    Nodes,
    /// `ms_voters`.
    MsVoters,
    /// `ms_learners`.
    MsLearners,
    /// `ms_version`.
    MsVersion,
    /// `order` (`[[expect.order]]`).
    Order,
    /// `hazards`.
    Hazards,
    /// `allow_hazards`.
    AllowHazards,
}

/// One `[[expect.order]]`: `first` and `then`, each written like a step's `after`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOrder {
    pub(super) first: Spanned<RawCondition>,
    pub(super) then: Spanned<RawCondition>,
}

/// `[liveness]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLiveness {
    pub(super) enabled: Option<bool>,
    pub(super) timeout_ms: Option<Spanned<u64>>,
    pub(super) reason: Option<String>,
}

/// Reads the TOML of `source`: a syntax error, a missing or unknown field, or a value of the
/// wrong type is an error at its position (as `toml` reports it).
pub(super) fn read(source: &Source<'_>) -> Result<RawScenario, ScenarioError> {
    toml::from_str(source.text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        source.error(span, e.message().trim().to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::{at, step, HEAD};
    use super::*;

    #[test]
    fn unknown_fields_are_errors_with_their_position() {
        at(
            &format!("{HEAD}colour = 1\n[expect]\n"),
            7,
            1,
            "unknown field `colour`",
        );
        at(
            &format!("{HEAD}[[step]]\nat_ms = 1\naction = \"heal\"\nnode_name = \"a\"\n[expect]\n"),
            10,
            1,
            "unknown field `node_name`",
        );
        at(
            &format!("{HEAD}[expect]\nlt = []\nfoo = 2\n"),
            9,
            1,
            "unknown field `foo`",
        );
    }

    /// A value of each step field's type, as a file writes it.
    fn sample(field: StepField) -> &'static str {
        match field {
            StepField::Node
            | StepField::Via
            | StepField::From
            | StepField::To
            | StepField::Kind
            | StepField::Id
            | StepField::Rule
            | StepField::Expect
            | StepField::Fault => "\"a\"",
            StepField::Cluster => "\"c\"",
            StepField::Cmg | StepField::Ms | StepField::Nodes => "[\"a\"]",
            StepField::Groups => "[[\"a\"], [\"b\"]]",
            StepField::ForMs | StepField::DelayMs | StepField::SkewMs | StepField::DriftPpm => "1",
            StepField::Chance => "0.5",
            StepField::LatencyMs => "[1, 2]",
            StepField::Loss => "0.5",
        }
    }

    /// A value of each `[expect]` field, as a file writes it.
    fn expect_sample(field: ExpectField) -> &'static str {
        match field {
            ExpectField::DeadlineMs | ExpectField::LtVersion | ExpectField::MsVersion => "1",
            ExpectField::Lt | ExpectField::MsVoters | ExpectField::MsLearners => "[\"a\"]",
            ExpectField::Lts => "[[\"a\"], [\"b\"]]",
            ExpectField::CmgLtsAgree | ExpectField::AllowHazards => "true",
            ExpectField::Nodes => "{ a = \"joined\" }",
            ExpectField::Order => {
                "[{ first = { event = \"cluster_initialized\" }, then = { event = \"joined\", node = \"a\" } }]"
            }
            ExpectField::Hazards => "[\"two_clusters\"]",
        }
    }

    #[test]
    fn expect_fields_are_named_as_the_file_spells_them() {
        for &field in <ExpectField as strum::VariantArray>::VARIANTS {
            let name: &str = field.into();
            let text = format!("{HEAD}[expect]\n{name} = {}\n", expect_sample(field));
            read(&Source {
                file: "t.toml",
                text: &text,
            })
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn step_fields_are_named_as_the_file_spells_them() {
        for &field in <StepField as strum::VariantArray>::VARIANTS {
            let text = step(&format!(
                "action = \"heal\"\n{} = {}",
                field.name(),
                sample(field)
            ));
            let raw = read(&Source {
                file: "t.toml",
                text: &text,
            })
            .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(raw.steps[0].get_ref().fields_given(), vec![field]);
        }
    }
}
