//! The trace file (`--trace-out FILE`, docs/trace.md): a run as JSON Lines — a header object,
//! then one object per trace entry in order — and a reader that checks a file against the
//! schema.
//!
//! Entry shape: `{"time_us": u64, "node": str, "category": "event"|"harness"|"message"|"verdict",
//! "kind": str, "fields": {...}}`. `kind` is the snake_case name of the protocol event or
//! harness action (`joined`, `node_killed`), the message kind (`join_request`), or the broken
//! invariant; `fields` are the event's fields as serde writes them (a cluster id as 32 hex
//! digits), the message's `id`, `from`, `to` and `fate`, or the verdict's `nodes` and `detail`.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::record::RunRecord;
use crate::trace::{TraceEntry, TraceKind};

/// The version of the trace file's schema (docs/trace.md): raised when a field changes meaning
/// or disappears (a new field or a new kind keeps it).
pub const SCHEMA_VERSION: u64 = 1;

/// The most bytes [`read`] accepts (a run keeps at most
/// [`MAX_TRACE_ENTRIES`](crate::trace::MAX_TRACE_ENTRIES) entries).
pub const MAX_FILE_BYTES: usize = 1 << 30;

/// `JoinReadyRefused` → `join_ready_refused`.
fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// An enum value as serde_json writes it (`"Unit"`, `{"Variant": {...}}`, `{"Variant": v}`)
/// split into its snake_case variant name and its fields (a non-struct payload under `value`).
fn variant(value: Value) -> (String, Map<String, Value>) {
    match value {
        Value::String(name) => (snake_case(&name), Map::new()),
        Value::Object(map) if map.len() == 1 => {
            let (name, inner) = map.into_iter().next().expect("one key");
            let fields = match inner {
                Value::Object(fields) => fields,
                other => Map::from_iter([("value".to_string(), other)]),
            };
            (snake_case(&name), fields)
        }
        other => (
            "unknown".into(),
            Map::from_iter([("value".to_string(), other)]),
        ),
    }
}

/// One entry as the trace file writes it.
pub fn entry_json(entry: &TraceEntry) -> Value {
    let (category, kind, fields) = match &entry.kind {
        TraceKind::Protocol(event) => {
            let (kind, fields) = variant(serde_json::to_value(event).expect("events serialize"));
            ("event", kind, fields)
        }
        TraceKind::Harness(action) => {
            let (kind, fields) =
                variant(serde_json::to_value(action).expect("harness events serialize"));
            ("harness", kind, fields)
        }
        TraceKind::Message(m) => {
            let fields = json!({"id": m.id, "from": m.from, "to": m.to, "fate": m.fate.name()});
            let Value::Object(fields) = fields else {
                unreachable!("json! of an object")
            };
            ("message", m.kind.name().to_string(), fields)
        }
        TraceKind::Verdict(v) => {
            let Value::Object(fields) = json!({"nodes": v.nodes, "detail": v.detail}) else {
                unreachable!("json! of an object")
            };
            ("verdict", v.invariant.clone(), fields)
        }
    };
    json!({
        "time_us": entry.time_us,
        "node": entry.node,
        "category": category,
        "kind": kind,
        "fields": fields,
    })
}

/// The header line: the schema version and the run's identity.
pub fn header_json(record: &RunRecord) -> Value {
    json!({
        "schema_version": SCHEMA_VERSION,
        "kind": "joinsim_trace",
        "joinsim": crate::VERSION,
        "commit": crate::COMMIT,
        "scenario": record.scenario,
        "file": record.file,
        "seed": record.seed,
        "trace_hash": record.trace_hash,
        "sim_time_ms": record.sim_time_ms,
        "passed": record.passed,
        "failures": record.failures,
        "nodes": record.nodes,
        "entries": record.entries.len(),
    })
}

/// The whole file: the header line, then one line per entry, each ending in `\n`.
pub fn to_jsonl(record: &RunRecord) -> String {
    let mut out = String::new();
    out.push_str(&header_json(record).to_string());
    out.push('\n');
    for entry in &record.entries {
        out.push_str(&entry_json(entry).to_string());
        out.push('\n');
    }
    out
}

/// A trace file read back: its header and its entries as JSON objects.
#[derive(Clone, Debug)]
pub struct TraceFile {
    /// The header object.
    pub header: Map<String, Value>,
    /// The entry objects, in order.
    pub entries: Vec<Map<String, Value>>,
}

/// What is wrong with a trace file: the line (1-based) and what.
#[derive(Debug, PartialEq, Eq)]
pub struct TraceFileError {
    /// The line, counted from 1.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for TraceFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for TraceFileError {}

const CATEGORIES: [&str; 4] = ["event", "harness", "message", "verdict"];
const FATES: [&str; 6] = [
    "sent",
    "delivered",
    "held",
    "released",
    "dropped",
    "duplicated",
];

/// Reads a trace file and checks it against the schema (docs/trace.md): the header's
/// `schema_version` is [`SCHEMA_VERSION`] and its `entries` count matches; every entry has the
/// five fields with their types, time never goes back, and every message entry other than
/// `sent` names the id of an earlier `sent` with the same sender, receiver and kind.
///
/// # Errors
/// The first line that breaks the schema, with what is wrong.
pub fn read(text: &str) -> Result<TraceFile, TraceFileError> {
    let fail = |line: usize, message: String| TraceFileError { line, message };
    if text.len() > MAX_FILE_BYTES {
        return Err(fail(1, format!("longer than {MAX_FILE_BYTES} bytes")));
    }
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    let (_, first) = lines.next().ok_or_else(|| fail(1, "empty file".into()))?;
    let object = |line: usize, text: &str| -> Result<Map<String, Value>, TraceFileError> {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(fail(line, "not a JSON object".into())),
            Err(e) => Err(fail(line, format!("not JSON: {e}"))),
        }
    };
    let header = object(1, first)?;
    match header.get("schema_version").and_then(Value::as_u64) {
        Some(SCHEMA_VERSION) => {}
        other => {
            return Err(fail(
                1,
                format!("schema_version is {other:?}, expected {SCHEMA_VERSION}"),
            ))
        }
    }
    let mut entries = Vec::new();
    let mut last_time = 0;
    let mut sent: BTreeMap<u64, (String, String, String)> = BTreeMap::new();
    for (line, text) in lines {
        let entry = object(line, text)?;
        let time = entry.get("time_us").and_then(Value::as_u64);
        let node = entry.get("node").and_then(Value::as_str);
        let category = entry.get("category").and_then(Value::as_str);
        let kind = entry.get("kind").and_then(Value::as_str);
        let fields = entry.get("fields").and_then(Value::as_object);
        let (Some(time), Some(_), Some(category), Some(kind), Some(fields)) =
            (time, node, category, kind, fields)
        else {
            return Err(fail(
                line,
                "an entry needs time_us (number), node (string), category (string), kind \
                 (string) and fields (object)"
                    .into(),
            ));
        };
        if !CATEGORIES.contains(&category) {
            return Err(fail(line, format!("unknown category {category:?}")));
        }
        if time < last_time {
            return Err(fail(
                line,
                format!("time goes back: {time} after {last_time}"),
            ));
        }
        last_time = time;
        if category == "message" {
            let id = fields.get("id").and_then(Value::as_u64);
            let from = fields.get("from").and_then(Value::as_str);
            let to = fields.get("to").and_then(Value::as_str);
            let fate = fields.get("fate").and_then(Value::as_str);
            let (Some(id), Some(from), Some(to), Some(fate)) = (id, from, to, fate) else {
                return Err(fail(line, "a message needs id, from, to and fate".into()));
            };
            if !FATES.contains(&fate) {
                return Err(fail(line, format!("unknown fate {fate:?}")));
            }
            let link = (from.to_string(), to.to_string(), kind.to_string());
            if fate == "sent" {
                if sent.insert(id, link).is_some() {
                    return Err(fail(line, format!("message {id} sent twice")));
                }
            } else if sent.get(&id) != Some(&link) {
                return Err(fail(
                    line,
                    format!("message {id} is {fate} but no earlier send matches it"),
                ));
            }
        }
        entries.push(entry);
    }
    let count = header.get("entries").and_then(Value::as_u64);
    if count != Some(entries.len() as u64) {
        return Err(fail(
            1,
            format!(
                "the header counts {count:?} entries, the file has {}",
                entries.len()
            ),
        ));
    }
    Ok(TraceFile { header, entries })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{HarnessEvent, MessageFate, MessageRecord, VerdictRecord};
    use joinsim::{ClusterId, ClusterTag, Event, MessageKind};

    fn entry(time_us: u64, node: &str, kind: TraceKind) -> TraceEntry {
        TraceEntry {
            time_us,
            node: node.into(),
            kind,
        }
    }

    fn message(id: u64, fate: MessageFate) -> TraceKind {
        TraceKind::Message(MessageRecord {
            id,
            from: "n1".into(),
            to: "n2".into(),
            kind: MessageKind::JoinRequest,
            fate,
        })
    }

    fn record(entries: Vec<TraceEntry>) -> RunRecord {
        RunRecord {
            scenario: "s".into(),
            seed: 3,
            entries,
            ..RunRecord::default()
        }
    }

    #[test]
    fn names_become_snake_case() {
        assert_eq!(snake_case("JoinReadyRefused"), "join_ready_refused");
        assert_eq!(snake_case("Healed"), "healed");
    }

    #[test]
    fn each_category_is_written_with_its_kind_and_fields() {
        let tag = ClusterTag {
            name: "c".into(),
            id: ClusterId(u128::MAX),
        };
        let killed = entry_json(&entry(
            5,
            "n1",
            TraceKind::Harness(HarnessEvent::NodeKilled),
        ));
        assert_eq!(
            killed,
            json!({"time_us": 5, "node": "n1", "category": "harness", "kind": "node_killed", "fields": {}})
        );
        let sent = entry_json(&entry(6, "n1", message(9, MessageFate::Sent)));
        assert_eq!(sent["kind"], "join_request");
        assert_eq!(
            sent["fields"],
            json!({"id": 9, "from": "n1", "to": "n2", "fate": "sent"})
        );
        let verdict = entry_json(&entry(
            7,
            "-",
            TraceKind::Verdict(VerdictRecord {
                invariant: "always_x".into(),
                nodes: vec!["n2".into()],
                detail: "d".into(),
            }),
        ));
        assert_eq!(verdict["category"], "verdict");
        assert_eq!(verdict["kind"], "always_x");
        let event = Event::JoinAccepted {
            tag: tag.clone(),
            stored_ms_version: None,
            cluster_ms_version: 4,
        };
        let accepted = entry_json(&entry(8, "n2", TraceKind::Protocol(event)));
        assert_eq!(accepted["category"], "event");
        assert_eq!(accepted["kind"], "join_accepted");
        assert_eq!(accepted["fields"]["cluster_ms_version"], 4);
        assert_eq!(
            accepted["fields"]["tag"]["id"],
            json!(format!("{}", tag.id))
        );
    }

    #[test]
    fn a_written_file_reads_back_and_bad_files_name_their_line() {
        let good = record(vec![
            entry(1, "n1", message(1, MessageFate::Sent)),
            entry(2, "n2", message(1, MessageFate::Held)),
            entry(3, "n2", message(1, MessageFate::Released)),
        ]);
        let text = to_jsonl(&good);
        let file = read(&text).expect("valid");
        assert_eq!(file.entries.len(), 3);
        assert_eq!(file.header["seed"], 3);
        let orphan = record(vec![entry(2, "n2", message(7, MessageFate::Delivered))]);
        assert_eq!(read(&to_jsonl(&orphan)).unwrap_err().line, 2);
        let backwards = record(vec![
            entry(5, "n1", TraceKind::Harness(HarnessEvent::Healed)),
            entry(4, "n1", TraceKind::Harness(HarnessEvent::Healed)),
        ]);
        assert!(read(&to_jsonl(&backwards))
            .unwrap_err()
            .message
            .contains("time goes back"));
        let mut cut = text.lines().collect::<Vec<_>>();
        cut.pop();
        assert_eq!(read(&cut.join("\n")).unwrap_err().line, 1);
        assert_eq!(read("").unwrap_err().line, 1);
        assert!(read("{\"schema_version\": 99}").is_err());
        assert_eq!(
            read(&text.replace("\"fate\":\"sent\"", "\"fate\":\"lost\""))
                .unwrap_err()
                .line,
            2
        );
    }
}
