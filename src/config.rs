//! What a node is configured with: its identity, its seed members and its timers.

use serde::{Deserialize, Serialize};

use crate::bugs::PlantedBug;
use crate::error::{Error, Result};
use crate::types::{Addr, NodeInfo, NodeName, ProductVersion, ProtocolVersion};

/// A node's static configuration: the same at every start of the node. Build one with
/// [`NodeConfig::new`] (or a struct literal inside this crate).
///
/// It carries no public way to switch on a planted bug: the field is private to the crate, is
/// neither serialized nor read by serde, and [`NodeConfig::with_planted_bug`] exists only with
/// this crate's cargo feature `planted-bugs`, which the testbed (`joinsim-sim`) turns on and a
/// library user has no reason to (docs/downstream.md). Without the feature this does not compile
/// (with it, it does):
///
#[cfg_attr(not(feature = "planted-bugs"), doc = "```compile_fail")]
#[cfg_attr(feature = "planted-bugs", doc = "```")]
/// # use joinsim::{Addr, NodeConfig, PlantedBug, ProductVersion, ProtocolVersion};
/// let cfg = NodeConfig::new("n1".into(), Addr::new([10, 0, 0, 1], 7000), ProductVersion::new(3, 0, 0), ProtocolVersion(1), vec![]);
/// let cfg = cfg.with_planted_bug(Some(PlantedBug::SkipJoinTagCheck));
/// ```
///
/// and, feature or not, neither does setting the field (nor a struct literal):
///
/// ```compile_fail
/// # use joinsim::{Addr, NodeConfig, PlantedBug, ProductVersion, ProtocolVersion};
/// let mut cfg = NodeConfig::new("n1".into(), Addr::new([10, 0, 0, 1], 7000), ProductVersion::new(3, 0, 0), ProtocolVersion(1), vec![]);
/// cfg.bug = Some(PlantedBug::SkipJoinTagCheck);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeConfig {
    /// Unique name.
    pub name: NodeName,
    /// The address the node listens on.
    pub addr: Addr,
    /// Product version.
    pub product: ProductVersion,
    /// Join protocol version.
    pub protocol: ProtocolVersion,
    /// Seed members to contact when starting (the IP finder's answer). The node's own address
    /// may appear; it is skipped. With no other seed, the node forms a topology of its own.
    pub seeds: Vec<Addr>,
    /// A planted bug to run with (testbed self-measurement only; `None`, the only value outside
    /// the `planted-bugs` feature, runs the correct protocol). Private to the crate so that the
    /// protocol's call sites read it as `self.cfg.bug`; skipped by serde so that a configuration
    /// read from a file cannot name one.
    #[serde(skip)]
    pub(crate) bug: Option<PlantedBug>,
}

impl NodeConfig {
    /// A configuration with these fields and no planted bug: the correct protocol.
    pub fn new(
        name: NodeName,
        addr: Addr,
        product: ProductVersion,
        protocol: ProtocolVersion,
        seeds: Vec<Addr>,
    ) -> NodeConfig {
        NodeConfig {
            name,
            addr,
            product,
            protocol,
            seeds,
            bug: None,
        }
    }

    /// The same configuration running `bug` (`None`: none). Testbed self-measurement only
    /// (docs/fuzzing.md, "Planted bugs"); exists only with the cargo feature `planted-bugs`.
    #[cfg(feature = "planted-bugs")]
    pub fn with_planted_bug(mut self, bug: Option<PlantedBug>) -> NodeConfig {
        self.bug = bug;
        self
    }

    /// The planted bug this configuration runs, if any (always `None` without the cargo feature
    /// `planted-bugs`).
    pub fn planted_bug(&self) -> Option<PlantedBug> {
        self.bug
    }

    /// Checks that the configuration can run.
    pub fn validate(&self) -> Result<()> {
        if self.name.trim().is_empty() {
            return Err(Error::InvalidConfig {
                detail: "node name must not be blank".into(),
            });
        }
        Ok(())
    }

    pub(crate) fn info(&self, launch: crate::types::LaunchId) -> NodeInfo {
        NodeInfo {
            name: self.name.clone(),
            addr: self.addr,
            launch,
            protocol: self.protocol,
            product: self.product,
        }
    }
}

/// How the physical topology finds failed members (docs/protocol.md, "Failure detection").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureDetector {
    /// Every member probes every member it has not heard from in `probe_interval_ms`, and at
    /// least every `rejoin_probe_ms`; a member silent for `failure_timeout_ms` is removed. Every
    /// node judges every member itself, so a dead member leaves every view within
    /// `failure_timeout_ms` of its last word — at the cost of n² probes per interval.
    #[default]
    AllPairs,
    /// SWIM (Das, Gupta, Motivala 2002): each period of `probe_interval_ms` a member probes one
    /// member, the next of a shuffled round of all of them; without an answer by half the period
    /// it asks `SWIM_INDIRECT_PROBES` others to probe it, and without one by the period's end it
    /// suspects it. A suspect that does not refute (a higher incarnation) within
    /// `failure_timeout_ms` is removed. Suspicions, removals and new or changed records travel as
    /// rumors piggybacked on probes and acks, each passed on a bounded number of times; a new
    /// member's admission is a rumor too, not an announcement to every member. O(n) messages
    /// per period; opt-in (issue 13) until the protocol's timers that assume the all-pairs bound
    /// are reworked (docs/performance.md).
    Swim,
}

/// Every timer of the protocol, in milliseconds of (simulated) time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timing {
    /// How often the host calls [`crate::Node::tick`]; one Raft tick per call.
    pub tick_ms: u64,
    /// Raft election timeout, in ticks (randomized by raft-rs between this and twice this).
    pub election_ticks: usize,
    /// Raft heartbeat interval, in ticks.
    pub heartbeat_ticks: usize,
    /// When set, this replica's election timeout is exactly this many ticks instead of a draw in
    /// `[election_ticks, 2 * election_ticks)` (raft-rs's `min_election_tick` is set to it and
    /// `max_election_tick` to one more). raft-rs draws that timeout from the thread's random
    /// generator, which only a madsim runtime makes deterministic: a host without madsim (the
    /// synchronous harness, [`crate::testing`]) fixes each node's timeout here instead, from its
    /// own seed. Must lie in `[election_ticks, 2 * election_ticks)`. `None` (the default, and
    /// what the madsim world uses) keeps raft-rs's randomized timeout.
    #[serde(default)]
    pub fixed_election_ticks: Option<usize>,
    /// How long a handshake waits for an answer before another seed is tried.
    pub handshake_retry_ms: u64,
    /// A member not heard from for this long is probed.
    pub probe_interval_ms: u64,
    /// A member not heard from for this long is declared dead and removed.
    pub failure_timeout_ms: u64,
    /// How often a node probes the seeds and the removed members missing from its view, so that
    /// the two sides of a healed partition find each other again.
    pub rejoin_probe_ms: u64,
    /// How often the CMG leader resends the cluster state to a member outside the LT.
    pub cluster_state_retry_ms: u64,
    /// How often a joining node resends a join request or join ready without an answer.
    pub join_retry_ms: u64,
    /// How often the init command's messages are resent without an answer.
    pub init_retry_ms: u64,
    /// How long an init waits for every named node (and then for the commit) before it cancels.
    pub init_timeout_ms: u64,
    /// How often a node catching up its Meta Storage asks again to be added as a learner, and the
    /// CMG leader asks again for a Meta Storage reconfiguration.
    pub ms_retry_ms: u64,
    /// How long an admin command waits for the CMG before it fails.
    pub admin_timeout_ms: u64,
    /// How failed members are found ([`FailureDetector`]; all pairs unless set).
    #[serde(default)]
    pub failure_detector: FailureDetector,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            tick_ms: 100,
            election_ticks: 10,
            heartbeat_ticks: 2,
            fixed_election_ticks: None,
            handshake_retry_ms: 500,
            probe_interval_ms: 500,
            failure_timeout_ms: 2_000,
            rejoin_probe_ms: 2_000,
            cluster_state_retry_ms: 1_000,
            join_retry_ms: 1_000,
            init_retry_ms: 300,
            init_timeout_ms: 5_000,
            ms_retry_ms: 500,
            admin_timeout_ms: 10_000,
            failure_detector: FailureDetector::AllPairs,
        }
    }
}

impl Timing {
    /// The shortest election timeout, in ms (`election_ticks × tick_ms`): after it a candidate
    /// campaigns again, so Raft traffic older than it is superseded (`src/early_raft.rs`).
    pub fn election_timeout_ms(&self) -> u64 {
        self.election_ticks as u64 * self.tick_ms
    }

    /// Checks the timers are usable: positive, heartbeat shorter than the election timeout, a
    /// fixed election timeout (if any) within `[election_ticks, 2 * election_ticks)`, and the
    /// failure timeout longer than the probe interval.
    pub fn validate(&self) -> Result<()> {
        let bad = |detail: &str| {
            Err(Error::InvalidConfig {
                detail: detail.to_string(),
            })
        };
        let all = [
            self.tick_ms,
            self.handshake_retry_ms,
            self.probe_interval_ms,
            self.failure_timeout_ms,
            self.rejoin_probe_ms,
            self.cluster_state_retry_ms,
            self.join_retry_ms,
            self.init_retry_ms,
            self.init_timeout_ms,
            self.ms_retry_ms,
            self.admin_timeout_ms,
        ];
        if all.contains(&0) {
            return bad("every timer must be positive");
        }
        if self.heartbeat_ticks == 0 || self.heartbeat_ticks >= self.election_ticks {
            return bad("heartbeat_ticks must be positive and below election_ticks");
        }
        if let Some(fixed) = self.fixed_election_ticks {
            if fixed < self.election_ticks || fixed >= 2 * self.election_ticks {
                return bad(
                    "fixed_election_ticks must lie within [election_ticks, 2 * election_ticks)",
                );
            }
        }
        if self.failure_timeout_ms <= 2 * self.probe_interval_ms {
            return bad("failure_timeout_ms must exceed twice probe_interval_ms");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planted_bugs_are_off_unless_the_feature_sets_one() {
        let cfg = NodeConfig::new(
            "n1".into(),
            Addr::new([10, 0, 0, 1], 7000),
            ProductVersion::new(3, 0, 0),
            ProtocolVersion(1),
            vec![],
        );
        assert_eq!(cfg.planted_bug(), None);
        let manifest = include_str!("../Cargo.toml");
        let features = manifest
            .split("\n[features]\n")
            .nth(1)
            .expect("Cargo.toml has a [features] table")
            .split("\n[")
            .next()
            .unwrap();
        assert!(features.contains("\nplanted-bugs = []"), "{features}");
        assert!(
            !features
                .lines()
                .any(|l| l.trim_start().starts_with("default")),
            "planted-bugs must not be a default feature"
        );
    }

    #[test]
    fn default_timing_is_valid_and_bad_values_are_refused() {
        Timing::default().validate().unwrap();
        let zero = Timing {
            tick_ms: 0,
            ..Timing::default()
        };
        assert!(zero.validate().is_err());
        let heartbeat = Timing {
            heartbeat_ticks: 10,
            ..Timing::default()
        };
        assert!(heartbeat.validate().is_err());
        let detector = Timing {
            failure_timeout_ms: 900,
            ..Timing::default()
        };
        assert!(detector.validate().is_err());
        for (fixed, ok) in [(9, false), (10, true), (19, true), (20, false)] {
            let timing = Timing {
                fixed_election_ticks: Some(fixed),
                ..Timing::default()
            };
            assert_eq!(
                timing.validate().is_ok(),
                ok,
                "fixed_election_ticks {fixed}"
            );
        }
    }
}
