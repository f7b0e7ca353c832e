//! Unit tests of `src/error.rs`.

use strum::VariantNames;

use super::*;

const SCENARIOS_DOC: &str = include_str!("../../docs/scenarios.md");

/// The `code` spans of docs/scenarios.md between `start` and the next period that ends a
/// sentence (". " or ".\n").
fn documented(start: &str) -> Vec<&'static str> {
    let rest = SCENARIOS_DOC
        .split(start)
        .nth(1)
        .unwrap_or_else(|| panic!("docs/scenarios.md has no {start:?}"));
    let end = [". ", ".\n", " |"]
        .iter()
        .filter_map(|e| rest.find(e))
        .min()
        .unwrap_or(rest.len());
    rest[..end].split('`').skip(1).step_by(2).collect()
}

#[test]
fn kinds_are_the_snake_case_of_the_variants() {
    assert_eq!(
        InitError::NotInPhysicalTopology { name: "n".into() }.kind(),
        "not_in_physical_topology"
    );
    assert_eq!(
        RejectionReason::MsVersionAhead {
            joiner: 2,
            cluster: 1
        }
        .kind(),
        "ms_version_ahead"
    );
    assert_eq!(RejectionStage::PreInit.kind(), "pre_init");
    assert_eq!(
        AdminError::NotInLogicalTopology { name: "n".into() }.kind(),
        "not_in_logical_topology"
    );
}

#[test]
fn the_docs_list_exactly_the_init_error_kinds() {
    assert_eq!(documented("Init error kinds:"), InitError::VARIANTS);
}

#[test]
fn the_docs_list_exactly_the_admin_error_kinds() {
    assert_eq!(documented("Admin error kinds:"), AdminError::VARIANTS);
}

#[test]
fn the_docs_list_exactly_the_rejection_reasons_and_stages() {
    assert_eq!(documented("reasons:"), RejectionReason::VARIANTS);
    let stages = format!("`rejected:<{}>`", RejectionStage::VARIANTS.join("\\|"));
    assert!(
        SCENARIOS_DOC.contains(&stages),
        "docs/scenarios.md spells the rejection stages as {stages}"
    );
}
