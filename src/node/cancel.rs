//! The node's routing of cancels (docs/protocol.md Step 2.6): the cancels this node tells go to
//! the [`CancelTracker`](crate::init::CancelTracker), the inits it cancelled on its side to
//! [`CancelledInits`](crate::init::CancelledInits); what they decide — vault records, messages,
//! the user's answer, events — is done here. A node's own handling of a `CancelInit` (the target
//! side: refuse, propose, fence or clear) is in `src/node/target.rs`.

use std::collections::BTreeSet;

use crate::error::InitError;
use crate::event::Event;
use crate::init::CancelDue;
use crate::marks::Mark;
use crate::message::Message;
use crate::node::Node;
use crate::types::{Addr, ClusterTag, InstanceId, NodeName};
use crate::vault::VaultWrite;

impl Node {
    /// Answers the user of a cancelled init, if that answer is still held: with `tag` (the
    /// cancel was refused, the init answered), else with the held error.
    pub(crate) fn release_cancel_answer(&mut self, init: InstanceId, tag: Option<ClusterTag>) {
        let Some((user, request, error)) = self.cancels.take_answer(init) else {
            return;
        };
        let result = match tag {
            Some(tag) => {
                self.mark(Mark::CancelledInitAnsweredWithTag);
                Ok(tag)
            }
            None => Err(error),
        };
        self.answer_init(user, request, result);
    }

    /// Records a cancel in the vault (before any `CancelInit` leaves) and keeps it running.
    pub(crate) fn start_cancel(
        &mut self,
        init: InstanceId,
        pending: BTreeSet<Addr>,
        min_end_ms: u64,
    ) {
        if let Some(oldest) = self.cancels.evictee(init) {
            self.end_cancel(oldest);
        }
        self.write(VaultWrite::RecordCancel(init));
        let now = self.now_ms;
        self.cancels.start(init, pending, now, min_end_ms);
    }

    fn end_cancel(&mut self, init: InstanceId) {
        self.release_cancel_answer(init, None);
        if self.cancels.remove(init) {
            self.write(VaultWrite::ForgetCancel(init));
        }
    }

    /// A member appeared (or came back) while inits are being cancelled: it is told too, since it
    /// may have joined the cancelled cluster while it was out of reach.
    pub(crate) fn tell_cancels_to(&mut self, addr: Addr) {
        for (init, decided) in self.cancels.retell(addr) {
            self.send(
                addr,
                Message::CancelInit {
                    init,
                    reason: "cancelled while out of reach".into(),
                    decided,
                },
            );
        }
    }

    pub(crate) fn on_cancel_ack(
        &mut self,
        from: Addr,
        init: InstanceId,
        members: Vec<Addr>,
        decided: bool,
        unanswered: Option<Vec<NodeName>>,
    ) {
        let name = self.name_of_addr(from);
        let known_addr = name.as_ref().and_then(|n| self.addr_of(n));
        let now = self.now_ms;
        let Some(ack) = self.cancels.on_ack(
            init,
            from,
            name,
            known_addr,
            members,
            decided,
            unanswered,
            now,
            self.cfg.bug,
        ) else {
            return;
        };
        if ack.release_answer {
            self.release_cancel_answer(init, None);
        }
        if ack.done {
            self.end_cancel(init);
        }
        for addr in ack.tell {
            self.send_cancel(
                addr,
                init,
                "cancelled: a replica of its cluster named it",
                ack.decided,
            );
        }
    }

    /// A CMG replica refused a cancel: the init was answered to a user. The cancel ends here,
    /// and this node no longer takes that cluster for cancelled.
    pub(crate) fn on_cancel_refused(&mut self, init: InstanceId, tag: ClusterTag) {
        self.unfence_cmg(init);
        self.under_way.end(init);
        let known = self.cancels.contains(init) || self.cancelled.contains(init);
        if !known {
            return;
        }
        self.mark(Mark::CancelRefusalReachedInitiator);
        self.emit(Event::CancelRefused {
            init,
            tag: tag.clone(),
        });
        self.cancelled.forget(init);
        // Every node that acknowledged the cancel undecided may hold a fenced replica, and every
        // node that has not acknowledged it may be waiting for its fate (a cancel under way
        // there): each is told the cancel was refused.
        let told = self.cancels.told(init);
        let own = self.cfg.addr;
        for addr in told.into_iter().filter(|a| *a != own) {
            self.send(
                addr,
                Message::CancelRefused {
                    init,
                    tag: tag.clone(),
                },
            );
        }
        // The init was answered with this tag: so is this initiator's user.
        self.release_cancel_answer(init, Some(tag));
        self.end_cancel(init);
    }

    /// A node asks whether its init was cancelled: answered only by a node that remembers a
    /// decided cancel of it (docs/protocol.md Step 2.6, "a cancelled member learns it").
    pub(crate) fn on_cancel_query(&mut self, from: Addr, init: InstanceId) {
        if self.cancelled.is_decided(init) {
            self.mark(Mark::CancelQueryAnswered);
            self.tell_decided_cancel(from, init, "cancelled: a node that cleared it was asked");
        }
    }

    /// Decision (fuzz seed 20033506): a replica of an incarnation whose cancel this node applied
    /// as decided (or remembers from its vault) is told so when its Raft traffic arrives here.
    /// The replica that applies a committed cancel destroys its group at once, so a voter that
    /// held the entry but never learnt its commit (it was down, or the commit index had not
    /// reached it) would otherwise campaign for ever in a group nobody else runs, holding a
    /// committed cluster-init that no leader can serve. Rate: once per `init_retry_ms` per
    /// sender.
    pub(crate) fn tell_replica_of_cancelled(&mut self, from: Addr, init: InstanceId) {
        let (now_ms, retry_ms) = (self.now_ms, self.timing.init_retry_ms);
        if !self.cancelled.tell_replica(init, from, now_ms, retry_ms) {
            return;
        }
        self.mark(Mark::CancelledReplicaToldByItsTraffic);
        self.tell_decided_cancel(
            from,
            init,
            "cancelled: its group's traffic reached a node that cleared it",
        );
    }

    /// Tells `to` that the cancel of `init` was decided (this node cleared it).
    pub(crate) fn tell_decided_cancel(&mut self, to: Addr, init: InstanceId, reason: &str) {
        self.send_cancel(to, init, reason, true);
    }

    /// Sends `CancelInit` for `init` to `to`.
    fn send_cancel(&mut self, to: Addr, init: InstanceId, reason: &str, decided: bool) {
        let reason = reason.to_string();
        self.send(
            to,
            Message::CancelInit {
                init,
                reason,
                decided,
            },
        );
    }

    /// Runs the cancels' timers ([`CancelTracker::tick`](crate::init::CancelTracker::tick)):
    /// held answers that are due, cancels that end, resends.
    pub(crate) fn cancel_tick(&mut self) {
        let now = self.now_ms;
        for due in self.cancels.tick(now, &self.timing) {
            match due {
                CancelDue::Answer(init) => self.release_cancel_answer(init, None),
                CancelDue::End(init) => self.end_cancel(init),
                CancelDue::Resend { init, to, decided } => {
                    for addr in to {
                        self.send_cancel(addr, init, "retry", decided);
                    }
                }
            }
        }
    }

    /// Answers the user of a cancelled init with `error` once the cancel is decided, or by
    /// `by_ms` (held in the [`CancelTracker`](crate::init::CancelTracker)).
    pub(crate) fn hold_cancel_answer(
        &mut self,
        init: InstanceId,
        user: Addr,
        request: crate::types::RequestId,
        error: InitError,
        cmg: BTreeSet<Addr>,
    ) {
        let by_ms = self.now_ms + self.timing.init_timeout_ms;
        self.cancels
            .hold_answer(init, user, request, error, by_ms, cmg);
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{NodeConfig, Timing};
    use crate::message::{Envelope, Message};
    use crate::node::{Node, Output};
    use crate::types::{Addr, GroupKind, InstanceId, LaunchId};
    use crate::vault::Vault;

    /// Fuzz seed 20033506: a node that cleared a cancelled incarnation answers that group's Raft
    /// traffic with the decided cancel, at most once per `init_retry_ms` per sender, and says
    /// nothing to traffic of an incarnation it did not clear.
    #[test]
    fn a_cleared_incarnations_raft_traffic_is_told_the_decided_cancel() {
        let cleared = InstanceId(7);
        let vault = Vault {
            cleared: vec![(cleared, None)],
            ..Vault::empty()
        };
        let cfg = NodeConfig {
            name: "a2".into(),
            addr: Addr::new([10, 0, 0, 2], 7000),
            product: Default::default(),
            protocol: Default::default(),
            seeds: Vec::new(),
            bug: None,
        };
        let timing = Timing::default();
        let retry_ms = timing.init_retry_ms;
        let (mut node, _) = Node::new(cfg, timing, LaunchId(2), 1, &vault, 0).unwrap();
        let voter = Addr::new([10, 0, 0, 1], 7000);
        let vote = |instance| Envelope {
            from: voter,
            from_launch: LaunchId(1),
            msg: Message::Raft {
                group: GroupKind::Cmg,
                instance,
                from_name: "a1".into(),
                payload: crate::message::RaftPayload::Bytes(Vec::new()),
            },
        };
        let told = |out: &Output| {
            out.messages
                .iter()
                .filter(|(to, e)| {
                    *to == voter
                        && matches!(
                            e.msg,
                            Message::CancelInit {
                                init,
                                decided: true,
                                ..
                            } if init == cleared
                        )
                })
                .count()
        };
        assert_eq!(told(&node.receive(10, vote(cleared))), 1);
        assert_eq!(told(&node.receive(10 + retry_ms - 1, vote(cleared))), 0);
        assert_eq!(told(&node.receive(10 + retry_ms, vote(cleared))), 1);
        let other = node.receive(10 + 3 * retry_ms, vote(InstanceId(8)));
        assert!(
            !other
                .messages
                .iter()
                .any(|(_, e)| matches!(e.msg, Message::CancelInit { .. })),
            "traffic of an incarnation it never cleared is not answered: {other:?}"
        );
    }
}
