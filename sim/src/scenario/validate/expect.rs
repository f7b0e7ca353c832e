//! What must hold at the end: `[expect]` (the LT, each node's outcome, hazards, the deadline)
//! and `[liveness]`.

use std::collections::BTreeMap;

use joinsim::{RejectionReason, RejectionStage};
use strum::VariantNames;
use toml::Spanned;

use super::Builder;
use crate::checkers::HazardKind;
use crate::limits;
use crate::scenario::error::ScenarioError;
use crate::scenario::model::{
    Expectations, Liveness, NodeOutcome, Order, OutcomeName, Step, Trigger,
};
use crate::scenario::raw::{RawExpect, RawLiveness};

impl Builder<'_, '_> {
    /// `[expect]`: known nodes, outcomes and hazards; a deadline after the last `at_ms`.
    pub(super) fn expect(
        &self,
        raw: &Spanned<RawExpect>,
        steps: &[Step],
    ) -> Result<Expectations, ScenarioError> {
        let e = raw.get_ref();
        let lt = match &e.lt {
            None => None,
            Some(list) => {
                let mut names = Vec::with_capacity(list.len());
                for n in list {
                    let label = self.known(n, "the expected LT")?;
                    let name = self.names.get(&label).cloned().unwrap_or_default();
                    if let Some(earlier) = names
                        .iter()
                        .find(|l: &&String| self.names.get(*l) == Some(&name))
                    {
                        let what = if *earlier == label {
                            format!("the expected LT names {label:?} twice")
                        } else {
                            format!("the expected LT names {earlier:?} and {label:?}, two nodes named {name:?}")
                        };
                        return Err(self.err(n.span(), format!("{what} (an LT holds a name once)")));
                    }
                    names.push(label);
                }
                Some(names)
            }
        };
        let lts = match &e.lts {
            None => None,
            Some(lists) => {
                if lists.get_ref().is_empty() {
                    return Err(self.err(
                        lists.span(),
                        "lts lists the LT of each cluster: at least one list",
                    ));
                }
                let mut out: Vec<Vec<String>> = Vec::new();
                for list in lists.get_ref() {
                    if list.is_empty() {
                        return Err(self.err(
                            lists.span(),
                            "an expected LT of `lts` is empty: a cluster's LT holds its leader at least",
                        ));
                    }
                    let labels = self.name_list(list, "an expected LT of `lts`")?;
                    for (label, raw) in labels.iter().zip(list) {
                        if out.iter().any(|earlier| earlier.contains(label)) {
                            return Err(self.err(
                                raw.span(),
                                format!("{label:?} is in two expected LTs of `lts` (a node joins one cluster)"),
                            ));
                        }
                    }
                    out.push(labels);
                }
                Some(out)
            }
        };
        let ms_voters = e
            .ms_voters
            .as_ref()
            .map(|l| self.name_list(l.get_ref(), "the expected Meta Storage voters"))
            .transpose()?;
        if let Some(raw) = e.ms_voters.as_ref().filter(|l| l.get_ref().is_empty()) {
            return Err(self.err(
                raw.span(),
                "ms_voters is empty: a Meta Storage group has a voter at least",
            ));
        }
        let ms_learners = e
            .ms_learners
            .as_ref()
            .map(|l| self.name_list(l, "the expected Meta Storage learners"))
            .transpose()?;
        let ms_version = e
            .ms_version
            .as_ref()
            .map(|v| self.bounded(v, "ms_version", &limits::MS_VERSION))
            .transpose()?;
        let lt_version = e
            .lt_version
            .as_ref()
            .map(|v| self.bounded(v, "lt_version", &limits::LT_VERSION))
            .transpose()?;
        let ids = super::step::ids_of(steps);
        let mut order = Vec::new();
        for o in e.order.iter().flatten() {
            let (line, _) = self.source.position(o.span().start);
            let first = self.condition(&o.get_ref().first, &ids)?;
            let then = self.condition(&o.get_ref().then, &ids)?;
            if first == then {
                return Err(self.err(
                    o.span(),
                    "an order's `first` and `then` are the same event: it can never hold",
                ));
            }
            order.push(Order { line, first, then });
        }
        let mut nodes = BTreeMap::new();
        for (label, outcome) in e.nodes.iter().flatten() {
            if !self.labels.contains(label) {
                return Err(self.err(
                    outcome.span(),
                    format!("expectation names unknown node {label:?}"),
                ));
            }
            nodes.insert(label.clone(), self.outcome(outcome)?);
        }
        let mut hazards = Vec::new();
        for h in e.hazards.iter().flatten() {
            let Ok(kind) = h.get_ref().parse::<HazardKind>() else {
                return Err(self.err(
                    h.span(),
                    format!(
                        "unknown hazard {:?}; hazards: {}",
                        h.get_ref(),
                        HazardKind::VARIANTS.join(", ")
                    ),
                ));
            };
            hazards.push(kind);
        }
        let deadline_ms = match &e.deadline_ms {
            Some(d) => self.bounded(d, "deadline_ms", &limits::DEADLINE_MS)?,
            None => 120_000,
        };
        if let Some(last) = steps
            .iter()
            .filter_map(|s| match s.trigger {
                Trigger::At(t) => Some(t),
                _ => None,
            })
            .max()
        {
            if last >= deadline_ms {
                return Err(self.err(
                    raw.span(),
                    format!("deadline_ms {deadline_ms} is not after the last step at {last} ms"),
                ));
            }
        }
        Ok(Expectations {
            deadline_ms,
            lt,
            nodes,
            hazards,
            allow_hazards: e.allow_hazards.unwrap_or(false),
            lt_version,
            cmg_lts_agree: e.cmg_lts_agree.unwrap_or(false),
            lts,
            ms_voters,
            ms_learners,
            ms_version,
            order,
        })
    }

    /// A list of known labels, each node name once (`what` names the list in errors).
    fn name_list(
        &self,
        list: &[Spanned<String>],
        what: &str,
    ) -> Result<Vec<String>, ScenarioError> {
        let mut labels: Vec<String> = Vec::with_capacity(list.len());
        for n in list {
            let label = self.known(n, what)?;
            let name = self.names.get(&label).cloned().unwrap_or_default();
            if let Some(earlier) = labels.iter().find(|l| self.names.get(*l) == Some(&name)) {
                let detail = if *earlier == label {
                    format!("{what} names {label:?} twice")
                } else {
                    format!("{what} names {earlier:?} and {label:?}, two nodes named {name:?}")
                };
                return Err(self.err(n.span(), format!("{detail} (a list holds a name once)")));
            }
            labels.push(label);
        }
        Ok(labels)
    }

    /// A node's expected outcome: an [`OutcomeName`], and after `rejected` optionally
    /// `:<pre_init|join>` and `:<reason>` (a [`RejectionReason`] kind).
    fn outcome(&self, raw: &Spanned<String>) -> Result<NodeOutcome, ScenarioError> {
        let text = raw.get_ref().as_str();
        let bad = || {
            self.err(
                raw.span(),
                format!(
                    "unknown outcome {text:?}; expected {}, rejected:<reason> or rejected:<pre_init|join>:<reason>, with reasons {}",
                    OutcomeName::VARIANTS.join(", "),
                    RejectionReason::VARIANTS.join(", ")
                ),
            )
        };
        if let Ok(name) = text.parse::<OutcomeName>() {
            return Ok(match name {
                OutcomeName::Joined => NodeOutcome::Joined,
                OutcomeName::Waiting => NodeOutcome::Waiting,
                OutcomeName::Down => NodeOutcome::Down,
                OutcomeName::Any => NodeOutcome::Any,
                OutcomeName::Rejected => NodeOutcome::Rejected {
                    stage: None,
                    reason: None,
                },
            });
        }
        let rest = text.strip_prefix("rejected:").ok_or_else(bad)?;
        let stage_named = |name: &str| name.parse::<RejectionStage>().ok();
        let (stage, reason) = match rest.split_once(':') {
            Some((stage, r)) => (Some(stage_named(stage).ok_or_else(bad)?), r),
            None => match stage_named(rest) {
                Some(stage) => (Some(stage), ""),
                None => (None, rest),
            },
        };
        if !reason.is_empty() && !RejectionReason::VARIANTS.contains(&reason) {
            return Err(bad());
        }
        if let Some(stage) = stage.filter(|_| !reason.is_empty()) {
            let possible = reasons_at(stage);
            if !possible.contains(&reason) {
                return Err(self.err(
                    raw.span(),
                    format!(
                        "outcome {text:?} cannot happen: {} refuses only for {}",
                        stage.kind(),
                        possible.join(", ")
                    ),
                ));
            }
        }
        Ok(NodeOutcome::Rejected {
            stage,
            reason: (!reason.is_empty()).then(|| reason.to_string()),
        })
    }

    /// `[liveness]`: on by default; off only with a `reason`.
    pub(super) fn liveness(
        &self,
        raw: Option<&Spanned<RawLiveness>>,
    ) -> Result<Liveness, ScenarioError> {
        let Some(l) = raw else {
            return Ok(Liveness {
                enabled: true,
                timeout_ms: 30_000,
                reason: None,
            });
        };
        let raw_l = l.get_ref();
        let enabled = raw_l.enabled.unwrap_or(true);
        let reason = raw_l.reason.clone().filter(|r| !r.trim().is_empty());
        if !enabled && reason.is_none() {
            return Err(self.err(
                l.span(),
                "the liveness phase may be turned off only with a `reason`",
            ));
        }
        Ok(Liveness {
            enabled,
            timeout_ms: match &raw_l.timeout_ms {
                Some(t) => self.bounded(t, "timeout_ms", &limits::LIVENESS_TIMEOUT_MS)?,
                None => 30_000,
            },
            reason,
        })
    }
}

/// The rejection reasons each stage can give, as the protocol produces them: pre-init
/// validation (src/topology.rs, src/node/physical.rs) refuses on versions and tags; join
/// validation (src/cmg.rs `validate_join`, and the CMG leader's duplicate-name refusal) on
/// versions, tags, the Meta Storage version and duplicate names. An expected outcome naming
/// another pair could never be met, so it is a file error (exit 2), not a failing run.
fn reasons_at(stage: RejectionStage) -> &'static [&'static str] {
    match stage {
        RejectionStage::PreInit => &[
            "protocol_mismatch",
            "product_mismatch",
            "tag_mismatch",
            "conflicting_tag",
        ],
        RejectionStage::Join => &[
            "protocol_mismatch",
            "product_mismatch",
            "tag_mismatch",
            "ms_version_ahead",
            "duplicate_name",
        ],
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::testing::{at, HEAD};

    #[test]
    fn expectations_that_name_no_node_are_errors() {
        at(
            &format!("{HEAD}[expect]\nnodes = {{ c = \"joined\" }}\n"),
            8,
            15,
            "unknown node \"c\"",
        );
        at(
            &format!("{HEAD}[expect]\nlt = [\"a\", \"x\"]\n"),
            8,
            12,
            "unknown node \"x\"",
        );
        at(
            &format!("{HEAD}[expect]\nnodes = {{ a = \"happy\" }}\n"),
            8,
            15,
            "unknown outcome",
        );
        at(
            &format!("{HEAD}[expect]\nhazards = [\"fire\"]\n"),
            8,
            12,
            "unknown hazard",
        );
    }

    #[test]
    fn an_expected_lt_naming_two_nodes_of_one_name_is_an_error() {
        let text = "name = \"t\"\ndescription = \"d\"\n[[node]]\nname = \"a\"\n[[node]]\nname = \"a\"\nlabel = \"a2\"\n[expect]\nlt = [\"a\", \"a2\"]\n";
        at(text, 9, 12, "two nodes named \"a\"");
    }

    #[test]
    fn the_new_expectations_are_read_and_checked() {
        use crate::scenario::model::Condition;
        let text = format!(
            "{HEAD}[[step]]\naction = \"init\"\nid = \"i1\"\nvia = \"a\"\ncluster = \"c\"\n[expect]\nlt_version = 2\nlts = [[\"a\"], [\"b\"]]\ncmg_lts_agree = true\nms_voters = [\"a\"]\nms_learners = [\"b\"]\nms_version = 2\n[[expect.order]]\nfirst = {{ event = \"cluster_initialized\" }}\nthen = {{ event = \"init_answered\", id = \"i1\" }}\n"
        );
        let s = crate::scenario::parse_scenario("t.toml", &text).unwrap_or_else(|e| panic!("{e}"));
        let e = &s.expect;
        assert_eq!(e.lt_version, Some(2));
        assert_eq!(
            e.lts,
            Some(vec![vec!["a".to_string()], vec!["b".to_string()]])
        );
        assert!(e.cmg_lts_agree);
        assert_eq!(e.ms_voters, Some(vec!["a".to_string()]));
        assert_eq!(e.ms_learners, Some(vec!["b".to_string()]));
        assert_eq!(e.ms_version, Some(2));
        assert_eq!(e.order.len(), 1);
        assert_eq!(e.order[0].line, 19);
        assert_eq!(e.order[0].first, Condition::ClusterInitialized);
        assert_eq!(e.order[0].then, Condition::InitAnswered("i1".into()));
        at(
            &format!("{HEAD}[expect]\nlts = [[\"a\"], [\"zz\"]]\n"),
            8,
            16,
            "unknown node \"zz\"",
        );
        at(
            &format!("{HEAD}[expect]\nlts = []\n"),
            8,
            7,
            "at least one list",
        );
        at(
            &format!("{HEAD}[expect]\nms_voters = [\"a\", \"a\"]\n"),
            8,
            19,
            "names \"a\" twice",
        );
        // Expectations that can never hold are file errors (issue 11's review).
        at(&format!("{HEAD}[expect]\nlts = [[]]\n"), 8, 7, "is empty");
        at(
            &format!("{HEAD}[expect]\nlts = [[\"a\"], [\"a\"]]\n"),
            8,
            16,
            "in two expected LTs",
        );
        at(
            &format!("{HEAD}[expect]\nms_voters = []\n"),
            8,
            13,
            "ms_voters is empty",
        );
        at(
            &format!("{HEAD}[expect]\n[[expect.order]]\nfirst = {{ event = \"joined\", node = \"a\" }}\nthen = {{ event = \"joined\", node = \"a\" }}\n"),
            8,
            1,
            "the same event",
        );
        at(
            &format!("{HEAD}[expect]\nms_version = 0\n"),
            8,
            14,
            "ms_version = 0 is out of range",
        );
        at(
            &format!("{HEAD}[expect]\nlt_version = 1000001\n"),
            8,
            14,
            "lt_version = 1000001 is out of range",
        );
        at(
            &format!("{HEAD}[expect]\n[[expect.order]]\nfirst = {{ event = \"joined\", node = \"a\" }}\nthen = {{ event = \"init_answered\", id = \"nope\" }}\n"),
            10,
            40,
            "no earlier init step has id \"nope\"",
        );
        at(
            &format!("{HEAD}[expect]\n[[expect.order]]\nfirst = {{ event = \"boom\" }}\nthen = {{ event = \"joined\", node = \"a\" }}\n"),
            9,
            19,
            "unknown event \"boom\"",
        );
    }

    #[test]
    fn an_expected_lt_naming_a_node_twice_is_an_error() {
        at(
            &format!("{HEAD}[expect]\nlt = [\"a\", \"a\"]\n"),
            8,
            12,
            "names \"a\" twice",
        );
    }

    #[test]
    fn a_stage_and_reason_the_protocol_never_pairs_is_an_error() {
        at(
            &format!("{HEAD}[expect]\nnodes = {{ a = \"rejected:pre_init:duplicate_name\" }}\n"),
            8,
            15,
            "cannot happen: pre_init refuses only for",
        );
        at(
            &format!("{HEAD}[expect]\nnodes = {{ a = \"rejected:join:conflicting_tag\" }}\n"),
            8,
            15,
            "cannot happen: join refuses only for",
        );
        for ok in [
            "rejected:join:duplicate_name",
            "rejected:pre_init:conflicting_tag",
            "rejected:duplicate_name",
            "rejected:pre_init",
        ] {
            let text = format!("{HEAD}[expect]\nnodes = {{ a = \"{ok}\" }}\n");
            assert!(
                crate::scenario::parse_scenario("t.toml", &text).is_ok(),
                "{ok}"
            );
        }
    }

    #[test]
    fn every_reason_is_possible_at_some_stage() {
        use joinsim::RejectionStage;
        for kind in <joinsim::RejectionReason as strum::VariantNames>::VARIANTS {
            assert!(
                [RejectionStage::PreInit, RejectionStage::Join]
                    .into_iter()
                    .any(|s| super::reasons_at(s).contains(kind)),
                "{kind}"
            );
        }
    }
}
