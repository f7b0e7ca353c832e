//! A user's retry after a cancelled init (docs/protocol.md Step 2.6, "a cancel under way is no
//! ground for a refusal"): the initiator answers "cancelled" the instant it learns the CMG
//! committed the cancel, and sends the decided cancel to the other nodes at the same instant. A
//! retry through another node can get there first (initiator → user → node beats initiator →
//! node); that node still holds the cancelled cluster, and must not refuse the retry because of
//! it. The madsim twin is `scenarios/init-retry-after-a-cancel-overtakes-the-decided-cancel.toml`.

use super::*;
use crate::InitError;

/// The first init names n1, n2, n3 with n3 dead: n1 and n2 commit its cluster-init, everyone
/// joins, and after `init_timeout_ms` n1 cancels. Runs until n1 answers its user (the step that
/// also sends the decided cancel), and returns the network with the first answer's error.
fn first_init_cancelled(seed: u64) -> (Network, InitError) {
    let mut net = Network::builder().seed(seed).nodes(4).build();
    net.start_all();
    wait_physical(&mut net, &["n1", "n2", "n3", "n4"]);
    net.kill("n3");
    let first = net.send_init("n1", params("c1", &["n1", "n2", "n3"], &[]));
    net.wait_until(
        |n| {
            n.events("n1")
                .any(|(_, e)| matches!(e, Event::InitAnswered { request, .. } if *request == first))
        },
        PATIENCE_MS,
    )
    .expect("n1 answers the first init");
    let error = net
        .events("n1")
        .find_map(|(_, e)| match e {
            Event::InitAnswered {
                request,
                result: Err(error),
            } if *request == first => Some(error.clone()),
            _ => None,
        })
        .expect("the first init fails");
    (net, error)
}

/// The race itself, reordered deterministically: at the instant n1 answers "cancelled" (and sends
/// n2 the decided cancel, at least 1 ms away), the user's retry — other CMG list — is sent to n2
/// over a link of under 1 ms. n2 gets it while it still holds the cancelled cluster (its vault,
/// its replicas, the uncommitted-to-it cancel in its CMG log): it leaves it unanswered until it
/// learns the decision, and the user's resend starts the new cluster. Before the rule n2 answered
/// `ParametersDiffer` citing the cancelled cluster's lists.
#[test]
fn a_retry_that_overtakes_the_decided_cancel_waits_for_it_and_succeeds() {
    let (mut net, error) = first_init_cancelled(3);
    assert!(
        matches!(&error, InitError::Timeout { node, .. } if node == "n3"),
        "{error:?}"
    );
    // The race's precondition: n1 led the first CMG, so n2 has not applied the cancel yet.
    let held = net
        .vault("n2")
        .local
        .as_ref()
        .map(|l| l.cmg_instance)
        .expect("n2 still holds the first cluster when n1 answers");
    net.set_network(0, 0, 0.0);
    let retry = net.send_init("n2", params("c1", &["n1", "n2", "n4"], &[]));
    net.set_network(1, 10, 0.0);
    let tag = net
        .wait_until(|n| n.init_answer(retry).is_some(), PATIENCE_MS)
        .map(|_| net.init_answer(retry).cloned().expect("answered"))
        .expect("the retry is answered");
    let tag = match tag {
        Ok(tag) => tag,
        Err(e) => panic!("the retry after a cancel was refused: {e:?}"),
    };
    let deferred = net.events("n2").any(|(_, e)| {
        matches!(e, Event::InitDeferred { request, held: h } if *request == retry && *h == held)
    });
    assert!(
        deferred,
        "n2 left the retry unanswered while the cancel was under way"
    );
    // The deferred request is judged the moment the fate is known, not at the user's next
    // resend (3 s later): a user who stopped resending is answered all the same (fuzz seed
    // 1972). Before, the new cluster started only when a resend reached n2.
    let mut received = 0;
    let mut started_after = None;
    for (_, e) in net.events("n2") {
        match e {
            Event::InitReceived { request, .. } if *request == retry => received += 1,
            Event::InitStarted { request, .. } if *request == retry => {
                started_after = Some(received);
                break;
            }
            _ => {}
        }
    }
    assert_eq!(
        started_after,
        Some(1),
        "n2 starts the retry on its first copy, once the cancel's fate is known"
    );
    wait_joined(&mut net, &["n1", "n2", "n4"]);
    assert_eq!(net.vault("n2").local.as_ref().unwrap().config.tag, tag);
    assert_ne!(
        net.vault("n2").local.as_ref().unwrap().cmg_instance,
        held,
        "the new cluster is another incarnation"
    );
}

/// Idempotence is kept: a node whose cluster was answered (no cancel under way) still refuses
/// an init with other parameters at once, through any node.
#[test]
fn an_answered_cluster_still_refuses_other_parameters_at_once() {
    let mut net = Network::builder().seed(4).nodes(3).build();
    let tag = form_cluster(&mut net, &["n1", "n2", "n3"], &["n1", "n2"]);
    for via in ["n2", "n3"] {
        let request = net.send_init(via, params("test", &["n1", "n3"], &["n1", "n3"]));
        net.wait_until(|n| n.init_answer(request).is_some(), 1_000)
            .expect("refused within a second: not left waiting");
        match net.init_answer(request).cloned().unwrap() {
            Err(e) => assert!(matches!(e, InitError::ParametersDiffer { .. }), "{e:?}"),
            other => panic!("expected parameters_differ, got {other:?}"),
        }
    }
    let repeat = net.init("n3", params("test", &["n1", "n2"], &["n1", "n2"]));
    assert_eq!(repeat.expect("a repeat succeeds"), tag);
    assert!(!net
        .all_events()
        .any(|(_, e)| matches!(e, Event::InitDeferred { .. })));
}
