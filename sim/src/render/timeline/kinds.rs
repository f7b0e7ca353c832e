//! How the timeline groups and colours message kinds: each [`MessageKind`] belongs to one
//! [`Family`] (a filter row of the picture) and has one colour; the families of periodic
//! background traffic (Raft and probes) are hidden until the reader asks for them.

use joinsim::MessageKind;

/// A filter row of the timeline: message kinds that belong together in the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    /// The physical topology: handshake, its answers, announce, leaving.
    Topology,
    /// The init command: the user's request, StartGroups, status queries, cancel.
    Init,
    /// Joining the logical topology: cluster state, join request, join ready, their answers.
    Join,
    /// Meta Storage membership and the user's admin commands.
    MetaStorage,
    /// Failure-detector probes and their acks (periodic: hidden by default).
    Probes,
    /// Raft traffic of the CMG and the Meta Storage (periodic: hidden by default).
    Raft,
}

impl Family {
    /// Every family, in the order the filters list them.
    pub const ALL: [Family; 6] = [
        Family::Join,
        Family::Init,
        Family::Topology,
        Family::MetaStorage,
        Family::Probes,
        Family::Raft,
    ];

    /// The family's name in the page (filter label).
    pub fn label(self) -> &'static str {
        match self {
            Family::Topology => "physical topology",
            Family::Init => "init",
            Family::Join => "join",
            Family::MetaStorage => "Meta Storage & admin",
            Family::Probes => "probes",
            Family::Raft => "Raft",
        }
    }

    /// The family's id in the page (`data-family`): lowercase ASCII.
    pub fn id(self) -> &'static str {
        match self {
            Family::Topology => "topology",
            Family::Init => "init",
            Family::Join => "join",
            Family::MetaStorage => "ms",
            Family::Probes => "probes",
            Family::Raft => "raft",
        }
    }

    /// True for the families of the join protocol, drawn when the page opens; Raft traffic and
    /// probes are periodic and would bury the protocol, so they wait for a click.
    pub fn shown_by_default(self) -> bool {
        !matches!(self, Family::Probes | Family::Raft)
    }
}

/// The family of a message kind and its colour (`#rrggbb`): hues by family (blues for the
/// physical topology, oranges and pinks for init, greens for join, teals and purples for Meta
/// Storage and admin, greys for probes, lavender for Raft).
pub fn style(kind: MessageKind) -> (Family, &'static str) {
    use MessageKind as K;
    match kind {
        K::Handshake => (Family::Topology, "#1f77b4"),
        K::HandshakeAccepted => (Family::Topology, "#4a98d3"),
        K::HandshakeRefused => (Family::Topology, "#0b3d91"),
        K::Announce => (Family::Topology, "#6baed6"),
        K::Leaving => (Family::Topology, "#08519c"),
        K::Probe => (Family::Probes, "#9e9e9e"),
        K::ProbeAck => (Family::Probes, "#b5b5b5"),
        K::ProbeRequest => (Family::Probes, "#7f7f7f"),
        K::ProbeRelay => (Family::Probes, "#cccccc"),
        K::InitRequest => (Family::Init, "#e6550d"),
        K::InitResponse => (Family::Init, "#fd8d3c"),
        K::StartGroups => (Family::Init, "#d94801"),
        K::StartGroupsAck => (Family::Init, "#f5a04e"),
        K::StatusQuery => (Family::Init, "#a63603"),
        K::StatusReply => (Family::Init, "#e0a060"),
        K::CancelInit => (Family::Init, "#c51b7d"),
        K::CancelAck => (Family::Init, "#de77ae"),
        K::CancelRefused => (Family::Init, "#8e0152"),
        K::CancelQuery => (Family::Init, "#e7a1c9"),
        K::ReplicaEmpty => (Family::Init, "#b15928"),
        K::RaftCmg => (Family::Raft, "#9e9ac8"),
        K::RaftMs => (Family::Raft, "#c0b8e0"),
        K::ClusterState => (Family::Join, "#1b9e77"),
        K::JoinRequest => (Family::Join, "#2ca02c"),
        K::JoinResponse => (Family::Join, "#006d2c"),
        K::JoinReady => (Family::Join, "#66a61e"),
        K::JoinReadyResponse => (Family::Join, "#8fbf5a"),
        K::NotLeader => (Family::Join, "#8c6d31"),
        K::MsAddLearner => (Family::MetaStorage, "#17becf"),
        K::MsReconfigure => (Family::MetaStorage, "#0e8e99"),
        K::MsReconfigured => (Family::MetaStorage, "#5fc8d3"),
        K::AdminRequest => (Family::MetaStorage, "#7b4173"),
        K::AdminResponse => (Family::MetaStorage, "#a55194"),
        K::AdminForward => (Family::MetaStorage, "#ce6dbd"),
        K::AdminForwardResult => (Family::MetaStorage, "#b07aa1"),
    }
}

/// The family of a message kind.
pub fn family(kind: MessageKind) -> Family {
    style(kind).0
}

/// True when the kind is drawn when the page opens (a message of the join protocol, not Raft
/// traffic or a probe).
pub fn shown_by_default(kind: MessageKind) -> bool {
    family(kind).shown_by_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use strum::IntoEnumIterator;

    #[test]
    fn only_raft_and_probes_are_hidden_and_colours_are_distinct() {
        let hidden: Vec<MessageKind> = MessageKind::iter()
            .filter(|k| !shown_by_default(*k))
            .collect();
        assert_eq!(
            hidden,
            [
                MessageKind::Probe,
                MessageKind::ProbeAck,
                MessageKind::RaftCmg,
                MessageKind::RaftMs,
                MessageKind::ProbeRequest,
                MessageKind::ProbeRelay
            ]
        );
        let colours: BTreeSet<&str> = MessageKind::iter().map(|k| style(k).1).collect();
        assert_eq!(colours.len(), MessageKind::iter().count());
        for family in Family::ALL {
            assert!(MessageKind::iter().any(|k| self::family(k) == family));
        }
    }
}
