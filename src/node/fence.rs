//! The CMG fence (docs/protocol.md Step 2.6, "the fence"): a CMG replica that cannot tell
//! whether its init was answered, when a cancel reaches it without a leader, fences itself — it
//! keeps its replica and vault records but takes no part in its group — until it learns the
//! init's fate from the group's voters. The fence is a flag of the CMG replica
//! (`CmgReplica::fence`, mirrored in the vault); this file sets and lifts it, and its
//! timer asks for the fate and carries the cancel on when nobody else does.

use std::collections::{BTreeMap, BTreeSet};

use crate::event::Event;
use crate::marks::Mark;
use crate::message::Message;
use crate::node::Node;
use crate::types::{Addr, InstanceId, NodeName};
use crate::vault::VaultWrite;

impl Node {
    /// Fences this node's CMG replica of `init` (docs/protocol.md Step 2.6, "the fence"): it
    /// keeps the replica and its vault records, drops the group's messages, does not tick it,
    /// and asks the group's voters for the init's fate every `init_retry_ms`.
    pub(crate) fn fence_cmg(&mut self, init: InstanceId) {
        let Some(cmg) = self.cmg.as_mut().filter(|c| c.group().instance() == init) else {
            return;
        };
        if !cmg.fence(self.now_ms) {
            return;
        }
        self.write(VaultWrite::FenceCmg(Some(init)));
        self.mark(Mark::CmgFenced);
        self.emit(Event::CmgFenced { init });
    }

    /// Lifts the fence of this node's CMG replica of `init`: the init was answered.
    pub(crate) fn unfence_cmg(&mut self, init: InstanceId) {
        let Some(cmg) = self.cmg.as_mut().filter(|c| c.group().instance() == init) else {
            return;
        };
        if !cmg.unfence() {
            return;
        }
        self.write(VaultWrite::FenceCmg(None));
        self.mark(Mark::CmgUnfenced);
        self.emit(Event::CmgUnfenced { init });
    }

    /// The voters of a CMG replica's group: its init's CMG list, or (a replica of a restored
    /// cluster) its configuration's voters.
    pub(crate) fn cmg_voter_names(&self, cmg: &crate::cmg::CmgReplica) -> Vec<NodeName> {
        match cmg.plan() {
            Some(plan) => plan.config.cmg_nodes.clone(),
            None => cmg
                .group()
                .conf_state()
                .voters
                .iter()
                .filter_map(|id| self.name_of_raft_id(*id))
                .collect(),
        }
    }

    /// A fenced replica asks its group's voters for the init's fate (a canceller that stopped
    /// must not leave it fenced for ever).
    pub(crate) fn fence_tick(&mut self) {
        let retry_ms = self.timing.init_retry_ms;
        let now = self.now_ms;
        let Some(cmg) = self.cmg.as_mut() else { return };
        let Some(asked_ms) = cmg.fence_asked_ms() else {
            return;
        };
        if now < asked_ms + retry_ms {
            return;
        }
        cmg.note_fence_asked(now);
        let init = cmg.group().instance();
        let Some(cmg) = self.cmg.as_ref() else { return };
        let voters = self.cmg_voter_names(cmg);
        let addrs: Vec<Addr> = voters
            .iter()
            .filter(|n| **n != self.cfg.name)
            .filter_map(|n| self.addr_of(n))
            .collect();
        for addr in addrs.iter().copied() {
            let answering = None;
            self.send(addr, Message::StatusQuery { init, answering });
        }
        // A fenced replica carries the cancel on itself when no cancel of that init runs here
        // (its canceller stopped, or ran out of time while a voter was away, fuzz seed
        // 14005110): it tells the group's voters and itself, counts their answers as any
        // canceller does, and its fence ends with the decision or a refusal.
        if !self.cancels.contains(init) {
            self.mark(Mark::FencedReplicaCarriesCancel);
            let plan_addrs: BTreeMap<NodeName, Addr> = self
                .cmg
                .as_ref()
                .and_then(|c| c.plan())
                .map(|p| {
                    p.addrs
                        .iter()
                        .filter(|(n, _)| voters.contains(n))
                        .map(|(n, a)| (n.clone(), *a))
                        .collect()
                })
                .unwrap_or_default();
            let mut pending: BTreeSet<Addr> = addrs.into_iter().collect();
            pending.insert(self.cfg.addr);
            self.start_cancel(init, pending.clone(), now);
            let voters = voters.iter().cloned().collect();
            self.cancels.know_voters(init, voters, plan_addrs);
            for addr in pending {
                let reason = "a fenced CMG replica carries its init's cancel on".to_string();
                self.send(
                    addr,
                    Message::CancelInit {
                        init,
                        reason,
                        decided: false,
                    },
                );
            }
        }
    }
}
