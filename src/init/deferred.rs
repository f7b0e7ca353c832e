//! User init requests a node holds back while a cancel is under way there
//! ([`DeferredInitRequests`], docs/protocol.md Step 2.6, "a cancel under way is no ground for a
//! refusal"): the node does not judge a request against a cluster whose fate it does not know,
//! but it does not drop the request either. It keeps it, and judges it the moment the fate is
//! known (or the cancel's lapse passes), so that every request a node received is answered by
//! that node even when the user stops resending (the liveness condition "every init request a
//! running node received is answered", docs/invariants.md).

use std::collections::BTreeMap;

use crate::init_command::InitParams;
use crate::types::{Addr, InstanceId, RequestId};

/// How many deferred requests a node keeps. A user has a handful of init commands in flight at
/// most; past the bound a new request is answered `Busy` at once rather than kept.
pub const MAX_DEFERRED_INIT_REQUESTS: usize = 8;

/// One request held back: its parameters (the latest copy's) and the init whose cancel it waits
/// for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DeferredInit {
    /// The user's parameters, as in the latest copy received.
    pub(crate) params: InitParams,
    /// The init of the cluster the node holds, whose cancel is under way.
    pub(crate) held: InstanceId,
}

/// The requests held back: (user address, request id) → [`DeferredInit`]. In memory only: a
/// restart forgets them (the user's request to a stopped incarnation is answered by nobody, and
/// the liveness condition counts requests since the node's last start). At most
/// [`MAX_DEFERRED_INIT_REQUESTS`].
#[derive(Clone, Debug, Default)]
pub(crate) struct DeferredInitRequests {
    requests: BTreeMap<(Addr, RequestId), DeferredInit>,
}

impl DeferredInitRequests {
    /// None held back.
    pub(crate) fn new() -> DeferredInitRequests {
        DeferredInitRequests::default()
    }

    /// Holds back `request` from `from`, waiting for the fate of `held`. A copy of a request
    /// already held replaces it. Returns `false`, holding nothing, when the bound is reached
    /// and the request is not one already held (the caller answers `Busy`).
    pub(crate) fn defer(
        &mut self,
        from: Addr,
        request: RequestId,
        params: InitParams,
        held: InstanceId,
    ) -> bool {
        let key = (from, request);
        if !self.requests.contains_key(&key) && self.requests.len() >= MAX_DEFERRED_INIT_REQUESTS {
            return false;
        }
        self.requests.insert(key, DeferredInit { params, held });
        true
    }

    /// Whether none is held back.
    pub(crate) fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }

    /// Takes out the requests for which `still_waits(held)` is false: their fate is known (or
    /// the node no longer holds that init). In (user address, request id) order.
    pub(crate) fn take_ready(
        &mut self,
        mut still_waits: impl FnMut(InstanceId) -> bool,
    ) -> Vec<(Addr, RequestId, InitParams)> {
        let ready: Vec<(Addr, RequestId)> = self
            .requests
            .iter()
            .filter(|(_, d)| !still_waits(d.held))
            .map(|(key, _)| *key)
            .collect();
        ready
            .into_iter()
            .filter_map(|key| self.requests.remove(&key).map(|d| (key.0, key.1, d.params)))
            .collect()
    }

    /// Takes out every request held back (the node stopped: each is answered at once).
    pub(crate) fn take_all(&mut self) -> Vec<(Addr, RequestId, InitParams)> {
        std::mem::take(&mut self.requests)
            .into_iter()
            .map(|((from, request), d)| (from, request, d.params))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(name: &str) -> InitParams {
        InitParams {
            cluster_name: name.into(),
            ms_nodes: Vec::new(),
            cmg_nodes: Vec::new(),
        }
    }

    fn user(i: u8) -> Addr {
        Addr::new([10, 0, 0, i], 7000)
    }

    #[test]
    fn a_request_waits_until_its_held_init_is_decided_and_the_latest_copy_counts() {
        let mut d = DeferredInitRequests::new();
        let (a, b) = (InstanceId(1), InstanceId(2));
        assert!(d.defer(user(1), RequestId(1), params("x"), a));
        assert!(
            d.defer(user(1), RequestId(1), params("y"), a),
            "a copy replaces"
        );
        assert!(d.defer(user(2), RequestId(7), params("z"), b));
        assert!(d.take_ready(|_| true).is_empty(), "both still wait");
        let ready = d.take_ready(|held| held == b);
        assert_eq!(ready, vec![(user(1), RequestId(1), params("y"))]);
        assert!(!d.is_empty());
        assert_eq!(d.take_all(), vec![(user(2), RequestId(7), params("z"))]);
        assert!(d.is_empty());
    }

    #[test]
    fn past_the_bound_a_new_request_is_not_held_but_a_copy_still_is() {
        let mut d = DeferredInitRequests::new();
        for i in 0..MAX_DEFERRED_INIT_REQUESTS as u64 {
            assert!(d.defer(user(1), RequestId(i), params("x"), InstanceId(1)));
        }
        assert!(!d.defer(user(1), RequestId(999), params("x"), InstanceId(1)));
        assert!(d.defer(user(1), RequestId(0), params("y"), InstanceId(1)));
        assert_eq!(d.take_all().len(), MAX_DEFERRED_INIT_REQUESTS);
    }
}
