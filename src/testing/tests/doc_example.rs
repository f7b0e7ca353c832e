//! The example of `docs/testing.md` ("Writing a test"), compiled and run as a test of this crate:
//! the code between the markers below is that page's example, character for character
//! (`the_page_shows_this_example` compares them), so the page cannot drift from the API.

// docs/testing.md: begin
use joinsim::testing::{Network, NodeSetup};
use joinsim::{InitParams, JoinPhase};

#[test]
fn an_empty_node_joins_an_initialized_cluster() {
    let mut net = Network::builder()
        .seed(2)
        .nodes(3)
        .node(NodeSetup::new("n4").seeds(&["n1"]))
        .build();
    for l in ["n1", "n2", "n3"] {
        net.start(l);
    }
    net.wait_until(
        |n| n.view("n1").is_some_and(|v| v.physical.len() == 3),
        30_000,
    )
    .unwrap();
    let params = InitParams {
        cluster_name: "c".into(),
        ..Default::default()
    };
    let tag = net.init("n1", params).expect("init succeeds");
    net.start("n4");
    net.wait_until(|n| n.joined(&["n4"]), 60_000)
        .expect("n4 joins");
    assert_eq!(net.vault("n4").local.as_ref().unwrap().config.tag, tag);
    assert!(matches!(
        net.view("n4").unwrap().join,
        JoinPhase::Joined { .. }
    ));
}
// docs/testing.md: end

/// The first ```` ```rust ```` block of `page` after the heading `heading`.
fn rust_block_after<'a>(page: &'a str, heading: &str) -> &'a str {
    let section = &page[page.find(heading).expect("the heading")..];
    let start = section.find("```rust\n").expect("a rust block") + "```rust\n".len();
    let len = section[start..].find("```").expect("the block's end");
    &section[start..start + len]
}

#[test]
fn the_page_shows_this_example() {
    let page = include_str!("../../../docs/testing.md");
    let this = include_str!("doc_example.rs");
    let begin = "// docs/testing.md: begin\n";
    let start = this.find(begin).expect("the begin marker") + begin.len();
    let len = this[start..]
        .find("// docs/testing.md: end")
        .expect("the end marker");
    assert_eq!(
        rust_block_after(page, "## Writing a test"),
        &this[start..start + len],
        "docs/testing.md's example differs from src/testing/tests/doc_example.rs"
    );
}
