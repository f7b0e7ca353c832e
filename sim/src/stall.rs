//! The stall report: when a run's liveness fails, or a node's expected outcome is not reached,
//! what each node outside the LT is waiting for and since when — so that the reader of a failure
//! sees why, not only who (docs/debugging.md, "Stall report").
//!
//! A [`StallReport`] per node joins two accounts:
//!
//! - what the node alone knows, read from its [`NodeView`]: the phase of its join and when it
//!   entered it, the CMG leader it believes, the last message of the join it sent and received,
//!   the inits and cancels it runs (`JoinProgress`, `InitInFlight`, `CancelInFlight` in the core);
//! - what only the world knows: whether a majority of its CMG's voters runs, has not stopped, and
//!   is not cut off from it ([`CmgReach`], from the world's running nodes and cut links).
//!
//! Reading either changes nothing: no event, no message, the trace hash stays as it was.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use joinsim::init::{CancelInFlight, InitInFlight};
use joinsim::{
    ClusterTag, InstanceId, JoinMessage, JoinPhase, JoinProgress, LogicalTopology, NodeName,
    NodeView,
};
use serde::Serialize;

use crate::world::World;

/// Whether a node of the run is up, as the world sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Liveness {
    /// Running and not stopped.
    Running,
    /// Running, but stopped for good with a rejection (its replicas are gone).
    Halted,
    /// Not running.
    Down,
}

/// One node of the run as the world sees it: what a voter's reachability is judged by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Presence {
    /// Its label (unique in the run).
    pub label: String,
    /// Its protocol name (two labels may share one).
    pub name: NodeName,
    /// Whether it is up.
    pub liveness: Liveness,
}

/// How one CMG voter stands from a stalled node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum VoterReach {
    /// The stalled node is that voter.
    Itself,
    /// Running, not stopped, no link cut between the two.
    Reachable,
    /// Running and not stopped, but a link between the two is cut: `to` (the node's messages
    /// to the voter are lost), `from` (the voter's messages to the node are lost), or both.
    CutOff {
        /// The node → voter link is cut.
        to: bool,
        /// The voter → node link is cut.
        from: bool,
    },
    /// Running, but stopped for good with a rejection.
    Halted,
    /// Not running.
    Down,
    /// No node of the run has that name (a name a replica knows only by its Raft id).
    Unknown,
}

impl VoterReach {
    /// True when the voter counts toward a majority the node can reach.
    pub fn counts(self) -> bool {
        matches!(self, VoterReach::Itself | VoterReach::Reachable)
    }
}

/// One voter of the CMG a stalled node depends on, and how it stands from it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CmgVoter {
    /// The voter's name.
    pub name: NodeName,
    /// How it stands from the stalled node.
    pub reach: VoterReach,
}

/// Where the CMG a stalled node depends on was read from, in this order of preference.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum CmgSource {
    /// The cluster stored in its vault (it is initialized).
    StoredCluster(ClusterTag),
    /// The CMG replica it hosts (a named node of an init not yet committed).
    OwnReplica(InstanceId),
    /// The cluster whose leader it follows, as a running replica holds it.
    FollowedCluster(ClusterTag),
    /// A cluster a running CMG replica holds (an empty node that has not heard of it).
    RunningReplica(ClusterTag),
}

impl fmt::Display for CmgSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CmgSource::StoredCluster(tag) => write!(f, "of its stored cluster {tag}"),
            CmgSource::OwnReplica(init) => write!(f, "of the init {init} it hosts a replica of"),
            CmgSource::FollowedCluster(tag) => write!(f, "of the cluster {tag} it follows"),
            CmgSource::RunningReplica(tag) => {
                write!(f, "of the cluster {tag} a running replica holds")
            }
        }
    }
}

/// Whether a stalled node's CMG has a majority it can reach, in the world's view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum CmgReach {
    /// No CMG to judge: the node stores no cluster, hosts no replica, and no running replica
    /// holds a committed cluster state (nothing is initialized, as far as running nodes know).
    NoCluster,
    /// Its CMG's voters, in the CMG's order, each with how it stands from the node.
    Voters {
        /// Where the CMG was read.
        source: CmgSource,
        /// Every voter.
        voters: Vec<CmgVoter>,
    },
}

impl CmgReach {
    /// The voters it can reach (itself included) and the majority needed; `None` for
    /// [`CmgReach::NoCluster`].
    pub fn count(&self) -> Option<(usize, usize)> {
        match self {
            CmgReach::NoCluster => None,
            CmgReach::Voters { voters, .. } => Some((
                voters.iter().filter(|v| v.reach.counts()).count(),
                voters.len() / 2 + 1,
            )),
        }
    }

    /// True when it can reach a majority of its CMG's voters.
    pub fn has_majority(&self) -> bool {
        self.count().is_some_and(|(reach, need)| reach >= need)
    }
}

/// A running node outside every CMG leader's LT: its join as it knows it, and its CMG as the
/// world sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Waiting {
    /// Its join's phase (`Joined`: it believes it joined, but no leader's LT has it).
    pub phase: JoinPhase,
    /// Since when, with whom, through which last messages.
    pub progress: JoinProgress,
    /// Admitted to the physical topology.
    pub in_topology: bool,
    /// The inits it runs as initiator.
    pub inits: Vec<InitInFlight>,
    /// The cancels it tells.
    pub cancels: Vec<CancelInFlight>,
    /// Whether its CMG has a majority it can reach.
    pub cmg: CmgReach,
}

/// What a node outside the LT is doing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Situation {
    /// Not running.
    Down,
    /// Started, its state machine not running yet.
    Starting,
    /// Stopped for good: the rejection.
    Halted(String),
    /// Running and waiting.
    Waiting(Box<Waiting>),
}

/// One node outside every CMG leader's LT when a run failed. Its `Display` is the text `run` and
/// `check` print: a first line `label: what, since when`, then one indented line per fact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StallReport {
    /// The node's label.
    pub label: String,
    /// When the report was taken (simulated ms since the run started).
    pub at_ms: u64,
    /// What it is doing.
    pub situation: Situation,
}

/// The phase's name and, in words, what the node waits for in it.
fn phase_text(phase: &JoinPhase) -> (&'static str, String) {
    match phase {
        JoinPhase::Waiting => ("waiting", "waiting for a CMG leader's cluster state".into()),
        JoinPhase::Requesting => (
            "requesting",
            "join request sent, waiting for validation".into(),
        ),
        JoinPhase::Recovering { target_ms_version } => (
            "recovering",
            format!("validated, catching up its Meta Storage to version {target_ms_version}"),
        ),
        JoinPhase::ReadySent => (
            "ready sent",
            "join ready sent, waiting for the CMG to put it in the LT".into(),
        ),
        JoinPhase::Joined { lt_version } => (
            "joined",
            format!("believes it joined at LT version {lt_version}, but no CMG leader's LT has it"),
        ),
    }
}

fn message_text(message: &Option<JoinMessage>, way: &str) -> String {
    match message {
        Some(m) => format!("{} {way} {} at {} ms", m.kind, m.peer, m.at_ms),
        None => "none".into(),
    }
}

fn init_text(init: &InitInFlight) -> String {
    let waits = if !init.awaiting_start.is_empty() {
        format!(
            "waiting for {} to start its groups",
            init.awaiting_start.join(", ")
        )
    } else {
        match (init.committed, init.ms_leader) {
            (false, false) => "waiting for the commit and a Meta Storage leader".into(),
            (false, true) => "waiting for the commit".into(),
            (true, false) => "waiting for a Meta Storage leader".into(),
            (true, true) => "waiting for the CMG to record the answer".into(),
        }
    };
    format!(
        "init {} as initiator since {} ms: {waits}",
        init.init, init.started_ms
    )
}

fn cancel_text(cancel: &CancelInFlight) -> String {
    format!(
        "cancel of init {} since {} ms: {} node(s) have not acknowledged{}{}",
        cancel.init,
        cancel.started_ms,
        cancel.unacknowledged,
        if cancel.decided {
            ", decided by the CMG"
        } else {
            ", not decided"
        },
        if cancel.holds_answer {
            ", the user's answer held"
        } else {
            ""
        }
    )
}

fn voter_text(voter: &CmgVoter) -> String {
    let state = match voter.reach {
        VoterReach::Itself => "itself",
        VoterReach::Reachable => "reachable",
        VoterReach::CutOff {
            to: true,
            from: true,
        } => "cut off both ways",
        VoterReach::CutOff { to: true, .. } => "cut off (messages to it are lost)",
        VoterReach::CutOff { .. } => "cut off (messages from it are lost)",
        VoterReach::Halted => "halted",
        VoterReach::Down => "down",
        VoterReach::Unknown => "unknown",
    };
    format!("{} {state}", voter.name)
}

impl fmt::Display for StallReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = &self.label;
        let w = match &self.situation {
            Situation::Down => return write!(f, "{label}: down (not running)"),
            Situation::Starting => {
                return write!(f, "{label}: starting (its state machine not running yet)")
            }
            Situation::Halted(rejection) => {
                return write!(f, "{label}: halted for good: {rejection}")
            }
            Situation::Waiting(w) => w,
        };
        let p = &w.progress;
        let (phase, meaning) = phase_text(&w.phase);
        writeln!(
            f,
            "{label}: {phase} since {} ms ({} ms ago), join attempt {}: {meaning}",
            p.since_ms,
            self.at_ms.saturating_sub(p.since_ms),
            p.attempt
        )?;
        if !w.in_topology {
            writeln!(f, "  not admitted to the physical topology")?;
        }
        match (&p.leader, &p.cluster) {
            (Some(leader), Some(tag)) => writeln!(f, "  believed CMG leader: {leader} ({tag})")?,
            (Some(leader), None) => writeln!(f, "  believed CMG leader: {leader}")?,
            (None, _) => writeln!(f, "  believed CMG leader: none")?,
        }
        writeln!(
            f,
            "  last join message sent: {}",
            message_text(&p.last_sent, "to")
        )?;
        writeln!(
            f,
            "  last join message received: {}",
            message_text(&p.last_received, "from")
        )?;
        let pending: Vec<String> = w
            .inits
            .iter()
            .map(init_text)
            .chain(w.cancels.iter().map(cancel_text))
            .collect();
        if pending.is_empty() {
            writeln!(f, "  pending init or cancel: none")?;
        } else {
            for line in pending {
                writeln!(f, "  pending {line}")?;
            }
        }
        match &w.cmg {
            CmgReach::NoCluster => write!(
                f,
                "  CMG: none known (no stored cluster, no replica, no running replica holds a committed cluster)"
            ),
            CmgReach::Voters { source, voters } => {
                let (reach, need) = w.cmg.count().unwrap_or_default();
                let list: Vec<String> = voters.iter().map(voter_text).collect();
                let verdict = if reach >= need {
                    "CMG majority reachable"
                } else {
                    "no reachable CMG majority"
                };
                write!(
                    f,
                    "  CMG {source}: {}: {verdict} ({reach} of {} reachable, {need} needed)",
                    list.join(", "),
                    voters.len()
                )
            }
        }
    }
}

/// How each of `voters` stands from the node labelled `me` (named `me_name`), given every
/// node's presence and the cut links (`(from, to)` labels). A name several labels share is
/// judged by the first of them that runs and has not stopped (or else by the first that runs).
pub fn cmg_voters(
    me: &str,
    me_name: &str,
    voters: &[NodeName],
    presences: &[Presence],
    cut: &BTreeSet<(String, String)>,
) -> Vec<CmgVoter> {
    voters
        .iter()
        .map(|name| {
            let same: Vec<&Presence> = presences.iter().filter(|p| &p.name == name).collect();
            let best = same
                .iter()
                .find(|p| p.liveness == Liveness::Running)
                .or_else(|| same.iter().find(|p| p.liveness == Liveness::Halted))
                .or_else(|| same.first());
            let reach = if name == me_name {
                VoterReach::Itself
            } else {
                match best {
                    None => VoterReach::Unknown,
                    Some(p) if p.liveness == Liveness::Down => VoterReach::Down,
                    Some(p) if p.liveness == Liveness::Halted => VoterReach::Halted,
                    Some(p) => {
                        let to = cut.contains(&(me.to_string(), p.label.clone()));
                        let from = cut.contains(&(p.label.clone(), me.to_string()));
                        if to || from {
                            VoterReach::CutOff { to, from }
                        } else {
                            VoterReach::Reachable
                        }
                    }
                }
            };
            CmgVoter {
                name: name.clone(),
                reach,
            }
        })
        .collect()
}

/// The CMG a waiting node depends on and where it was read (docs/debugging.md): its stored
/// cluster's, else its own replica's voters, else the cluster it follows as a running replica
/// holds it, else the first cluster (in label order) a running replica holds.
fn cmg_of(
    view: &NodeView,
    views: &BTreeMap<String, NodeView>,
) -> Option<(CmgSource, Vec<NodeName>)> {
    if let Some(local) = &view.local {
        return Some((
            CmgSource::StoredCluster(local.config.tag.clone()),
            local.config.cmg_nodes.clone(),
        ));
    }
    if let Some(group) = &view.cmg {
        return Some((CmgSource::OwnReplica(group.instance), group.voters.clone()));
    }
    let held = || {
        views
            .values()
            .filter_map(|v| v.cmg_state.as_ref().and_then(|s| s.cluster.as_ref()))
    };
    if let Some(tag) = &view.join_progress.cluster {
        if let Some(c) = held().find(|c| &c.config.tag == tag) {
            return Some((
                CmgSource::FollowedCluster(tag.clone()),
                c.config.cmg_nodes.clone(),
            ));
        }
    }
    held().next().map(|c| {
        (
            CmgSource::RunningReplica(c.config.tag.clone()),
            c.config.cmg_nodes.clone(),
        )
    })
}

/// The stall report of every node of the run that is not in the LT of a running CMG leader
/// with its current launch, in label order, taken from the world as it is now.
pub fn stall_reports(world: &World) -> Vec<StallReport> {
    let views = world.views();
    let cut = world.cut_links();
    let at_ms = world.now_ms();
    let presences: Vec<Presence> = world
        .labels()
        .into_iter()
        .map(|label| {
            let liveness = match views.get(&label) {
                Some(v) if v.halted.is_some() => Liveness::Halted,
                Some(_) => Liveness::Running,
                None if world.is_running(&label) => Liveness::Running,
                None => Liveness::Down,
            };
            Presence {
                name: world.name_of(&label),
                label,
                liveness,
            }
        })
        .collect();
    let lts: Vec<&LogicalTopology> = views
        .values()
        .filter(|v| v.is_cmg_leader())
        .filter_map(|v| v.lt())
        .collect();
    let mut reports = Vec::new();
    for presence in &presences {
        let label = &presence.label;
        let situation = match views.get(label) {
            None if presence.liveness == Liveness::Down => Situation::Down,
            None => Situation::Starting,
            Some(v) if lts.iter().any(|lt| lt.contains(&v.name, v.launch)) => continue,
            Some(v) => match &v.halted {
                Some(rejection) => Situation::Halted(rejection.to_string()),
                None => {
                    let cmg = match cmg_of(v, &views) {
                        None => CmgReach::NoCluster,
                        Some((source, voters)) => CmgReach::Voters {
                            source,
                            voters: cmg_voters(label, &v.name, &voters, &presences, &cut),
                        },
                    };
                    Situation::Waiting(Box::new(Waiting {
                        phase: v.join.clone(),
                        progress: v.join_progress.clone(),
                        in_topology: v.in_topology,
                        inits: v.inits.clone(),
                        cancels: v.cancels.clone(),
                        cmg,
                    }))
                }
            },
        };
        reports.push(StallReport {
            label: label.clone(),
            at_ms,
            situation,
        });
    }
    reports
}

#[cfg(test)]
mod tests;
