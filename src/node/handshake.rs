//! The node's side of the handshake (docs/protocol.md Step 1): an admitted node runs pre-init
//! validation on a joiner ([`entry_check`] against its versions, then its tag against the
//! node's cluster or the "first admitted wins" rule of its
//! [`PhysicalTopology`](crate::topology::PhysicalTopology)) and admits or refuses it; the
//! joiner enters the topology on acceptance, and halts or retries on a refusal. The rest of the
//! physical topology's routing is `src/node/physical.rs`.

use crate::bugs::PlantedBug;
use crate::error::{Rejection, RejectionReason, RejectionStage};
use crate::event::Event;
use crate::marks::Mark;
use crate::message::Message;
use crate::node::Node;
use crate::topology::{entry_check, Identity, MemberRecord};
use crate::types::Addr;

impl Node {
    pub(crate) fn on_handshake(&mut self, from: Addr, joiner: Identity) {
        if !self.topo.is_admitted() {
            if self.cfg.addr < joiner.info.addr {
                self.admit_self();
            } else {
                return;
            }
        }
        // A member of a cluster whose init this node saw cancelled (decided) is told so rather
        // than refused: it clears the cancelled cluster and hands-shakes again as an empty node
        // (docs/spec.md §5, "a cancelled member is told, whoever it meets").
        let cancelled = joiner
            .tag
            .as_ref()
            .and_then(|t| self.cancelled.decided_with_tag(t));
        // Planted bug: the member is refused like any other, not told.
        let cancelled =
            cancelled.filter(|_| self.cfg.bug != Some(PlantedBug::CancelledMemberHalts));
        if let Some(init) = cancelled {
            let reason = "cancelled: met at pre-init by a node that cleared it";
            self.mark(Mark::CancelledMemberToldAtPreInit);
            self.tell_decided_cancel(from, init, reason);
            return;
        }
        if let Err(reason) = self.pre_init_check(&joiner) {
            // Decision (a cancel under way is no ground for a refusal, at pre-init too;
            // docs/protocol.md Step 2.6): a refusal by tag that cites this node's own cluster
            // while a cancel of that cluster is under way here (its fate unknown: a cancel
            // noted undecided, its CMG replica fenced, or a cancel in its log) is withheld. The
            // cluster may be cleared a moment later, and the refused node — say a CMG voter of
            // the one cluster that survives — halts for good on a tag that no longer exists
            // (fuzz seed 80015786). The joiner resends its handshake every
            // `handshake_retry_ms` and is judged once the fate is known, as an init request is.
            if matches!(reason, RejectionReason::TagMismatch { .. })
                && self.held_undecided_init().is_some()
            {
                self.mark(Mark::PreInitRefusalWithheldCancelUnderWay);
                return;
            }
            if let Some(mark) = Mark::of_pre_init_refusal(&reason) {
                self.mark(mark);
            }
            self.emit(Event::PreInitRefused {
                joiner: joiner.info.name.clone(),
                launch: joiner.info.launch,
                reason: reason.clone(),
            });
            let rejection = Rejection {
                stage: RejectionStage::PreInit,
                by: self.cfg.name.clone(),
                reason,
            };
            self.send(from, Message::HandshakeRefused { rejection });
            return;
        }
        let record = MemberRecord {
            admitted_tag: joiner.tag.clone(),
            identity: joiner,
            admitted_at_ms: self.now_ms,
            admitted_by: self.cfg.name.clone(),
            admitter_tag: self.local.as_ref().map(|l| l.config.tag.clone()),
        };
        self.emit(Event::Admitted {
            member: record.identity.info.name.clone(),
            launch: record.launch(),
            tag: record.admitted_tag.clone(),
        });
        let members = self.known_records();
        let shared = std::sync::Arc::new(record.clone());
        self.merge_record_spreading(std::sync::Arc::clone(&shared), true, true);
        // SWIM: the admission travels as a rumor (`merge_record` spread it), not to everyone.
        let announced = if self.is_swim() {
            Vec::new()
        } else {
            self.topo.addrs()
        };
        for addr in announced {
            if addr != record.addr() {
                self.send(
                    addr,
                    Message::Announce {
                        member: std::sync::Arc::clone(&shared),
                    },
                );
            }
        }
        self.send(
            from,
            Message::HandshakeAccepted {
                you: record,
                members,
            },
        );
    }

    /// The part of pre-init validation that holds on every path by which a member enters this
    /// node's view: [`entry_check`] against this node's versions.
    pub(super) fn entry_check(&self, joiner: &Identity) -> Result<(), RejectionReason> {
        entry_check(self.cfg.protocol, self.cfg.product, joiner)
    }

    /// Pre-init validation of a joiner against what this node knows locally.
    fn pre_init_check(&self, joiner: &Identity) -> Result<(), RejectionReason> {
        self.entry_check(joiner)?;
        let Some(joiner_tag) = &joiner.tag else {
            return Ok(());
        };
        if self.cfg.bug == Some(crate::bugs::PlantedBug::SkipPreInitTagCheck) {
            return Ok(());
        }
        if let Some(local) = &self.local {
            if &local.config.tag != joiner_tag {
                return Err(RejectionReason::TagMismatch {
                    joiner: joiner_tag.clone(),
                    cluster: local.config.tag.clone(),
                });
            }
            return Ok(());
        }
        self.topo.first_tag_wins(joiner)
    }

    pub(crate) fn on_handshake_accepted(
        &mut self,
        you: MemberRecord,
        members: Vec<std::sync::Arc<MemberRecord>>,
    ) {
        if self.topo.is_admitted() || you.identity.info.launch != self.launch {
            return;
        }
        let via = you.admitted_by.clone();
        self.topo.enter(you);
        self.emit(Event::EnteredTopology { via });
        for record in members {
            self.merge_record(record, true);
        }
        self.after_membership_change();
        // Decision (step 1 before step 3): a cluster state that overtook the admission is acted
        // on now rather than at the leader's next resend (`cluster_state_retry_ms`).
        let retry_ms = self.timing.cluster_state_retry_ms;
        if let Some(notice) = self.joiner.take_early(self.now_ms, retry_ms) {
            self.on_cluster_state(notice);
        }
    }

    pub(crate) fn on_handshake_refused(&mut self, from: Addr, rejection: Rejection) {
        // A refusal counts while handshaking, as an eviction by a member of the view, or — for
        // a version mismatch, a fact about the two nodes — from any node that met this one
        // outside a handshake (a probe, gossip after a heal) and found it the newcomer.
        let from_member = self.topo.contains(from);
        let handshaking = self.topo.is_handshaking_with(from);
        let by_version = matches!(
            rejection.reason,
            RejectionReason::ProtocolMismatch { .. } | RejectionReason::ProductMismatch { .. }
        );
        if !(handshaking || from_member || by_version || !self.topo.is_admitted()) {
            return;
        }
        // Decision (a fallback voter's refusal is no verdict, docs/protocol.md Step 1): the
        // address of its own CMG's voter that a node no seed answered turns to may be stale —
        // another node may listen there now — so a refusal from one that is neither a seed nor
        // a member only ends that handshake; the node tries again at the next retry.
        if handshaking && !from_member && !by_version && !self.cfg.seeds.contains(&from) {
            return;
        }
        // Decision (a refusal never halts a live cluster, docs/spec.md §5): "first admitted wins"
        // decides between newcomers; a node that is already a member of a live cluster of its
        // own is not a newcomer, so a refusal by tag leaves it running. The refuser keeps it out
        // of its view; the CMG decides what happens to the refuser.
        let refused_tag = match &rejection.reason {
            RejectionReason::TagMismatch { joiner, .. }
            | RejectionReason::ConflictingTag { joiner, .. } => Some(joiner),
            _ => None,
        };
        // A refusal of a tag this node no longer holds (its vault was cleared by a cancel since)
        // is stale: it says nothing about the node as it is now.
        let stale = refused_tag.is_some_and(|t| self.local.as_ref().map(|l| &l.config.tag) != Some(t))
            // Planted bug: a refusal of a tag the node no longer holds counts.
            && self.cfg.bug != Some(PlantedBug::CancelledMemberHalts);
        // A CMG voter whose replica committed its cluster is not a newcomer either: "first
        // admitted wins" (`ConflictingTag`, from an empty node) does not halt it, however long
        // the rest of its CMG is away. A `TagMismatch` (the refuser holds another cluster) still
        // halts it once it is not live: it was pointed at another cluster's nodes — unless its
        // log says the init was answered to a user. A voter of an answered cluster is held by
        // it (docs/protocol.md, rule (d) of "one cluster per node"): halting it can cost that
        // cluster its CMG majority for good, for a refuser whose own cluster may never be
        // answered (fuzz seed 4709: a cancelled init's voter halted the leader of an answered
        // two-voter cluster, which never had a leader again).
        let voter = (matches!(rejection.reason, RejectionReason::ConflictingTag { .. })
            && self.holds_committed_cluster())
            || self.voter_of_answered_cluster();
        // Planted bug: a member of a live cluster halts like a newcomer.
        let live = self.cfg.bug != Some(PlantedBug::RefusalHaltsMember)
            && (self.member_of_live_cluster() || voter);
        if refused_tag.is_some() && (stale || live) {
            self.mark(if stale {
                Mark::RefusalIgnoredStale
            } else {
                Mark::RefusalIgnoredLiveMember
            });
            self.emit(Event::RefusalIgnored {
                by: rejection.by,
                reason: rejection.reason,
            });
            // A live member refused at its handshake forms its own topology, as a node with no
            // reachable seed does: its own view is where it rejoins its LT (a restarted CMG
            // leader must replace its old launch there), and its rejoin probes keep looking
            // for the rest of its cluster (found by the fuzzer, seed 4170). A node that is live
            // only by the grace after its start keeps hand-shaking: the grace is for a cancel
            // to reach it, and a member of another cluster still halts when it runs out.
            if live
                && !stale
                && !self.topo.is_admitted()
                && (self.member_of_established_cluster() || voter)
            {
                self.mark(Mark::RefusedMemberFormedOwnTopology);
                self.admit_self();
                self.after_membership_change();
            }
            return;
        }
        self.halt(rejection);
    }
}
