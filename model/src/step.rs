//! The model's transition function: [`State::step`] allows an action (and takes it) or refuses it
//! with the rule it breaks. The world's actions, step 1 and step 2 are here; the CMG and Meta
//! Storage logs and step 4 in `log.rs` and `join.rs`.

use crate::action::Action;
use crate::ids::{Group, Stored};
use crate::rule::{require, Refusal, Rule};
use crate::state::{InitSent, NodeState, State};

impl State {
    /// Takes `action` if the spec allows it from this state; otherwise leaves the state as it
    /// was... not necessarily: a refused action may have changed part of it, so a caller stops
    /// at the first refusal (trace validation reports it as the run's `model_divergence`).
    ///
    /// # Errors
    /// The [`Refusal`] naming the rule the action breaks (see [`Rule::source`] for its spec
    /// sentence).
    pub fn step(&mut self, action: &Action) -> Result<(), Refusal> {
        self.steps += 1;
        let node = action.node().to_string();
        let acts_while_down = matches!(
            action,
            Action::Start { .. }
                | Action::Kill { .. }
                | Action::Wipe { .. }
                | Action::StorageFault { .. }
        );
        if !acts_while_down {
            let running = self.nodes.get(&node).is_some_and(|n| n.running);
            require(running, Rule::OnlyRunningNodesAct, || {
                format!("{node} is not running: {action:?}")
            })?;
        }
        match action {
            Action::Start {
                node,
                name,
                launch,
                stored,
            } => {
                self.node(node).name = name.clone();
                self.start(node, *launch, stored)
            }
            Action::Kill { node } => {
                self.stop(node);
                Ok(())
            }
            Action::Wipe { node } => {
                let n = self.node(node);
                n.vault = None;
                n.vault_known = true;
                n.held = [None].into_iter().collect();
                n.accepted = None;
                n.recovered = None;
                Ok(())
            }
            Action::StorageFault { node } => {
                self.node(node).vault_known = false;
                Ok(())
            }
            Action::Leave { .. } | Action::Halt { .. } => Ok(()),
            Action::Admit {
                by, member, tag, ..
            } => self.admit(by, member, tag.as_ref()),
            Action::InitSent {
                init, tag, cmg, ms, ..
            } => self.init_sent(
                *init,
                InitSent {
                    tag: tag.clone(),
                    cmg: cmg.clone(),
                    ms: ms.clone(),
                },
            ),
            Action::GroupStarted {
                node,
                group,
                init,
                from_vault,
            } => self.group_started(node, *group, *init, *from_vault),
            Action::GroupDestroyed { node, group, init } => {
                self.node(node).hosts.remove(group);
                self.cursors.remove(&(node.clone(), *group));
                let tag = self.tag_of(*init);
                let ignores_answer = self.flawed(crate::ModelFlaw::CancelIgnoresAnswer);
                require(
                    ignores_answer || tag.as_ref().is_none_or(|t| !self.answered.contains(t)),
                    Rule::NoCancelOfAnsweredCluster,
                    || {
                        format!(
                            "{node} destroyed its {group:?} replica of init {init:016x}, whose tag {} a user was told",
                            tag.as_ref().map(|t| t.to_string()).unwrap_or_default()
                        )
                    },
                )
            }
            Action::MsLeader { init, .. } => {
                self.clusters.entry(*init).or_default().ms_led = true;
                Ok(())
            }
            Action::InitAnswered { node, tag } => self.init_answered(node, tag),
            Action::VaultCleared { node, init } => self.vault_cleared(node, *init),
            Action::ClusterInit { .. }
            | Action::FateApplied { .. }
            | Action::Validated { .. }
            | Action::Rejected { .. }
            | Action::NodesLeft { .. }
            | Action::LtChanged { .. }
            | Action::MsNodesChanged { .. } => self.cmg_effect(action),
            Action::MsConfigApplied { .. } => self.ms_effect(action),
            Action::JoinRequest { node, stored } => self.join_request(node, stored.as_ref()),
            Action::JoinAccepted {
                node,
                tag,
                stored_ms,
                cluster_ms,
            } => self.join_accepted(node, tag, *stored_ms, *cluster_ms),
            Action::MsVersionStored { node, from, to } => self.ms_version_stored(node, *from, *to),
            Action::RecoveryFinished { node, ms_version } => {
                self.recovery_finished(node, *ms_version)
            }
            Action::JoinReady { node } => self.join_ready(node),
            Action::Joined { node, lt_version } => self.joined(node, *lt_version),
        }
    }

    /// The node's state, created empty (not running, vault unknown until its first start).
    pub(crate) fn node(&mut self, name: &str) -> &mut NodeState {
        self.nodes.entry(name.to_string()).or_default()
    }

    fn start(&mut self, name: &str, launch: u64, stored: &Option<Stored>) -> Result<(), Refusal> {
        self.stop(name);
        let n = self.node(name);
        require(!n.launches.contains(&launch), Rule::LaunchIsNew, || {
            format!("{name} started with launch {launch:016x} again")
        })?;
        if n.started {
            if n.vault_known {
                require(&n.vault == stored, Rule::VaultSurvivesRestart, || {
                    format!(
                        "{name} started from {} but its vault held {}",
                        show(stored),
                        show(&n.vault)
                    )
                })?;
            } else {
                require(n.held.contains(stored), Rule::VaultSurvivesRestart, || {
                    format!(
                        "{name} started after a storage fault from {}, which its vault never held",
                        show(stored)
                    )
                })?;
            }
        } else {
            n.held.insert(None);
        }
        n.started = true;
        n.running = true;
        n.launch = Some(launch);
        n.launches.insert(launch);
        n.vault = stored.clone();
        n.vault_known = true;
        n.held.insert(stored.clone());
        n.accepted = None;
        n.recovered = None;
        Ok(())
    }

    /// The node's process stops: its replicas stop with it.
    fn stop(&mut self, name: &str) {
        let n = self.node(name);
        n.running = false;
        n.hosts.clear();
        self.cursors.remove(&(name.to_string(), Group::Cmg));
        self.cursors.remove(&(name.to_string(), Group::Ms));
    }

    fn admit(
        &mut self,
        by: &str,
        member: &str,
        tag: Option<&crate::ids::Tag>,
    ) -> Result<(), Refusal> {
        let n = self.node(by).clone();
        let (Some(mine), Some(theirs), true) = (&n.vault, tag, n.vault_known) else {
            return Ok(());
        };
        // A tag whose init was cancelled is no cluster: a node holding it learns the cancel
        // from whoever knows it (spec §5, "a cancelled member is told, whoever it meets").
        let cancelled = self.cancelled.contains(theirs) || self.cancelled.contains(&mine.tag);
        require(
            mine.tag == *theirs || cancelled,
            Rule::PreInitTagsEqual,
            || {
                format!(
                    "{by} (holding {}) admitted {member} holding {theirs}",
                    mine.tag
                )
            },
        )
    }

    fn init_sent(&mut self, init: u64, sent: InitSent) -> Result<(), Refusal> {
        let reused = self
            .inits
            .iter()
            .find(|(i, s)| **i != init && s.tag == sent.tag)
            .map(|(i, _)| *i);
        require(reused.is_none(), Rule::InitDrawsNewTag, || {
            format!(
                "init {init:016x} sent tag {}, already drawn by init {:016x}",
                sent.tag,
                reused.unwrap_or_default()
            )
        })?;
        if let Some(before) = self.inits.get(&init) {
            require(before == &sent, Rule::InitDrawsNewTag, || {
                format!("init {init:016x} sent again with other contents")
            })?;
        }
        self.inits.insert(init, sent);
        Ok(())
    }

    fn group_started(
        &mut self,
        name: &str,
        group: Group,
        init: u64,
        from_vault: bool,
    ) -> Result<(), Refusal> {
        self.cursors.remove(&(name.to_string(), group));
        self.node(name).hosts.insert(group, init);
        if from_vault {
            return Ok(());
        }
        let Some(sent) = self.inits.get(&init).cloned() else {
            return Ok(());
        };
        let runs_as = self.nodes[name].name.clone();
        let named = match group {
            Group::Cmg => sent.cmg.contains(&runs_as),
            // A Meta Storage learner: an accepted node of the cluster follows its log.
            Group::Ms => {
                sent.ms.contains(&runs_as)
                    || self.nodes[name]
                        .vault
                        .as_ref()
                        .is_some_and(|s| s.tag == sent.tag)
            }
        };
        require(named, Rule::GroupsStartWithTheInitsVoters, || {
            format!(
                "{name} (named {runs_as}) started a {group:?} replica of init {init:016x}, which names {:?}",
                match group {
                    Group::Cmg => &sent.cmg,
                    Group::Ms => &sent.ms,
                }
            )
        })
    }

    fn init_answered(&mut self, name: &str, tag: &crate::ids::Tag) -> Result<(), Refusal> {
        // Read in place: a cluster holds its whole log, too big to copy at every step.
        let cluster = self.cluster_of_tag(tag).map(|(_, c)| (c.ms_led, c.fate));
        require(cluster.is_some(), Rule::AnswerAfterCommit, || {
            format!("{name} answered an init with {tag}, whose cluster-init no replica applied")
        })?;
        let (ms_led, fate) = cluster.unwrap_or_default();
        require(ms_led, Rule::AnswerAfterCommit, || {
            format!("{name} answered an init with {tag} before its Meta Storage had a leader")
        })?;
        require(
            fate != Some(crate::Fate::Cancelled),
            Rule::NoCancelOfAnsweredCluster,
            || format!("{name} answered an init with {tag}, whose cancel was committed"),
        )?;
        self.answered.insert(tag.clone());
        Ok(())
    }

    fn vault_cleared(&mut self, name: &str, init: u64) -> Result<(), Refusal> {
        let tag = self.tag_of(init);
        if let Some(tag) = &tag {
            require(
                self.flawed(crate::ModelFlaw::CancelIgnoresAnswer) || !self.answered.contains(tag),
                Rule::NoCancelOfAnsweredCluster,
                || format!("a cancel cleared {name}'s vault of {tag}, which a user was told"),
            )?;
            self.cancelled.insert(tag.clone());
        }
        let n = self.node(name);
        n.vault = None;
        n.held.insert(None);
        n.accepted = None;
        n.recovered = None;
        Ok(())
    }
}

/// A vault's content for reports.
pub(crate) fn show(stored: &Option<Stored>) -> String {
    match stored {
        None => "an empty vault".into(),
        Some(Stored { tag, ms_version }) => match ms_version {
            Some(v) => format!("{tag} at MS version {v}"),
            None => format!("{tag} without an MS version"),
        },
    }
}
