//! The CMG leader's side of step 4: it turns join requests, join readies and forwarded admin
//! commands into CMG commands. A join request is judged first by the CMG's rule
//! (`cmg::join_request_step`, `src/cmg/namesake.rs`: only a node it sees, never under the name
//! of another live node, never while another launch's join under that name is in flight); this
//! file carries out its step (wait, refuse with `duplicate_name`, or propose). A node that does
//! not lead tells the sender who does. The leader answers once the command is applied
//! (`src/node/cmg.rs`).

use crate::cmg::{
    join_request_step, CmgCommand, JoinRequestStep, JoinResult, JoinerVault, PendingKey,
};
use crate::event::Event;
use crate::marks::Mark;
use crate::message::Message;
use crate::node::Node;
use crate::types::RequestId;
use crate::types::{Addr, ClusterTag, InstanceId, NodeInfo, NodeName};

impl Node {
    fn remember_pending(&mut self, key: PendingKey, to: Addr) -> bool {
        let Some(duties) = self.cmg.as_mut().and_then(|c| c.duties_mut()) else {
            return false;
        };
        duties.remember_pending(key, to)
    }

    /// True when this node leads the CMG; otherwise tells the sender who does, if known.
    fn leader_or_redirect(&mut self, from: Addr) -> bool {
        if self.leads_cmg() {
            return true;
        }
        let leader = self.cmg.as_ref().and_then(|c| {
            let id = c.group().role_state().leader;
            self.name_of_raft_id(id)
                .and_then(|n| self.addr_of(&n).map(|a| (n, a)))
        });
        self.send(from, Message::NotLeader { leader });
        false
    }

    pub(crate) fn on_join_request(
        &mut self,
        from: Addr,
        info: NodeInfo,
        stored: Option<(ClusterTag, u64)>,
        replica_of: Option<InstanceId>,
        attempt: u64,
    ) {
        if !self.leader_or_redirect(from) {
            return;
        }
        // The leader's judgement (src/cmg/namesake.rs): only a node it sees, never under the
        // name of another live node (refused for good, before any command is proposed and
        // before the name's address is learnt), never while another launch's join under that
        // name is in flight.
        let Some(cmg) = self.cmg.as_ref() else { return };
        let Some(duties) = cmg.duties() else { return };
        // What its failure detector says now: a member silent for a failure timeout is not
        // alive, though no tick has swept it yet (`LeaderSight::silent`).
        let mut sight = self.leader_sight();
        sight.silent = self.silent_members();
        let book_addr = self.addr_of(&info.name);
        let vault = JoinerVault::of(stored.as_ref().map(|(tag, _)| tag), replica_of, cmg.state());
        let step = join_request_step(
            cmg.state(),
            duties,
            &info,
            vault,
            &sight,
            book_addr,
            (self.now_ms, &self.timing),
            self.cfg.bug,
        );
        match step {
            JoinRequestStep::Wait => return,
            JoinRequestStep::WaitForHolder => {
                self.mark(Mark::DuplicateNameWaitsForHolder);
                let now = self.now_ms;
                if let Some(d) = self.cmg.as_mut().and_then(|c| c.duties_mut()) {
                    d.note_holder_wait(&info.name, info.launch, now);
                }
                return;
            }
            JoinRequestStep::Refuse { holder } => {
                self.mark(Mark::DuplicateNameRefused);
                self.emit(Event::JoinRefusedDuplicateName {
                    node: info.name.clone(),
                    launch: info.launch,
                    holder,
                });
                let result = JoinResult::Rejected(crate::error::RejectionReason::DuplicateName {
                    name: info.name.clone(),
                    holder,
                    joiner: info.addr,
                });
                self.send(
                    from,
                    Message::JoinResponse {
                        launch: info.launch,
                        attempt,
                        result,
                    },
                );
                return;
            }
            JoinRequestStep::Propose => {}
        }
        self.learn_addr(&info.name, info.addr);
        let key = PendingKey::Join(info.name.clone(), info.launch, attempt);
        if self.remember_pending(key, from) {
            self.propose_cmg(CmgCommand::Join {
                info,
                stored,
                attempt,
            });
        }
    }

    pub(crate) fn on_join_ready(&mut self, from: Addr, info: NodeInfo, attempt: u64) {
        if !self.leader_or_redirect(from) {
            return;
        }
        // As for join requests: only a node this leader sees.
        if !self.leader_sight().present(&info) {
            return;
        }
        let key = PendingKey::Ready(info.name.clone(), info.launch, attempt);
        if self.remember_pending(key, from) {
            self.propose_cmg(CmgCommand::JoinReady { info, attempt });
        }
    }

    pub(crate) fn on_admin_forward(
        &mut self,
        from: Addr,
        request: RequestId,
        nodes: Vec<NodeName>,
    ) {
        if !self.leads_cmg() {
            return;
        }
        let key = PendingKey::Admin(from, request);
        if self.remember_pending(key, from) {
            self.propose_cmg(CmgCommand::ChangeMsNodes {
                nodes,
                origin: from,
                request,
            });
        }
    }
}
