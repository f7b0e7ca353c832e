//! The stall report's text and its CMG reachability, from constructed inputs.

use super::*;
use joinsim::{ClusterId, MessageKind};

fn tag() -> ClusterTag {
    ClusterTag {
        name: "c".into(),
        id: ClusterId(0xab),
    }
}

fn presence(label: &str, liveness: Liveness) -> Presence {
    Presence {
        label: label.into(),
        name: label.into(),
        liveness,
    }
}

fn names(list: &[&str]) -> Vec<NodeName> {
    list.iter().map(|s| s.to_string()).collect()
}

fn cut(links: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    links
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// n4, requesting since 1200 ms from n1, cut off from the whole CMG n1..n3 (n3 down).
fn stalled_n4() -> StallReport {
    let voters = vec![
        CmgVoter {
            name: "n1".into(),
            reach: VoterReach::CutOff {
                to: true,
                from: true,
            },
        },
        CmgVoter {
            name: "n2".into(),
            reach: VoterReach::CutOff {
                to: false,
                from: true,
            },
        },
        CmgVoter {
            name: "n3".into(),
            reach: VoterReach::Down,
        },
    ];
    StallReport {
        label: "n4".into(),
        at_ms: 45_000,
        situation: Situation::Waiting(Box::new(Waiting {
            phase: JoinPhase::Requesting,
            progress: JoinProgress {
                since_ms: 1_200,
                attempt: 3,
                leader: Some("n1".into()),
                cluster: Some(tag()),
                last_sent: Some(JoinMessage {
                    kind: MessageKind::JoinRequest,
                    peer: "n1".into(),
                    at_ms: 44_800,
                }),
                last_received: Some(JoinMessage {
                    kind: MessageKind::ClusterState,
                    peer: "n1".into(),
                    at_ms: 1_190,
                }),
            },
            in_topology: true,
            inits: Vec::new(),
            cancels: Vec::new(),
            cmg: CmgReach::Voters {
                source: CmgSource::FollowedCluster(tag()),
                voters,
            },
        })),
    }
}

#[test]
fn a_waiting_node_s_report_says_what_it_waits_for_and_since_when() {
    let text = stalled_n4().to_string();
    let tag = tag();
    let expected = format!(
        "\
n4: requesting since 1200 ms (43800 ms ago), join attempt 3: join request sent, waiting for validation
  believed CMG leader: n1 ({tag})
  last join message sent: join_request to n1 at 44800 ms
  last join message received: cluster_state from n1 at 1190 ms
  pending init or cancel: none
  CMG of the cluster {tag} it follows: n1 cut off both ways, n2 cut off (messages from it are lost), n3 down: no reachable CMG majority (0 of 3 reachable, 2 needed)"
    );
    assert_eq!(text, expected);
}

#[test]
fn pending_inits_and_cancels_get_a_line_each() {
    let mut report = stalled_n4();
    let Situation::Waiting(w) = &mut report.situation else {
        unreachable!()
    };
    w.phase = JoinPhase::Waiting;
    w.in_topology = false;
    w.progress.leader = None;
    w.progress.last_sent = None;
    w.inits = vec![
        InitInFlight {
            init: InstanceId(5),
            started_ms: 300,
            awaiting_start: names(&["n2", "n3"]),
            committed: false,
            ms_leader: false,
        },
        InitInFlight {
            init: InstanceId(6),
            started_ms: 310,
            awaiting_start: Vec::new(),
            committed: true,
            ms_leader: false,
        },
    ];
    w.cancels = vec![CancelInFlight {
        init: InstanceId(4),
        started_ms: 200,
        unacknowledged: 2,
        decided: true,
        holds_answer: true,
    }];
    w.cmg = CmgReach::NoCluster;
    let text = report.to_string();
    for line in [
        "n4: waiting since 1200 ms (43800 ms ago), join attempt 3: waiting for a CMG leader's cluster state",
        "  not admitted to the physical topology",
        "  believed CMG leader: none",
        "  last join message sent: none",
        &format!(
            "  pending init {} as initiator since 300 ms: waiting for n2, n3 to start its groups",
            InstanceId(5)
        ),
        &format!(
            "  pending init {} as initiator since 310 ms: waiting for a Meta Storage leader",
            InstanceId(6)
        ),
        &format!(
            "  pending cancel of init {} since 200 ms: 2 node(s) have not acknowledged, decided by the CMG, the user's answer held",
            InstanceId(4)
        ),
        "  CMG: none known",
    ] {
        assert!(text.contains(line), "{line:?} missing from\n{text}");
    }
    assert!(!text.contains("pending init or cancel: none"), "{text}");
}

#[test]
fn down_starting_and_halted_nodes_get_one_line() {
    let report = |situation| {
        StallReport {
            label: "n5".into(),
            at_ms: 9,
            situation,
        }
        .to_string()
    };
    assert_eq!(report(Situation::Down), "n5: down (not running)");
    assert_eq!(
        report(Situation::Starting),
        "n5: starting (its state machine not running yet)"
    );
    assert_eq!(
        report(Situation::Halted("rejected".into())),
        "n5: halted for good: rejected"
    );
}

#[test]
fn a_majority_counts_only_voters_that_run_have_not_stopped_and_are_not_cut_off() {
    let presences = vec![
        presence("n1", Liveness::Running),
        presence("n2", Liveness::Running),
        presence("n3", Liveness::Halted),
        presence("n4", Liveness::Running),
        presence("n5", Liveness::Down),
    ];
    let voters = names(&["n1", "n2", "n3", "n4", "n5", "ghost"]);
    let got = cmg_voters("n4", "n4", &voters, &presences, &cut(&[("n2", "n4")]));
    let reach: Vec<VoterReach> = got.iter().map(|v| v.reach).collect();
    assert_eq!(
        reach,
        vec![
            VoterReach::Reachable,
            VoterReach::CutOff {
                to: false,
                from: true
            },
            VoterReach::Halted,
            VoterReach::Itself,
            VoterReach::Down,
            VoterReach::Unknown,
        ]
    );
    let cmg = CmgReach::Voters {
        source: CmgSource::StoredCluster(tag()),
        voters: got,
    };
    assert_eq!(cmg.count(), Some((2, 4)));
    assert!(!cmg.has_majority());
    let healed = cmg_voters(
        "n4",
        "n4",
        &names(&["n1", "n2", "n4"]),
        &presences,
        &cut(&[]),
    );
    let cmg = CmgReach::Voters {
        source: CmgSource::StoredCluster(tag()),
        voters: healed,
    };
    assert_eq!(cmg.count(), Some((3, 2)));
    assert!(cmg.has_majority());
    assert!(!CmgReach::NoCluster.has_majority());
}

#[test]
fn a_shared_name_is_judged_by_the_label_that_runs() {
    let presences = vec![
        Presence {
            label: "n1".into(),
            name: "n".into(),
            liveness: Liveness::Down,
        },
        Presence {
            label: "n1b".into(),
            name: "n".into(),
            liveness: Liveness::Running,
        },
    ];
    let got = cmg_voters("x", "x", &names(&["n"]), &presences, &cut(&[("x", "n1b")]));
    assert_eq!(
        got[0].reach,
        VoterReach::CutOff {
            to: true,
            from: false
        }
    );
}
