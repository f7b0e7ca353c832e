use std::collections::BTreeMap;

use super::*;
use crate::render::testing::{entry, message, sample, shipped_run};
use crate::trace::VerdictRecord;

/// A diagram read back: each statement checked against the shapes of Mermaid's sequence
/// grammar the renderer writes, texts decoded from their entity codes.
#[derive(Debug, Default)]
struct Parsed {
    /// Participants' display texts, by id number.
    participants: Vec<String>,
    /// Arrows and notes in order, as `p1->>p0 text` and `Note over p0,p1: text` (decoded).
    rows: Vec<String>,
    /// Arrows: (from, arrow, to, decoded text).
    arrows: Vec<(usize, String, usize, String)>,
    /// Highlighted (`rect`) blocks.
    rects: usize,
}

/// A Mermaid text decoded: entity codes `#<decimal>;` become their characters. Panics on a
/// character that Mermaid's sequence grammar or the Markdown fence treats specially.
fn decode(text: &str, line: &str) -> String {
    assert!(!text.is_empty(), "empty text in {line:?}");
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '#' => {
                let code: String = chars.by_ref().take_while(|&d| d != ';').collect();
                assert!(
                    !code.is_empty() && code.chars().all(|d| d.is_ascii_digit()),
                    "bad entity #{code} in {line:?}"
                );
                out.push(char::from_u32(code.parse().unwrap()).expect("a character"));
            }
            ';' | ':' | '%' | '<' | '>' | '&' | '`' | '"' | '\\' | '{' | '}' => {
                panic!("raw {c:?} in {line:?}")
            }
            c if c.is_control() => panic!("control character in {line:?}"),
            c => out.push(c),
        }
    }
    out
}

/// `p<n>` at the start of `s`: (n, the rest).
fn id(s: &str, declared: usize, line: &str) -> (usize, String) {
    let rest = s
        .strip_prefix('p')
        .unwrap_or_else(|| panic!("no id in {line:?}"));
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let n: usize = digits
        .parse()
        .unwrap_or_else(|_| panic!("bad id in {line:?}"));
    assert!(n < declared, "undeclared participant p{n} in {line:?}");
    (n, rest[digits.len()..].to_string())
}

/// Reads a diagram file back (see [`Parsed`]); panics on anything out of shape.
fn parse(md: &str) -> Parsed {
    let fences: Vec<&str> = md.lines().filter(|l| l.starts_with("```")).collect();
    let start = md.find("```mermaid\n").expect("a mermaid block");
    let body = &md[start + "```mermaid\n".len()..];
    let body = body.strip_suffix("```\n").expect("the block ends the file");
    assert!(
        !body.lines().any(|l| l.contains("```")),
        "a fence inside the block"
    );
    assert_eq!(
        fences.len(),
        if md.contains("Replay:") { 4 } else { 2 },
        "{fences:?}"
    );
    let mut lines = body.lines();
    assert_eq!(lines.next(), Some("sequenceDiagram"));
    let mut parsed = Parsed::default();
    let mut in_rect = false;
    for raw in lines {
        let line = raw
            .strip_prefix("    ")
            .unwrap_or_else(|| panic!("unindented {raw:?}"));
        if let Some(rest) = line.strip_prefix("participant p") {
            let (n, rest) = rest.split_once(" as ").expect("participant p<n> as text");
            assert_eq!(n, parsed.participants.len().to_string(), "{line:?}");
            assert!(parsed.rows.is_empty(), "participant after rows: {line:?}");
            parsed.participants.push(decode(rest, line));
        } else if line == "rect rgb(255, 214, 214)" {
            assert!(!in_rect, "nested rect");
            in_rect = true;
            parsed.rects += 1;
        } else if line == "end" {
            assert!(in_rect, "end without rect");
            in_rect = false;
        } else if let Some(rest) = line.strip_prefix("Note ") {
            let declared = parsed.participants.len();
            let (place, rest) = if let Some(r) = rest.strip_prefix("over ") {
                ("over", r)
            } else if let Some(r) = rest.strip_prefix("right of ") {
                ("right of", r)
            } else {
                panic!("bad note {line:?}")
            };
            let (over, text) = rest.split_once(": ").expect("note text");
            let ids: Vec<usize> = over.split(',').map(|p| id(p, declared, line).0).collect();
            assert!(ids.len() <= 2, "{line:?}");
            assert!(place == "over" || ids.len() == 1, "{line:?}");
            let ids: Vec<String> = ids.iter().map(|i| format!("p{i}")).collect();
            parsed.rows.push(format!(
                "Note {place} {}: {}",
                ids.join(","),
                decode(text, line)
            ));
        } else {
            let declared = parsed.participants.len();
            let (from, rest) = id(line, declared, line);
            let arrow = ["-->>", "->>", "-x"]
                .into_iter()
                .find(|a| rest.starts_with(a))
                .unwrap_or_else(|| panic!("bad statement {line:?}"));
            let (to, rest) = id(&rest[arrow.len()..], declared, line);
            let text = rest.strip_prefix(": ").expect("arrow text");
            let text = decode(text, line);
            parsed.rows.push(format!("p{from}{arrow}p{to} {text}"));
            parsed.arrows.push((from, arrow.to_string(), to, text));
        }
    }
    assert!(!in_rect, "rect without end");
    parsed
}

#[test]
fn the_sample_run_draws_its_messages_faults_milestones_and_violation() {
    let md = mermaid(&sample(), &MermaidOptions::default());
    let parsed = parse(&md);
    assert_eq!(
        parsed.participants,
        ["a (joined)", "b (rejected: protocol_mismatch)", "user"]
    );
    let expected = [
        "Note over p0: 0.001s in topology",
        "p1->>p0 handshake [1]",
        "p0->>p1 handshake_accepted [2]",
        "Note over p1: 0.009s in topology",
        "p2->>p0 init_request [4]",
        "Note over p0: 0.106s cmg leader, term 2",
        "p0->>p1 cluster_state [6]",
        "p1->>p0 join_request [7]",
        "p0-xp1 join_response [8] lost",
        "p0->>p1 join_response [9]",
        "Note right of p0: 0.145s join_ready [10] held",
        "p1-->>p0 join_ready [10] held 15 ms",
        "p0->>p1 join_ready_response [11]",
        "Note over p1: 0.165s joined, LT version 2",
        "Note over p0: 0.170s init answered, ok, cluster c1",
        "p0->>p2 init_response [12]",
        "Note over p0,p2: 0.200s partition, cut a → b, b → a",
        "p0-xp1 cluster_state [13] dropped",
        "Note over p0,p2: 0.300s healed",
        "Note over p0: 0.400s killed",
        "p1-xp0 status_reply [14] held to the end",
        "Note over p0: 0.500s restarted",
        "Note over p1: 0.600s rejected (protocol_mismatch) by a",
        "Note over p0,p1: 0.650s first violation, always_x, a and b disagree",
    ];
    assert_eq!(parsed.rows, expected);
    assert_eq!(parsed.rects, 1, "the violation is highlighted");
    assert!(md.starts_with("## sample, seed 3\n"), "{md}");
    assert!(
        md.contains("FAILED, 700 ms simulated, trace hash `0123456789abcdef`"),
        "{md}"
    );
    assert!(md.contains("first violation `always_x` at 0.650s"), "{md}");
    assert!(
        md.contains("```sh\ncargo run --release -- run scenarios/sample.toml --seed 3\n```"),
        "{md}"
    );
    assert!(
        md.contains("24 of 24 rows shown, 12 messages drawn in all; left out: 2 messages of Raft traffic and probes (`raft_cmg`, `raft_ms`, `probe`, `probe_ack`, `probe_request`, `probe_relay`)"),
        "{md}"
    );
}

#[test]
fn all_kinds_draws_raft_traffic_and_probes_too() {
    let options = MermaidOptions {
        all_kinds: true,
        ..MermaidOptions::default()
    };
    let md = mermaid(&sample(), &options);
    let parsed = parse(&md);
    assert!(parsed.rows.contains(&"p0->>p1 probe [3]".to_string()));
    assert!(parsed.rows.contains(&"p0->>p1 raft_cmg [5]".to_string()));
    assert!(!md.contains("left out"), "{md}");
    let default = parse(&mermaid(&sample(), &MermaidOptions::default()));
    assert_eq!(parsed.rows.len(), default.rows.len() + 2);
}

/// Names that Mermaid or Markdown would read as syntax: each is drawn as written.
const HOSTILE: [&str; 16] = [
    "a;b",
    "x#y",
    "%%c",
    "end",
    "p1",
    "q:r",
    "<b>bold</b>",
    "two\nlines",
    "tick```s",
    "wrap:x",
    "участник",
    "😀 & \"quotes\"",
    "a-->>b",
    "Note over p0",
    "#35;",
    "style x:#fff;",
];

#[test]
fn hostile_names_are_drawn_as_written_and_never_break_the_syntax() {
    let mut entries = Vec::new();
    let mut nodes = BTreeMap::new();
    for (i, name) in HOSTILE.iter().enumerate() {
        nodes.insert(name.to_string(), format!("rejected: {name}"));
        let next = HOSTILE[(i + 1) % HOSTILE.len()];
        let id = i as u64 + 1;
        let t = id * 1000;
        entries.push(message(
            t,
            id,
            (name, next),
            MessageKind::JoinRequest,
            MessageFate::Sent,
        ));
        entries.push(message(
            t + 1,
            id,
            (name, next),
            MessageKind::JoinRequest,
            MessageFate::Delivered,
        ));
        entries.push(entry(
            t + 2,
            name,
            TraceKind::Harness(HarnessEvent::NodeKilled),
        ));
        entries.push(entry(
            t + 3,
            "-",
            TraceKind::Harness(HarnessEvent::RuleAdded {
                rule: id,
                description: format!("hold {name}"),
            }),
        ));
    }
    entries.push(entry(
        99_000,
        "-",
        TraceKind::Verdict(VerdictRecord {
            invariant: "always_x".into(),
            nodes: HOSTILE[..2].iter().map(|s| s.to_string()).collect(),
            detail: HOSTILE.join(" "),
        }),
    ));
    let record = RunRecord {
        scenario: "name `with` *markdown* #1".into(),
        file: "scenarios/``odd``.toml".into(),
        nodes,
        entries,
        ..RunRecord::default()
    };
    let md = mermaid(&record, &MermaidOptions::default());
    let parsed = parse(&md);
    let lanes = record.lanes();
    assert_eq!(parsed.participants.len(), HOSTILE.len());
    for (shown, lane) in parsed.participants.iter().zip(&lanes) {
        assert_eq!(*shown, format!("{lane} (rejected: {lane})"));
    }
    for (i, (from, arrow, to, text)) in parsed.arrows.iter().enumerate() {
        assert_eq!(arrow, "->>");
        assert_eq!(lanes[*from], HOSTILE[i]);
        assert_eq!(lanes[*to], HOSTILE[(i + 1) % HOSTILE.len()]);
        assert_eq!(*text, format!("join_request [{}]", i + 1));
    }
    for name in HOSTILE {
        assert!(
            parsed
                .rows
                .iter()
                .any(|r| r.ends_with(&format!("hold {name}"))),
            "{name:?}"
        );
    }
    assert_eq!(parsed.rects, 1);
    // The Markdown header escapes the scenario's name; the replay fence is longer than any run
    // of backticks in the command, and the command quotes the path for the shell.
    assert!(
        md.starts_with("## name \\`with\\` \\*markdown\\* \\#1, seed 0\n"),
        "{md}"
    );
    assert!(
        md.contains("\n```sh\ncargo run --release -- run 'scenarios/``odd``.toml' --seed 0\n```\n"),
        "{md}"
    );
}

#[test]
fn long_names_and_texts_are_cut() {
    let long = "n".repeat(500);
    let record = RunRecord {
        nodes: [(long.clone(), "x".repeat(500))].into_iter().collect(),
        entries: vec![entry(
            1,
            "-",
            TraceKind::Harness(HarnessEvent::RuleAdded {
                rule: 1,
                description: "d".repeat(500),
            }),
        )],
        ..RunRecord::default()
    };
    let parsed = parse(&mermaid(&record, &MermaidOptions::default()));
    let cut_name = format!("{}…", "n".repeat(NAME_CHARS - 1));
    let cut_outcome = format!("{}…", "x".repeat(NAME_CHARS - 1));
    assert_eq!(parsed.participants, [format!("{cut_name} ({cut_outcome})")]);
    assert_eq!(
        parsed.rows,
        [format!(
            "Note over p0: 0.000s rule 1, {}…",
            "d".repeat(TEXT_CHARS - 1)
        )]
    );
}

/// A run of `n` join requests from `a` to `b`, one every millisecond, with a violation after the
/// `violation_after`-th when given.
fn busy(n: u64, violation_after: Option<u64>) -> RunRecord {
    let mut entries = Vec::new();
    for id in 1..=n {
        let t = id * 1000;
        entries.push(message(
            t,
            id,
            ("a", "b"),
            MessageKind::JoinRequest,
            MessageFate::Sent,
        ));
        entries.push(message(
            t + 500,
            id,
            ("a", "b"),
            MessageKind::JoinRequest,
            MessageFate::Delivered,
        ));
        if violation_after == Some(id) {
            entries.push(entry(
                t + 600,
                "-",
                TraceKind::Verdict(VerdictRecord {
                    invariant: "always_x".into(),
                    nodes: vec!["b".into()],
                    detail: "seen".into(),
                }),
            ));
        }
    }
    RunRecord {
        nodes: [("a", "joined"), ("b", "joined")]
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
        entries,
        ..RunRecord::default()
    }
}

#[test]
fn a_long_run_draws_its_first_rows_and_says_how_many_were_left_out() {
    let options = MermaidOptions {
        max_rows: 50,
        ..MermaidOptions::default()
    };
    let md = mermaid(&busy(500, None), &options);
    let parsed = parse(&md);
    assert_eq!(parsed.arrows.len(), 50);
    assert_eq!(parsed.arrows[0].3, "join_request [1]");
    assert_eq!(parsed.arrows[49].3, "join_request [50]");
    assert_eq!(
        parsed.rows.last().unwrap(),
        "Note over p0,p1: 450 later rows left out (450 messages), from 0.051s, the trace file (--trace-out) and the timeline (--timeline) show them all"
    );
    assert!(
        md.contains("50 of 500 rows shown, 500 messages drawn in all"),
        "{md}"
    );
    // Within the bound, nothing is left out.
    let all = parse(&mermaid(&busy(50, None), &options));
    assert_eq!(all.rows.len(), 50);
}

#[test]
fn a_long_run_with_a_violation_draws_the_rows_that_lead_to_it() {
    let options = MermaidOptions {
        max_rows: 50,
        ..MermaidOptions::default()
    };
    let parsed = parse(&mermaid(&busy(500, Some(300)), &options));
    // 49 arrows (252..=300), the violation, and a note at each cut.
    assert_eq!(parsed.rows.len(), 52);
    assert_eq!(
        parsed.rows[0],
        "Note over p0,p1: 251 earlier rows left out (251 messages), up to 0.251s, the trace file (--trace-out) and the timeline (--timeline) show them all"
    );
    assert_eq!(parsed.arrows[0].3, "join_request [252]");
    assert_eq!(parsed.arrows[48].3, "join_request [300]");
    assert_eq!(
        parsed.rows[50],
        "Note over p1: 0.300s first violation, always_x, seen"
    );
    assert!(parsed.rows[51]
        .starts_with("Note over p0,p1: 200 later rows left out (200 messages), from 0.301s"));
    // A violation within the first rows keeps the first rows.
    let early = parse(&mermaid(&busy(500, Some(10)), &options));
    assert_eq!(early.arrows[0].3, "join_request [1]");
    assert_eq!(early.rows.len(), 51);
    // No rows at all: the participants and the cut note.
    let none = MermaidOptions {
        max_rows: 0,
        ..MermaidOptions::default()
    };
    let parsed = parse(&mermaid(&busy(5, None), &none));
    assert_eq!(parsed.participants.len(), 2);
    assert_eq!(parsed.rows.len(), 1);
}

#[test]
fn an_empty_record_draws_an_empty_diagram() {
    let parsed = parse(&mermaid(&RunRecord::default(), &MermaidOptions::default()));
    assert!(parsed.participants.is_empty() && parsed.rows.is_empty());
}

/// The arrows a diagram of `record` must hold with no bound, by message id: one per delivery or
/// drop, one for a message lost on the way, one for a message still held at the end.
fn expected_arrows(record: &RunRecord, options: &MermaidOptions) -> BTreeMap<u64, usize> {
    let mut fates: BTreeMap<u64, Vec<MessageFate>> = BTreeMap::new();
    for e in &record.entries {
        if let TraceKind::Message(m) = &e.kind {
            if options.shows(m.kind) {
                fates.entry(m.id).or_default().push(m.fate);
            }
        }
    }
    fates
        .into_iter()
        .map(|(id, fates)| {
            let arrived = fates
                .iter()
                .filter(|f| {
                    matches!(
                        f,
                        MessageFate::Delivered | MessageFate::Released | MessageFate::Dropped
                    )
                })
                .count();
            let lost = usize::from(fates == [MessageFate::Sent]);
            let held_to_end = usize::from(fates.last() == Some(&MessageFate::Held));
            (id, arrived + lost + held_to_end)
        })
        .collect()
}

#[test]
fn shipped_runs_draw_one_arrow_per_message_fate_within_the_bound() {
    for (file, seed) in [
        (
            "scenarios/race-leader-crash-between-validation-and-join-ready.toml",
            0,
        ),
        (
            "scenarios/accepted-node-ignores-another-clusters-leader-while-recovering.toml",
            0,
        ),
        ("scenarios/nine-node-cluster.toml", 0),
        ("tests/data/replica-under-a-live-voters-raft-id.toml", 0),
    ] {
        let record = shipped_run(file, seed);
        let lanes = record.lanes();
        let unbounded = MermaidOptions {
            max_rows: usize::MAX,
            ..MermaidOptions::default()
        };
        let parsed = parse(&mermaid(&record, &unbounded));
        assert_eq!(parsed.participants.len(), lanes.len(), "{file}");
        let mut drawn: BTreeMap<u64, usize> = BTreeMap::new();
        for (from, _, to, text) in &parsed.arrows {
            let id = text
                .split_once('[')
                .and_then(|(_, r)| r.split_once(']'))
                .map(|(id, _)| id.parse::<u64>().unwrap())
                .expect("an id");
            *drawn.entry(id).or_default() += 1;
            assert!(*from < lanes.len() && *to < lanes.len());
        }
        assert_eq!(drawn, expected_arrows(&record, &unbounded), "{file}");
        // With the default bound the diagram stays short.
        let md = mermaid(&record, &MermaidOptions::default());
        let parsed = parse(&md);
        assert!(parsed.rows.len() <= DEFAULT_MAX_ROWS + 2, "{file}");
        assert!(md.len() < 50_000, "{file}: {} characters", md.len());
        assert_eq!(
            parsed.rects,
            usize::from(record.first_violation().is_some()),
            "{file}"
        );
    }
}

#[test]
fn a_duplicated_message_draws_an_arrow_per_copy_and_its_lost_copy() {
    let parsed = parse(&mermaid(
        &crate::render::testing::duplicated(),
        &MermaidOptions::default(),
    ));
    let texts = |prefix: &str| -> Vec<(String, String)> {
        parsed
            .arrows
            .iter()
            .filter(|(_, _, _, text)| text.starts_with(prefix))
            .map(|(_, arrow, _, text)| (arrow.clone(), text.clone()))
            .collect()
    };
    // #1 arrives twice: two arrows.
    assert_eq!(
        texts("join_request [1]"),
        [
            ("->>".to_string(), "join_request [1]".to_string()),
            ("->>".to_string(), "join_request [1]".to_string())
        ]
    );
    // #2: one copy arrives, the other is lost.
    assert_eq!(
        texts("join_ready [2]"),
        [
            (
                "-x".to_string(),
                "join_ready [2] duplicated, 1 of 2 copies lost".to_string()
            ),
            ("->>".to_string(), "join_ready [2]".to_string())
        ]
    );
    // #3: both copies arrived (one held, then released): no copy lost.
    assert!(texts("cluster_state [3]")
        .iter()
        .all(|(_, text)| !text.contains("lost")));
}
