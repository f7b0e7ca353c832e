//! The node's routing of admin commands: a user's request, the CMG leader's answer and the clock
//! go to the [`AdminRequests`](crate::admin::AdminRequests) component; forwarding to the CMG
//! nodes and answering the user (event and message) are done here. A stopping node answers
//! every user request still in progress, init requests included.

use crate::admin::{AdminCommand, AdminDue, AdminOutcome, Admission};
use crate::error::{AdminError, InitError};
use crate::event::Event;
use crate::message::Message;
use crate::node::Node;
use crate::types::Addr;
use crate::types::RequestId;

impl Node {
    pub(crate) fn on_admin_request(
        &mut self,
        from: Addr,
        request: RequestId,
        command: AdminCommand,
    ) {
        if self.is_stopped() {
            self.answer_admin(from, request, Err(AdminError::NodeStopped));
            return;
        }
        if !self.joiner.is_joined() {
            self.answer_admin(from, request, Err(AdminError::NotJoined));
            return;
        }
        match self.admins.admit(from, request, command, self.now_ms) {
            Admission::Duplicate => {}
            Admission::Full => self.answer_admin(from, request, Err(AdminError::Timeout)),
            Admission::Started => self.forward_admin(from, request),
        }
    }

    fn forward_admin(&mut self, user: Addr, request: RequestId) {
        let Some((forwarded, command)) = self.admins.forward(user, request, self.now_ms) else {
            return;
        };
        let cmg_nodes = self
            .local
            .as_ref()
            .map(|l| l.config.cmg_nodes.clone())
            .unwrap_or_default();
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
        if let Some((user, original)) = self.admins.finish(request) {
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
        let (timeout_ms, retry_ms) = (self.timing.admin_timeout_ms, self.timing.ms_retry_ms);
        for due in self.admins.tick(self.now_ms, timeout_ms, retry_ms) {
            match due {
                AdminDue::TimedOut(user, request) => {
                    self.answer_admin(user, request, Err(AdminError::Timeout))
                }
                AdminDue::Resend(user, request) => self.forward_admin(user, request),
            }
        }
    }

    /// A stopping node answers every user request still in progress.
    pub(crate) fn answer_all_stopped(&mut self) {
        for (user, request) in self.admins.drain() {
            self.answer_admin(user, request, Err(AdminError::NodeStopped));
        }
        let reason = self.stop_reason();
        let inits = std::mem::take(&mut self.inits);
        for attempt in inits.into_values() {
            let (user, request) = attempt.user_request();
            let error = InitError::NodeStopped {
                reason: reason.clone(),
            };
            self.answer_init(user, request, Err(error));
        }
    }
}
