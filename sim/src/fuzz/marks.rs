//! Coverage marks of a campaign (docs/fuzzing.md, "Coverage marks"): the protocol's own marks
//! ([`joinsim::Mark`], reported by the nodes as `Event::Mark` at each decision point) and the
//! world's ([`WorldMark`], which need the harness's view of every node: a CMG leader change
//! or a restart during each join phase, faults as they struck, hazards), each declared common
//! or rare. A campaign of the default size or larger that leaves a common mark unhit fails
//! ([`verdict`]).

use std::collections::{BTreeMap, BTreeSet};

use joinsim::{Event, GroupKind, Mark, Rarity, Role};
use serde::Serialize;
use strum::IntoEnumIterator;

use crate::checkers::{Hazard, HazardKind};
use crate::trace::{HarnessEvent, TraceEntry, TraceKind};

/// The fewest runs a campaign makes for its coverage to be judged: the default campaign's
/// size (`joinsim fuzz` with no flags).
pub const ENFORCED_RUNS: u64 = 1_000;

/// Where a node stands in its join, as the world sees it from the trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    /// Started, not yet in a physical topology.
    Handshake,
    /// In a physical topology; no cluster committed anywhere yet.
    WaitingForInit,
    /// In a physical topology, a cluster committed somewhere; no join request sent yet.
    WaitingForClusterState,
    /// Join request sent; waiting for validation.
    JoinRequest,
    /// Accepted; catching up its Meta Storage.
    Recovery,
    /// Join ready sent.
    JoinReady,
    /// In the LT, stopped, or gone.
    Done,
}

/// A mark only the harness can see: it needs every node's phase, the faults as they struck,
/// or the checkers' hazards. Derived from a run's trace by [`marks_of`].
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, strum::EnumIter, strum::IntoStaticStr,
)]
#[strum(serialize_all = "snake_case")]
pub enum WorldMark {
    /// A new CMG leader was elected (not the run's first) while a node was handshaking.
    LeaderChangeDuringHandshake,
    /// A new CMG leader while a node in a topology waited for an init (no cluster committed).
    LeaderChangeWhileWaitingForInit,
    /// A new CMG leader while a node in a topology waited for a cluster state.
    LeaderChangeWhileWaitingForClusterState,
    /// A new CMG leader while a node's join request waited for validation.
    LeaderChangeDuringJoinRequest,
    /// A new CMG leader while a validated node caught up its Meta Storage.
    LeaderChangeDuringRecovery,
    /// A new CMG leader while a node's join ready waited for its answer.
    LeaderChangeDuringJoinReady,
    /// A node killed (then started again) while handshaking.
    RestartDuringHandshake,
    /// A node killed while it waited for an init.
    RestartWhileWaitingForInit,
    /// A node killed while it waited for a cluster state.
    RestartWhileWaitingForClusterState,
    /// A node killed while its join request waited for validation.
    RestartDuringJoinRequest,
    /// A node killed while it caught up its Meta Storage.
    RestartDuringRecovery,
    /// A node killed while its join ready waited for its answer.
    RestartDuringJoinReady,
    /// The CMG leader killed less than a failure timeout after another node died.
    LeaderRestartBeforeFailureDetection,
    /// A node that hosted an init came back after that init was cancelled while it was down.
    CancelledMemberReturns,
    /// One init's parameters reached two initiators.
    SameInitViaTwoInitiators,
    /// After a partition healed, a node of another cluster was refused by tag at pre-init.
    StrayOfAnotherClusterAfterHeal,
    /// A duplicate (`d1`) joined under the name of a core node that died.
    DuplicateTookAFreeName,
    /// A partition (two-sided or one-way).
    Partition,
    /// A vault wiped.
    Wipe,
    /// A power loss lost at least one lazy (not yet durable) write.
    LazyWriteLost,
    /// A torn vault record refused at a start.
    VaultRecordRefused,
    /// A `duplicate` rule added.
    FaultDuplicate,
    /// A `delay` rule added.
    FaultDelay,
    /// A link given its own latency and loss.
    FaultLink,
    /// A clock skewed or drifting.
    FaultClock,
    /// A node paused.
    FaultPause,
    /// A `crash_after_write` struck.
    FaultCrashAfterWrite,
    /// A `torn_write` struck.
    FaultTornWrite,
    /// A `power_loss` struck.
    FaultPowerLoss,
    /// A graceful leave.
    FaultLeave,
    /// A node moved to another address.
    FaultMove,
    /// The two-clusters hazard.
    HazardTwoClusters,
}

impl WorldMark {
    /// The mark's snake_case name.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// Whether a campaign of the default size is expected to reach it. Exhaustive (no
    /// wildcard), like [`Mark::rarity`]; "N/1000, M/6000" are runs that hit it.
    pub fn rarity(self) -> Rarity {
        use Rarity::{Common, Rare};
        match self {
            // A new leader while no cluster is committed needs a second init's group after a
            // first leader: 1/1000, 3/6000.
            WorldMark::LeaderChangeWhileWaitingForInit => Rare,
            // 6/1000, 28/6000: join ready is answered within a round trip.
            WorldMark::RestartDuringJoinReady => Rare,
            WorldMark::LeaderChangeDuringHandshake
            | WorldMark::LeaderChangeWhileWaitingForClusterState
            | WorldMark::LeaderChangeDuringJoinRequest
            | WorldMark::LeaderChangeDuringRecovery
            | WorldMark::LeaderChangeDuringJoinReady => Common,
            WorldMark::RestartDuringHandshake
            | WorldMark::RestartWhileWaitingForInit
            | WorldMark::RestartWhileWaitingForClusterState
            | WorldMark::RestartDuringJoinRequest
            | WorldMark::RestartDuringRecovery => Common,
            WorldMark::LeaderRestartBeforeFailureDetection
            | WorldMark::CancelledMemberReturns
            | WorldMark::SameInitViaTwoInitiators
            | WorldMark::StrayOfAnotherClusterAfterHeal
            | WorldMark::DuplicateTookAFreeName
            | WorldMark::Partition
            | WorldMark::Wipe
            | WorldMark::VaultRecordRefused => Common,
            // 0/1000, 3/6000 (docs/fuzzing.md, "The weather of the fault model"): lazy writes
            // are few and stay in the page cache at most 5 s; scenario
            // fault-power-loss-of-the-initiator-during-a-cancel.
            WorldMark::LazyWriteLost => Rare,
            WorldMark::FaultDuplicate
            | WorldMark::FaultDelay
            | WorldMark::FaultLink
            | WorldMark::FaultClock
            | WorldMark::FaultPause
            | WorldMark::FaultCrashAfterWrite
            | WorldMark::FaultTornWrite
            | WorldMark::FaultPowerLoss
            | WorldMark::FaultLeave
            | WorldMark::FaultMove => Common,
            WorldMark::HazardTwoClusters => Common,
        }
    }

    /// The mark of a hazard kind.
    pub fn of_hazard(kind: HazardKind) -> WorldMark {
        match kind {
            HazardKind::TwoClusters => WorldMark::HazardTwoClusters,
        }
    }

    fn leader_change_during(phase: Phase) -> Option<WorldMark> {
        match phase {
            Phase::Handshake => Some(WorldMark::LeaderChangeDuringHandshake),
            Phase::WaitingForInit => Some(WorldMark::LeaderChangeWhileWaitingForInit),
            Phase::WaitingForClusterState => {
                Some(WorldMark::LeaderChangeWhileWaitingForClusterState)
            }
            Phase::JoinRequest => Some(WorldMark::LeaderChangeDuringJoinRequest),
            Phase::Recovery => Some(WorldMark::LeaderChangeDuringRecovery),
            Phase::JoinReady => Some(WorldMark::LeaderChangeDuringJoinReady),
            Phase::Done => None,
        }
    }

    fn restart_during(phase: Phase) -> Option<WorldMark> {
        match phase {
            Phase::Handshake => Some(WorldMark::RestartDuringHandshake),
            Phase::WaitingForInit => Some(WorldMark::RestartWhileWaitingForInit),
            Phase::WaitingForClusterState => Some(WorldMark::RestartWhileWaitingForClusterState),
            Phase::JoinRequest => Some(WorldMark::RestartDuringJoinRequest),
            Phase::Recovery => Some(WorldMark::RestartDuringRecovery),
            Phase::JoinReady => Some(WorldMark::RestartDuringJoinReady),
            Phase::Done => None,
        }
    }
}

/// Whether a mark is the protocol's or the world's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Reported by a node ([`Mark`], `src/marks.rs`).
    Protocol,
    /// Derived by the harness ([`WorldMark`]).
    World,
}

/// Every mark, protocol and world: name, origin and rarity, protocol marks first, each in
/// declaration order.
pub fn registry() -> Vec<(&'static str, Origin, Rarity)> {
    let protocol = Mark::iter().map(|m| (m.name(), Origin::Protocol, m.rarity()));
    let world = WorldMark::iter().map(|m| (m.name(), Origin::World, m.rarity()));
    protocol.chain(world).collect()
}

/// The marks a run hit, by name: the protocol's marks in its trace, and the world's marks
/// derived from its trace and its hazards.
pub fn marks_of(trace: &[TraceEntry], hazards: &[Hazard]) -> BTreeSet<&'static str> {
    let mut world = WorldView::default();
    let mut hit: BTreeSet<&'static str> = BTreeSet::new();
    for entry in trace {
        if let TraceKind::Protocol(Event::Mark(mark)) = &entry.kind {
            hit.insert(mark.name());
        }
        world.observe(entry);
    }
    for hazard in hazards {
        world.reached.insert(WorldMark::of_hazard(hazard.kind));
    }
    hit.extend(world.reached.into_iter().map(WorldMark::name));
    hit
}

/// What [`marks_of`] follows through a trace to derive the world's marks.
#[derive(Default)]
struct WorldView {
    reached: BTreeSet<WorldMark>,
    /// Each node's phase (by label).
    phase: BTreeMap<String, Phase>,
    /// Whether some CMG replica has committed a cluster.
    cluster_committed: bool,
    /// The CMG leader last elected, if any has been.
    leader: Option<String>,
    /// Who is down, since when (µs).
    down_since: BTreeMap<String, u64>,
    /// The init incarnations each node hosted.
    hosted: BTreeMap<String, BTreeSet<joinsim::InstanceId>>,
    /// When each init was first cancelled (µs).
    cancelled_at: BTreeMap<joinsim::InstanceId, u64>,
    /// The nodes that received each init's parameters (by their debug text).
    init_params: BTreeMap<String, BTreeSet<String>>,
    /// Whether a partition healed.
    healed: bool,
}

impl WorldView {
    fn observe(&mut self, entry: &TraceEntry) {
        // The failure timeout of the default timing: a kill of the leader this soon after
        // another node died is a restart before the leader's failure detector fired.
        let failure_timeout_us = joinsim::Timing::default().failure_timeout_ms * 1_000;
        let node = entry.node.as_str();
        match &entry.kind {
            TraceKind::Harness(HarnessEvent::NodeKilled) => {
                let phase = self.phase.insert(node.to_string(), Phase::Done);
                if let Some(mark) = phase.and_then(WorldMark::restart_during) {
                    self.reached.insert(mark);
                }
                let other_died_recently = self.down_since.iter().any(|(other, since)| {
                    other != node && entry.time_us.saturating_sub(*since) < failure_timeout_us
                });
                if self.leader.as_deref() == Some(node) && other_died_recently {
                    self.reached
                        .insert(WorldMark::LeaderRestartBeforeFailureDetection);
                }
                self.down_since.insert(node.to_string(), entry.time_us);
            }
            TraceKind::Harness(HarnessEvent::NodeStarted) => {
                self.phase.insert(node.to_string(), Phase::Handshake);
                if let Some(since) = self.down_since.remove(node) {
                    let missed_cancel = self.hosted.get(node).is_some_and(|inits| {
                        inits
                            .iter()
                            .any(|i| self.cancelled_at.get(i).is_some_and(|at| *at >= since))
                    });
                    if missed_cancel {
                        self.reached.insert(WorldMark::CancelledMemberReturns);
                    }
                }
            }
            TraceKind::Harness(harness) => self.observe_harness(harness),
            TraceKind::Message(_) | TraceKind::Verdict(_) => {}
            TraceKind::Protocol(event) => self.observe_event(node, entry.time_us, event),
        }
    }

    /// The harness's entries that are faults (issue 11's, as they struck), partitions, wipes.
    fn observe_harness(&mut self, harness: &HarnessEvent) {
        let mark = match harness {
            HarnessEvent::Partitioned { .. } => Some(WorldMark::Partition),
            HarnessEvent::VaultWiped => Some(WorldMark::Wipe),
            HarnessEvent::Healed => {
                self.healed = true;
                None
            }
            HarnessEvent::RuleAdded { description, .. } if description.starts_with("Duplicate") => {
                Some(WorldMark::FaultDuplicate)
            }
            HarnessEvent::RuleAdded { description, .. } if description.starts_with("Delay") => {
                Some(WorldMark::FaultDelay)
            }
            HarnessEvent::LinkChanged { .. } => Some(WorldMark::FaultLink),
            HarnessEvent::ClockAdjusted { .. } => Some(WorldMark::FaultClock),
            HarnessEvent::Paused { .. } => Some(WorldMark::FaultPause),
            HarnessEvent::VaultRecordRefused { .. } => Some(WorldMark::VaultRecordRefused),
            HarnessEvent::Left => Some(WorldMark::FaultLeave),
            HarnessEvent::AddressChanged { .. } => Some(WorldMark::FaultMove),
            // A storage fault counts when it struck (an armed one may never strike).
            HarnessEvent::StorageFault { fault, detail } => {
                // A power loss that lost at least one lazy write (its detail reads "N lazy
                // write(s) lost", `World::storage_fault`): the non-durable path was reached.
                let lost = detail
                    .split_whitespace()
                    .next()
                    .and_then(|n| n.parse::<u64>().ok());
                if fault == "power_loss" && lost.is_some_and(|n| n > 0) {
                    self.reached.insert(WorldMark::LazyWriteLost);
                }
                match fault.as_str() {
                    "crash_after_write" => Some(WorldMark::FaultCrashAfterWrite),
                    "torn_write" => Some(WorldMark::FaultTornWrite),
                    "power_loss" => Some(WorldMark::FaultPowerLoss),
                    _ => None,
                }
            }
            _ => None,
        };
        if let Some(mark) = mark {
            self.reached.insert(mark);
        }
    }

    fn set_phase(&mut self, node: &str, phase: Phase) {
        self.phase.insert(node.to_string(), phase);
    }

    fn observe_event(&mut self, node: &str, time_us: u64, event: &Event) {
        match event {
            Event::Started { .. } => self.set_phase(node, Phase::Handshake),
            Event::EnteredTopology { .. } => {
                let waiting = if self.cluster_committed {
                    Phase::WaitingForClusterState
                } else {
                    Phase::WaitingForInit
                };
                self.set_phase(node, waiting);
            }
            Event::ClusterInitApplied { .. } => {
                self.cluster_committed = true;
                for phase in self.phase.values_mut() {
                    if *phase == Phase::WaitingForInit {
                        *phase = Phase::WaitingForClusterState;
                    }
                }
            }
            Event::JoinRequestSent { .. } => self.set_phase(node, Phase::JoinRequest),
            Event::JoinAccepted { .. } => self.set_phase(node, Phase::Recovery),
            Event::JoinReadySent { .. } => self.set_phase(node, Phase::JoinReady),
            Event::Joined { .. } => {
                if node.starts_with('d') {
                    self.reached.insert(WorldMark::DuplicateTookAFreeName);
                }
                self.set_phase(node, Phase::Done);
            }
            Event::Halted { .. } | Event::LeftGracefully { .. } => {
                self.set_phase(node, Phase::Done)
            }
            // Empty again: it waits for a cluster state of the next cluster.
            Event::VaultCleared { .. } if self.phase.get(node) != Some(&Phase::Handshake) => {
                self.set_phase(node, Phase::WaitingForClusterState);
            }
            Event::GroupStarted { instance, .. } => {
                self.hosted
                    .entry(node.to_string())
                    .or_default()
                    .insert(*instance);
            }
            Event::InitReceived { params, .. } => {
                let via = self.init_params.entry(format!("{params:?}")).or_default();
                via.insert(node.to_string());
                if via.len() > 1 {
                    self.reached.insert(WorldMark::SameInitViaTwoInitiators);
                }
            }
            Event::InitCancelled { init, .. } => {
                self.cancelled_at.entry(*init).or_insert(time_us);
            }
            Event::RoleChanged {
                group: GroupKind::Cmg,
                role: Role::Leader,
                ..
            } => {
                if self.leader.is_some() {
                    let phases: BTreeSet<Phase> = self.phase.values().copied().collect();
                    for phase in phases {
                        if let Some(mark) = WorldMark::leader_change_during(phase) {
                            self.reached.insert(mark);
                        }
                    }
                }
                self.leader = Some(node.to_string());
            }
            Event::PreInitRefused {
                reason:
                    joinsim::RejectionReason::TagMismatch { .. }
                    | joinsim::RejectionReason::ConflictingTag { .. },
                ..
            } if self.healed => {
                // A node of another cluster met by tag after a heal: a stray.
                self.reached
                    .insert(WorldMark::StrayOfAnotherClusterAfterHeal);
            }
            _ => {}
        }
    }
}

/// A campaign's marks (`fuzz --json`'s `marks`, docs/json.md): the runs that hit each mark,
/// and the marks no run hit, split by rarity; and whether the campaign's coverage is judged.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct MarksReport {
    /// True when the campaign is judged ([`judged`]): then a common mark unhit fails it.
    pub judged: bool,
    /// Why the campaign is not judged (`None` when it is).
    pub not_judged: Option<String>,
    /// Common marks hit, with the runs that hit each.
    pub hit_common: BTreeMap<String, u64>,
    /// Rare marks hit, with the runs that hit each.
    pub hit_rare: BTreeMap<String, u64>,
    /// Common marks no run hit: a judged campaign with any fails.
    pub unhit_common: Vec<String>,
    /// Rare marks no run hit (reported only).
    pub unhit_rare: Vec<String>,
}

impl MarksReport {
    /// The failure of a judged campaign that left a common mark unhit, naming those marks;
    /// `None` when it passes or is not judged.
    pub fn verdict(&self) -> Option<String> {
        (self.judged && !self.unhit_common.is_empty()).then(|| {
            format!(
                "coverage: {} common mark(s) unhit: {} (docs/fuzzing.md, \"Coverage marks\")",
                self.unhit_common.len(),
                self.unhit_common.join(", ")
            )
        })
    }
}

/// Whether a campaign's coverage is judged: it made at least [`ENFORCED_RUNS`] runs (timed or
/// not), it is not a planted-bug hunt (which stops at its first detection), and it is not one
/// shard of several (a shard runs only its share of the seeds: the campaign as a whole is
/// judged by whoever adds the shards' `coverage` up). `Err` says why not.
pub fn judged(runs: u64, bug: bool, shards: u64) -> Result<(), String> {
    if bug {
        return Err("a planted-bug hunt".into());
    }
    if shards > 1 {
        return Err(format!("one shard of {shards}"));
    }
    if runs < ENFORCED_RUNS {
        return Err(format!("{runs} runs, fewer than {ENFORCED_RUNS}"));
    }
    Ok(())
}

/// The report of a campaign whose runs hit marks `coverage` times (by name; other counters are
/// ignored), judged or not as `judged` says.
pub fn report(coverage: &BTreeMap<String, u64>, judged: Result<(), String>) -> MarksReport {
    let mut report = MarksReport {
        judged: judged.is_ok(),
        not_judged: judged.err(),
        ..MarksReport::default()
    };
    for (name, _, rarity) in registry() {
        let runs = coverage.get(name).copied().unwrap_or(0);
        let (hit, unhit) = match rarity {
            Rarity::Common => (&mut report.hit_common, &mut report.unhit_common),
            Rarity::Rare => (&mut report.hit_rare, &mut report.unhit_rare),
        };
        if runs > 0 {
            hit.insert(name.to_string(), runs);
        } else {
            unhit.push(name.to_string());
        }
    }
    report
}

#[cfg(test)]
mod tests;
