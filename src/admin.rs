//! Admin commands: today, the Meta Storage reconfiguration. The user sends the command to any
//! joined node; that node forwards it to every CMG node (the leader acts, the others ignore it)
//! until the leader answers, and the leader answers once the CMG committed the new node list
//! (Meta Storage version + 1) and the Meta Storage applied it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::error::{AdminError, InitError};
use crate::event::Event;
use crate::message::{Message, RequestId};
use crate::node::Node;
use crate::types::{Addr, NodeName};

/// How many admin commands one node runs at once.
pub const MAX_ADMINS_IN_FLIGHT: usize = 8;

/// A command of the administrator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdminCommand {
    /// Change the Meta Storage node list.
    ReconfigureMs {
        /// The new voters.
        nodes: Vec<NodeName>,
    },
}

/// What an admin command achieved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdminOutcome {
    /// The Meta Storage runs with these voters at this version.
    MsReconfigured {
        /// The new Meta Storage version.
        version: u64,
        /// The voters.
        nodes: Vec<NodeName>,
    },
}

/// An admin command in progress on the node that received it.
#[derive(Clone, Debug)]
pub(crate) struct AdminAttempt {
    command: AdminCommand,
    started_ms: u64,
    last_sent_ms: u64,
}

impl Node {
    pub(crate) fn on_admin_request(
        &mut self,
        from: Addr,
        request: RequestId,
        command: AdminCommand,
    ) {
        if self.halted.is_some() {
            self.answer_admin(from, request, Err(AdminError::NodeStopped));
            return;
        }
        if !self.joiner.is_joined() {
            self.answer_admin(from, request, Err(AdminError::NotJoined));
            return;
        }
        if self.admins.contains_key(&(from, request)) {
            return;
        }
        if self.admins.len() >= MAX_ADMINS_IN_FLIGHT {
            self.answer_admin(from, request, Err(AdminError::Timeout));
            return;
        }
        self.admins.insert(
            (from, request),
            AdminAttempt {
                command,
                started_ms: self.now_ms,
                last_sent_ms: self.now_ms,
            },
        );
        self.forward_admin(from, request);
    }

    fn forward_admin(&mut self, user: Addr, request: RequestId) {
        let Some(attempt) = self.admins.get_mut(&(user, request)) else {
            return;
        };
        attempt.last_sent_ms = self.now_ms;
        let command = attempt.command.clone();
        let cmg_nodes = self
            .local
            .as_ref()
            .map(|l| l.config.cmg_nodes.clone())
            .unwrap_or_default();
        // The forwarded request id is unique per (user, request) on this node.
        let forwarded = forward_id(user, request);
        for name in cmg_nodes {
            if let Some(addr) = self.addr_of(&name) {
                self.send(
                    addr,
                    Message::AdminForward {
                        request: forwarded,
                        command: command.clone(),
                    },
                );
            }
        }
    }

    pub(crate) fn on_admin_forward_result(
        &mut self,
        request: RequestId,
        result: Result<AdminOutcome, AdminError>,
    ) {
        let key = self
            .admins
            .keys()
            .find(|(user, r)| forward_id(*user, *r) == request)
            .copied();
        if let Some((user, original)) = key {
            self.admins.remove(&(user, original));
            self.answer_admin(user, original, result);
        }
    }

    fn answer_admin(
        &mut self,
        user: Addr,
        request: RequestId,
        result: Result<AdminOutcome, AdminError>,
    ) {
        self.emit(Event::AdminAnswered {
            request,
            result: match &result {
                Ok(AdminOutcome::MsReconfigured { version, nodes }) => {
                    format!("ok: Meta Storage version {version}, nodes {nodes:?}")
                }
                Err(e) => format!("error: {e}"),
            },
        });
        self.send(user, Message::AdminResponse { request, result });
    }

    pub(crate) fn admin_tick(&mut self) {
        let now = self.now_ms;
        let keys: Vec<(Addr, RequestId)> = self.admins.keys().copied().collect();
        for (user, request) in keys {
            let Some(attempt) = self.admins.get(&(user, request)) else {
                continue;
            };
            if now >= attempt.started_ms + self.timing.admin_timeout_ms {
                self.admins.remove(&(user, request));
                self.answer_admin(user, request, Err(AdminError::Timeout));
            } else if now >= attempt.last_sent_ms + self.timing.ms_retry_ms {
                self.forward_admin(user, request);
            }
        }
    }

    /// A stopping node answers every user request still in progress.
    pub(crate) fn answer_all_stopped(&mut self) {
        let admins: BTreeMap<(Addr, RequestId), AdminAttempt> = std::mem::take(&mut self.admins);
        for ((user, request), _) in admins {
            self.answer_admin(user, request, Err(AdminError::NodeStopped));
        }
        let reason = self
            .halted
            .as_ref()
            .map(|r| r.to_string())
            .unwrap_or_default();
        let inits = std::mem::take(&mut self.inits);
        for attempt in inits.into_values() {
            let (user, request) = attempt.user_request();
            let error = InitError::NodeStopped {
                reason: reason.clone(),
            };
            self.emit(Event::InitAnswered {
                request,
                result: Err(error.clone()),
            });
            self.send(
                user,
                Message::InitResponse {
                    request,
                    result: Err(error),
                },
            );
        }
    }
}

fn forward_id(user: Addr, request: RequestId) -> RequestId {
    let [a, b, c, d] = user.ip;
    let addr = (u64::from(u32::from_be_bytes([a, b, c, d])) << 16) | u64::from(user.port);
    RequestId(request.0.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ addr)
}
