//! The simulated user of a test network: sends init commands to a node and collects the answers,
//! like the madsim world's user (`sim/src/user.rs`): the same request (same id) is sent again
//! every [`USER_RESEND_MS`] until an answer comes or [`USER_PATIENCE_MS`] have passed.

use std::collections::BTreeMap;
use std::fmt;

use crate::error::InitError;
use crate::init::InitParams;
use crate::message::{Envelope, Message};
use crate::types::RequestId;
use crate::types::{Addr, ClusterTag, LaunchId};

use super::log::{HarnessAction, LogKind};
use super::network::{Network, Timeout};
use super::queue::Scheduled;

/// The user's address (the madsim world's user machine, `10.0.255.254`).
pub const USER_ADDR: Addr = Addr::new([10, 0, 255, 254], 50_000);
/// How often the user sends an unanswered request again (the madsim world's `USER_RESEND_MS`).
pub const USER_RESEND_MS: u64 = 3_000;
/// How long the user waits for an answer (the madsim world's default patience).
pub const USER_PATIENCE_MS: u64 = 30_000;
/// The most requests one run's user sends.
pub const MAX_USER_REQUESTS: usize = 10_000;

/// The answer a node gave to an init command.
pub type InitAnswer = Result<ClusterTag, InitError>;

/// Why [`Network::init`] has no tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InitFailure {
    /// The node answered with an error (boxed: an `InitError` is large).
    Refused(Box<InitError>),
    /// No answer within [`USER_PATIENCE_MS`].
    NoAnswer,
}

impl fmt::Display for InitFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitFailure::Refused(e) => write!(f, "{e}"),
            InitFailure::NoAnswer => f.write_str("no answer"),
        }
    }
}

impl std::error::Error for InitFailure {}

/// One request of the user.
#[derive(Debug)]
pub(crate) struct Request {
    via: usize,
    message: Message,
    give_up_us: u64,
    answer: Option<InitAnswer>,
}

/// The user's requests and answers.
#[derive(Debug, Default)]
pub(crate) struct User {
    requests: BTreeMap<RequestId, Request>,
}

impl Network {
    /// Sends an init command to `via` (the user's first send; resends follow by themselves) and
    /// returns its id; the answer shows in [`Network::init_answer`] once it arrives.
    ///
    /// # Panics
    /// After [`MAX_USER_REQUESTS`] requests, or when `via` is unknown.
    pub fn send_init(&mut self, via: &str, params: InitParams) -> RequestId {
        assert!(
            self.user.requests.len() < MAX_USER_REQUESTS,
            "the user sent {MAX_USER_REQUESTS} requests"
        );
        let index = self.index(via);
        let request = RequestId(self.user.requests.len() as u64 + 1);
        self.record(
            "user",
            LogKind::Harness(HarnessAction::InitSent {
                request,
                via: via.to_string(),
                params: params.clone(),
            }),
        );
        let message = Message::InitRequest { request, params };
        self.user.requests.insert(
            request,
            Request {
                via: index,
                message,
                give_up_us: self.now_us + USER_PATIENCE_MS * 1_000,
                answer: None,
            },
        );
        self.user_resend(request);
        request
    }

    /// The answer to an init request, once it arrived.
    pub fn init_answer(&self, request: RequestId) -> Option<&InitAnswer> {
        self.user.requests.get(&request)?.answer.as_ref()
    }

    /// Sends an init command to `via` and runs the network until the answer comes, for
    /// [`USER_PATIENCE_MS`] at most.
    pub fn init(&mut self, via: &str, params: InitParams) -> Result<ClusterTag, InitFailure> {
        let request = self.send_init(via, params);
        let answered = |net: &Network| net.init_answer(request).is_some();
        match self.wait_until(answered, USER_PATIENCE_MS) {
            Ok(_) => self
                .init_answer(request)
                .cloned()
                .expect("answered")
                .map_err(|e| InitFailure::Refused(Box::new(e))),
            Err(Timeout { .. }) => Err(InitFailure::NoAnswer),
        }
    }

    /// [`Network::init`] with empty node lists (the receiving node chooses them).
    pub fn init_default(
        &mut self,
        via: &str,
        cluster_name: &str,
    ) -> Result<ClusterTag, InitFailure> {
        let params = InitParams {
            cluster_name: cluster_name.to_string(),
            ..Default::default()
        };
        self.init(via, params)
    }

    /// Sends `request` (again) unless it is answered or the user gave up, and schedules the
    /// next send.
    pub(crate) fn user_resend(&mut self, request: RequestId) {
        let Some(r) = self.user.requests.get(&request) else {
            return;
        };
        if r.answer.is_some() || self.now_us >= r.give_up_us {
            return;
        }
        let to = self.slots[r.via].config.addr;
        let envelope = Envelope {
            from: USER_ADDR,
            from_launch: LaunchId(0),
            msg: r.message.clone(),
        };
        let next = self.now_us + USER_RESEND_MS * 1_000;
        if next < r.give_up_us {
            self.queue.push(next, Scheduled::UserResend { request });
        }
        self.send(None, to, envelope);
    }

    /// A message reached the user: the first answer to each request counts.
    pub(crate) fn user_receives(&mut self, envelope: Envelope) {
        let Message::InitResponse { request, result } = envelope.msg else {
            return;
        };
        let Some(r) = self.user.requests.get_mut(&request) else {
            return;
        };
        if r.answer.is_some() || self.now_us >= r.give_up_us {
            return;
        }
        r.answer = Some(result.clone());
        self.record(
            "user",
            LogKind::Harness(HarnessAction::InitAnswered {
                request,
                answer: result,
            }),
        );
    }
}
