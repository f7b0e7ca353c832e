//! Admin commands: today, the Meta Storage reconfiguration. The user sends the command to any
//! joined node; that node forwards it to every CMG node (the leader acts, the others ignore it)
//! until the leader answers, and the leader answers once the CMG committed the new node list
//! (Meta Storage version + 1) and the Meta Storage applied it.
//!
//! This module is the component: [`AdminRequests`] owns the admin commands in flight on the node
//! that received them (at most [`MAX_ADMINS_IN_FLIGHT`]), with their clocks, and says which to
//! forward again and which ran out of time. The node routes it (`src/node/admin.rs`); the CMG
//! leader's side is in `src/node/cmg_validation.rs` and `src/node/cmg.rs`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::types::RequestId;
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
struct AdminAttempt {
    command: AdminCommand,
    started_ms: u64,
    last_sent_ms: u64,
}

/// What became of a user's admin request on arrival.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Now in flight: forward it.
    Started,
    /// Already in flight (a resend by the user): nothing to do.
    Duplicate,
    /// [`MAX_ADMINS_IN_FLIGHT`] are in flight: the user is answered `AdminError::Timeout`.
    Full,
}

/// What the clock decided for one request in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AdminDue {
    /// `admin_timeout_ms` passed since it started: dropped, the user is answered
    /// `AdminError::Timeout`.
    TimedOut(Addr, RequestId),
    /// `ms_retry_ms` passed since it was last forwarded: forward it again.
    Resend(Addr, RequestId),
}

/// The admin commands in flight on this node, by (user address, user's request id).
#[derive(Clone, Debug, Default)]
pub(crate) struct AdminRequests {
    in_flight: BTreeMap<(Addr, RequestId), AdminAttempt>,
}

impl AdminRequests {
    /// No command in flight.
    pub fn new() -> AdminRequests {
        AdminRequests::default()
    }

    /// A user's request arrives at `now_ms` (the node is joined and running).
    pub fn admit(
        &mut self,
        user: Addr,
        request: RequestId,
        command: AdminCommand,
        now_ms: u64,
    ) -> Admission {
        if self.in_flight.contains_key(&(user, request)) {
            return Admission::Duplicate;
        }
        if self.in_flight.len() >= MAX_ADMINS_IN_FLIGHT {
            return Admission::Full;
        }
        self.in_flight.insert(
            (user, request),
            AdminAttempt {
                command,
                started_ms: now_ms,
                last_sent_ms: now_ms,
            },
        );
        Admission::Started
    }

    /// Forwards a request in flight at `now_ms`: the id it carries to the CMG nodes (unique per
    /// (user, request) on this node) and the command. `None` when it is not in flight.
    pub fn forward(
        &mut self,
        user: Addr,
        request: RequestId,
        now_ms: u64,
    ) -> Option<(RequestId, AdminCommand)> {
        let attempt = self.in_flight.get_mut(&(user, request))?;
        attempt.last_sent_ms = now_ms;
        Some((forward_id(user, request), attempt.command.clone()))
    }

    /// The CMG leader answered the forwarded id `forwarded`: the request is done; the user and
    /// its request id to answer, if it was in flight.
    pub fn finish(&mut self, forwarded: RequestId) -> Option<(Addr, RequestId)> {
        let key = self
            .in_flight
            .keys()
            .find(|(user, r)| forward_id(*user, *r) == forwarded)
            .copied()?;
        self.in_flight.remove(&key);
        Some(key)
    }

    /// The clock at `now_ms`: requests that ran out of `admin_timeout_ms` (dropped here) and
    /// requests to forward again after `ms_retry_ms`, in (user, request) order.
    pub fn tick(&mut self, now_ms: u64, admin_timeout_ms: u64, ms_retry_ms: u64) -> Vec<AdminDue> {
        let mut due = Vec::new();
        self.in_flight.retain(|&(user, request), attempt| {
            if now_ms >= attempt.started_ms + admin_timeout_ms {
                due.push(AdminDue::TimedOut(user, request));
                return false;
            }
            if now_ms >= attempt.last_sent_ms + ms_retry_ms {
                due.push(AdminDue::Resend(user, request));
            }
            true
        });
        due
    }

    /// Drops every request in flight (the node stops): the users to answer, in order.
    pub fn drain(&mut self) -> Vec<(Addr, RequestId)> {
        std::mem::take(&mut self.in_flight).into_keys().collect()
    }
}

fn forward_id(user: Addr, request: RequestId) -> RequestId {
    let [a, b, c, d] = user.ip;
    let addr = (u64::from(u32::from_be_bytes([a, b, c, d])) << 16) | u64::from(user.port);
    RequestId(request.0.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(n: u8) -> Addr {
        Addr::new([10, 0, 0, n], 9000)
    }

    fn command() -> AdminCommand {
        AdminCommand::ReconfigureMs {
            nodes: vec!["a".into()],
        }
    }

    #[test]
    fn a_request_is_admitted_once_and_answered_by_its_forwarded_id() {
        let mut admins = AdminRequests::new();
        let r = RequestId(5);
        assert_eq!(admins.admit(user(1), r, command(), 0), Admission::Started);
        assert_eq!(admins.admit(user(1), r, command(), 1), Admission::Duplicate);
        let (forwarded, sent) = admins.forward(user(1), r, 2).unwrap();
        assert_eq!(sent, command());
        assert_ne!(forwarded, r);
        assert_ne!(
            forwarded,
            forward_id(user(2), r),
            "unique per user and request"
        );
        assert_eq!(admins.finish(RequestId(77)), None);
        assert_eq!(admins.finish(forwarded), Some((user(1), r)));
        assert_eq!(admins.forward(user(1), r, 3), None, "done");
    }

    #[test]
    fn at_most_eight_requests_are_in_flight() {
        let mut admins = AdminRequests::new();
        for i in 0..MAX_ADMINS_IN_FLIGHT as u64 {
            assert_eq!(
                admins.admit(user(1), RequestId(i), command(), 0),
                Admission::Started
            );
        }
        assert_eq!(
            admins.admit(user(1), RequestId(99), command(), 0),
            Admission::Full
        );
        assert_eq!(admins.drain().len(), MAX_ADMINS_IN_FLIGHT);
        assert!(admins.drain().is_empty());
    }

    #[test]
    fn the_clock_resends_then_times_out() {
        let mut admins = AdminRequests::new();
        admins.admit(user(1), RequestId(1), command(), 0);
        admins.admit(user(2), RequestId(1), command(), 50);
        assert!(admins.tick(99, 1_000, 100).is_empty());
        assert_eq!(
            admins.tick(100, 1_000, 100),
            vec![AdminDue::Resend(user(1), RequestId(1))]
        );
        admins.forward(user(1), RequestId(1), 100);
        assert_eq!(
            admins.tick(1_000, 1_000, 100),
            vec![
                AdminDue::TimedOut(user(1), RequestId(1)),
                AdminDue::Resend(user(2), RequestId(1))
            ]
        );
        assert_eq!(admins.drain(), vec![(user(2), RequestId(1))]);
    }
}
