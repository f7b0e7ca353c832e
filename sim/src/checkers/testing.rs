//! What the checkers' tests share: three nodes `a`, `b`, `c` of one version, a CMG
//! incarnation `I`, a sound join of `b`, and feeders that return the first violation.

pub(crate) use std::collections::BTreeMap;

pub(crate) use joinsim::vault::{EntryKind, EntryRecord, GroupRecord, HardStateRecord, VaultWrite};
pub(crate) use joinsim::{
    ClusterId, ClusterTag, Event, GroupKind, InstanceId, LaunchId, ProductVersion, ProtocolVersion,
    RemovalCause, Role, Vault,
};

pub(crate) use super::{committed_logs_agree, Checker, Invariant, NodeFacts, Violation};
pub(crate) use crate::trace::{HarnessEvent, TraceEntry, TraceKind};

pub(crate) fn facts() -> BTreeMap<String, NodeFacts> {
    ["a", "b", "c"]
        .iter()
        .map(|n| {
            (
                n.to_string(),
                NodeFacts {
                    name: n.to_string(),
                    product: ProductVersion::new(3, 0, 0),
                    protocol: ProtocolVersion(1),
                },
            )
        })
        .collect()
}

pub(crate) fn tag(id: u128) -> ClusterTag {
    ClusterTag {
        name: "c".into(),
        id: ClusterId(id),
    }
}

pub(crate) const I: InstanceId = InstanceId(7);

pub(crate) fn entry(node: &str, event: Event) -> TraceEntry {
    TraceEntry {
        time_us: 1,
        node: node.into(),
        kind: TraceKind::Protocol(event),
    }
}

pub(crate) fn init_applied(id: u128, ms_version: u64, index: u64) -> Event {
    Event::ClusterInitApplied {
        instance: I,
        tag: tag(id),
        product: ProductVersion::new(3, 0, 0),
        protocol: ProtocolVersion(1),
        ms_version,
        cmg_nodes: vec!["a".into()],
        index,
    }
}

/// Feeds events; returns the first violation.
pub(crate) fn feed(events: Vec<(&str, Event)>) -> Option<Violation> {
    let mut checker = Checker::new(facts());
    events
        .into_iter()
        .find_map(|(node, e)| checker.observe(&entry(node, e)))
}

pub(crate) fn started(launch: u64, ms_version: Option<u64>) -> Event {
    Event::Started {
        launch: LaunchId(launch),
        tag: None,
        ms_version,
    }
}

pub(crate) fn cmg_started() -> Event {
    Event::GroupStarted {
        group: GroupKind::Cmg,
        instance: I,
        from_vault: false,
    }
}

/// A sound history: `b` (launch 2) is validated, sends join ready, enters the LT.
pub(crate) fn sound_join() -> Vec<(&'static str, Event)> {
    vec![
        ("a", started(1, None)),
        ("a", cmg_started()),
        ("a", init_applied(1, 1, 2)),
        ("b", started(2, None)),
        (
            "b",
            Event::JoinRequestSent {
                leader: "a".into(),
                stored: None,
            },
        ),
        (
            "a",
            Event::Validated {
                node: "b".into(),
                launch: LaunchId(2),
                index: 3,
            },
        ),
        ("b", Event::JoinReadySent { leader: "a".into() }),
        // b's Meta Storage replica caught up to version 1 (before its join ready, in truth;
        // listed here so that the positions above stay put).
        ("b", ms_started()),
        ("b", ms_applied(1, 1)),
        (
            "a",
            Event::LtChanged {
                version: 1,
                members: vec![("b".into(), LaunchId(2))],
                index: 4,
            },
        ),
    ]
}

pub(crate) fn ms_started() -> Event {
    Event::GroupStarted {
        group: GroupKind::Ms,
        instance: I,
        from_vault: false,
    }
}

pub(crate) fn ms_applied(version: u64, index: u64) -> Event {
    Event::MsConfigApplied {
        version,
        nodes: vec!["a".into()],
        index,
    }
}

pub(crate) fn lt(version: u64, members: &[(&str, u64)], index: u64) -> Event {
    Event::LtChanged {
        version,
        members: members
            .iter()
            .map(|(n, l)| (n.to_string(), LaunchId(*l)))
            .collect(),
        index,
    }
}

pub(crate) fn left(nodes: &[(&str, u64)], index: u64) -> Event {
    Event::NodesLeft {
        nodes: nodes
            .iter()
            .map(|(n, l)| (n.to_string(), LaunchId(*l)))
            .collect(),
        index,
    }
}

/// Feeds events with their times; returns the first violation.
pub(crate) fn feed_timed(events: Vec<(u64, &str, Event)>) -> Option<Violation> {
    feed_timed_to(Checker::new(facts()), events)
}

/// Feeds `checker` events with their times; returns the first violation.
pub(crate) fn feed_timed_to(
    mut checker: Checker,
    events: Vec<(u64, &str, Event)>,
) -> Option<Violation> {
    events.into_iter().find_map(|(time_us, node, e)| {
        checker.observe(&TraceEntry {
            time_us,
            node: node.into(),
            kind: TraceKind::Protocol(e),
        })
    })
}

/// `a` starts init `I` of cluster `tag(1)`, CMG and MS [a, b].
pub(crate) fn init_started_ab() -> Event {
    Event::InitStarted {
        request: joinsim::RequestId(1),
        init: I,
        tag: tag(1),
        cmg_nodes: vec!["a".into(), "b".into()],
        ms_nodes: vec!["a".into(), "b".into()],
    }
}

/// Feeds timed events to a checker run with the default timers (a start grace of 4 s).
pub(crate) fn feed_with_timing(events: Vec<(u64, &str, Event)>) -> Option<Violation> {
    feed_timed_to(
        Checker::with_timing(facts(), &joinsim::Timing::default()),
        events,
    )
}

pub(crate) fn refused_by_tag(held: ClusterTag) -> Event {
    Event::Halted {
        rejection: joinsim::Rejection {
            stage: joinsim::RejectionStage::PreInit,
            by: "c".into(),
            reason: joinsim::RejectionReason::TagMismatch {
                joiner: held,
                cluster: tag(2),
            },
        },
    }
}

pub(crate) fn initialized(launch: u64) -> Event {
    Event::Started {
        launch: LaunchId(launch),
        tag: Some(tag(1)),
        ms_version: Some(1),
    }
}

pub(crate) fn log_entry(index: u64, term: u64) -> EntryRecord {
    EntryRecord {
        index,
        term,
        kind: EntryKind::Normal,
        data: vec![index as u8],
        context: vec![],
    }
}

pub(crate) fn create() -> VaultWrite {
    VaultWrite::CreateGroup(
        GroupKind::Cmg,
        Box::new(GroupRecord {
            instance: I,
            plan: None,
            initial_voters: vec!["a".into(), "b".into()],
            hard_state: HardStateRecord::default(),
            entries: Vec::new(),
        }),
    )
}

pub(crate) fn append(first: u64, terms: &[u64]) -> VaultWrite {
    VaultWrite::Append(
        GroupKind::Cmg,
        terms
            .iter()
            .enumerate()
            .map(|(i, t)| log_entry(first + i as u64, *t))
            .collect(),
    )
}

pub(crate) fn commit(commit: u64) -> VaultWrite {
    VaultWrite::HardState(
        GroupKind::Cmg,
        HardStateRecord {
            term: 1,
            vote: 0,
            commit,
        },
    )
}

pub(crate) enum Step {
    /// A vault write of a node.
    Write(&'static str, VaultWrite),
    /// A harness event of a node.
    Harness(&'static str, HarnessEvent),
}

pub(crate) fn replay(steps: Vec<Step>) -> Option<Violation> {
    let mut checker = Checker::new(facts());
    steps.into_iter().find_map(|step| match step {
        Step::Write(node, w) => checker.observe_write(node, 1, &w),
        Step::Harness(node, h) => checker.observe(&TraceEntry {
            time_us: 1,
            node: node.into(),
            kind: TraceKind::Harness(h),
        }),
    })
}
