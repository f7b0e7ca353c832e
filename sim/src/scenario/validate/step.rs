//! The timeline: each `[[step]]`'s trigger (`at_ms`, or `after` an event plus `delay_ms`) and its
//! action.
//!
//! [`Builder::action`] has one arm per [`ActionName`]: the fields the action takes (any other
//! action field is an error) and what it makes of them. Adding an action adds its arm there.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use joinsim::{AdminError, InitError, InitParams, MessageKind};
use strum::{IntoStaticStr, VariantNames};
use toml::Spanned;

use super::Builder;
use crate::limits;
use crate::network::MessageFilter;
use crate::scenario::error::ScenarioError;
use crate::scenario::model::{
    Action, ActionName, AnswerExpectation, AnswerWord, Condition, ConditionEvent, Step, Target,
    Trigger, CMG_LEADER, SAME_TAG_PREFIX,
};
use crate::scenario::raw::{RawCondition, RawStep, StepField};

/// The kind of step an `id` belongs to. Ids are unique over all steps; a condition, an expected
/// answer or a `release` may name only the id of an earlier step of the right kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
enum IdOf {
    /// An `init` step.
    Init,
    /// A `reconfigure_ms` step (an admin command).
    Admin,
    /// A `hold` or `drop` step.
    Rule,
}

/// The ids of the steps so far, and whose they are.
type Ids = BTreeMap<String, IdOf>;

impl Builder<'_, '_> {
    /// The `[[step]]`s in file order: `at_ms` never goes down, ids are unique, at most
    /// [`crate::network::MAX_RULES`] hold and drop steps.
    pub(super) fn steps(&self, raw: &[Spanned<RawStep>]) -> Result<Vec<Step>, ScenarioError> {
        let mut steps = Vec::new();
        let mut last_at: Option<u64> = None;
        let mut ids = Ids::new();
        let mut rule_steps = 0usize;
        for (index, spanned) in raw.iter().enumerate() {
            let step = spanned.get_ref();
            let (line, _) = self.source.position(spanned.span().start);
            let trigger = match (&step.at_ms, &step.after) {
                (Some(at), Some(_)) => {
                    return Err(
                        self.err(at.span(), "a step has either `at_ms` or `after`, not both")
                    );
                }
                (Some(at), None) => {
                    if let Some(previous) = last_at {
                        if *at.get_ref() < previous {
                            return Err(self.err(
                                at.span(),
                                format!(
                                    "step {} at {} ms comes after a step at {previous} ms: times out of order",
                                    index + 1,
                                    at.get_ref()
                                ),
                            ));
                        }
                    }
                    self.bounded(at, "at_ms", &limits::STEP_TIME_MS)?;
                    last_at = Some(*at.get_ref());
                    Trigger::At(*at.get_ref())
                }
                (None, Some(cond)) => Trigger::After {
                    condition: self.condition(cond, &ids)?,
                    delay_ms: match &step.delay_ms {
                        Some(d) => self.bounded(d, "delay_ms", &limits::STEP_TIME_MS)?,
                        None => 0,
                    },
                },
                (None, None) => Trigger::Immediately,
            };
            let action = self.action(step, spanned.span(), &mut ids)?;
            if matches!(action, Action::Hold { .. } | Action::Drop { .. }) {
                rule_steps += 1;
                if rule_steps > crate::network::MAX_RULES {
                    return Err(self.err(
                        spanned.span(),
                        format!(
                            "a scenario has at most {} hold and drop steps",
                            crate::network::MAX_RULES
                        ),
                    ));
                }
            }
            steps.push(Step {
                line,
                trigger,
                action,
            });
        }
        Ok(steps)
    }

    /// `after = { event = ..., node = ..., id = ... }`: a known event, with the `node` or the
    /// `id` it needs (fields it does not need are ignored).
    fn condition(
        &self,
        cond: &Spanned<RawCondition>,
        ids: &Ids,
    ) -> Result<Condition, ScenarioError> {
        let c = cond.get_ref();
        let event = c.event.get_ref().as_str();
        let Ok(name) = event.parse::<ConditionEvent>() else {
            return Err(self.err(
                c.event.span(),
                format!(
                    "unknown event {event:?}; a step can wait for: {}",
                    ConditionEvent::VARIANTS.join(", ")
                ),
            ));
        };
        let node = || -> Result<String, ScenarioError> {
            match &c.node {
                Some(n) => self.known(n, "condition"),
                None => Err(self.err(cond.span(), format!("event {event:?} needs a `node`"))),
            }
        };
        let id = |of: IdOf| -> Result<String, ScenarioError> {
            let kind: &str = of.into();
            match &c.id {
                Some(i) if ids.get(i.get_ref()) == Some(&of) => Ok(i.get_ref().clone()),
                Some(i) => Err(self.err(
                    i.span(),
                    format!("no earlier {kind} step has id {:?}", i.get_ref()),
                )),
                None => Err(self.err(
                    cond.span(),
                    format!("event {event:?} needs the `id` of an earlier {kind} step"),
                )),
            }
        };
        Ok(match name {
            ConditionEvent::InTopology => Condition::InTopology(node()?),
            ConditionEvent::Validated => Condition::Validated(node()?),
            ConditionEvent::JoinReadySent => Condition::JoinReadySent(node()?),
            ConditionEvent::Joined => Condition::Joined(node()?),
            ConditionEvent::Rejected => Condition::Rejected(node()?),
            ConditionEvent::LeftLt => Condition::LeftLt(node()?),
            ConditionEvent::CmgLeaderElected => Condition::CmgLeaderElected(match &c.node {
                Some(n) => Some(self.known(n, "condition")?),
                None => None,
            }),
            ConditionEvent::ClusterInitialized => Condition::ClusterInitialized,
            ConditionEvent::InitAnswered => Condition::InitAnswered(id(IdOf::Init)?),
            ConditionEvent::AdminAnswered => Condition::AdminAnswered(id(IdOf::Admin)?),
        })
    }

    /// The node a `kill` or `restart` is aimed at: a label, or `cmg_leader`.
    fn target(&self, step: &RawStep, span: &Range<usize>) -> Result<Target, ScenarioError> {
        match &step.node {
            Some(n) if n.get_ref() == CMG_LEADER => Ok(Target::CmgLeader),
            Some(n) => Ok(Target::Node(self.known(n, "step")?)),
            None => Err(self.err(
                span.clone(),
                format!("action {:?} needs a `node`", step.action.get_ref()),
            )),
        }
    }

    /// A step's action: a known name, only the fields that action takes, and what it makes of
    /// them. `span` is the step's (errors about a missing or superfluous field point at it).
    fn action(
        &self,
        step: &RawStep,
        span: Range<usize>,
        ids: &mut Ids,
    ) -> Result<Action, ScenarioError> {
        let action = step.action.get_ref().as_str();
        let Ok(name) = action.parse::<ActionName>() else {
            return Err(self.err(
                step.action.span(),
                format!(
                    "unknown action {action:?}; actions: {}",
                    ActionName::VARIANTS.join(", ")
                ),
            ));
        };
        // Each arm first says which fields its action takes.
        let takes = |allowed: &[StepField]| -> Result<(), ScenarioError> {
            match step
                .fields_given()
                .into_iter()
                .find(|f| !allowed.contains(f))
            {
                None => Ok(()),
                Some(field) => Err(self.err(
                    span.clone(),
                    format!(
                        "field `{}` is not allowed for action {action:?} (allowed: {})",
                        field.name(),
                        allowed
                            .iter()
                            .map(|f| f.name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )),
            }
        };
        let node_label = |n: &Option<Spanned<String>>,
                          field: &str|
         -> Result<String, ScenarioError> {
            match n {
                Some(n) => self.known(n, "step"),
                None => Err(self.err(span.clone(), format!("action {action:?} needs `{field}`"))),
            }
        };
        let new_id = |ids: &mut Ids, of: IdOf| -> Result<String, ScenarioError> {
            let id = match &step.id {
                Some(i) => i.get_ref().clone(),
                None => {
                    let kind: &str = of.into();
                    format!("{kind}@{}", self.source.position(span.start).0)
                }
            };
            if ids.insert(id.clone(), of).is_some() {
                let at = step.id.as_ref().map(|i| i.span()).unwrap_or(span.clone());
                return Err(self.err(at, format!("two steps have id {id:?}")));
            }
            Ok(id)
        };
        use StepField as F;
        Ok(match name {
            ActionName::Start => {
                takes(&[F::Node])?;
                Action::Start(node_label(&step.node, "node")?)
            }
            ActionName::Kill => {
                takes(&[F::Node])?;
                Action::Kill(self.target(step, &span)?)
            }
            ActionName::Restart => {
                takes(&[F::Node])?;
                Action::Restart(self.target(step, &span)?)
            }
            ActionName::Wipe => {
                takes(&[F::Node])?;
                Action::Wipe(node_label(&step.node, "node")?)
            }
            ActionName::Init => {
                takes(&[F::Via, F::Cluster, F::Cmg, F::Ms, F::Id, F::Expect])?;
                let via = node_label(&step.via, "via")?;
                let Some(cluster) = step.cluster.clone() else {
                    return Err(
                        self.err(span, "action \"init\" needs `cluster` (the cluster name)")
                    );
                };
                let id = new_id(ids, IdOf::Init)?;
                Action::Init {
                    id,
                    via,
                    params: InitParams {
                        cluster_name: cluster,
                        cmg_nodes: step.cmg.clone().unwrap_or_default(),
                        ms_nodes: step.ms.clone().unwrap_or_default(),
                    },
                    expect: self.answer(&step.expect, InitError::VARIANTS, ids)?,
                }
            }
            ActionName::ReconfigureMs => {
                takes(&[F::Via, F::Nodes, F::Id, F::Expect])?;
                let via = node_label(&step.via, "via")?;
                let id = new_id(ids, IdOf::Admin)?;
                Action::ReconfigureMs {
                    id,
                    via,
                    nodes: step.nodes.clone().unwrap_or_default(),
                    expect: self.answer(&step.expect, AdminError::VARIANTS, ids)?,
                }
            }
            ActionName::Partition => {
                takes(&[F::Groups])?;
                let Some(groups) = &step.groups else {
                    return Err(self.err(span, "action \"partition\" needs `groups`"));
                };
                if groups.len() < 2 {
                    return Err(self.err(span, "a partition needs at least two groups"));
                }
                let mut seen = BTreeSet::new();
                let mut out = Vec::new();
                for group in groups {
                    let mut g = Vec::new();
                    for n in group {
                        let label = self.known(n, "partition")?;
                        if !seen.insert(label.clone()) {
                            return Err(self.err(n.span(), format!("{label:?} is in two groups")));
                        }
                        g.push(label);
                    }
                    out.push(g);
                }
                Action::Partition(out)
            }
            ActionName::PartitionOneway => {
                takes(&[F::From, F::To])?;
                Action::PartitionOneway {
                    from: node_label(&step.from, "from")?,
                    to: node_label(&step.to, "to")?,
                }
            }
            ActionName::Heal => {
                takes(&[])?;
                Action::Heal
            }
            ActionName::Network => {
                takes(&[F::LatencyMs, F::Loss])?;
                Action::Network {
                    latency_ms: match &step.latency_ms {
                        Some(l) => self.latency(l)?,
                        None => (1, 10),
                    },
                    loss: match &step.loss {
                        Some(l) => self.loss(l)?,
                        None => 0.0,
                    },
                }
            }
            ActionName::Hold | ActionName::Drop => {
                takes(&[F::Kind, F::From, F::To, F::ForMs, F::Id])?;
                let kind = match &step.kind {
                    None => None,
                    Some(k) => Some(MessageKind::from_name(k.get_ref()).ok_or_else(|| {
                        self.err(
                            k.span(),
                            format!(
                                "unknown message kind {:?}; kinds: {}",
                                k.get_ref(),
                                MessageKind::VARIANTS.join(", ")
                            ),
                        )
                    })?),
                };
                let from = step
                    .from
                    .as_ref()
                    .map(|f| self.known(f, "filter"))
                    .transpose()?;
                let to = step
                    .to
                    .as_ref()
                    .map(|t| self.known(t, "filter"))
                    .transpose()?;
                let id = new_id(ids, IdOf::Rule)?;
                let filter = MessageFilter { kind, from, to };
                let for_ms = step
                    .for_ms
                    .as_ref()
                    .map(|f| self.bounded(f, "for_ms", &limits::STEP_TIME_MS))
                    .transpose()?;
                if name == ActionName::Hold {
                    Action::Hold { id, filter, for_ms }
                } else {
                    Action::Drop { id, filter, for_ms }
                }
            }
            ActionName::Release => {
                takes(&[F::Rule])?;
                let Some(rule) = &step.rule else {
                    return Err(self.err(
                        span,
                        "action \"release\" needs `rule` (the id of a hold or drop step)",
                    ));
                };
                if ids.get(rule.get_ref()) != Some(&IdOf::Rule) {
                    return Err(self.err(
                        rule.span(),
                        format!("no earlier hold or drop step has id {:?}", rule.get_ref()),
                    ));
                }
                Action::Release(rule.get_ref().clone())
            }
            ActionName::Wait => {
                takes(&[])?;
                Action::Wait
            }
        })
    }

    /// The `expect` of an `init` or `reconfigure_ms` step; `kinds` are the error kinds of its
    /// command.
    fn answer(
        &self,
        raw: &Option<Spanned<String>>,
        kinds: &[&str],
        ids: &Ids,
    ) -> Result<AnswerExpectation, ScenarioError> {
        let Some(raw) = raw else {
            return Ok(AnswerExpectation::Any);
        };
        let text = raw.get_ref().as_str();
        if let Ok(word) = text.parse::<AnswerWord>() {
            return Ok(match word {
                AnswerWord::Any => AnswerExpectation::Any,
                AnswerWord::Ok => AnswerExpectation::Ok,
                AnswerWord::AnyError => AnswerExpectation::AnyError,
                AnswerWord::NoAnswer => AnswerExpectation::NoAnswer,
            });
        }
        if let Some(other) = text.strip_prefix(SAME_TAG_PREFIX) {
            if ids.get(other) != Some(&IdOf::Init) {
                return Err(self.err(raw.span(), format!("no earlier init step has id {other:?}")));
            }
            Ok(AnswerExpectation::SameTagAs(other.to_string()))
        } else if kinds.contains(&text) {
            Ok(AnswerExpectation::Error(text.to_string()))
        } else {
            Err(self.err(
                raw.span(),
                format!(
                    "unknown expected answer {text:?}; expected {}, {SAME_TAG_PREFIX}<init id>, or one of: {}",
                    AnswerWord::VARIANTS.join(", "),
                    kinds.join(", ")
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::testing::{at, error_of, HEAD};

    #[test]
    fn unknown_node_names_are_errors() {
        at(
            &format!("{HEAD}[[step]]\nat_ms = 1\naction = \"kill\"\nnode = \"zz\"\n[expect]\n"),
            10,
            8,
            "unknown node \"zz\"",
        );
        let seeds = "name = \"t\"\ndescription = \"d\"\n[[node]]\nname = \"a\"\nseeds = [\"q\"]\n[expect]\n";
        at(seeds, 5, 10, "unknown node \"q\"");
        at(
            &format!("{HEAD}[[step]]\nafter = {{ event = \"joined\", node = \"c\" }}\naction = \"heal\"\n[expect]\n"),
            8,
            36,
            "unknown node \"c\"",
        );
    }

    #[test]
    fn times_out_of_order_are_errors() {
        let text = format!(
            "{HEAD}[[step]]\nat_ms = 500\naction = \"heal\"\n[[step]]\nat_ms = 400\naction = \"heal\"\n[expect]\n"
        );
        at(&text, 11, 9, "times out of order");
    }

    #[test]
    fn actions_fields_and_references_are_checked() {
        let step = |body: &str| format!("{HEAD}[[step]]\n{body}\n[expect]\n");
        assert!(error_of(&step("action = \"explode\""))
            .message
            .contains("unknown action"));
        assert!(
            error_of(&step("action = \"kill\"\nvia = \"a\"\nnode = \"a\""))
                .message
                .contains("`via` is not allowed")
        );
        assert!(error_of(&step("action = \"release\"\nrule = \"h\""))
            .message
            .contains("no earlier hold"));
        assert!(error_of(&step("action = \"hold\"\nkind = \"gossip\""))
            .message
            .contains("unknown message kind"));
        assert!(error_of(&step(
            "action = \"init\"\nvia = \"a\"\ncluster = \"c\"\nexpect = \"great\""
        ))
        .message
        .contains("unknown expected answer"));
        assert!(error_of(&step(
            "after = { event = \"exploded\", node = \"a\" }\naction = \"heal\""
        ))
        .message
        .contains("unknown event"));
        assert!(error_of(&step(
            "after = { event = \"init_answered\", id = \"i\" }\naction = \"heal\""
        ))
        .message
        .contains("no earlier init step"));
        assert!(
            error_of(&format!("{HEAD}[liveness]\nenabled = false\n[expect]\n"))
                .message
                .contains("reason")
        );
        assert!(
            error_of(&format!("{HEAD}[network]\nlatency_ms = [9, 1]\n[expect]\n"))
                .message
                .contains("reversed")
        );
        assert!(error_of("name = \"t\"\ndescription = \"d\"\n[expect]\n")
            .message
            .contains("missing field `node`"));
        assert!(error_of("name = [\n").line >= 1);
    }
}
