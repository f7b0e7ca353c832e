//! The timeline: each `[[step]]`'s trigger (`at_ms`, or `after` an event plus `delay_ms`) and its
//! action.
//!
//! [`Builder::action`] has one arm per [`ActionName`]: the fields the action takes (any other
//! action field is an error) and what it makes of them. Adding an action adds its arm there.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use joinsim::{AdminError, GroupKind, InitError, InitParams, MessageKind};
use strum::{IntoStaticStr, VariantNames};
use toml::Spanned;

use super::Builder;
use crate::clock::{MAX_DRIFT_PPM, MAX_SKEW_MS};
use crate::limits;
use crate::network::{ALWAYS_PPM, MAX_DELAY_MS, MAX_LATENCY_MS};
use crate::scenario::error::ScenarioError;
use crate::scenario::model::{
    Action, ActionName, AnswerExpectation, AnswerPrefix, AnswerWord, Condition, ConditionEvent,
    RoleName, Step, Target, TargetFilter, Trigger,
};
use crate::scenario::raw::{RawCondition, RawDelay, RawStep, StepField};
use crate::storage::StorageFault;
use crate::world::MAX_PAUSE_MS;

/// The kind of step an `id` belongs to. Ids are unique over all steps; a condition, an expected
/// answer or a `release` may name only the id of an earlier step of the right kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub(super) enum IdOf {
    /// An `init` step.
    Init,
    /// A `reconfigure_ms` step (an admin command).
    Admin,
    /// A `hold` or `drop` step.
    Rule,
}

/// The ids of the steps so far, and whose they are.
pub(super) type Ids = BTreeMap<String, IdOf>;

/// The ids of `steps`, and whose they are (what `[[expect.order]]` may name).
pub(super) fn ids_of(steps: &[Step]) -> Ids {
    steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::Init { id, .. } => Some((id.clone(), IdOf::Init)),
            Action::ReconfigureMs { id, .. } => Some((id.clone(), IdOf::Admin)),
            Action::Hold { id, .. }
            | Action::Drop { id, .. }
            | Action::Duplicate { id, .. }
            | Action::Delay { id, .. } => Some((id.clone(), IdOf::Rule)),
            _ => None,
        })
        .collect()
}

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
                    // A `delay` step's `delay_ms` is its range, not a wait.
                    delay_ms: match &step.delay_ms {
                        Some(d) if step.action.get_ref() != "delay" => self.wait_ms(d)?,
                        _ => 0,
                    },
                },
                (None, None) => Trigger::Immediately,
            };
            let action = self.action(step, spanned.span(), &mut ids)?;
            if matches!(
                action,
                Action::Hold { .. }
                    | Action::Drop { .. }
                    | Action::Duplicate { .. }
                    | Action::Delay { .. }
            ) {
                rule_steps += 1;
                if rule_steps > crate::network::MAX_RULES {
                    return Err(self.err(
                        spanned.span(),
                        format!(
                            "a scenario has at most {} hold, drop, duplicate and delay steps",
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

    /// The `delay_ms` of a step's `after` trigger: a number of milliseconds within
    /// [`limits::STEP_TIME_MS`].
    fn wait_ms(&self, raw: &Spanned<RawDelay>) -> Result<u64, ScenarioError> {
        match raw.get_ref() {
            RawDelay::Ms(ms) => {
                self.bounded(&Spanned::new(raw.span(), *ms), "delay_ms", &limits::STEP_TIME_MS)
            }
            RawDelay::Range(_) => Err(self.err(
                raw.span(),
                "delay_ms after an event is a number of milliseconds ([min, max] is the range of a `delay` step)",
            )),
        }
    }

    /// A message rule's `kind`, `from` and `to` (any may be absent).
    fn rule_filter(&self, step: &RawStep) -> Result<TargetFilter, ScenarioError> {
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
            .map(|f| self.target(f, "filter"))
            .transpose()?;
        let to = step
            .to
            .as_ref()
            .map(|t| self.target(t, "filter"))
            .transpose()?;
        Ok(TargetFilter { kind, from, to })
    }

    /// A rule's `chance` (0..=1, default 1) in parts per million.
    fn chance_ppm(&self, raw: &Option<Spanned<f64>>) -> Result<u32, ScenarioError> {
        let Some(raw) = raw else {
            return Ok(ALWAYS_PPM);
        };
        let chance = *raw.get_ref();
        if !(0.0..=1.0).contains(&chance) {
            return Err(self.err(raw.span(), format!("chance {chance} is not within 0..=1")));
        }
        Ok((chance * f64::from(ALWAYS_PPM)).round() as u32)
    }

    /// A `[min, max]` range of milliseconds: two numbers, ordered, the top at most `bound`.
    fn ms_range(
        &self,
        raw: &Spanned<Vec<u64>>,
        field: &str,
        bound: u64,
    ) -> Result<(u64, u64), ScenarioError> {
        let [min, max] = raw.get_ref()[..] else {
            return Err(self.err(
                raw.span(),
                format!(
                    "{field} must be [min, max]: two numbers, not {}",
                    raw.get_ref().len()
                ),
            ));
        };
        if min > max {
            return Err(self.err(raw.span(), format!("{field} [{min}, {max}] is reversed")));
        }
        limits::check(field, max, &(0..=bound)).map_err(|m| self.err(raw.span(), m))?;
        Ok((min, max))
    }

    /// `after = { event = ..., node = ..., id = ..., group = ..., version = ... }` (or a side of
    /// an `[[expect.order]]`): a known event, with the `node`, `id`, `group` or `version` it
    /// needs (fields it does not need are ignored).
    pub(super) fn condition(
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
        let any_node = || -> Result<Option<String>, ScenarioError> {
            c.node
                .as_ref()
                .map(|n| self.known(n, "condition"))
                .transpose()
        };
        let version = |range: &std::ops::RangeInclusive<u64>| -> Result<u64, ScenarioError> {
            match &c.version {
                Some(v) => self.bounded(v, "version", range),
                None => Err(self.err(cond.span(), format!("event {event:?} needs a `version`"))),
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
            ConditionEvent::CmgLeaderElected => Condition::CmgLeaderElected(any_node()?),
            ConditionEvent::ClusterInitialized => Condition::ClusterInitialized,
            ConditionEvent::InitAnswered => Condition::InitAnswered(id(IdOf::Init)?),
            ConditionEvent::AdminAnswered => Condition::AdminAnswered(id(IdOf::Admin)?),
            ConditionEvent::GroupStarted => {
                let node = node()?;
                let group = match &c.group {
                    None => {
                        return Err(self.err(
                            cond.span(),
                            format!(
                                "event {event:?} needs a `group` ({})",
                                GroupKind::VARIANTS.join(" or ")
                            ),
                        ))
                    }
                    Some(g) => g.get_ref().parse::<GroupKind>().map_err(|_| {
                        self.err(
                            g.span(),
                            format!(
                                "unknown group {:?}; groups: {}",
                                g.get_ref(),
                                GroupKind::VARIANTS.join(", ")
                            ),
                        )
                    })?,
                };
                Condition::GroupStarted { node, group }
            }
            ConditionEvent::CancelReceived => Condition::CancelReceived(node()?),
            ConditionEvent::ValidationRevoked => Condition::ValidationRevoked(node()?),
            ConditionEvent::JoinReadyRefused => Condition::JoinReadyRefused(node()?),
            ConditionEvent::JoinAttemptStale => Condition::JoinAttemptStale(node()?),
            ConditionEvent::MsVersionApplied => Condition::MsVersionApplied {
                version: version(&limits::MS_VERSION)?,
                node: any_node()?,
            },
            ConditionEvent::LtVersionReached => Condition::LtVersionReached {
                version: version(&limits::LT_VERSION)?,
                node: any_node()?,
            },
            ConditionEvent::ClusterStateReceived => Condition::ClusterStateReceived(node()?),
            ConditionEvent::NodeDeclaredDead => Condition::NodeDeclaredDead(node()?),
        })
    }

    /// A node a step names: a label, or a role that names a node when the step runs
    /// (`cmg_leader`, `ms_leader`, `validator_of:<label>`; [`RoleName`]). `what` names the field
    /// in errors.
    fn target(&self, raw: &Spanned<String>, what: &str) -> Result<Target, ScenarioError> {
        let text = raw.get_ref().as_str();
        let (word, rest) = match text.split_once(':') {
            Some((word, rest)) => (word, Some(rest)),
            None => (text, None),
        };
        match (word.parse::<RoleName>(), rest) {
            (Ok(RoleName::CmgLeader), None) => Ok(Target::CmgLeader),
            (Ok(RoleName::MsLeader), None) => Ok(Target::MsLeader),
            (Ok(RoleName::ValidatorOf), Some(label)) if !label.is_empty() => {
                let label = Spanned::new(raw.span(), label.to_string());
                Ok(Target::ValidatorOf(self.known(&label, what)?))
            }
            (Ok(role), _) => {
                let role: &str = role.into();
                Err(self.err(
                    raw.span(),
                    if role == <&str>::from(RoleName::ValidatorOf) {
                        format!(
                            "{what} names role {text:?}: write {role}:<label>, the node validated"
                        )
                    } else {
                        format!("{what} names role {text:?}: {role} takes no `:<label>`")
                    },
                ))
            }
            (Err(_), Some(_)) => Err(self.err(
                raw.span(),
                format!(
                    "{what} names unknown role {word:?} in {text:?}; {}",
                    roles_list()
                ),
            )),
            (Err(_), None) if self.labels.contains(text) => Ok(Target::Node(text.to_string())),
            (Err(_), None) => Err(self.err(
                raw.span(),
                format!(
                    "{what} names unknown node {text:?} (nodes: {}; {})",
                    self.labels.iter().cloned().collect::<Vec<_>>().join(", "),
                    roles_list()
                ),
            )),
        }
    }

    /// A step's required target field, or an error at the step.
    fn target_field(
        &self,
        raw: &Option<Spanned<String>>,
        field: &str,
        action: &str,
        span: &Range<usize>,
    ) -> Result<Target, ScenarioError> {
        match raw {
            Some(n) => self.target(n, "step"),
            None => Err(self.err(span.clone(), format!("action {action:?} needs `{field}`"))),
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
                Action::Start(self.target_field(&step.node, "node", action, &span)?)
            }
            ActionName::Kill => {
                takes(&[F::Node])?;
                Action::Kill(self.target_field(&step.node, "node", action, &span)?)
            }
            ActionName::Restart => {
                takes(&[F::Node])?;
                Action::Restart(self.target_field(&step.node, "node", action, &span)?)
            }
            ActionName::Wipe => {
                takes(&[F::Node])?;
                Action::Wipe(self.target_field(&step.node, "node", action, &span)?)
            }
            ActionName::Init => {
                takes(&[F::Via, F::Cluster, F::Cmg, F::Ms, F::Id, F::Expect])?;
                let via = self.target_field(&step.via, "via", action, &span)?;
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
                    expect: self.answer(&step.expect, InitError::VARIANTS, ids, true)?,
                }
            }
            ActionName::ReconfigureMs => {
                takes(&[F::Via, F::Nodes, F::Id, F::Expect])?;
                let via = self.target_field(&step.via, "via", action, &span)?;
                let id = new_id(ids, IdOf::Admin)?;
                Action::ReconfigureMs {
                    id,
                    via,
                    nodes: step.nodes.clone().unwrap_or_default(),
                    expect: self.answer(&step.expect, AdminError::VARIANTS, ids, false)?,
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
                        let target = self.target(n, "partition")?;
                        if !seen.insert(target.clone()) {
                            return Err(
                                self.err(n.span(), format!("{:?} is in two groups", n.get_ref()))
                            );
                        }
                        g.push(target);
                    }
                    out.push(g);
                }
                Action::Partition(out)
            }
            ActionName::PartitionOneway => {
                takes(&[F::From, F::To])?;
                Action::PartitionOneway {
                    from: self.target_field(&step.from, "from", action, &span)?,
                    to: self.target_field(&step.to, "to", action, &span)?,
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
                let filter = self.rule_filter(step)?;
                let id = new_id(ids, IdOf::Rule)?;
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
            ActionName::Duplicate | ActionName::Delay => {
                let mut fields = vec![F::Kind, F::From, F::To, F::ForMs, F::Id, F::Chance];
                if name == ActionName::Delay {
                    fields.push(F::DelayMs);
                }
                takes(&fields)?;
                let filter = self.rule_filter(step)?;
                let chance_ppm = self.chance_ppm(&step.chance)?;
                let for_ms = step
                    .for_ms
                    .as_ref()
                    .map(|f| self.bounded(f, "for_ms", &limits::STEP_TIME_MS))
                    .transpose()?;
                if name == ActionName::Duplicate {
                    let id = new_id(ids, IdOf::Rule)?;
                    Action::Duplicate {
                        id,
                        filter,
                        for_ms,
                        chance_ppm,
                    }
                } else {
                    let delay_ms = match &step.delay_ms {
                        None => {
                            return Err(self.err(
                                span,
                                "action \"delay\" needs `delay_ms = [min, max]` (the extra latency)",
                            ))
                        }
                        Some(d) => match d.get_ref() {
                            RawDelay::Range(range) => self.ms_range(
                                &Spanned::new(d.span(), range.clone()),
                                "delay_ms",
                                MAX_DELAY_MS,
                            )?,
                            RawDelay::Ms(_) => {
                                return Err(self.err(
                                    d.span(),
                                    "a delay step's delay_ms is its range [min, max] of extra latency (to wait after an event, use a `wait` step before it)",
                                ))
                            }
                        },
                    };
                    let id = new_id(ids, IdOf::Rule)?;
                    Action::Delay {
                        id,
                        filter,
                        for_ms,
                        chance_ppm,
                        delay_ms,
                    }
                }
            }
            ActionName::Release => {
                takes(&[F::Rule])?;
                let Some(rule) = &step.rule else {
                    return Err(self.err(
                        span,
                        "action \"release\" needs `rule` (the id of a hold, drop, duplicate or delay step)",
                    ));
                };
                if ids.get(rule.get_ref()) != Some(&IdOf::Rule) {
                    return Err(self.err(
                        rule.span(),
                        format!(
                            "no earlier hold, drop, duplicate or delay step has id {:?}",
                            rule.get_ref()
                        ),
                    ));
                }
                Action::Release(rule.get_ref().clone())
            }
            ActionName::Link => {
                takes(&[F::From, F::To, F::LatencyMs, F::Loss])?;
                let from = self.target_field(&step.from, "from", action, &span)?;
                let to = self.target_field(&step.to, "to", action, &span)?;
                if from == to && matches!(from, Target::Node(_)) {
                    return Err(self.err(
                        span,
                        "action \"link\" joins two nodes: `from` and `to` name the same one",
                    ));
                }
                let Some(latency) = &step.latency_ms else {
                    return Err(self.err(span, "action \"link\" needs `latency_ms = [min, max]`"));
                };
                Action::Link {
                    from,
                    to,
                    latency_ms: self.ms_range(latency, "latency_ms", MAX_LATENCY_MS)?,
                    loss: match &step.loss {
                        Some(l) => self.loss(l)?,
                        None => 0.0,
                    },
                }
            }
            ActionName::LinksDefault => {
                takes(&[])?;
                Action::LinksDefault
            }
            ActionName::Clock => {
                takes(&[F::Node, F::SkewMs, F::DriftPpm])?;
                let node = self.target_field(&step.node, "node", action, &span)?;
                let skew_ms = match &step.skew_ms {
                    Some(s) => self.bounded(s, "skew_ms", &(0..=MAX_SKEW_MS))?,
                    None => 0,
                };
                let drift_ppm = match &step.drift_ppm {
                    Some(d) => {
                        let drift = *d.get_ref();
                        if drift.unsigned_abs() > MAX_DRIFT_PPM.unsigned_abs() {
                            return Err(self.err(
                                d.span(),
                                format!(
                                    "drift_ppm = {drift} is out of range: expected -{MAX_DRIFT_PPM}..={MAX_DRIFT_PPM}"
                                ),
                            ));
                        }
                        drift
                    }
                    None => 0,
                };
                if step.skew_ms.is_none() && step.drift_ppm.is_none() {
                    return Err(self.err(
                        span,
                        "action \"clock\" needs `skew_ms`, `drift_ppm` or both",
                    ));
                }
                Action::Clock {
                    node,
                    skew_ms,
                    drift_ppm,
                }
            }
            ActionName::Pause => {
                takes(&[F::Node, F::ForMs])?;
                let node = self.target_field(&step.node, "node", action, &span)?;
                let Some(for_ms) = &step.for_ms else {
                    return Err(self.err(span, "action \"pause\" needs `for_ms`"));
                };
                Action::Pause {
                    node,
                    for_ms: self.bounded(for_ms, "for_ms", &(1..=MAX_PAUSE_MS))?,
                }
            }
            ActionName::StorageFault => {
                takes(&[F::Node, F::Fault])?;
                let node = self.target_field(&step.node, "node", action, &span)?;
                let Some(fault) = &step.fault else {
                    return Err(self.err(
                        span,
                        format!(
                            "action \"storage_fault\" needs `fault` ({})",
                            StorageFault::VARIANTS.join(", ")
                        ),
                    ));
                };
                let fault = fault.get_ref().parse::<StorageFault>().map_err(|_| {
                    self.err(
                        fault.span(),
                        format!(
                            "unknown storage fault {:?}; faults: {}",
                            fault.get_ref(),
                            StorageFault::VARIANTS.join(", ")
                        ),
                    )
                })?;
                Action::StorageFault { node, fault }
            }
            ActionName::Leave => {
                takes(&[F::Node])?;
                Action::Leave(self.target_field(&step.node, "node", action, &span)?)
            }
            ActionName::Move => {
                takes(&[F::Node])?;
                Action::Move(self.target_field(&step.node, "node", action, &span)?)
            }
            ActionName::Wait => {
                takes(&[])?;
                Action::Wait
            }
        })
    }

    /// The `expect` of an `init` or `reconfigure_ms` step; `kinds` are the error kinds of its
    /// command.
    /// `tag_answers`: whether `same_tag:`/`other_tag:` apply (an init's answer carries a tag,
    /// an admin answer none).
    fn answer(
        &self,
        raw: &Option<Spanned<String>>,
        kinds: &[&str],
        ids: &Ids,
        tag_answers: bool,
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
        if let Some((word, other)) = text.split_once(':') {
            if let Ok(prefix) = word.parse::<AnswerPrefix>() {
                if !tag_answers {
                    return Err(self.err(
                        raw.span(),
                        format!(
                            "{text:?}: an admin answer carries no tag; `{word}:<init id>` applies to init steps only"
                        ),
                    ));
                }
                if ids.get(other) != Some(&IdOf::Init) {
                    return Err(
                        self.err(raw.span(), format!("no earlier init step has id {other:?}"))
                    );
                }
                return Ok(match prefix {
                    AnswerPrefix::SameTag => AnswerExpectation::SameTagAs(other.to_string()),
                    AnswerPrefix::OtherTag => AnswerExpectation::OtherTagThan(other.to_string()),
                });
            }
        }
        if kinds.contains(&text) {
            Ok(AnswerExpectation::Error(text.to_string()))
        } else {
            Err(self.err(
                raw.span(),
                format!(
                    "unknown expected answer {text:?}; expected {}, {}, or one of: {}",
                    AnswerWord::VARIANTS.join(", "),
                    AnswerPrefix::VARIANTS
                        .iter()
                        .map(|p| format!("{p}:<init id>"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    kinds.join(", ")
                ),
            ))
        }
    }
}

/// The roles a step may name instead of a label, for errors.
fn roles_list() -> String {
    format!(
        "roles: {}",
        RoleName::VARIANTS
            .iter()
            .map(|r| {
                if *r == <&str>::from(RoleName::ValidatorOf) {
                    format!("{r}:<label>")
                } else {
                    r.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    )
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
    fn roles_are_targets_and_unknown_role_words_are_errors() {
        use crate::scenario::model::{Action, Target};
        let step = |body: &str| format!("{HEAD}[[step]]\n{body}\n[expect]\n");
        let parsed = crate::scenario::parse_scenario(
            "t.toml",
            &step(
                "action = \"partition\"\ngroups = [[\"ms_leader\", \"a\"], [\"validator_of:b\"]]",
            ),
        )
        .unwrap();
        match &parsed.steps[0].action {
            Action::Partition(groups) => assert_eq!(
                groups,
                &vec![
                    vec![Target::MsLeader, Target::Node("a".into())],
                    vec![Target::ValidatorOf("b".into())]
                ]
            ),
            other => panic!("{other:?}"),
        }
        for body in [
            "action = \"start\"\nnode = \"validator_of:a\"",
            "action = \"wipe\"\nnode = \"cmg_leader\"",
            "action = \"init\"\nvia = \"ms_leader\"\ncluster = \"c\"",
            "action = \"reconfigure_ms\"\nvia = \"cmg_leader\"\nnodes = [\"a\"]",
            "action = \"partition_oneway\"\nfrom = \"cmg_leader\"\nto = \"validator_of:b\"",
            "action = \"hold\"\nfrom = \"ms_leader\"\nto = \"cmg_leader\"",
            "action = \"drop\"\nto = \"validator_of:a\"",
        ] {
            crate::scenario::parse_scenario("t.toml", &step(body))
                .unwrap_or_else(|e| panic!("{body}: {e}"));
        }
        at(
            &step("action = \"kill\"\nnode = \"leader_of:a\""),
            9,
            8,
            "unknown role \"leader_of\"",
        );
        at(
            &step("action = \"kill\"\nnode = \"ms_leadr\""),
            9,
            8,
            "unknown node \"ms_leadr\" (nodes: a, b; roles: cmg_leader, ms_leader, validator_of:<label>)",
        );
        at(
            &step("action = \"kill\"\nnode = \"validator_of:zz\""),
            9,
            8,
            "unknown node \"zz\"",
        );
        at(
            &step("action = \"kill\"\nnode = \"validator_of\""),
            9,
            8,
            "write validator_of:<label>",
        );
        at(
            &step("action = \"kill\"\nnode = \"cmg_leader:a\""),
            9,
            8,
            "cmg_leader takes no `:<label>`",
        );
        at(
            &step("action = \"hold\"\nfrom = \"validator_of:\""),
            9,
            8,
            "write validator_of:<label>",
        );
        at(
            &step("action = \"partition\"\ngroups = [[\"cmg_leader\"], [\"cmg_leader\"]]"),
            9,
            28,
            "\"cmg_leader\" is in two groups",
        );
        let labelled =
            "name = \"t\"\ndescription = \"d\"\n[[node]]\nname = \"cmg_leader\"\n[expect]\n";
        at(labelled, 4, 8, "reads as a role");
        let colon = "name = \"t\"\ndescription = \"d\"\n[[node]]\nname = \"a\"\nlabel = \"x:y\"\n[expect]\n";
        at(colon, 5, 9, "reads as a role");
    }

    #[test]
    fn new_events_take_the_fields_they_need() {
        use crate::scenario::model::Condition;
        let after =
            |cond: &str| format!("{HEAD}[[step]]\nafter = {cond}\naction = \"heal\"\n[expect]\n");
        let parsed = |cond: &str| match crate::scenario::parse_scenario("t.toml", &after(cond))
            .unwrap_or_else(|e| panic!("{cond}: {e}"))
            .steps[0]
            .trigger
            .clone()
        {
            crate::scenario::model::Trigger::After { condition, .. } => condition,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            parsed("{ event = \"group_started\", node = \"a\", group = \"ms\" }"),
            Condition::GroupStarted {
                node: "a".into(),
                group: joinsim::GroupKind::Ms
            }
        );
        assert_eq!(
            parsed("{ event = \"lt_version_reached\", version = 3 }"),
            Condition::LtVersionReached {
                version: 3,
                node: None
            }
        );
        assert_eq!(
            parsed("{ event = \"ms_version_applied\", version = 2, node = \"b\" }"),
            Condition::MsVersionApplied {
                version: 2,
                node: Some("b".into())
            }
        );
        for (event, wanted) in [
            ("cancel_received", Condition::CancelReceived("a".into())),
            (
                "validation_revoked",
                Condition::ValidationRevoked("a".into()),
            ),
            (
                "join_ready_refused",
                Condition::JoinReadyRefused("a".into()),
            ),
            (
                "join_attempt_stale",
                Condition::JoinAttemptStale("a".into()),
            ),
            (
                "cluster_state_received",
                Condition::ClusterStateReceived("a".into()),
            ),
            (
                "node_declared_dead",
                Condition::NodeDeclaredDead("a".into()),
            ),
        ] {
            assert_eq!(
                parsed(&format!("{{ event = \"{event}\", node = \"a\" }}")),
                wanted
            );
            assert!(error_of(&after(&format!("{{ event = \"{event}\" }}")))
                .message
                .contains("needs a `node`"));
        }
        at(
            &after("{ event = \"group_started\", node = \"a\" }"),
            8,
            9,
            "needs a `group` (cmg or ms)",
        );
        at(
            &after("{ event = \"group_started\", node = \"a\", group = \"raft\" }"),
            8,
            56,
            "unknown group \"raft\"",
        );
        at(
            &after("{ event = \"ms_version_applied\" }"),
            8,
            9,
            "needs a `version`",
        );
        at(
            &after("{ event = \"ms_version_applied\", version = 0 }"),
            8,
            51,
            "version = 0 is out of range",
        );
        at(
            &after("{ event = \"lt_version_reached\", version = 1000001 }"),
            8,
            51,
            "version = 1000001 is out of range",
        );
    }

    #[test]
    fn other_tag_names_an_earlier_init() {
        use crate::scenario::model::{Action, AnswerExpectation};
        let text = format!(
            "{HEAD}[[step]]\naction = \"init\"\nid = \"i1\"\nvia = \"a\"\ncluster = \"c\"\n[[step]]\naction = \"init\"\nvia = \"b\"\ncluster = \"d\"\nexpect = \"other_tag:i1\"\n[expect]\n"
        );
        let s = crate::scenario::parse_scenario("t.toml", &text).unwrap();
        assert!(matches!(
            &s.steps[1].action,
            Action::Init { expect: AnswerExpectation::OtherTagThan(i), .. } if i == "i1"
        ));
        at(
            &text.replace("other_tag:i1", "other_tag:i9"),
            16,
            10,
            "no earlier init step has id \"i9\"",
        );
    }

    #[test]
    fn fault_actions_parse_to_their_model() {
        use crate::scenario::model::{Action, Target};
        use crate::storage::StorageFault;
        let text = format!(
            "{HEAD}[[step]]\naction = \"link\"\nfrom = \"a\"\nto = \"cmg_leader\"\nlatency_ms = [5, 60000]\nloss = 0.25\n\
             [[step]]\naction = \"links_default\"\n\
             [[step]]\naction = \"duplicate\"\nid = \"dup\"\nkind = \"join_request\"\nchance = 0.5\nfor_ms = 100\n\
             [[step]]\nafter = {{ event = \"joined\", node = \"b\" }}\naction = \"delay\"\nid = \"late\"\nfrom = \"b\"\ndelay_ms = [100, 200]\n\
             [[step]]\naction = \"release\"\nrule = \"dup\"\n\
             [[step]]\naction = \"clock\"\nnode = \"a\"\ndrift_ppm = -100000\n\
             [[step]]\naction = \"pause\"\nnode = \"ms_leader\"\nfor_ms = 600000\n\
             [[step]]\naction = \"storage_fault\"\nnode = \"b\"\nfault = \"torn_write\"\n\
             [[step]]\naction = \"leave\"\nnode = \"a\"\n\
             [[step]]\naction = \"move\"\nnode = \"validator_of:a\"\n[expect]\n"
        );
        let s = crate::scenario::parse_scenario("t.toml", &text).unwrap();
        let actions: Vec<&Action> = s.steps.iter().map(|s| &s.action).collect();
        assert!(
            matches!(actions[0], Action::Link { from: Target::Node(a), to: Target::CmgLeader, latency_ms: (5, 60000), loss } if a == "a" && *loss == 0.25)
        );
        assert!(matches!(actions[1], Action::LinksDefault));
        assert!(
            matches!(actions[2], Action::Duplicate { id, chance_ppm: 500_000, for_ms: Some(100), filter } if id == "dup" && filter.kind == Some(joinsim::MessageKind::JoinRequest))
        );
        assert!(matches!(
            actions[3],
            Action::Delay {
                chance_ppm: 1_000_000,
                delay_ms: (100, 200),
                for_ms: None,
                ..
            }
        ));
        assert!(
            matches!(
                &s.steps[3].trigger,
                crate::scenario::model::Trigger::After { delay_ms: 0, .. }
            ),
            "a delay step's delay_ms is its range, not a wait"
        );
        assert!(matches!(actions[4], Action::Release(id) if id == "dup"));
        assert!(matches!(
            actions[5],
            Action::Clock {
                skew_ms: 0,
                drift_ppm: -100_000,
                ..
            }
        ));
        assert!(matches!(
            actions[6],
            Action::Pause {
                node: Target::MsLeader,
                for_ms: 600_000
            }
        ));
        assert!(matches!(
            actions[7],
            Action::StorageFault {
                fault: StorageFault::TornWrite,
                ..
            }
        ));
        assert!(matches!(actions[8], Action::Leave(Target::Node(a)) if a == "a"));
        assert!(matches!(actions[9], Action::Move(Target::ValidatorOf(a)) if a == "a"));
    }

    #[test]
    fn fault_actions_refuse_values_out_of_bounds_at_their_position() {
        let step = |body: &str| format!("{HEAD}[[step]]\n{body}\n[expect]\n");
        let link = "action = \"link\"\nfrom = \"a\"\nto = \"b\"\n";
        at(
            &step(&format!("{link}latency_ms = [1, 60001]")),
            11,
            14,
            "latency_ms = 60001 is out of range: expected 0..=60000",
        );
        at(
            &step(&format!("{link}latency_ms = [5, 1]")),
            11,
            14,
            "latency_ms [5, 1] is reversed",
        );
        at(
            &step(&format!("{link}latency_ms = [1]")),
            11,
            14,
            "two numbers",
        );
        at(
            &step(&format!("{link}latency_ms = [1, 2]\nloss = 1.5")),
            12,
            8,
            "loss 1.5 is not within 0..=1",
        );
        assert!(
            error_of(&step("action = \"link\"\nfrom = \"a\"\nto = \"b\""))
                .message
                .contains("needs `latency_ms")
        );
        assert!(
            error_of(&step("action = \"link\"\nto = \"b\"\nlatency_ms = [1, 2]"))
                .message
                .contains("needs `from`")
        );
        at(
            &step("action = \"duplicate\"\nchance = 1.5"),
            9,
            10,
            "chance 1.5 is not within 0..=1",
        );
        at(
            &step("action = \"delay\"\nchance = -0.1\ndelay_ms = [1, 2]"),
            9,
            10,
            "chance -0.1 is not within 0..=1",
        );
        at(
            &step("action = \"delay\"\ndelay_ms = [1, 60001]"),
            9,
            12,
            "delay_ms = 60001 is out of range: expected 0..=60000",
        );
        at(
            &step("action = \"delay\"\ndelay_ms = [9, 1]"),
            9,
            12,
            "reversed",
        );
        at(
            &step("action = \"delay\"\ndelay_ms = 5"),
            9,
            12,
            "is its range [min, max]",
        );
        assert!(error_of(&step("action = \"delay\"\nkind = \"join_ready\""))
            .message
            .contains("needs `delay_ms = [min, max]`"));
        at(&step("after = { event = \"joined\", node = \"a\" }\ndelay_ms = [1, 2]\naction = \"heal\""), 9, 12, "a number of milliseconds");
        assert!(error_of(&step("action = \"duplicate\"\ndelay_ms = [1, 2]"))
            .message
            .contains("`delay_ms` is not allowed"));
        assert!(error_of(&step("action = \"hold\"\nchance = 0.5"))
            .message
            .contains("`chance` is not allowed"));
        assert!(error_of(&step("action = \"duplicate\"\nkind = \"gossip\""))
            .message
            .contains("unknown message kind"));
        at(
            &step("action = \"clock\"\nnode = \"a\"\nskew_ms = 600001"),
            10,
            11,
            "skew_ms = 600001 is out of range: expected 0..=600000",
        );
        at(
            &step("action = \"clock\"\nnode = \"a\"\ndrift_ppm = -100001"),
            10,
            13,
            "drift_ppm = -100001 is out of range: expected -100000..=100000",
        );
        at(
            &step("action = \"clock\"\nnode = \"a\"\ndrift_ppm = 100001"),
            10,
            13,
            "out of range",
        );
        assert!(error_of(&step("action = \"clock\"\nnode = \"a\""))
            .message
            .contains("needs `skew_ms`, `drift_ppm` or both"));
        assert!(error_of(&step("action = \"clock\"\nskew_ms = 1"))
            .message
            .contains("needs `node`"));
        at(
            &step("action = \"pause\"\nnode = \"a\"\nfor_ms = 600001"),
            10,
            10,
            "for_ms = 600001 is out of range: expected 1..=600000",
        );
        at(
            &step("action = \"pause\"\nnode = \"a\"\nfor_ms = 0"),
            10,
            10,
            "for_ms = 0 is out of range",
        );
        assert!(error_of(&step("action = \"pause\"\nnode = \"a\""))
            .message
            .contains("needs `for_ms`"));
        at(
            &step("action = \"storage_fault\"\nnode = \"a\"\nfault = \"fire\""),
            10,
            9,
            "unknown storage fault \"fire\"; faults: crash_after_write, torn_write, power_loss",
        );
        assert!(error_of(&step("action = \"storage_fault\"\nnode = \"a\""))
            .message
            .contains("needs `fault`"));
        at(
            &step("action = \"leave\"\nnode = \"zz\""),
            9,
            8,
            "unknown node \"zz\"",
        );
        assert!(error_of(&step("action = \"move\""))
            .message
            .contains("needs `node`"));
        assert!(
            error_of(&step("action = \"move\"\nnode = \"a\"\nfor_ms = 5"))
                .message
                .contains("`for_ms` is not allowed")
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
            "action = \"link\"\nfrom = \"a\"\nto = \"a\"\nlatency_ms = [1, 2]"
        ))
        .message
        .contains("the same one"));
        // An admin answer carries no tag: a tag comparison there could never hold.
        let admin = format!(
            "{HEAD}[[step]]\nat_ms = 0\naction = \"init\"\nid = \"i\"\nvia = \"a\"\ncluster = \"c\"\n[[step]]\nat_ms = 1\naction = \"reconfigure_ms\"\nvia = \"a\"\nnodes = [\"a\"]\nexpect = \"same_tag:i\"\n[expect]\n"
        );
        assert!(error_of(&admin)
            .message
            .contains("an admin answer carries no tag"));
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
