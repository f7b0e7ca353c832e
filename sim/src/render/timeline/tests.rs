//! Tests of the timeline page on built records and on real runs.

use super::*;
use crate::scenario::{parse_scenario, run_scenario};
use crate::trace::{MessageRecord, VerdictRecord};
use joinsim::{GroupKind, InstanceId, LaunchId};

const HOSTILE: &str = "<script>alert('x')</script>&\"";

fn entry(time_us: u64, node: &str, kind: TraceKind) -> TraceEntry {
    TraceEntry {
        time_us,
        node: node.into(),
        kind,
    }
}

fn message(
    time_us: u64,
    id: u64,
    kind: MessageKind,
    from: &str,
    to: &str,
    fate: MessageFate,
) -> TraceEntry {
    let node = if fate == MessageFate::Sent { from } else { to };
    entry(
        time_us,
        node,
        TraceKind::Message(MessageRecord {
            id,
            from: from.into(),
            to: to.into(),
            kind,
            fate,
        }),
    )
}

/// A sent message and what followed it at the receiver.
fn life(
    entries: &mut Vec<TraceEntry>,
    id: u64,
    kind: MessageKind,
    (from, to): (&str, &str),
    sent_us: u64,
    fates: &[(u64, MessageFate)],
) {
    entries.push(message(sent_us, id, kind, from, to, MessageFate::Sent));
    for &(t, fate) in fates {
        entries.push(message(t, id, kind, from, to, fate));
    }
}

/// Three nodes (one with a hostile name) and one message of each fate, a kill and restart,
/// milestones, and a violation.
fn built_record() -> RunRecord {
    use MessageFate::*;
    use MessageKind as K;
    let mut e = Vec::new();
    for n in ["n1", "n2", HOSTILE] {
        e.push(entry(0, n, TraceKind::Harness(HarnessEvent::NodeStarted)));
    }
    life(
        &mut e,
        1,
        K::JoinRequest,
        ("n2", "n1"),
        1_000,
        &[(6_000, Delivered)],
    );
    life(
        &mut e,
        2,
        K::JoinResponse,
        ("n1", HOSTILE),
        7_000,
        &[(12_000, Delivered)],
    );
    life(
        &mut e,
        3,
        K::RaftCmg,
        ("n1", "n2"),
        7_000,
        &[(9_000, Delivered)],
    );
    life(
        &mut e,
        4,
        K::Probe,
        ("n1", "n2"),
        8_000,
        &[(11_000, Delivered)],
    );
    life(&mut e, 5, K::JoinReady, ("n2", "n1"), 13_000, &[]);
    life(
        &mut e,
        6,
        K::JoinReady,
        ("n2", "n1"),
        14_000,
        &[(18_000, Dropped)],
    );
    life(
        &mut e,
        7,
        K::JoinReady,
        ("n2", "n1"),
        15_000,
        &[(19_000, Held), (400_000, Released)],
    );
    // Held when its receiver is killed: lost with it.
    life(
        &mut e,
        8,
        K::ClusterState,
        ("n1", "n2"),
        16_000,
        &[(20_000, Held)],
    );
    // Held to the end of the run.
    life(
        &mut e,
        9,
        K::JoinReady,
        ("n2", "n1"),
        17_000,
        &[(25_000, Held)],
    );
    // Sent to a node that is down.
    life(&mut e, 10, K::JoinResponse, ("n1", "n2"), 55_000, &[]);
    e.push(entry(
        20_000,
        "n1",
        TraceKind::Protocol(Event::RoleChanged {
            group: GroupKind::Cmg,
            instance: InstanceId(1),
            role: Role::Leader,
            term: 2,
            leader: Some("n1".into()),
        }),
    ));
    e.push(entry(
        21_000,
        "n1",
        TraceKind::Protocol(Event::Validated {
            node: "n2".into(),
            launch: LaunchId(7),
            index: 4,
        }),
    ));
    // The same decision applied at a second replica: one mark only.
    e.push(entry(
        22_000,
        "n2",
        TraceKind::Protocol(Event::Validated {
            node: "n2".into(),
            launch: LaunchId(7),
            index: 4,
        }),
    ));
    e.push(entry(
        30_000,
        HOSTILE,
        TraceKind::Protocol(Event::Joined { lt_version: 3 }),
    ));
    e.push(entry(
        50_000,
        "n2",
        TraceKind::Harness(HarnessEvent::NodeKilled),
    ));
    e.push(entry(
        60_000,
        "-",
        TraceKind::Harness(HarnessEvent::Partitioned {
            links: vec![("n1".into(), HOSTILE.into())],
        }),
    ));
    e.push(entry(
        300_000,
        "-",
        TraceKind::Harness(HarnessEvent::Healed),
    ));
    e.push(entry(
        350_000,
        "n2",
        TraceKind::Harness(HarnessEvent::NodeStarted),
    ));
    e.push(entry(
        500_000,
        "-",
        TraceKind::Verdict(VerdictRecord {
            invariant: "always_one_leader".into(),
            nodes: vec!["n1".into(), HOSTILE.into()],
            detail: format!("two leaders: n1 and {HOSTILE}"),
        }),
    ));
    RunRecord {
        scenario: "built".into(),
        file: "scenarios/built.toml".into(),
        seed: 7,
        trace_hash: "0123456789abcdef".into(),
        sim_time_ms: 600,
        passed: false,
        nodes: [("n1", "joined"), ("n2", "waiting"), (HOSTILE, "joined")]
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
        entries: e,
        failures: Vec::new(),
    }
}

/// Each kind group of the page: (kind, hidden, its markup).
fn groups(html: &str) -> Vec<(String, bool, &str)> {
    html.split("<g class=\"kind\" data-kind=\"")
        .skip(1)
        .map(|rest| {
            let kind = rest.split('"').next().unwrap().to_string();
            let open = &rest[..rest.find('>').unwrap()];
            let body = &rest[..rest.find("</g>").unwrap()];
            (kind, open.contains("display=\"none\""), body)
        })
        .collect()
}

/// Delivered arrows drawn in the page's groups, shown by default or all.
fn arrows(html: &str, all: bool) -> usize {
    groups(html)
        .iter()
        .filter(|(_, hidden, _)| all || !hidden)
        .map(|(_, _, body)| body.matches("class=\"a d\"").count())
        .sum()
}

/// Deliveries in the record, of the kinds shown by default or all.
fn deliveries(record: &RunRecord, all: bool) -> usize {
    record
        .entries
        .iter()
        .filter(|e| match &e.kind {
            TraceKind::Message(m) => {
                m.fate.is_delivery() && (all || kinds::shown_by_default(m.kind))
            }
            _ => false,
        })
        .count()
}

#[test]
fn one_lane_per_node_one_arrow_per_delivered_message_and_cuts_for_the_rest() {
    let record = built_record();
    let html = timeline_html(&record);
    assert_eq!(html.matches("<g class=\"lane\"").count(), 3);
    assert_eq!(html.matches("<g class=\"lane-head ").count(), 3);
    // Delivered: join_request, join_response, join_ready #7 (held, then released).
    assert_eq!(arrows(&html, false), 3);
    assert_eq!(deliveries(&record, false), 3);
    // Raft and probes are drawn, hidden.
    assert_eq!(arrows(&html, true), 5);
    let hidden: Vec<String> = groups(&html)
        .into_iter()
        .filter(|g| g.1)
        .map(|g| g.0)
        .collect();
    assert_eq!(hidden, ["probe", "raft_cmg"]);
    // Lost messages are cut stubs, the dropped one ends in a cross; the released join ready
    // waits and then arrives, the held cluster state waits until its receiver is killed, the
    // held join ready to the end of the run.
    assert_eq!(html.matches("class=\"a c lost\"").count(), 2);
    assert!(html.contains("\nlost: never arrived (network loss"));
    assert!(html.contains("\nlost: the receiver was down"));
    assert_eq!(html.matches("class=\"a c dropped\"").count(), 1);
    assert_eq!(html.matches("class=\"a held\"").count(), 2);
    assert_eq!(html.matches("class=\"w\"").count(), 1);
    assert!(html.contains("\nheld 19.000 ms\nreleased 400.000 ms"));
    assert_eq!(html.matches("class=\"w c\"").count(), 1);
    assert!(html.contains("\nlost with its receiver, stopped at 50.000 ms"));
    assert_eq!(html.matches("class=\"w c open\"").count(), 1);
    assert!(html.contains("\nstill held when the run ended"));
    // The outcomes head the lanes.
    assert!(html.contains("<g class=\"lane-head o-other\"><title>n2: waiting</title>"));
}

#[test]
fn milestones_faults_and_the_first_violation_are_drawn() {
    let html = timeline_html(&built_record());
    assert!(html.contains(">CMG leader, term 2</text>"));
    assert_eq!(html.matches(">validated</text>").count(), 1);
    assert!(html.contains(">joined (LT v3)</text>"));
    assert!(html.contains("class=\"band b-kill\""));
    assert!(html.contains(">restart n2</text>"));
    // The initial starts at time 0 are not bands.
    assert_eq!(html.matches("class=\"band b-start\"").count(), 1);
    assert_eq!(html.matches("<rect class=\"cut\"").count(), 1);
    assert!(html.contains("partition in force from 60.000 ms to 300.000 ms"));
    // n2 is down from the kill to the restart.
    assert!(html.contains("<line class=\"down\""));
    // The quiet stretch before the release is compressed.
    assert!(html.contains("quiet</text>"));
    // The violation: a band, a ring on each lane it names, the banner, the lanes' heads.
    assert_eq!(html.matches("id=\"violation\"").count(), 1);
    let band = &html[html.find("id=\"violation\"").unwrap()..];
    assert_eq!(
        band[..band.find("</g>").unwrap()]
            .matches("<circle")
            .count(),
        2
    );
    assert!(html.contains("First invariant violation at 500.000 ms: <b>always_one_leader</b>"));
    assert_eq!(html.matches("lane-head o-joined hit").count(), 2);
}

#[test]
fn a_hostile_node_name_is_escaped_everywhere() {
    let html = timeline_html(&built_record());
    assert_eq!(
        html.matches("<script").count(),
        2,
        "only the page's own scripts"
    );
    assert!(!html.contains("alert('x')"));
    assert!(!html.contains("&\""));
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"));
    // In an attribute too.
    assert!(html.contains("data-lane=\"&lt;script&gt;"));
}

#[test]
fn the_page_needs_nothing_from_the_network() {
    let html = timeline_html(&built_record());
    for outside in [
        "http://", "https://", "src=", "@import", "url(http", "<link",
    ] {
        let found = html
            .match_indices(outside)
            .map(|(i, _)| &html[i..(i + 40).min(html.len())])
            .filter(|s| !s.starts_with("http://www.w3.org/2000/svg"))
            .collect::<Vec<_>>();
        assert!(found.is_empty(), "{outside}: {found:?}");
    }
}

#[test]
fn a_nine_node_minute_stays_small() {
    let mut text =
        String::from("name = \"nine-minute\"\ndescription = \"nine nodes, a minute\"\nseeds = 1\n");
    for i in 1..=9 {
        text.push_str(&format!("[[node]]\nname = \"n{i}\"\n"));
    }
    text.push_str(concat!(
        "[[step]]\nafter = { event = \"in_topology\", node = \"n9\" }\n",
        "action = \"init\"\nid = \"init\"\nvia = \"n5\"\ncluster = \"c1\"\ncmg = []\nms = []\n",
        "[[step]]\nat_ms = 30000\naction = \"restart\"\nnode = \"n7\"\n",
        "[[step]]\nat_ms = 60000\naction = \"wait\"\n",
        "[expect]\ndeadline_ms = 90000\n",
    ));
    let scenario = parse_scenario("nine-minute.toml", &text).unwrap();
    let record = RunRecord::from_result(&run_scenario(&scenario, 1, true));
    assert!(record.passed);
    assert!(record.sim_time_ms >= 60_000);
    let html = timeline_html(&record);
    let messages = record
        .entries
        .iter()
        .filter(|e| matches!(&e.kind, TraceKind::Message(m) if m.fate == MessageFate::Sent))
        .count();
    assert!(messages > 5_000, "{messages} messages");
    assert_eq!(arrows(&html, false), deliveries(&record, false));
    assert_eq!(arrows(&html, true), deliveries(&record, true));
    // Nine nodes and the user who sent the init.
    assert_eq!(html.matches("<g class=\"lane\"").count(), 10);
    eprintln!("{} bytes for {messages} messages", html.len());
    // At most 200 bytes a message and 8 MiB in all; the chart stays within its bound.
    assert!(
        html.len() < 200 * messages + 256 * 1024,
        "{} bytes for {messages} messages",
        html.len()
    );
    assert!(html.len() < 8 << 20);
    let height: f64 = html
        .split("id=\"timeline\" width=\"")
        .nth(1)
        .and_then(|s| s.split("height=\"").nth(1))
        .and_then(|s| s.split('"').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(height <= scale::MAX_CHART_PX + CHART_BOTTOM, "{height}");
}

#[test]
fn escaping_and_cutting_text() {
    assert_eq!(esc("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
    assert_eq!(trunc("abcdef", 4), "abc…");
    assert_eq!(trunc("abc", 4), "abc");
    assert_eq!(fmt_time(1_234_567), "1234.567 ms");
    assert_eq!(fmt_span(978_400), "978 ms");
    assert_eq!(fmt_span(12_340_000), "12.3 s");
}

#[test]
fn an_empty_run_is_a_page_with_its_lanes_and_nothing_else() {
    let record = RunRecord {
        scenario: "empty".into(),
        nodes: [("n1".to_string(), "down".to_string())]
            .into_iter()
            .collect(),
        passed: true,
        ..RunRecord::default()
    };
    let html = timeline_html(&record);
    assert_eq!(html.matches("<g class=\"lane\"").count(), 1);
    assert_eq!(html.matches("<g class=\"kind\"").count(), 0);
    assert!(html.contains("The run passed."));
    assert!(html.contains("<code>joinsim demo --seed 0</code>"));
    assert!(html.ends_with("</html>\n"));
}

#[test]
fn the_failures_of_a_run_are_listed_on_its_page_escaped_and_bounded() {
    let mut record = crate::render::testing::sample();
    record.passed = false;
    record.failures = (0..12)
        .map(|i| format!("liveness: <n{i}> is not in the LT"))
        .collect();
    let page = timeline_html(&record);
    assert!(page.contains("<li>liveness: &lt;n0&gt; is not in the LT</li>"));
    assert!(page.contains("<li>… and 2 more (see <code>joinsim run</code>)</li>"));
    assert!(!page.contains("&lt;n10&gt;"));
}

#[test]
fn a_duplicated_message_is_two_arrows() {
    let html = timeline_html(&crate::render::testing::duplicated());
    let by_kind: BTreeMap<String, &str> = groups(&html)
        .into_iter()
        .map(|(kind, _, body)| (kind, body))
        .collect();
    // #1 arrives twice: two delivered arrows.
    assert_eq!(by_kind["join_request"].matches("class=\"a d\"").count(), 2);
    // #2: one copy delivered, the other lost.
    assert_eq!(by_kind["join_ready"].matches("class=\"a d\"").count(), 1);
    assert_eq!(
        by_kind["join_ready"].matches("class=\"a c lost\"").count(),
        1
    );
    // #3: the copy held then released, and the copy delivered meanwhile: two arrows, one wait.
    assert_eq!(by_kind["cluster_state"].matches("class=\"a d\"").count(), 2);
    assert_eq!(by_kind["cluster_state"].matches("class=\"w\"").count(), 1);
    assert!(html.contains("#1 (copy 2 of 2: duplicated) join_request"));
    assert!(html.contains("\nheld 2.500 ms\nreleased 3.500 ms"));
}
