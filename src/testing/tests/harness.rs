//! The harness's own controls do what they say.

use super::*;
use crate::testing::{HarnessAction, InitFailure, LogKind, StepKind, USER_PATIENCE_MS};

#[test]
fn an_empty_network_has_nothing_to_step() {
    let mut net = Network::builder().nodes(2).build();
    assert_eq!(net.step(), None);
    assert_eq!(net.now_us(), 0);
}

#[test]
fn step_runs_one_event_at_a_time_in_time_order() {
    let mut net = Network::builder().seed(1).nodes(2).build();
    net.start_all();
    let (mut ticks, mut deliveries, mut last) = (0, 0, 0);
    for _ in 0..200 {
        let step = net.step().expect("running nodes always tick");
        assert!(step.at_us >= last, "time never goes back");
        assert_eq!(net.now_us(), step.at_us);
        last = step.at_us;
        match step.what {
            StepKind::Tick { .. } => ticks += 1,
            StepKind::Delivered { .. } => deliveries += 1,
            _ => {}
        }
    }
    assert_eq!(net.steps(), 200);
    assert!(
        ticks > 0 && deliveries > 0,
        "{ticks} ticks, {deliveries} deliveries"
    );
}

#[test]
fn run_for_ends_exactly_that_much_later() {
    let mut net = Network::builder().seed(2).nodes(2).build();
    net.start_all();
    net.run_for(1_234);
    assert_eq!(net.now_ms(), 1_234);
    net.run_for(1);
    assert_eq!(net.now_ms(), 1_235);
}

#[test]
fn a_killed_node_neither_ticks_nor_receives() {
    let mut net = Network::builder().seed(3).nodes(2).build();
    net.start_all();
    wait_physical(&mut net, &["n1", "n2"]);
    net.kill("n2");
    assert!(net.view("n2").is_none());
    let until = net.now_us() + 5_000_000;
    let mut undeliverable = 0;
    while net.now_us() < until {
        match net.step().unwrap().what {
            StepKind::Tick { node } => assert_ne!(node, "n2"),
            StepKind::Delivered { to, .. } => assert_ne!(to, "n2"),
            StepKind::Undeliverable { to, .. } => {
                assert_eq!(to, "n2");
                undeliverable += 1;
            }
            _ => {}
        }
    }
    assert!(undeliverable > 0, "n1 kept probing n2");
    let killed = net
        .log()
        .iter()
        .filter(|e| e.node == "n2" && e.kind == LogKind::Harness(HarnessAction::Killed))
        .count();
    assert_eq!(killed, 1);
}

#[test]
fn the_user_resends_until_a_node_answers() {
    let mut net = Network::builder().seed(4).nodes(1).build();
    // n1 is down: the first send is lost, a resend reaches it once it runs.
    let request = net.send_init("n1", params("c", &["n1"], &[]));
    net.run_for(1_000);
    net.start("n1");
    net.wait_until(|n| n.init_answer(request).is_some(), USER_PATIENCE_MS)
        .expect("answered after a resend");
    assert!(matches!(net.init_answer(request), Some(Ok(_))));
    assert!(net.now_ms() >= crate::testing::USER_RESEND_MS);
}

#[test]
fn the_user_gives_up_after_its_patience() {
    let mut net = Network::builder().seed(5).nodes(1).build();
    assert_eq!(
        net.init("n1", params("c", &["n1"], &[])),
        Err(InitFailure::NoAnswer)
    );
    assert!(net.now_ms() >= USER_PATIENCE_MS);
}

#[test]
fn restart_keeps_the_vault_and_the_election_timeout_with_a_new_launch() {
    let mut net = Network::builder().seed(6).nodes(3).build();
    form_cluster(&mut net, &["n1", "n2", "n3"], &["n1", "n2", "n3"]);
    let vault = net.vault("n2").clone();
    let launch = net.view("n2").unwrap().launch;
    net.restart("n2");
    assert_eq!(net.vault("n2").local, vault.local);
    assert_ne!(net.view("n2").unwrap().launch, launch);
    let timeouts: Vec<usize> = net
        .log()
        .iter()
        .filter(|e| e.node == "n2")
        .filter_map(|e| match e.kind {
            LogKind::Harness(HarnessAction::Started { election_ticks, .. }) => Some(election_ticks),
            _ => None,
        })
        .collect();
    assert_eq!(timeouts, vec![net.election_ticks_of("n2"); 2]);
}

#[test]
fn the_output_observer_sees_every_event_and_message_before_it_is_applied() {
    use std::sync::{Arc, Mutex};
    let mut net = Network::builder().seed(3).nodes(3).build();
    /// Events shown, messages shown, (label, time) of each output with events.
    type Seen = (u64, u64, Vec<(String, u64)>);
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let record = seen.clone();
    net.observe_outputs(move |label, at_us, output| {
        let mut seen = record.lock().expect("seen");
        seen.0 += output.events.len() as u64;
        seen.1 += output.messages.len() as u64;
        if !output.events.is_empty() {
            seen.2.push((label.to_string(), at_us));
        }
    });
    net.start_all();
    net.run_for(2_000);
    let (events, messages, moments) = seen.lock().expect("seen").clone();
    let logged = net
        .log()
        .iter()
        .filter(|e| matches!(e.kind, LogKind::Protocol { .. }))
        .count() as u64;
    assert_eq!(
        events, logged,
        "every protocol event the log holds was shown first"
    );
    assert!(
        messages >= net.deliveries(),
        "{messages} messages shown, {} delivered",
        net.deliveries()
    );
    // Shown with the node's label and the time the log gives the same events.
    let first_logged = net
        .log()
        .iter()
        .find(|e| matches!(e.kind, LogKind::Protocol { .. }))
        .map(|e| (e.node.clone(), e.at_us));
    assert_eq!(moments.first().cloned(), first_logged);
}

#[test]
fn a_network_with_an_observer_can_move_to_another_thread() {
    fn movable<T: Send>(_: &T) {}
    let mut net = Network::builder().seed(4).nodes(2).build();
    net.observe_outputs(|_, _, _| {});
    movable(&net);
    let net = std::thread::spawn(move || {
        net.start_all();
        net.run_for(500);
        net
    })
    .join()
    .expect("the network ran on another thread");
    assert_eq!(net.now_ms(), 500);
}
