//! The run as a Mermaid sequence diagram of its protocol messages, short enough to paste into an
//! issue or a review (`--mermaid run.md`; docs/debugging.md, "Diagrams: Mermaid and Perfetto").
//!
//! **The file** is Markdown: a header (scenario, seed, verdict, the replay command, what was left
//! out) and one ```` ```mermaid ```` block holding a `sequenceDiagram`, which GitHub, GitLab and
//! mermaid.live draw in place.
//!
//! **Participants** are the run's lanes ([`RunRecord::lanes`]): every node in label order, each
//! with its final outcome, then the simulated `user` and any other name the trace holds.
//!
//! **Rows**, in trace order (time flows down, not to scale):
//! - one arrow per message, drawn when it reached the receiver's state machine: `->>` delivered,
//!   `-->>` delivered after a hold (the label says how long it was held); each label is the
//!   message kind and, in brackets, the message id of the trace file;
//! - the cross arrow `-x` for a message that never arrived: lost on the way (drawn at its send),
//!   dropped by a rule (drawn at the drop), or still held when the run ended (drawn at the hold);
//! - a note at the receiver when a message is held and later released or dropped;
//! - notes for the scenario's faults (a start after time 0, kill, vault wipe, failed start,
//!   partition, heal, network change, message rules) and for protocol milestones (in topology,
//!   joined, rejected, leader elected, init answered), each with its simulated time;
//! - the first checker violation, on a red background, over the nodes it concerns.
//!
//! **Left out unless asked**: Raft traffic and probes ([`BACKGROUND_KINDS`]); set
//! [`MermaidOptions::all_kinds`] to draw them too.
//!
//! **The bound**: at most [`MermaidOptions::max_rows`] rows (arrows and notes;
//! [`DEFAULT_MAX_ROWS`] unless asked). A longer run shows a window of that many rows: the rows up
//! to and including the first violation when there is one (the diagram ends with it), else the
//! first rows; a note at each cut says how many rows were left out and that the trace file and
//! the timeline hold them all. Names are cut to [`NAME_CHARS`] characters and free texts (rule
//! descriptions, rejection and verdict details) to [`TEXT_CHARS`], so that a diagram of plain
//! names within the default bound stays far below Mermaid's default limit of 50,000 characters
//! (`maxTextSize`), even with 100 nodes. The participants are declared whatever the bound, one
//! line each (up to about 100 characters with an outcome): a run of several hundred nodes (a
//! scenario or a demo has up to 1,000, `limits::NODES`) passes that default with its
//! declarations alone, and the viewer must raise `maxTextSize` to draw it.
//!
//! **Escaping**: node names come from user files and may hold any character (only surrounding
//! whitespace is refused). Participants are declared with generated ids (`p0`, `p1`, ... in lane
//! order) and the name as display text only. Every text from the run (names, outcomes, rule
//! descriptions, verdicts) keeps letters, digits, spaces and `_-.,/()[]@+=!?'*` as they are and
//! writes every other character as a Mermaid entity code in decimal (`#35;` for `#`, `#59;` for
//! `;`, `#58;` for `:`), which Mermaid turns back into the character after parsing: no text can
//! end a statement (`;`, a line break), start a comment (`#`, `%%`), end a label (`:`), open
//! markup (`<`, `>`, `&`) or close the Markdown fence (a backtick). The texts joinsim writes
//! itself hold none of these characters.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use joinsim::{Event, MessageKind, Role};

use crate::record::RunRecord;
use crate::scenario::replay_command;
use crate::trace::{HarnessEvent, MessageFate, MessageRecord, TraceEntry, TraceKind};

/// The message kinds a diagram leaves out unless [`MermaidOptions::all_kinds`] is set: Raft
/// traffic of both groups and the failure detector's probes, which outnumber the join protocol's
/// messages many times over and say nothing about a join race by themselves.
pub const BACKGROUND_KINDS: [MessageKind; 6] = [
    MessageKind::RaftCmg,
    MessageKind::RaftMs,
    MessageKind::Probe,
    MessageKind::ProbeAck,
    MessageKind::ProbeRequest,
    MessageKind::ProbeRelay,
];

/// The rows (arrows and notes) a diagram draws unless asked otherwise: about 10,000 characters of
/// Mermaid and a picture a reader can scroll through.
pub const DEFAULT_MAX_ROWS: usize = 150;

/// The characters of a name (node label, outcome) a diagram shows; longer ones are cut and end
/// with `…`.
pub const NAME_CHARS: usize = 40;

/// The characters of a free text (rule description, rejection, verdict detail) a diagram shows;
/// longer ones are cut and end with `…`.
pub const TEXT_CHARS: usize = 100;

/// What a diagram shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MermaidOptions {
    /// Draw every message kind, Raft traffic and probes included ([`BACKGROUND_KINDS`] are left
    /// out when false).
    pub all_kinds: bool,
    /// The most rows (arrows and notes) drawn; 0 draws the participants and the notes that say
    /// what was left out. Any `usize` is accepted: the rows are bounded by the run's trace.
    pub max_rows: usize,
}

impl Default for MermaidOptions {
    fn default() -> Self {
        MermaidOptions {
            all_kinds: false,
            max_rows: DEFAULT_MAX_ROWS,
        }
    }
}

impl MermaidOptions {
    /// True when the diagram draws messages of `kind`.
    pub fn shows(&self, kind: MessageKind) -> bool {
        self.all_kinds || !BACKGROUND_KINDS.contains(&kind)
    }
}

/// The Markdown file with the Mermaid sequence diagram of `record` (see the module's
/// documentation for what it holds and its bounds). Never fails: every record draws.
pub fn mermaid(record: &RunRecord, options: &MermaidOptions) -> String {
    let lanes = record.lanes();
    let diagram = Diagram::new(record, &lanes, options);
    let rows = diagram.rows();
    let violation_row = rows.iter().position(|r| r.violation);
    let window = window(&rows, options.max_rows, violation_row);
    let mut out = String::new();
    write_header(&mut out, record, options, &diagram, &rows, &window);
    out.push_str("```mermaid\nsequenceDiagram\n");
    for (i, lane) in lanes.iter().enumerate() {
        let mut label = text(lane, NAME_CHARS);
        if let Some(outcome) = record.nodes.get(lane) {
            let _ = write!(label, " ({})", text(outcome, NAME_CHARS));
        }
        let _ = writeln!(out, "    participant p{i} as {label}");
    }
    let all = diagram.over_all();
    let shown = &rows[window.clone()];
    if window.start > 0 {
        let left: &[Row] = &rows[..window.start];
        if let Some(all) = &all {
            let _ = writeln!(
                out,
                "    Note over {all}: {} earlier rows left out ({} messages), up to {}, {SEE_ALL}",
                left.len(),
                left.iter().filter(|r| r.message).count(),
                seconds(left[left.len() - 1].time_us),
            );
        }
    }
    for row in shown {
        for line in row.text.lines() {
            let _ = writeln!(out, "    {line}");
        }
    }
    if window.end < rows.len() {
        let left: &[Row] = &rows[window.end..];
        if let Some(all) = &all {
            let _ = writeln!(
                out,
                "    Note over {all}: {} later rows left out ({} messages), from {}, {SEE_ALL}",
                left.len(),
                left.iter().filter(|r| r.message).count(),
                seconds(left[0].time_us),
            );
        }
    }
    out.push_str("```\n");
    out
}

/// Where a cut note sends the reader.
const SEE_ALL: &str = "the trace file (--trace-out) and the timeline (--timeline) show them all";

/// One row of the diagram: one statement, or a highlighted block.
#[derive(Clone, Debug)]
struct Row {
    /// When it happened (simulated µs).
    time_us: u64,
    /// The Mermaid statement(s), one per line, without indentation.
    text: String,
    /// True for a message arrow.
    message: bool,
    /// True for the first violation's row.
    violation: bool,
}

/// How many copies of a message reached its receiver, from its entries after the send: each
/// arrival is `delivered`, `held` or `dropped`, and a `released` or `dropped` may end a hold
/// (counted once, with the hold).
fn copies_arrived(later: &[(u64, MessageFate)]) -> usize {
    let count = |fate: MessageFate| later.iter().filter(|(_, f)| *f == fate).count();
    let held = count(MessageFate::Held);
    let dropped = count(MessageFate::Dropped);
    let dropped_after_hold = held
        .saturating_sub(count(MessageFate::Released))
        .min(dropped);
    count(MessageFate::Delivered) + held + dropped - dropped_after_hold
}

/// What the diagram is drawn from: the record, its lanes' ids, and what happened to each message.
struct Diagram<'a> {
    record: &'a RunRecord,
    options: &'a MermaidOptions,
    /// Lane label → its index (the participant `p<index>`).
    ids: BTreeMap<&'a str, usize>,
    /// Message id → every entry of it after the send: (time µs, fate).
    after_send: BTreeMap<u64, Vec<(u64, MessageFate)>>,
    /// The index of the first violation's entry, if any.
    violation_entry: Option<usize>,
    /// The indexes of the entries that start a node started before (a restart).
    restarts: BTreeSet<usize>,
    /// Messages of kinds the options leave out.
    hidden_messages: usize,
    /// Messages of the kinds shown.
    shown_messages: usize,
}

impl<'a> Diagram<'a> {
    fn new(record: &'a RunRecord, lanes: &'a [String], options: &'a MermaidOptions) -> Self {
        let ids = lanes
            .iter()
            .enumerate()
            .map(|(i, l)| (l.as_str(), i))
            .collect();
        let mut after_send: BTreeMap<u64, Vec<(u64, MessageFate)>> = BTreeMap::new();
        let (mut hidden_messages, mut shown_messages) = (0, 0);
        for entry in &record.entries {
            if let TraceKind::Message(m) = &entry.kind {
                if m.fate == MessageFate::Sent {
                    if options.shows(m.kind) {
                        shown_messages += 1;
                    } else {
                        hidden_messages += 1;
                    }
                } else {
                    after_send
                        .entry(m.id)
                        .or_default()
                        .push((entry.time_us, m.fate));
                }
            }
        }
        let mut started = BTreeSet::new();
        let mut restarts = BTreeSet::new();
        for (i, entry) in record.entries.iter().enumerate() {
            if let TraceKind::Harness(HarnessEvent::NodeStarted) = entry.kind {
                if !started.insert(entry.node.as_str()) {
                    restarts.insert(i);
                }
            }
        }
        let violation_entry = record
            .entries
            .iter()
            .position(|e| matches!(e.kind, TraceKind::Verdict(_)));
        Diagram {
            record,
            options,
            ids,
            after_send,
            violation_entry,
            restarts,
            hidden_messages,
            shown_messages,
        }
    }

    /// Every row of the run, in trace order.
    fn rows(&self) -> Vec<Row> {
        self.record
            .entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| self.row(i, e))
            .collect()
    }

    /// The participant id of a lane.
    fn id(&self, lane: &str) -> Option<String> {
        self.ids.get(lane).map(|i| format!("p{i}"))
    }

    /// `p0,p<last>`: a note over every participant (`None` when there is none).
    fn over_all(&self) -> Option<String> {
        match self.ids.len() {
            0 => None,
            1 => Some("p0".to_string()),
            n => Some(format!("p0,p{}", n - 1)),
        }
    }

    /// The row of entry `index`, if it draws one.
    fn row(&self, index: usize, entry: &TraceEntry) -> Option<Row> {
        let time = seconds(entry.time_us);
        let (text, message) = match &entry.kind {
            TraceKind::Message(m) => (self.message(entry, m)?, true),
            TraceKind::Harness(h) => (self.harness(index, entry, h, &time)?, false),
            TraceKind::Protocol(e) => (self.milestone(entry, e, &time)?, false),
            TraceKind::Verdict(v) if Some(index) == self.violation_entry => {
                let names: Vec<usize> = v
                    .nodes
                    .iter()
                    .filter_map(|n| self.ids.get(n.as_str()).copied())
                    .collect();
                let over = match (names.iter().min(), names.iter().max()) {
                    (Some(a), Some(b)) if a == b => format!("p{a}"),
                    (Some(a), Some(b)) => format!("p{a},p{b}"),
                    _ => self.over_all()?,
                };
                (
                    format!(
                        "rect rgb(255, 214, 214)\nNote over {over}: {time} first violation, {}, {}\nend",
                        text(&v.invariant, TEXT_CHARS),
                        text(&v.detail, TEXT_CHARS)
                    ),
                    false,
                )
            }
            TraceKind::Verdict(_) => return None,
        };
        Some(Row {
            time_us: entry.time_us,
            text,
            message,
            violation: Some(index) == self.violation_entry,
        })
    }

    /// The arrow (or note) of one message entry, if its kind is shown.
    fn message(&self, entry: &TraceEntry, m: &MessageRecord) -> Option<String> {
        if !self.options.shows(m.kind) {
            return None;
        }
        let from = self.id(&m.from)?;
        let to = self.id(&m.to)?;
        let label = format!("{} [{}]", m.kind.name(), m.id);
        let later = self.after_send.get(&m.id).map(Vec::as_slice).unwrap_or(&[]);
        Some(match m.fate {
            MessageFate::Sent if later.is_empty() => format!("{from}-x{to}: {label} lost"),
            MessageFate::Sent => return None,
            MessageFate::Delivered => format!("{from}->>{to}: {label}"),
            MessageFate::Held => {
                let resolved = later
                    .iter()
                    .any(|&(t, f)| t >= entry.time_us && f != MessageFate::Held);
                if resolved {
                    format!(
                        "Note right of {to}: {} {label} held",
                        seconds(entry.time_us)
                    )
                } else {
                    format!("{from}-x{to}: {label} held to the end")
                }
            }
            MessageFate::Released => {
                let held_at = later
                    .iter()
                    .rev()
                    .find(|&&(t, f)| f == MessageFate::Held && t <= entry.time_us)
                    .map_or(entry.time_us, |&(t, _)| t);
                format!(
                    "{from}-->>{to}: {label} held {}",
                    millis(entry.time_us - held_at)
                )
            }
            MessageFate::Dropped => format!("{from}-x{to}: {label} dropped"),
            MessageFate::Duplicated => match 2usize.saturating_sub(copies_arrived(later)) {
                0 => format!("Note right of {from}: {label} duplicated"),
                lost => format!("{from}-x{to}: {label} duplicated, {lost} of 2 copies lost"),
            },
        })
    }

    /// The note of a harness action, if it is a fault.
    fn harness(
        &self,
        index: usize,
        entry: &TraceEntry,
        h: &HarnessEvent,
        time: &str,
    ) -> Option<String> {
        let node = || self.id(&entry.node);
        Some(match h {
            HarnessEvent::NodeStarted => {
                match (self.restarts.contains(&index), entry.time_us) {
                    (true, _) => format!("Note over {}: {time} restarted", node()?),
                    (false, 0) => return None,
                    (false, _) => format!("Note over {}: {time} started", node()?),
                }
            }
            HarnessEvent::NodeKilled => format!("Note over {}: {time} killed", node()?),
            HarnessEvent::VaultWiped => format!("Note over {}: {time} vault wiped", node()?),
            HarnessEvent::StartFailed { detail } => format!(
                "Note over {}: {time} start failed, {}",
                node()?,
                text(detail, TEXT_CHARS)
            ),
            HarnessEvent::Partitioned { links } => {
                const SHOWN: usize = 6;
                let mut cut: Vec<String> = links
                    .iter()
                    .take(SHOWN)
                    .map(|(a, b)| format!("{} → {}", text(a, NAME_CHARS), text(b, NAME_CHARS)))
                    .collect();
                if links.len() > SHOWN {
                    cut.push(format!("{} more", links.len() - SHOWN));
                }
                format!(
                    "Note over {}: {time} partition, cut {}",
                    self.over_all()?,
                    cut.join(", ")
                )
            }
            HarnessEvent::Healed => format!("Note over {}: {time} healed", self.over_all()?),
            HarnessEvent::NetworkChanged {
                latency_min_ms,
                latency_max_ms,
                loss_ppm,
            } => format!(
                "Note over {}: {time} network {latency_min_ms}-{latency_max_ms} ms, loss {}.{:02} percent",
                self.over_all()?,
                loss_ppm / 10_000,
                loss_ppm % 10_000 / 100
            ),
            HarnessEvent::RuleAdded { rule, description } => format!(
                "Note over {}: {time} rule {rule}, {}",
                self.over_all()?,
                text(description, TEXT_CHARS)
            ),
            HarnessEvent::RuleRemoved { rule } => {
                format!("Note over {}: {time} rule {rule} ends", self.over_all()?)
            }
            HarnessEvent::LinkChanged {
                from,
                to,
                latency_min_ms,
                latency_max_ms,
                loss_ppm,
            } => format!(
                "Note over {}: {time} link {} → {} {latency_min_ms}-{latency_max_ms} ms, loss {}.{:02} percent",
                self.over_all()?,
                text(from, NAME_CHARS),
                text(to, NAME_CHARS),
                loss_ppm / 10_000,
                loss_ppm % 10_000 / 100
            ),
            HarnessEvent::LinksCleared => {
                format!("Note over {}: {time} links back to default", self.over_all()?)
            }
            HarnessEvent::Paused { for_ms } => {
                format!("Note over {}: {time} paused for {for_ms} ms", node()?)
            }
            HarnessEvent::Resumed => format!("Note over {}: {time} resumed", node()?),
            HarnessEvent::Left => format!("Note over {}: {time} leaves gracefully", node()?),
            HarnessEvent::AddressChanged { from, to } => format!(
                "Note over {}: {time} moved from {} to {}",
                node()?,
                text(from, NAME_CHARS),
                text(to, NAME_CHARS)
            ),
            HarnessEvent::StorageFault { fault, detail } => format!(
                "Note over {}: {time} storage fault {}, {}",
                node()?,
                text(fault, NAME_CHARS),
                text(detail, TEXT_CHARS)
            ),
            HarnessEvent::VaultRecordRefused { detail } => format!(
                "Note over {}: {time} vault record refused, {}",
                node()?,
                text(detail, TEXT_CHARS)
            ),
            HarnessEvent::ClockAdjusted { skew_ms, drift_ppm } => format!(
                "Note over {}: {time} clock +{skew_ms} ms, drift {drift_ppm} ppm",
                node()?
            ),
            HarnessEvent::StepSkipped { step, reason } => format!(
                "Note over {}: {time} step {step} skipped, {}",
                self.over_all()?,
                text(reason, TEXT_CHARS)
            ),
            HarnessEvent::UserRequest { .. } | HarnessEvent::UserAnswer { .. } => return None,
        })
    }

    /// The note of a protocol milestone, if the event is one.
    fn milestone(&self, entry: &TraceEntry, event: &Event, time: &str) -> Option<String> {
        let what = match event {
            Event::EnteredTopology { .. } => "in topology".to_string(),
            Event::Joined { lt_version } => format!("joined, LT version {lt_version}"),
            Event::Halted { rejection } => format!(
                "rejected ({}) by {}",
                rejection.reason.kind(),
                text(&rejection.by, NAME_CHARS)
            ),
            Event::RoleChanged {
                group,
                role: Role::Leader,
                term,
                ..
            } => format!("{group} leader, term {term}"),
            Event::InitAnswered { result, .. } => match result {
                Ok(tag) => format!("init answered, ok, cluster {}", text(&tag.name, NAME_CHARS)),
                Err(e) => format!("init answered, error {}", e.kind()),
            },
            _ => return None,
        };
        Some(format!(
            "Note over {}: {time} {what}",
            self.id(&entry.node)?
        ))
    }
}

/// The rows a diagram of at most `max` rows draws: those up to and including the violation's
/// row when there is one and not all fit, else the first `max`.
fn window(rows: &[Row], max: usize, violation_row: Option<usize>) -> std::ops::Range<usize> {
    if rows.len() <= max {
        return 0..rows.len();
    }
    match violation_row {
        Some(v) if v >= max => v + 1 - max..v + 1,
        _ => 0..max,
    }
}

/// The Markdown lines before the diagram.
fn write_header(
    out: &mut String,
    record: &RunRecord,
    options: &MermaidOptions,
    diagram: &Diagram<'_>,
    rows: &[Row],
    window: &std::ops::Range<usize>,
) {
    let name = if record.scenario.is_empty() {
        "run"
    } else {
        &record.scenario
    };
    let _ = writeln!(
        out,
        "## {}, seed {}\n",
        markdown(&cut(name, TEXT_CHARS)),
        record.seed
    );
    let verdict = if record.passed { "passed" } else { "FAILED" };
    let _ = write!(
        out,
        "{verdict}, {} ms simulated, trace hash {}",
        record.sim_time_ms,
        code(&record.trace_hash)
    );
    if let Some(entry) = record.first_violation() {
        if let TraceKind::Verdict(v) = &entry.kind {
            let _ = write!(
                out,
                ", first violation {} at {}",
                code(&v.invariant),
                seconds(entry.time_us)
            );
        }
    }
    out.push_str(".\n");
    if !record.file.is_empty() {
        let command = replay_command(&record.file, record.seed);
        let fence = "`".repeat(3.max(longest_run(&command, '`') + 1));
        let _ = writeln!(out, "Replay:\n\n{fence}sh\n{command}\n{fence}");
    }
    let _ = write!(
        out,
        "\nArrows are messages, labelled with their kind and [id] as in the trace file; `-x` \
         arrows never arrived. {} of {} rows shown, {} messages drawn in all",
        window.len(),
        rows.len(),
        diagram.shown_messages
    );
    if !options.all_kinds && diagram.hidden_messages > 0 {
        let kinds: Vec<String> = BACKGROUND_KINDS.iter().map(|k| code(k.name())).collect();
        let _ = write!(
            out,
            "; left out: {} messages of Raft traffic and probes ({})",
            diagram.hidden_messages,
            kinds.join(", ")
        );
    }
    out.push_str(".\n\n");
}

/// The longest run of `c` in `s`.
fn longest_run(s: &str, c: char) -> usize {
    s.split(|x| x != c).map(str::len).max().unwrap_or(0)
}

/// `s` cut to `max` characters, ending with `…` when cut.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// The characters a Mermaid text keeps as they are (besides letters and digits).
const PLAIN: &str = " _-.,/()[]@+=!?'*…";

/// `s`, cut to `max` characters, as Mermaid text: every character but letters, digits and
/// [`PLAIN`] as a decimal entity code (see the module's documentation).
fn text(s: &str, max: usize) -> String {
    let mut out = String::new();
    for c in cut(s, max).chars() {
        if c.is_alphanumeric() || PLAIN.contains(c) {
            out.push(c);
        } else {
            let _ = write!(out, "#{};", c as u32);
        }
    }
    out
}

/// The characters Markdown may read as markup inline.
const MARKUP: &str = "\\`*_[]<>#|!~&";

/// `s` as Markdown inline text: [`MARKUP`] backslash-escaped, line breaks as spaces.
fn markdown(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if MARKUP.contains(c) {
            out.push('\\');
            out.push(c);
        } else if c.is_control() {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

/// `s` as a Markdown code span: fenced by more backticks than it holds, line breaks as spaces.
fn code(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let fence = "`".repeat(longest_run(&s, '`') + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{s}{pad}{fence}")
}

/// Simulated µs as seconds with milliseconds: `1.052s`.
fn seconds(us: u64) -> String {
    format!("{}.{:03}s", us / 1_000_000, us / 1000 % 1000)
}

/// A µs duration in milliseconds: `1200 ms`.
fn millis(us: u64) -> String {
    format!("{} ms", us / 1000)
}

#[cfg(test)]
mod tests;
