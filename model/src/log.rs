//! The CMG's and the Meta Storage's replicated logs: which replica applies what at which index,
//! and what each committed effect may be (spec §3, "committed logs agree"; step 2's cluster-init,
//! step 4's validation and LT, the MS reconfiguration).
//!
//! The first replica to report the effects of a log index defines them, after the model checked
//! them against the incarnation's committed state; every other replica must report the same
//! effects, in the same order, at that index. Definitions come in index order: a replica applies
//! in order, and the entries below any index were applied (and reported) by some replica first.

use std::collections::BTreeSet;

use crate::action::Action;
use crate::ids::{Fate, Group, JoinRejection, Name, Tag};
use crate::rule::{require, Refusal, Rule};
use crate::state::{Cluster, State};
use crate::ModelFlaw;

/// What a join request presented: the stored tag and MS version, `None` when empty.
type Presented = Option<(Tag, u64)>;

/// An effect as the log keeps it: the action with its replica's node left out.
fn effect_of(action: &Action) -> Action {
    let mut effect = action.clone();
    match &mut effect {
        Action::ClusterInit { node, .. }
        | Action::FateApplied { node, .. }
        | Action::Validated { node, .. }
        | Action::Rejected { node, .. }
        | Action::NodesLeft { node, .. }
        | Action::LtChanged { node, .. }
        | Action::MsNodesChanged { node, .. }
        | Action::MsConfigApplied { node, .. } => node.clear(),
        _ => {}
    }
    effect
}

fn index_of(action: &Action) -> u64 {
    match action {
        Action::ClusterInit { index, .. }
        | Action::FateApplied { index, .. }
        | Action::Validated { index, .. }
        | Action::Rejected { index, .. }
        | Action::NodesLeft { index, .. }
        | Action::LtChanged { index, .. }
        | Action::MsNodesChanged { index, .. }
        | Action::MsConfigApplied { index, .. } => *index,
        _ => 0,
    }
}

impl State {
    /// Places a replica's effect in its log. `Ok(Some(init))`: the effect is new at its index
    /// and must be judged against incarnation `init`; `Ok(None)`: another replica defined it
    /// already, and this one agrees.
    fn place(&mut self, action: &Action, group: Group) -> Result<Option<u64>, Refusal> {
        let node = action.node().to_string();
        let index = index_of(action);
        let init = self
            .nodes
            .get(&node)
            .and_then(|n| n.hosts.get(&group).copied());
        let Some(init) = init else {
            // A replica the model did not see start (the trace began with it): it defines.
            return Ok(None);
        };
        let cursor = self.cursors.get(&(node.clone(), group)).copied();
        let position = match cursor {
            Some((last, pos)) if last == index => pos + 1,
            Some((last, _)) => {
                require(index > last, Rule::ReplicasAgree, || {
                    format!("{node}'s {group:?} replica applied index {index} after index {last}")
                })?;
                0
            }
            None => 0,
        };
        self.cursors
            .insert((node.clone(), group), (index, position));
        let effect = effect_of(action);
        let cluster = self.clusters.entry(init).or_default();
        let log = match group {
            Group::Cmg => &mut cluster.log,
            Group::Ms => &mut cluster.ms_log,
        };
        let effects = log.entry(index).or_default();
        if let Some(defined) = effects.get(position) {
            require(*defined == effect, Rule::ReplicasAgree, || {
                format!(
                    "{node}'s {group:?} replica applied {effect:?} at index {index}, where another replica applied {defined:?}"
                )
            })?;
            return Ok(None);
        }
        effects.push(effect);
        Ok(Some(init))
    }

    /// A CMG replica's effect.
    pub(crate) fn cmg_effect(&mut self, action: &Action) -> Result<(), Refusal> {
        let Some(init) = self.place(action, Group::Cmg)? else {
            return Ok(());
        };
        let sent = self.inits.get(&init).cloned();
        let answered = self.answered.clone();
        match action {
            Action::ClusterInit {
                tag,
                cmg,
                ms_version,
                index,
                ..
            } => {
                let c = self.clusters.entry(init).or_default();
                if let Some(sent) = &sent {
                    require(
                        sent.tag == *tag && sent.cmg == *cmg && *ms_version == 1,
                        Rule::ClusterInitIsTheInits,
                        || {
                            format!(
                            "the cluster-init of init {init:016x} at index {index} holds {tag}, CMG {cmg:?}, MS version {ms_version}; the init sent {}, CMG {:?}, MS version 1",
                            sent.tag, sent.cmg
                        )
                        },
                    )?;
                }
                if let Some((held, _)) = &c.committed {
                    require(held == tag, Rule::ClusterInitIsTheInits, || {
                        format!("init {init:016x} committed {held}, then {tag} at index {index}")
                    })?;
                }
                c.committed = Some((tag.clone(), cmg.clone()));
                c.ms_version = c.ms_version.max(*ms_version);
                c.ms_configs
                    .entry(*ms_version)
                    .or_insert_with(|| sent.as_ref().map(|s| s.ms.clone()));
                Ok(())
            }
            Action::FateApplied { fate, index, .. } => {
                let tag = self.tag_of(init);
                let ignores_answer = self.flawed(ModelFlaw::CancelIgnoresAnswer);
                let c = self.clusters.entry(init).or_default();
                if let (Some(held), false) = (c.fate, ignores_answer) {
                    require(held == *fate, Rule::ReplicasAgree, || {
                        format!("init {init:016x}'s fate {held:?} became {fate:?} at index {index}: the first applied wins")
                    })?;
                }
                c.fate = Some(*fate);
                if *fate == Fate::Cancelled {
                    if let Some(tag) = tag {
                        require(
                            ignores_answer || !answered.contains(&tag),
                            Rule::NoCancelOfAnsweredCluster,
                            || {
                                format!("the CMG committed the cancel of {tag} at index {index}, which a user was told")
                            },
                        )?;
                        self.cancelled.insert(tag);
                    }
                }
                Ok(())
            }
            Action::Validated {
                joiner,
                launch,
                index,
                ..
            } => {
                let (tag, ms_version, sent) =
                    self.join_ground(init, joiner, *launch, *index, "validated")?;
                let tag = &tag;
                let ignores_tag = self.flawed(ModelFlaw::ValidationIgnoresTag);
                let compatible = sent.iter().any(|s| match s {
                    None => true,
                    Some(_) if ignores_tag => true,
                    Some((t, v)) => t == tag && *v <= ms_version,
                });
                require(compatible, Rule::ValidationJudgesTagAndMsVersion, || {
                    format!(
                        "{joiner} validated at index {index} by {tag} at MS version {}, having presented {sent:?}",
                        ms_version
                    )
                })?;
                let c = self.clusters.entry(init).or_default();
                c.validated.insert(joiner.clone(), *launch);
                c.ever_validated.insert((joiner.clone(), *launch));
                Ok(())
            }
            Action::Rejected {
                joiner,
                launch,
                reason,
                index,
                ..
            } => {
                let (tag, ms_version, sent) =
                    self.join_ground(init, joiner, *launch, *index, "rejected")?;
                let tag = &tag;
                let grounded = match reason {
                    JoinRejection::TagMismatch => sent
                        .iter()
                        .any(|s| s.as_ref().is_some_and(|(t, _)| t != tag)),
                    JoinRejection::MsVersionAhead => sent
                        .iter()
                        .any(|s| s.as_ref().is_some_and(|(t, v)| t == tag && *v > ms_version)),
                    JoinRejection::Other(_) => true,
                };
                require(grounded, Rule::ValidationJudgesTagAndMsVersion, || {
                    format!(
                        "{joiner} rejected ({reason:?}) at index {index} by {tag} at MS version {}, having presented {sent:?}",
                        ms_version
                    )
                })
            }
            Action::NodesLeft { nodes, index, .. } => {
                let c = self.clusters.entry(init).or_default();
                for (name, launch) in nodes {
                    if c.validated.get(name) == Some(launch) {
                        c.validated.remove(name);
                    }
                }
                c.left = Some((*index, nodes.iter().cloned().collect()));
                Ok(())
            }
            Action::LtChanged {
                version,
                members,
                index,
                ..
            } => self.lt_changed(init, *version, members, *index),
            Action::MsNodesChanged {
                version,
                nodes,
                index,
                ..
            } => {
                let c = self.clusters.entry(init).or_default();
                // The same list again is no change: the version stays.
                let same = *version == c.ms_version
                    && c.ms_configs
                        .get(version)
                        .is_some_and(|l| l.as_ref() == Some(nodes));
                require(
                    *version == c.ms_version + 1 || same,
                    Rule::MsVersionStepsByOne,
                    || {
                        format!(
                            "the MS version went from {} to {version} at index {index}",
                            c.ms_version
                        )
                    },
                )?;
                c.ms_version = *version;
                c.ms_configs.insert(*version, Some(nodes.clone()));
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// What the CMG judges a join of `joiner`'s `launch` at `index` of incarnation `init` on:
    /// the committed tag and Meta Storage version, and what that launch presented in its join
    /// requests (a launch belongs to one node of the run, whatever its name: two live nodes may
    /// share one, spec §5). `verb` ("validated", "rejected") words the refusals.
    fn join_ground(
        &self,
        init: u64,
        joiner: &str,
        launch: u64,
        index: u64,
        verb: &str,
    ) -> Result<(Tag, u64, Vec<Presented>), Refusal> {
        let cluster = self.clusters.get(&init);
        let Some((tag, _)) = cluster.and_then(|c| c.committed.as_ref()) else {
            return Err(Refusal {
                rule: Rule::ValidationAfterClusterInit,
                detail: format!(
                    "{joiner} {verb} at index {index} of init {init:016x}, before its cluster-init"
                ),
            });
        };
        let sent: Vec<Presented> = self
            .nodes
            .values()
            .flat_map(|n| n.requests.iter())
            .filter(|(l, _)| *l == launch)
            .map(|(_, s)| s.clone())
            .collect();
        require(!sent.is_empty(), Rule::ValidationFollowsRequest, || {
            format!(
                "{joiner} (launch {launch:016x}) {verb} at index {index} without a join request"
            )
        })?;
        let ms_version = cluster.map_or(0, |c| c.ms_version);
        Ok((tag.clone(), ms_version, sent))
    }

    fn lt_changed(
        &mut self,
        init: u64,
        version: u64,
        members: &[(Name, u64)],
        index: u64,
    ) -> Result<(), Refusal> {
        // Read in place: a cluster holds its whole log, too big to copy at every step.
        self.clusters.entry(init).or_default();
        let c: &Cluster = &self.clusters[&init];
        let new: BTreeSet<(Name, u64)> = members.iter().cloned().collect();
        let old: BTreeSet<(Name, u64)> = c.lt.iter().map(|(n, l)| (n.clone(), *l)).collect();
        // One step per member that entered, left or was replaced (a new launch of its name).
        let changed: BTreeSet<&Name> = new
            .symmetric_difference(&old)
            .map(|(name, _)| name)
            .collect();
        require(
            !changed.is_empty() && version == c.lt_version + changed.len() as u64,
            Rule::LtVersionStepsByOne,
            || {
                format!(
                "the LT went from version {} to {version} at index {index}, changing {} member(s)",
                c.lt_version,
                changed.len()
            )
            },
        )?;
        let tag = c.committed.as_ref().map(|(t, _)| t.clone());
        for (name, launch) in new.difference(&old) {
            let ready = tag
                .as_ref()
                .is_some_and(|t| self.launch_sent_ready(*launch, t));
            require(
                c.validated.get(name) == Some(launch) && ready,
                Rule::LtEntryFromValidatedReady,
                || {
                    format!(
                    "{name} (launch {launch:016x}) entered the LT at version {version} (index {index}); validated: {}, join ready sent: {ready}",
                    c.validated.get(name) == Some(launch)
                )
                },
            )?;
        }
        let left_here = c
            .left
            .as_ref()
            .filter(|(i, _)| *i == index)
            .map(|(_, l)| l.clone())
            .unwrap_or_default();
        for (name, launch) in old.difference(&new) {
            let replaced = new.iter().any(|(n, l)| n == name && l != launch);
            require(
                replaced || left_here.contains(&(name.clone(), *launch)),
                Rule::LtExitByLeaveOrReplacement,
                || {
                    format!(
                    "{name} (launch {launch:016x}) left the LT at version {version} (index {index}) without a leave naming it or a new launch of its name"
                )
                },
            )?;
        }
        let c = self.clusters.entry(init).or_default();
        c.lt = members.iter().cloned().collect();
        c.lt_version = version;
        c.lt_history.insert(version, new);
        Ok(())
    }

    /// True when the node that had `launch` sent join ready from it to the cluster tagged `tag`
    /// (after that cluster accepted it).
    pub(crate) fn launch_sent_ready(&self, launch: u64, tag: &Tag) -> bool {
        self.nodes
            .values()
            .any(|n| n.ready.iter().any(|(l, t)| *l == launch && t == tag))
    }

    /// A Meta Storage replica's effect.
    pub(crate) fn ms_effect(&mut self, action: &Action) -> Result<(), Refusal> {
        let Some(init) = self.place(action, Group::Ms)? else {
            return Ok(());
        };
        let Action::MsConfigApplied {
            version,
            nodes,
            index,
            ..
        } = action
        else {
            return Ok(());
        };
        let first = self.inits.get(&init).map(|s| s.ms.clone());
        let c = self.clusters.entry(init).or_default();
        let committed = if *version == 1 {
            // The init's own list, before (or as) the CMG commits it.
            first.map(Some).unwrap_or(None)
        } else {
            c.ms_configs.get(version).cloned().flatten()
        };
        let known = *version == 1 || c.ms_configs.contains_key(version) || c.committed.is_none();
        require(
            known && committed.as_ref().is_none_or(|c| c == nodes) && *version >= c.ms_applied,
            Rule::MsAppliesCommittedConfigs,
            || {
                format!(
                "the Meta Storage of init {init:016x} applied version {version} {nodes:?} at index {index}; the CMG committed {:?} for it (MS version {}), and the Meta Storage had applied version {}",
                committed, c.ms_version, c.ms_applied
            )
            },
        )?;
        c.ms_applied = *version;
        Ok(())
    }
}
