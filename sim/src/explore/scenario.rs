//! A counterexample as a scenario file (docs/scenarios.md): the world's nodes with their initial
//! vaults, and the environment's moves of the path (kills, restarts, wipes, inits, Meta Storage
//! reconfigurations) as steps, each triggered by the event of the protocol step that preceded it
//! on the path where the simulator has one. The protocol's own choices are left to the
//! simulator; the whole path is written in the header comment.

use std::fmt::Write as _;

use joinsim_model::{
    MoveKind, World, WorldKind, CLUSTER_NAME, RESTORED_MS_VERSION, RESTORED_VOTERS,
};

/// A TOML string (basic string, escaped).
fn quoted(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn list(names: &[String]) -> String {
    let items: Vec<String> = names.iter().map(|n| quoted(n)).collect();
    format!("[{}]", items.join(", "))
}

/// The `after` trigger of a step that follows the protocol move `m`, if the simulator has an
/// event for it.
fn trigger(m: &MoveKind) -> Option<String> {
    Some(match m {
        MoveKind::EnterLt { node, .. } => {
            format!("{{ event = \"joined\", node = {} }}", quoted(node))
        }
        MoveKind::Validate { node, .. } => {
            format!("{{ event = \"validated\", node = {} }}", quoted(node))
        }
        MoveKind::Ready { node, .. } => {
            format!("{{ event = \"join_ready_sent\", node = {} }}", quoted(node))
        }
        MoveKind::Reject { node, .. } => {
            format!("{{ event = \"rejected\", node = {} }}", quoted(node))
        }
        MoveKind::Commit { .. } => "{ event = \"cluster_initialized\" }".into(),
        MoveKind::Answer { init } => {
            format!("{{ event = \"init_answered\", id = \"init{init}\" }}")
        }
        MoveKind::LeaveDead { node, .. } => {
            format!("{{ event = \"left_lt\", node = {} }}", quoted(node))
        }
        MoveKind::StartReplicas { node, .. } => format!(
            "{{ event = \"group_started\", node = {}, group = \"cmg\" }}",
            quoted(node)
        ),
        MoveKind::MsApply { version, .. } => {
            format!("{{ event = \"ms_version_applied\", version = {version} }}")
        }
        _ => return None,
    })
}

/// The scenario file of the shortest path `path` that breaks `property` in `world`.
pub fn counterexample(world: &World, property: &str, path: &[MoveKind]) -> String {
    let mut out = String::new();
    let kind = world.kind();
    let _ = writeln!(
        out,
        "# Written by `joinsim explore`: the shortest path of the reference model that breaks\n\
         # `{property}` in the {kind} world of {} nodes (budgets: {}{}).\n\
         # The environment's moves are the steps below; the protocol's own steps are the simulator's.\n\
         # The path, move by move (* marks the environment's):",
        world.nodes().len(),
        world.budgets(),
        world
            .flaw()
            .map(|f| format!("; planted model error {f}"))
            .unwrap_or_default()
    );
    for (i, m) in path.iter().enumerate() {
        let mark = if m.is_environment() { "*" } else { " " };
        let _ = writeln!(out, "#  {mark}{:>3}. {m}", i + 1);
    }
    let _ = writeln!(
        out,
        "name = {}\ndescription = {}\nseeds = 8\n",
        quoted(&format!(
            "explore-{kind}-{}-{}",
            world.nodes().len(),
            property.replace('_', "-")
        )),
        quoted(&format!(
            "the explorer's counterexample of {property} in the {kind} world, replayed by the simulator"
        ))
    );
    match kind {
        WorldKind::Stale => {
            let voters: Vec<String> = RESTORED_VOTERS.iter().map(|v| v.to_string()).collect();
            let _ = writeln!(
                out,
                "[[cluster]]\nname = \"c0\"\nid = \"{:x}\"\ncmg = {}\nms_version = {RESTORED_MS_VERSION}\n",
                World::restored_tag().id,
                list(&voters)
            );
        }
        WorldKind::Foreign => {
            let _ = writeln!(
                out,
                "[[cluster]]\nname = \"{}\"\nid = \"{:x}\"\ncmg = [\"gone\"]\n",
                World::foreign_tag().name,
                World::foreign_tag().id
            );
        }
        WorldKind::Empty => {}
    }
    for node in world.nodes() {
        let _ = writeln!(out, "[[node]]\nname = {}", quoted(node));
        if let Some(v) = world.initial_vault(node) {
            let _ = writeln!(
                out,
                "vault = {{ cluster = {}, ms_version = {} }}",
                quoted(&v.tag.name),
                v.ms_version.unwrap_or(1)
            );
        }
        out.push('\n');
    }
    let mut since: Option<String> = None;
    let mut reconfigurations = 0;
    for m in path {
        if !m.is_environment() {
            if let Some(t) = trigger(m) {
                since = Some(t);
            }
            continue;
        }
        let after = since.take();
        let step = match m {
            MoveKind::Kill { node } => format!("action = \"kill\"\nnode = {}", quoted(node)),
            MoveKind::Restart { node } => format!("action = \"start\"\nnode = {}", quoted(node)),
            MoveKind::Wipe { node } => format!("action = \"wipe\"\nnode = {}", quoted(node)),
            MoveKind::Init { init, via, voters } => format!(
                "action = \"init\"\nid = \"init{init}\"\nvia = {}\ncluster = {}\ncmg = {}\nms = {}\nexpect = \"any\"",
                quoted(via),
                quoted(CLUSTER_NAME),
                list(voters),
                list(voters)
            ),
            MoveKind::Reconfigure { via, nodes, .. } => {
                reconfigurations += 1;
                format!(
                    "action = \"reconfigure_ms\"\nid = \"reconfigure{reconfigurations}\"\nvia = {}\nnodes = {}\nexpect = \"any\"",
                    quoted(via),
                    list(nodes)
                )
            }
            MoveKind::Cancel { init } => {
                let _ = writeln!(
                    out,
                    "# (cancel of init{init}: the simulator's initiator cancels by itself when a named node\n\
                     # fails or is late; the file has no step for it)\n"
                );
                continue;
            }
            _ => continue,
        };
        out.push_str("[[step]]\n");
        if let Some(after) = after {
            let _ = writeln!(out, "after = {after}");
        }
        let _ = writeln!(out, "{step}\n");
    }
    out.push_str("[expect]\ndeadline_ms = 120000\nallow_hazards = true\n");
    out
}
