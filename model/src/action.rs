//! The model's actions: the steps of IEP-77 as one node (or the world) takes them, each with the
//! outcome it had. [`crate::State::step`] allows or refuses each one against the spec's rules.
//!
//! The actions are grouped as the spec's steps are: the world (start, kill, wipe, storage fault,
//! leave), step 1 (pre-init admission), step 2 (init, answer, the init's fate, clearing), step 4
//! (join request, validation, acceptance, recovery, join ready, the LT), and the Meta Storage's
//! version and reconfiguration. An action that a CMG or MS replica takes when it applies a log
//! entry names the entry's `index`: replicas of one incarnation must apply the same effects at
//! the same index (spec §3, "committed logs agree").

use crate::ids::{Fate, Group, Init, JoinRejection, Launch, Name, Stored, Tag};

/// One step of the protocol, with its observed outcome.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    // ---- the world ----
    /// The node started a new launch from its vault, which held `stored` (`None`: empty).
    Start {
        /// The node (its identity in the run: a host, which may run under another name).
        node: Name,
        /// The name it runs under (spec §1: unique among live nodes, spec §5).
        name: Name,
        /// Its new launch id.
        launch: Launch,
        /// What its vault held at the start.
        stored: Option<Stored>,
    },
    /// The node's process stopped (a crash, a kill, the end of a graceful leave).
    Kill {
        /// The node.
        node: Name,
    },
    /// The node's vault was wiped: it is empty.
    Wipe {
        /// The node.
        node: Name,
    },
    /// A storage fault struck the node's vault: until its next start the model no longer knows
    /// which of the states the vault held it will start from.
    StorageFault {
        /// The node.
        node: Name,
    },
    /// The node leaves the cluster on purpose and stops for good.
    Leave {
        /// The node.
        node: Name,
    },
    /// The node stopped for good: it holds a final rejection.
    Halt {
        /// The node.
        node: Name,
    },

    // ---- step 1: physical topology and pre-init validation ----
    /// Node `by` admitted `member` (launch `launch`, presenting `tag`) to its physical topology.
    Admit {
        /// The admitting node.
        by: Name,
        /// The joiner.
        member: Name,
        /// Its launch.
        launch: Launch,
        /// The tag it presented (`None`: empty).
        tag: Option<Tag>,
    },

    // ---- step 2: the init command ----
    /// The initiator sent init attempt `init` with a freshly drawn `tag` to the named nodes.
    InitSent {
        /// The initiator.
        node: Name,
        /// The attempt (and group incarnation).
        init: Init,
        /// The tag drawn.
        tag: Tag,
        /// CMG voters.
        cmg: Vec<Name>,
        /// Meta Storage voters.
        ms: Vec<Name>,
    },
    /// A replica of `group`, incarnation `init`, started on the node (`from_vault`: reopened).
    GroupStarted {
        /// The node.
        node: Name,
        /// The group.
        group: Group,
        /// The incarnation.
        init: Init,
        /// Reopened from the vault rather than created.
        from_vault: bool,
    },
    /// A replica was destroyed on the node.
    GroupDestroyed {
        /// The node.
        node: Name,
        /// The group.
        group: Group,
        /// The incarnation.
        init: Init,
    },
    /// The node's Meta Storage replica of `init` saw a leader.
    MsLeader {
        /// The node.
        node: Name,
        /// The incarnation.
        init: Init,
    },
    /// A user got `tag` as the answer to an init from the node.
    InitAnswered {
        /// The node that answered.
        node: Name,
        /// The tag answered.
        tag: Tag,
    },
    /// The node's vault state of init `init` was cleared by a cancel: the node is empty again.
    VaultCleared {
        /// The node.
        node: Name,
        /// The cancelled init.
        init: Init,
    },

    // ---- CMG log effects (a replica applying entry `index`) ----
    /// The cluster-init command: the cluster's committed state (spec step 2).
    ClusterInit {
        /// The replica's node.
        node: Name,
        /// The incarnation.
        init: Init,
        /// The committed tag.
        tag: Tag,
        /// CMG voters.
        cmg: Vec<Name>,
        /// The cluster's Meta Storage version.
        ms_version: u64,
        /// Log index.
        index: u64,
    },
    /// The init's fate, as the replica holds it after the entry.
    FateApplied {
        /// The replica's node.
        node: Name,
        /// The incarnation.
        init: Init,
        /// The fate.
        fate: Fate,
        /// Log index.
        index: u64,
    },
    /// The replica validated a join request of `joiner`'s `launch` (spec step 4).
    Validated {
        /// The replica's node.
        node: Name,
        /// The joiner.
        joiner: Name,
        /// Its launch.
        launch: Launch,
        /// Log index.
        index: u64,
    },
    /// The replica rejected a join request of `joiner`'s `launch` (spec step 4).
    Rejected {
        /// The replica's node.
        node: Name,
        /// The joiner.
        joiner: Name,
        /// Its launch.
        launch: Launch,
        /// Why.
        reason: JoinRejection,
        /// Log index.
        index: u64,
    },
    /// The replica applied a node-leave command naming these launches.
    NodesLeft {
        /// The replica's node.
        node: Name,
        /// (name, launch) of each.
        nodes: Vec<(Name, Launch)>,
        /// Log index.
        index: u64,
    },
    /// The replica's LT became `members` at `version`.
    LtChanged {
        /// The replica's node.
        node: Name,
        /// The new LT version.
        version: u64,
        /// The members (name, launch).
        members: Vec<(Name, Launch)>,
        /// Log index.
        index: u64,
    },
    /// The replica committed a new Meta Storage voter list, at version `version`.
    MsNodesChanged {
        /// The replica's node.
        node: Name,
        /// The new Meta Storage version.
        version: u64,
        /// The new voters.
        nodes: Vec<Name>,
        /// Log index.
        index: u64,
    },

    // ---- Meta Storage log effects ----
    /// The node's Meta Storage replica applied configuration `version` at MS log `index`.
    MsConfigApplied {
        /// The replica's node.
        node: Name,
        /// The version.
        version: u64,
        /// Its voters.
        nodes: Vec<Name>,
        /// MS log index.
        index: u64,
    },

    // ---- step 4: the joiner's side ----
    /// The node sent a join request carrying its stored tag and MS version (`None`: empty).
    JoinRequest {
        /// The joiner.
        node: Name,
        /// What it presented.
        stored: Option<(Tag, u64)>,
    },
    /// The CMG accepted the node: it stores `tag` (it had MS version `stored_ms`) and must catch
    /// up to the cluster's `cluster_ms`.
    JoinAccepted {
        /// The joiner.
        node: Name,
        /// The tag it stores.
        tag: Tag,
        /// The MS version it held, if it was initialized.
        stored_ms: Option<u64>,
        /// The cluster's MS version it must reach.
        cluster_ms: u64,
    },
    /// The node stored Meta Storage version `to` (it held `from`).
    MsVersionStored {
        /// The node.
        node: Name,
        /// Before.
        from: Option<u64>,
        /// After.
        to: u64,
    },
    /// The node's local recovery finished at Meta Storage version `ms_version`.
    RecoveryFinished {
        /// The node.
        node: Name,
        /// The version reached.
        ms_version: u64,
    },
    /// The node sent join ready.
    JoinReady {
        /// The node.
        node: Name,
    },
    /// The node learned it is in the LT at `lt_version`.
    Joined {
        /// The node.
        node: Name,
        /// The LT version that holds it.
        lt_version: u64,
    },
}

impl Action {
    /// The node the action happened on.
    pub fn node(&self) -> &str {
        match self {
            Action::Start { node, .. }
            | Action::Kill { node }
            | Action::Wipe { node }
            | Action::StorageFault { node }
            | Action::Leave { node }
            | Action::Halt { node }
            | Action::InitSent { node, .. }
            | Action::GroupStarted { node, .. }
            | Action::GroupDestroyed { node, .. }
            | Action::MsLeader { node, .. }
            | Action::InitAnswered { node, .. }
            | Action::VaultCleared { node, .. }
            | Action::ClusterInit { node, .. }
            | Action::FateApplied { node, .. }
            | Action::Validated { node, .. }
            | Action::Rejected { node, .. }
            | Action::NodesLeft { node, .. }
            | Action::LtChanged { node, .. }
            | Action::MsNodesChanged { node, .. }
            | Action::MsConfigApplied { node, .. }
            | Action::JoinRequest { node, .. }
            | Action::JoinAccepted { node, .. }
            | Action::MsVersionStored { node, .. }
            | Action::RecoveryFinished { node, .. }
            | Action::JoinReady { node }
            | Action::Joined { node, .. } => node,
            Action::Admit { by, .. } => by,
        }
    }
}
