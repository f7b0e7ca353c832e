//! A graceful stop (docs/protocol.md, "Graceful leave"): the node leaves on purpose, tells the
//! members of its physical topology and the CMG leader it knows, hands over the leadership of
//! the groups it leads, and stops for good. The CMG leader removes it from the logical topology
//! at once (`on_leaving` → `on_member_gone` → `NodesLeave`), without waiting for failure
//! detection, which stays the fallback when the message is lost.

use crate::event::Event;
use crate::marks::Mark;
use crate::message::Message;
use crate::node::{Node, Output};
use crate::types::{Addr, GroupKind, NodeName};

impl Node {
    /// The node leaves the cluster on purpose (Ignite's graceful stop), at `now_ms`.
    ///
    /// It sends `Message::Leaving` to every member of its physical topology and to the CMG leader
    /// it follows (if that leader is not among them), in address order; every receiver removes it
    /// from its physical topology (`RemovalCause::Left`), and the CMG leader proposes its removal
    /// from the logical topology at once (`CmgCommand::NodesLeave`). Before that, for each group
    /// whose leader it is (CMG, Meta Storage), it hands leadership to a voter that holds the
    /// whole log, if there is one (a Raft leadership transfer: that voter campaigns at once); the
    /// new CMG leader removes it as a member its topology saw leave. Groups' voters do not change
    /// (a leaving voter counts against its group's majority like a down one). Then it answers
    /// every user request in flight with `NodeStopped`, drops its replicas and stops for good:
    /// it reports `NodeView::left_at_ms`, ignores every later input but user requests (answered
    /// `NodeStopped`, reason "left the cluster"), and keeps its vault — a restart rejoins.
    ///
    /// Emits `Event::LeftGracefully` with the names told. A node already stopped (left, or
    /// halted on a rejection) does nothing. A lost `Leaving` only delays the removal: failure
    /// detection removes the silent member after `failure_timeout_ms`, as for a crash.
    pub fn leave(&mut self, now_ms: u64) -> Output {
        self.now_ms = self.now_ms.max(now_ms);
        if self.is_stopped() {
            return std::mem::take(&mut self.out);
        }
        for kind in [GroupKind::Cmg, GroupKind::Ms] {
            self.hand_over_leadership(kind);
        }
        self.drive();
        let mut told: Vec<(Addr, NodeName)> = self
            .topo
            .records()
            .map(|r| (r.addr(), r.identity.info.name.clone()))
            .collect();
        if let Some((name, addr)) = self.joiner.leader().cloned() {
            if addr != self.cfg.addr && !told.iter().any(|(a, _)| *a == addr) {
                told.push((addr, name));
            }
        }
        told.sort();
        self.mark(Mark::GracefulLeave);
        self.emit(Event::LeftGracefully {
            told: told.iter().map(|(_, n)| n.clone()).collect(),
        });
        self.left_at_ms = Some(self.now_ms);
        for (addr, _) in told {
            self.send(addr, Message::Leaving);
        }
        self.cmg = None;
        self.ms = None;
        self.loopback.clear();
        self.answer_all_stopped();
        std::mem::take(&mut self.out)
    }

    /// A leader about to leave hands its group to an up-to-date voter (none: the others elect
    /// after their election timeout).
    fn hand_over_leadership(&mut self, kind: GroupKind) {
        let group = match kind {
            GroupKind::Cmg => self
                .cmg
                .as_mut()
                .filter(|c| !c.is_fenced())
                .map(|c| c.group_mut()),
            GroupKind::Ms => self.ms.as_mut().map(|m| m.group_mut()),
        };
        if let Some(group) = group {
            if let Some(to) = group.up_to_date_voter() {
                group.transfer_leader(to);
            }
        }
    }

    /// True once the node stopped for good: halted on a rejection, or left on purpose.
    pub(crate) fn is_stopped(&self) -> bool {
        self.halted.is_some() || self.left_at_ms.is_some()
    }

    /// Why the node stopped, for a user's `NodeStopped` (empty while it runs).
    pub(crate) fn stop_reason(&self) -> String {
        match (&self.halted, self.left_at_ms) {
            (Some(rejection), _) => rejection.to_string(),
            (None, Some(_)) => "left the cluster".to_string(),
            (None, None) => String::new(),
        }
    }
}
