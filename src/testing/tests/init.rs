//! The init command on the synchronous network: success, and every error kind that a few
//! commands reach. `NodeFailed` needs a named node that fails to start its groups, or a watched
//! init whose cancel another initiator got committed, which no simple run does: the coordinator's
//! unit tests (`src/init/coordinator/tests.rs`) reach both, and the madsim scenarios the rest.
//! The last test checks that the kinds reached here and there are exactly [`InitError`]'s.

use super::*;
use crate::testing::{InitFailure, NodeSetup};
use crate::{InitError, NodeList};

fn refused(answer: Result<ClusterTag, InitFailure>) -> InitError {
    match answer {
        Err(InitFailure::Refused(e)) => *e,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn init_succeeds_and_a_repeat_returns_the_same_tag() {
    let mut net = Network::builder().seed(5).nodes(4).build();
    let first = form_cluster(&mut net, &["n1", "n2", "n3", "n4"], &["n1", "n2", "n3"]);
    assert_eq!(first.name, "test");
    let again = net
        .init("n4", params("test", &["n3", "n2", "n1"], &[]))
        .expect("the same parameters succeed");
    assert_eq!(again, first);
    let cluster = net
        .view("n1")
        .unwrap()
        .cmg_state
        .as_ref()
        .unwrap()
        .cluster
        .clone()
        .unwrap();
    assert_eq!(cluster.config.cmg_nodes, vec!["n1", "n2", "n3"]);
}

/// Each invalid parameter, refused at once: the errors, in order.
fn invalid_parameters() -> Vec<InitError> {
    let mut reached = Vec::new();
    let foreign = restored("old", 0xF0, &["x"], 1, &[("x", 3)]);
    let mut net = Network::builder()
        .seed(10)
        .nodes(3)
        .node(
            NodeSetup::new("x")
                .seeds(&["n1"])
                .vault(foreign.vault_of("x", 1)),
        )
        .build();
    net.start_all();
    wait_physical(&mut net, &["n1", "n2", "n3", "x"]);
    let cases = [
        (params(" ", &["n1"], &[]), InitError::BlankClusterName),
        (
            params("c", &["n1", ""], &[]),
            InitError::BlankNodeName {
                list: NodeList::Cmg,
            },
        ),
        (
            params("c", &[], &["n1", "  "]),
            InitError::BlankNodeName { list: NodeList::Ms },
        ),
        (
            params("c", &["n1", "n2", "n1"], &[]),
            InitError::DuplicateNodeName {
                list: NodeList::Cmg,
                name: "n1".into(),
            },
        ),
        (
            params("c", &["n1", "n9"], &[]),
            InitError::NotInPhysicalTopology { name: "n9".into() },
        ),
    ];
    for (p, want) in cases {
        let got = refused(net.init("n1", p.clone()));
        assert_eq!(got, want, "for {p:?}");
        reached.push(got);
    }
    let got = refused(net.init("n2", params("c", &["n1", "x"], &[])));
    assert!(
        matches!(&got, InitError::ForeignTag { name, .. } if name == "x"),
        "{got:?}"
    );
    reached.push(got);
    for l in ["n1", "n2", "n3"] {
        assert!(net.vault(l).cmg.is_none() && net.vault(l).ms.is_none());
    }
    reached
}

#[test]
fn each_invalid_parameter_is_refused_at_once() {
    invalid_parameters();
}

/// Two live members named n2: `DuplicateMember`, returned.
fn duplicate_member() -> InitError {
    let mut net = Network::builder()
        .seed(11)
        .nodes(2)
        .node(NodeSetup::new("n2").label("n2-twin").seeds(&["n1"]))
        .build();
    net.start_all();
    net.wait_until(
        |n| n.view("n1").is_some_and(|v| v.physical.len() == 3),
        PATIENCE_MS,
    )
    .expect("three members");
    let got = refused(net.init("n1", params("c", &["n1"], &[])));
    assert!(
        matches!(&got, InitError::DuplicateMember { name, .. } if name == "n2"),
        "{got:?}"
    );
    got
}

#[test]
fn two_live_members_with_one_name_are_refused() {
    duplicate_member();
}

/// Another init with different parameters: `ParametersDiffer`, returned.
fn parameters_differ() -> InitError {
    let mut net = Network::builder().seed(14).nodes(4).build();
    let first = form_cluster(&mut net, &["n1", "n2", "n3", "n4"], &["n1", "n2", "n3"]);
    let got = refused(net.init("n2", params("test", &["n1", "n2", "n4"], &[])));
    match &got {
        InitError::ParametersDiffer { detail, .. } => {
            assert!(detail.contains("CMG node names do not match"), "{detail}")
        }
        other => panic!("{other:?}"),
    }
    assert!(net.joined(&["n1", "n2", "n3", "n4"]));
    assert_eq!(net.vault("n4").local.as_ref().unwrap().config.tag, first);
    got
}

#[test]
fn different_parameters_are_refused_without_a_cancel() {
    parameters_differ();
}

#[test]
fn a_dead_named_node_cancels_the_init_and_a_later_init_succeeds() {
    let mut net = Network::builder().seed(15).nodes(4).build();
    net.start_all();
    wait_physical(&mut net, &["n1", "n2", "n3", "n4"]);
    net.kill("n4");
    match refused(net.init("n1", params("c", &["n1", "n2", "n4"], &[]))) {
        InitError::Timeout { node, .. } => assert_eq!(node, "n4"),
        other => panic!("expected a timeout naming n4, got {other:?}"),
    }
    net.wait_until(
        |n| {
            ["n1", "n2", "n3"].iter().all(|l| {
                let v = n.vault(l);
                v.cmg.is_none() && v.ms.is_none() && v.local.is_none()
            })
        },
        10_000,
    )
    .expect("the cancel cleared every vault");
    assert!(net
        .events("n1")
        .any(|(_, e)| matches!(e, Event::InitCancelled { .. })));
    net.init("n2", params("c", &["n1", "n2", "n3"], &[]))
        .expect("a later init with live nodes succeeds");
    wait_joined(&mut net, &["n1", "n2", "n3"]);
}

/// An init through a stopped node: `NodeStopped`, returned.
fn node_stopped() -> InitError {
    // x holds another cluster's tag and is no voter of it: refused at pre-init, it stops.
    let foreign = restored("other", 0xD, &["g1", "g2", "g3"], 1, &[]);
    let mut net = Network::builder()
        .seed(16)
        .nodes(3)
        .node(
            NodeSetup::new("x")
                .seeds(&["n1"])
                .vault(foreign.vault_of("x", 1)),
        )
        .build();
    form_cluster(&mut net, &["n1", "n2", "n3"], &["n1", "n2", "n3"]);
    net.start("x");
    net.wait_until(|n| n.halted(&["x"]), PATIENCE_MS)
        .expect("x is refused: another tag");
    let got = refused(net.init("x", params("c", &["x"], &[])));
    assert!(matches!(got, InitError::NodeStopped { .. }), "{got:?}");
    got
}

#[test]
fn a_stopped_node_answers_node_stopped() {
    node_stopped();
}

/// One init more than the bound while a named node is dead: one `Busy`, the others `Timeout`;
/// the answers, returned.
fn busy_and_timeouts() -> Vec<InitError> {
    let max = crate::init::MAX_INITS_IN_FLIGHT;
    let mut net = Network::builder().seed(17).nodes(3).build();
    net.start_all();
    wait_physical(&mut net, &["n1", "n2", "n3"]);
    // n3 is dead but still a member: every init waits for it until the init timeout. The
    // requests are alike (another cluster name would differ from the first attempt's).
    net.kill("n3");
    let requests: Vec<_> = (0..=max)
        .map(|_| net.send_init("n1", params("c", &["n1", "n3"], &[])))
        .collect();
    // The requests reach n1 in latency order: whichever comes ninth finds eight in flight.
    net.wait_until(
        |n| requests.iter().all(|r| n.init_answer(*r).is_some()),
        PATIENCE_MS,
    )
    .expect("every request is answered");
    let answers: Vec<&InitError> = requests
        .iter()
        .map(|r| net.init_answer(*r).unwrap().as_ref().unwrap_err())
        .collect();
    let busy = answers
        .iter()
        .filter(|e| ***e == InitError::Busy { max })
        .count();
    let timed_out = answers
        .iter()
        .filter(|e| matches!(e, InitError::Timeout { node, .. } if node == "n3"))
        .count();
    assert_eq!((busy, timed_out), (1, max), "{answers:?}");
    // The refusal is reported as its coverage mark (a rare one: no campaign reaches it).
    let busy_mark = crate::Event::Mark(crate::Mark::InitErrorBusy);
    assert!(net.events("n1").any(|(_, e)| *e == busy_mark));
    answers.into_iter().cloned().collect()
}

#[test]
fn more_inits_in_flight_than_the_bound_are_refused_busy() {
    busy_and_timeouts();
}

/// Runs until `viewer`'s physical topology holds `name` once, as `launch`.
fn wait_named_once(net: &mut Network, viewer: &str, name: &str, launch: crate::LaunchId) {
    net.wait_until(
        |n| {
            n.view(viewer).is_some_and(|v| {
                let named: Vec<_> = v.physical.iter().filter(|(m, _)| m == name).collect();
                named == [&(name.to_string(), launch)]
            })
        },
        PATIENCE_MS,
    )
    .unwrap_or_else(|e| panic!("{viewer}'s view holds {name} once, as {launch:?}: {e}"));
}

/// Decision (an initialized initiator answers a repeat with its own cluster, fuzz seed
/// 50021286): the repeat of a cluster's init reaches n2, an initialized node not named in it,
/// while the only CMG voter n1 is down and an empty node named n1 (label d1) stands in n2's
/// view. n2 starts nothing — before, it drew a new tag and d1 started a second cluster of the
/// same command, whose tag the user got — and, n1 not answering, tells the user it could not
/// confirm the answer and that nothing was started or cancelled. Once d1 is gone and n1 back,
/// a repeat returns the first tag. The refusal, returned.
fn repeat_unconfirmed() -> InitError {
    let mut net = Network::builder()
        .seed(19)
        .nodes(3)
        .node(NodeSetup::new("n1").label("d1").seeds(&["n2"]))
        .build();
    let first = form_cluster(&mut net, &["n1", "n2", "n3"], &["n1"]);
    net.kill("n1");
    net.start("d1");
    let d1 = net.view("d1").expect("d1 runs").launch;
    wait_named_once(&mut net, "n2", "n1", d1);
    let got = refused(net.init("n2", params("test", &["n1"], &["n1"])));
    assert!(
        matches!(&got, InitError::RepeatUnconfirmed { node, .. } if node == "n1"),
        "{got:?}"
    );
    assert!(
        !net.events("d1")
            .any(|(_, e)| matches!(e, crate::Event::GroupStarted { .. })),
        "d1 starts no group"
    );
    let repeat_mark = crate::Event::Mark(crate::Mark::InitRepeatOfOwnCluster);
    assert!(net.events("n2").any(|(_, e)| *e == repeat_mark));
    // The namesake gone and n1 back, the repeat is answered with the first tag.
    net.kill("d1");
    net.restart("n1");
    wait_joined(&mut net, &["n1"]);
    let n1 = net.view("n1").expect("n1 runs").launch;
    wait_named_once(&mut net, "n2", "n1", n1);
    let again = net
        .init("n2", params("test", &["n1"], &["n1"]))
        .expect("the repeat succeeds once n1 answers");
    assert_eq!(again, first);
    got
}

#[test]
fn a_repeat_via_an_initialized_node_starts_nothing_and_returns_the_first_tag() {
    repeat_unconfirmed();
}

/// Every init error kind, from the runs above and the coordinator's unit test of a target that
/// fails to start its groups (`NodeFailed`): this test fails when a kind is added without a run
/// that reaches it.
#[test]
fn every_init_error_kind_is_reached() {
    let mut errors = invalid_parameters();
    errors.extend([
        duplicate_member(),
        parameters_differ(),
        node_stopped(),
        crate::init::a_failed_target(),
    ]);
    errors.extend(busy_and_timeouts());
    errors.push(repeat_unconfirmed());
    let mut reached: Vec<&str> = errors.iter().map(|e| e.kind()).collect();
    reached.sort_unstable();
    reached.dedup();
    let mut all = <InitError as strum::VariantNames>::VARIANTS.to_vec();
    all.sort_unstable();
    assert_eq!(reached, all);
}
