//! Records for the renderers' tests: one built by hand that holds every kind of row a picture
//! draws, and the recorded run of a shipped scenario file.

use joinsim::{
    ClusterId, ClusterTag, Event, GroupKind, InstanceId, LaunchId, MessageKind, Rejection,
    RejectionReason, RejectionStage, RequestId, Role,
};

use crate::record::RunRecord;
use crate::scenario::{load_scenario, run_scenario};
use crate::trace::{
    HarnessEvent, MessageFate, MessageRecord, TraceEntry, TraceKind, VerdictRecord,
};

/// A trace entry.
pub(crate) fn entry(time_us: u64, node: &str, kind: TraceKind) -> TraceEntry {
    TraceEntry {
        time_us,
        node: node.into(),
        kind,
    }
}

/// A message entry at `node` (the sender for `sent`, else the receiver).
pub(crate) fn message(
    time_us: u64,
    id: u64,
    (from, to): (&str, &str),
    kind: MessageKind,
    fate: MessageFate,
) -> TraceEntry {
    let node = if fate == MessageFate::Sent { from } else { to };
    entry(
        time_us,
        node,
        TraceKind::Message(MessageRecord {
            id,
            from: from.into(),
            to: to.into(),
            kind,
            fate,
        }),
    )
}

/// A protocol event entry.
pub(crate) fn event(time_us: u64, node: &str, event: Event) -> TraceEntry {
    entry(time_us, node, TraceKind::Protocol(event))
}

/// A harness entry.
pub(crate) fn harness(time_us: u64, node: &str, h: HarnessEvent) -> TraceEntry {
    entry(time_us, node, TraceKind::Harness(h))
}

/// A run of nodes `a` and `b` and the user, by hand: `b` starts, shakes hands with `a`, waits
/// for init, joins (request, recovery, join ready) and enters the LT; the user inits through
/// `a`; a join response is lost, a join ready is held and released, a cluster state is dropped,
/// a status reply stays held to the end; probes and Raft traffic pass; `a` is killed and
/// restarted, a partition heals, `b` is later rejected, and a checker finds a violation over
/// both nodes.
pub(crate) fn sample() -> RunRecord {
    use MessageFate::*;
    use MessageKind::*;
    let launch = LaunchId(7);
    let instance = InstanceId(9);
    let tag = ClusterTag {
        name: "c1".into(),
        id: ClusterId(0xab),
    };
    let entries = vec![
        harness(0, "a", HarnessEvent::NodeStarted),
        harness(0, "b", HarnessEvent::NodeStarted),
        event(
            1_000,
            "a",
            Event::Started {
                launch: LaunchId(1),
                tag: None,
                ms_version: None,
            },
        ),
        event(1_000, "a", Event::EnteredTopology { via: "a".into() }),
        event(
            1_000,
            "b",
            Event::Started {
                launch,
                tag: None,
                ms_version: None,
            },
        ),
        message(1_000, 1, ("b", "a"), Handshake, Sent),
        message(4_000, 1, ("b", "a"), Handshake, Delivered),
        message(4_000, 2, ("a", "b"), HandshakeAccepted, Sent),
        message(9_000, 2, ("a", "b"), HandshakeAccepted, Delivered),
        event(9_000, "b", Event::EnteredTopology { via: "a".into() }),
        message(10_000, 3, ("a", "b"), Probe, Sent),
        message(12_000, 3, ("a", "b"), Probe, Delivered),
        message(100_000, 4, ("user", "a"), InitRequest, Sent),
        message(105_000, 4, ("user", "a"), InitRequest, Delivered),
        event(
            106_000,
            "a",
            Event::RoleChanged {
                group: GroupKind::Cmg,
                instance,
                role: Role::Leader,
                term: 2,
                leader: Some("a".into()),
            },
        ),
        message(106_000, 5, ("a", "b"), RaftCmg, Sent),
        message(107_000, 5, ("a", "b"), RaftCmg, Delivered),
        message(110_000, 6, ("a", "b"), ClusterState, Sent),
        message(115_000, 6, ("a", "b"), ClusterState, Delivered),
        event(
            115_000,
            "b",
            Event::JoinRequestSent {
                leader: "a".into(),
                stored: None,
            },
        ),
        message(115_000, 7, ("b", "a"), JoinRequest, Sent),
        message(120_000, 7, ("b", "a"), JoinRequest, Delivered),
        message(120_000, 8, ("a", "b"), JoinResponse, Sent),
        message(130_000, 9, ("a", "b"), JoinResponse, Sent),
        message(135_000, 9, ("a", "b"), JoinResponse, Delivered),
        event(
            135_000,
            "b",
            Event::JoinAccepted {
                tag: tag.clone(),
                stored_ms_version: None,
                cluster_ms_version: 1,
            },
        ),
        event(140_000, "b", Event::RecoveryFinished { ms_version: 1 }),
        event(140_000, "b", Event::JoinReadySent { leader: "a".into() }),
        message(140_000, 10, ("b", "a"), JoinReady, Sent),
        message(145_000, 10, ("b", "a"), JoinReady, Held),
        message(160_000, 10, ("b", "a"), JoinReady, Released),
        message(160_000, 11, ("a", "b"), JoinReadyResponse, Sent),
        message(165_000, 11, ("a", "b"), JoinReadyResponse, Delivered),
        event(165_000, "b", Event::Joined { lt_version: 2 }),
        event(
            170_000,
            "a",
            Event::InitAnswered {
                request: RequestId(1),
                result: Ok(tag),
            },
        ),
        message(170_000, 12, ("a", "user"), InitResponse, Sent),
        message(175_000, 12, ("a", "user"), InitResponse, Delivered),
        harness(
            200_000,
            "-",
            HarnessEvent::Partitioned {
                links: vec![("a".into(), "b".into()), ("b".into(), "a".into())],
            },
        ),
        message(210_000, 13, ("a", "b"), ClusterState, Sent),
        message(215_000, 13, ("a", "b"), ClusterState, Dropped),
        harness(300_000, "-", HarnessEvent::Healed),
        harness(400_000, "a", HarnessEvent::NodeKilled),
        message(410_000, 14, ("b", "a"), StatusReply, Sent),
        message(415_000, 14, ("b", "a"), StatusReply, Held),
        harness(500_000, "a", HarnessEvent::NodeStarted),
        event(
            500_000,
            "a",
            Event::Started {
                launch: LaunchId(2),
                tag: None,
                ms_version: None,
            },
        ),
        event(
            600_000,
            "b",
            Event::Halted {
                rejection: Rejection {
                    stage: RejectionStage::PreInit,
                    by: "a".into(),
                    reason: RejectionReason::ProtocolMismatch {
                        joiner: joinsim::ProtocolVersion(1),
                        cluster: joinsim::ProtocolVersion(2),
                    },
                },
            },
        ),
        entry(
            650_000,
            "-",
            TraceKind::Verdict(VerdictRecord {
                invariant: "always_x".into(),
                nodes: vec!["a".into(), "b".into()],
                detail: "a and b disagree".into(),
            }),
        ),
    ];
    RunRecord {
        scenario: "sample".into(),
        file: "scenarios/sample.toml".into(),
        seed: 3,
        trace_hash: "0123456789abcdef".into(),
        sim_time_ms: 700,
        passed: false,
        nodes: [("a", "joined"), ("b", "rejected: protocol_mismatch")]
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
        entries,
        failures: Vec::new(),
    }
}

/// The record of seed `seed` of a shipped file (a path from the repository's root).
pub(crate) fn shipped_run(file: &str, seed: u64) -> RunRecord {
    let path = format!("{}/../{file}", env!("CARGO_MANIFEST_DIR"));
    let scenario =
        load_scenario(std::path::Path::new(&path)).unwrap_or_else(|e| panic!("{file}: {e}"));
    RunRecord::from_result(&run_scenario(&scenario, seed, true))
}

/// A run of nodes `a` and `b` where a `duplicate` rule sent three messages twice: #1 (a join
/// request) arrives twice, #2 (a join ready) once (its other copy is lost), #3 (a cluster state)
/// is held on its first arrival, its second copy delivered meanwhile, then the first released.
pub(crate) fn duplicated() -> RunRecord {
    use MessageFate::*;
    use MessageKind::*;
    let ab = ("a", "b");
    let entries = vec![
        harness(0, "a", HarnessEvent::NodeStarted),
        harness(0, "b", HarnessEvent::NodeStarted),
        message(1_000, 1, ab, JoinRequest, Sent),
        message(1_000, 1, ab, JoinRequest, Duplicated),
        message(2_000, 2, ab, JoinReady, Sent),
        message(2_000, 2, ab, JoinReady, Duplicated),
        message(2_200, 3, ab, ClusterState, Sent),
        message(2_200, 3, ab, ClusterState, Duplicated),
        message(2_500, 3, ab, ClusterState, Held),
        message(2_600, 3, ab, ClusterState, Delivered),
        message(3_000, 1, ab, JoinRequest, Delivered),
        message(3_500, 3, ab, ClusterState, Released),
        message(4_000, 2, ab, JoinReady, Delivered),
        message(5_000, 1, ab, JoinRequest, Delivered),
    ];
    RunRecord {
        scenario: "duplicated".into(),
        file: "scenarios/duplicated.toml".into(),
        seed: 1,
        trace_hash: "0123456789abcdef".into(),
        sim_time_ms: 10,
        passed: true,
        nodes: [("a", "joined"), ("b", "joined")]
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
        entries,
        failures: Vec::new(),
    }
}
