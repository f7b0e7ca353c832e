//! The registry of marks, checked against the sources (as FoundationDB registers its code
//! probes statically, so that an unhit probe is known): every mark is reported somewhere.

use std::collections::BTreeSet;
use std::path::Path;

use strum::IntoEnumIterator;

use super::{Mark, Rarity};
use crate::error::{InitError, RejectionReason};
use crate::import_graph::{rust_files, strip_comments};

/// The sources of the protocol that may report a mark: every file of `src/` but this module's
/// own and the tests (a test naming a mark reports nothing).
fn reporting_sources() -> String {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut text = String::new();
    for path in rust_files(&src) {
        let relative = path
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let is_test = relative.ends_with("tests.rs")
            || relative.contains("/tests/")
            || relative.starts_with("testing/")
            || relative == "import_graph.rs";
        if relative == "marks.rs" || relative.starts_with("marks/") || is_test {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        // An inline test module reports nothing either.
        let body = match source.find("#[cfg(test)]\nmod tests {") {
            Some(at) => &source[..at],
            None => &source,
        };
        text.push_str(&strip_comments(body));
    }
    text
}

/// The variants each `Mark::of_*` mapping of `src/marks.rs` returns, by function name.
fn mapped_variants() -> Vec<(String, BTreeSet<String>)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/marks.rs");
    let source = strip_comments(&std::fs::read_to_string(path).unwrap());
    let mut mappings = Vec::new();
    for chunk in source.split("pub fn ").skip(1) {
        let Some(name) = chunk.strip_prefix("of_").map(|rest| {
            let end = rest.find('(').unwrap();
            format!("of_{}", &rest[..end])
        }) else {
            continue;
        };
        let variants = Mark::iter()
            .map(|m| format!("{m:?}"))
            .filter(|v| {
                chunk.contains(&format!("Mark::{v})")) || chunk.contains(&format!("Mark::{v},"))
            })
            .collect();
        mappings.push((name, variants));
    }
    mappings
}

/// Every mark is reported by the protocol: its variant is named in `src/` outside the tests
/// and this module (`self.mark(Mark::X)`), or returned by a `Mark::of_*` mapping that the
/// protocol calls. A declared mark no code reports fails here.
#[test]
fn every_mark_is_reported_somewhere_in_the_protocol() {
    let sources = reporting_sources();
    let mut reported: BTreeSet<String> = BTreeSet::new();
    for mark in Mark::iter() {
        let variant = format!("{mark:?}");
        if sources.contains(&format!("Mark::{variant}")) {
            reported.insert(variant);
        }
    }
    let mappings = mapped_variants();
    assert!(
        mappings.len() >= 4,
        "the mappings were not found: {mappings:?}"
    );
    for (function, variants) in mappings {
        assert!(!variants.is_empty(), "Mark::{function} returns no mark");
        if sources.contains(&format!("Mark::{function}(")) {
            reported.extend(variants);
        }
    }
    let dead: Vec<String> = Mark::iter()
        .map(|m| format!("{m:?}"))
        .filter(|v| !reported.contains(v))
        .collect();
    assert!(
        dead.is_empty(),
        "marks declared but never reported: {dead:?}"
    );
}

/// Every init error kind, and every rejection reason a stage gives, has its mark, named after
/// the kind (`init_error_<kind>`, `pre_init_refused_<reason>`, `join_rejected_<reason>`).
#[test]
fn every_error_kind_and_rejection_reason_has_its_mark() {
    use strum::VariantNames;
    let names: BTreeSet<&str> = Mark::iter().map(Mark::name).collect();
    for kind in InitError::VARIANTS {
        assert!(
            names.contains(format!("init_error_{kind}").as_str()),
            "{kind}"
        );
    }
    for reason in RejectionReason::VARIANTS {
        let pre_init = names.contains(format!("pre_init_refused_{reason}").as_str());
        let join = names.contains(format!("join_rejected_{reason}").as_str());
        // duplicate_name is the CMG leader's refusal, without a CMG command.
        let duplicate = *reason == "duplicate_name" && names.contains("duplicate_name_refused");
        assert!(pre_init || join || duplicate, "{reason} has no mark");
    }
    let error = InitError::Timeout {
        node: "n1".into(),
        waiting_for: "x".into(),
    };
    assert_eq!(Mark::of_init_error(&error).name(), "init_error_timeout");
    assert_eq!(
        Mark::of_init_cancel(&error),
        Some(Mark::InitCancelledOnTimeout)
    );
    assert_eq!(Mark::of_init_cancel(&InitError::BlankClusterName), None);
}

/// Names are snake_case, unique, and both rarities are in use (the rarity is an exhaustive
/// match: this only pins that the registry is not all one kind).
#[test]
fn marks_are_named_once_in_snake_case() {
    let names: Vec<&str> = Mark::iter().map(Mark::name).collect();
    let unique: BTreeSet<&&str> = names.iter().collect();
    assert_eq!(unique.len(), names.len());
    for name in &names {
        assert!(
            name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "{name}"
        );
    }
    assert_eq!(Mark::StaleMsCatchUp.name(), "stale_ms_catch_up");
    let common = Mark::iter()
        .filter(|m| m.rarity() == Rarity::Common)
        .count();
    assert!(common > 0 && common < names.len());
}
