//! What must hold at the end: `[expect]` (the LT, each node's outcome, hazards, the deadline)
//! and `[liveness]`.

use std::collections::BTreeMap;

use joinsim::{RejectionReason, RejectionStage};
use strum::VariantNames;
use toml::Spanned;

use super::Builder;
use crate::limits;
use crate::scenario::error::ScenarioError;
use crate::scenario::model::{
    Expectations, Liveness, NodeOutcome, OutcomeName, Step, Trigger, HAZARD_KINDS,
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
            Some(list) => Some(
                list.iter()
                    .map(|n| self.known(n, "the expected LT"))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
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
            if !HAZARD_KINDS.contains(&h.get_ref().as_str()) {
                return Err(self.err(
                    h.span(),
                    format!(
                        "unknown hazard {:?}; hazards: {}",
                        h.get_ref(),
                        HAZARD_KINDS.join(", ")
                    ),
                ));
            }
            hazards.push(h.get_ref().clone());
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
        })
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
}
