//! The simulated user: sends init and admin commands to a chosen node over the simulated network
//! and waits for the answer, like the operator's command-line tool would.

use std::time::Duration;

use std::collections::VecDeque;
use std::sync::Arc;
use std::task::{Poll, Waker};

use joinsim::{
    Addr, AdminCommand, AdminError, AdminOutcome, ClusterTag, Envelope, InitError, InitParams,
    LaunchId, Message, MessageKind, NodeName, RequestId,
};
use madsim::runtime::Handle;

use crate::host::{Packet, Payload};
use crate::trace::{HarnessEvent, MessageFate, TraceKind};
use crate::world::{UserError, World, USER_IP};

/// How often the user resends a request that has no answer yet.
pub const USER_RESEND_MS: u64 = 3_000;

/// Runs `wait` until it completes, driving `forever` alongside it.
async fn futures_select<T>(
    wait: impl std::future::Future<Output = T>,
    forever: impl std::future::Future<Output = ()>,
) -> T {
    use std::pin::pin;
    use std::task::Poll;
    let mut wait = pin!(wait);
    let mut forever = pin!(forever);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(value) = wait.as_mut().poll(cx) {
            return Poll::Ready(value);
        }
        let _ = forever.as_mut().poll(cx);
        Poll::Pending
    })
    .await
}

/// The answer to an init command.
pub type InitAnswer = Result<ClusterTag, UserError<InitError>>;
/// The answer to an admin command.
pub type AdminAnswer = Result<AdminOutcome, UserError<AdminError>>;

impl World {
    /// Sends an init command to `via` and waits for the answer (or gives up after the user's
    /// patience, 30 s of simulated time by default).
    pub async fn init(&self, via: &str, params: InitParams) -> InitAnswer {
        let request = RequestId(self.next_request());
        let what = format!(
            "init via {via}: cluster {:?}, ms {:?}, cmg {:?}",
            params.cluster_name, params.ms_nodes, params.cmg_nodes
        );
        let reply = self
            .ask(via, request, what, Message::InitRequest { request, params })
            .await;
        let answer = match reply {
            Some(Message::InitResponse { result, .. }) => result.map_err(UserError::Refused),
            _ => Err(UserError::NoAnswer),
        };
        self.record_answer(request, answer.as_ref().map(|tag| tag.to_string()));
        answer
    }

    /// Sends an init command with default node lists (chosen by the receiving node).
    pub async fn init_default(&self, via: &str, cluster_name: &str) -> InitAnswer {
        let params = InitParams {
            cluster_name: cluster_name.to_string(),
            ..Default::default()
        };
        self.init(via, params).await
    }

    /// Asks `via` to change the Meta Storage node list, and waits for the answer.
    pub async fn reconfigure_ms(&self, via: &str, nodes: &[&str]) -> AdminAnswer {
        let request = RequestId(self.next_request());
        let nodes: Vec<NodeName> = nodes.iter().map(|n| n.to_string()).collect();
        let what = format!("reconfigure Meta Storage via {via}: {nodes:?}");
        let command = AdminCommand::ReconfigureMs { nodes };
        let message = Message::AdminRequest { request, command };
        let reply = self.ask(via, request, what, message).await;
        let answer = match reply {
            Some(Message::AdminResponse { result, .. }) => result.map_err(UserError::Refused),
            _ => Err(UserError::NoAnswer),
        };
        self.record_answer(request, answer.as_ref().map(|o| format!("{o:?}")));
        answer
    }

    /// Puts the user's answer in the trace.
    fn record_answer<E: std::fmt::Display>(&self, request: RequestId, answer: Result<String, &E>) {
        let answer = match answer {
            Ok(value) => format!("ok {value}"),
            Err(e) => format!("error: {e}"),
        };
        self.record(
            "user",
            TraceKind::Harness(HarnessEvent::UserAnswer {
                request: request.0,
                answer,
            }),
        );
    }

    /// Sends raw bytes from the user's machine to a node (for example, a corrupt message). The
    /// trace does not follow them (id 0): the node reports what it got.
    pub async fn send_raw(&self, to_label: &str, bytes: Vec<u8>) {
        let to = self.addr(to_label);
        let from = Addr::new(USER_IP, self.next_user_port());
        let packet = Packet {
            id: 0,
            from,
            payload: Payload::Bytes(bytes.into()),
        };
        self.transmit(packet, to, MessageKind::Probe);
    }

    /// Sends one request from the user's machine and waits for the answer with its id.
    async fn ask(
        &self,
        via: &str,
        request: RequestId,
        what: String,
        msg: Message,
    ) -> Option<Message> {
        self.record(
            "user",
            TraceKind::Harness(HarnessEvent::UserRequest {
                request: request.0,
                what,
            }),
        );
        let to = self.addr(via);
        let patience = Duration::from_millis(self.user_patience_ms());
        let user = Handle::current()
            .get_node(self.user_node())
            .expect("user node exists");
        let world = self.clone();
        let via = via.to_string();
        let kind = msg.kind();
        let port = self.next_user_port();
        let from = Addr::new(USER_IP, port);
        self.user_inboxes().insert(port, UserInbox::default());
        let task = user.spawn(async move {
            let envelope = Envelope {
                from,
                from_launch: LaunchId(0),
                msg,
            };
            let sent = Arc::new(envelope);
            // Like an operator's tool: resend the same request (same id) until an answer comes
            // or patience runs out. A node that already answered treats the repeat as a repeat.
            let resend = {
                let (world, via, sent) = (&world, &via, sent.clone());
                async move {
                    loop {
                        let id = world.next_message_id();
                        let link = ("user", via.as_str());
                        world.message("user", id, link, kind, MessageFate::Sent);
                        let packet = Packet {
                            id,
                            from,
                            payload: Payload::Envelope(sent.clone()),
                        };
                        world.transmit(packet, to, kind);
                        madsim::time::sleep(Duration::from_millis(USER_RESEND_MS)).await;
                    }
                }
            };
            let wait = async {
                loop {
                    let packet = next_arrival(&world, port).await;
                    let Ok(reply) = packet.payload.open(&packet.from) else {
                        continue;
                    };
                    let replier = world.label_of(packet.from);
                    let link = (&*replier, "user");
                    let fate = MessageFate::Delivered;
                    world.message("user", packet.id, link, reply.msg.kind(), fate);
                    let matches = match &reply.msg {
                        Message::InitResponse { request: r, .. }
                        | Message::AdminResponse { request: r, .. } => *r == request,
                        _ => false,
                    };
                    if matches {
                        return Some(reply.msg);
                    }
                }
            };
            let answered = async { futures_select(wait, resend).await };
            let answer = madsim::time::timeout(patience, answered)
                .await
                .ok()
                .flatten();
            world.user_inboxes().remove(&port);
            answer
        });
        task.await.ok().flatten()
    }
}

/// The mailbox of one user request: the packets that arrived for it, and the waker of the task
/// that waits for them.
#[derive(Default)]
pub(crate) struct UserInbox {
    arrived: VecDeque<Packet>,
    waker: Option<Waker>,
}

/// The most packets one user request's mailbox keeps (more are lost).
pub const MAX_USER_INBOX: usize = 1_000;

/// A packet reaches the user's request at `port` (lost when that request is over).
pub(crate) fn arrive_at_user(world: &World, packet: Packet, port: u16) {
    let mut inboxes = world.user_inboxes();
    let Some(inbox) = inboxes.get_mut(&port) else {
        return;
    };
    if inbox.arrived.len() < MAX_USER_INBOX {
        inbox.arrived.push_back(packet);
    }
    if let Some(waker) = inbox.waker.take() {
        waker.wake();
    }
}

/// The next packet for the user's request at `port`.
async fn next_arrival(world: &World, port: u16) -> Packet {
    std::future::poll_fn(|cx| {
        let mut inboxes = world.user_inboxes();
        let inbox = inboxes.entry(port).or_default();
        match inbox.arrived.pop_front() {
            Some(packet) => Poll::Ready(packet),
            None => {
                inbox.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    })
    .await
}
