//! From the file as written (`raw.rs`) to the model (`model.rs`): every reference, bound and
//! combination of fields is checked here, before anything runs, and every mistake is a
//! [`ScenarioError`] at its file:line:col.
//!
//! This file reads the file as a whole: the header, `[network]`, `[[cluster]]` and `[[node]]`.
//! The timeline is checked in `validate/step.rs` (triggers, events and actions: one arm per
//! [`Action`](super::model::Action)), what must hold at the end in `validate/expect.rs`
//! (`[expect]`, outcomes and `[liveness]`).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::Path;

use joinsim::{
    Addr, ClusterConfig, ClusterId, ClusterTag, PlantedBug, ProductVersion, ProtocolVersion,
    RestoredCluster,
};
use toml::Spanned;

use super::error::{ScenarioError, Source};
use super::model::{Origin, RoleName, Scenario, MAX_REGRESSION_SEEDS};
use super::raw::{self, RawCluster, RawNetwork, RawNode, RawOrigin, RawScenario};
use crate::host::NODE_PORT;
use crate::limits;
use crate::sim::NetSettings;
use crate::world::NodeSpec;

mod expect;
mod step;

/// Reads and checks a scenario file.
pub fn load_scenario(path: &Path) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let too_big = |len: u64| ScenarioError {
        file: file.clone(),
        line: 1,
        column: 1,
        message: format!(
            "the file has {len} bytes; a scenario file has at most {}",
            limits::FILE_BYTES
        ),
    };
    let cannot = |message: String| ScenarioError {
        file: file.clone(),
        line: 1,
        column: 1,
        message,
    };
    let meta = std::fs::metadata(path).map_err(|e| cannot(format!("cannot read the file: {e}")))?;
    if !meta.is_file() {
        return Err(cannot(
            "not a regular file (a scenario is a .toml file; devices, pipes and directories are refused)"
                .into(),
        ));
    }
    if meta.len() > limits::FILE_BYTES {
        return Err(too_big(meta.len()));
    }
    // Read at most one byte past the bound, whatever the file claims its size is.
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| {
            std::io::Read::read_to_end(
                &mut std::io::Read::take(f, limits::FILE_BYTES + 1),
                &mut bytes,
            )
        })
        .map_err(|e| cannot(format!("cannot read the file: {e}")))?;
    if bytes.len() as u64 > limits::FILE_BYTES {
        return Err(too_big(bytes.len() as u64));
    }
    let text =
        String::from_utf8(bytes).map_err(|e| cannot(format!("the file is not UTF-8 text: {e}")))?;
    parse_scenario(&file, &text)
}

/// Parses and checks scenario text (`file` names it in errors).
pub fn parse_scenario(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
    let source = Source { file, text };
    if text.len() as u64 > limits::FILE_BYTES {
        return Err(source.error(
            0..0,
            format!(
                "the text has {} bytes; a scenario file has at most {}",
                text.len(),
                limits::FILE_BYTES
            ),
        ));
    }
    let raw = raw::read(&source)?;
    Builder::new(&source).build(raw)
}

/// Turns the file as written into the model, checking as it goes.
struct Builder<'a, 'b> {
    /// The text, for positions.
    source: &'a Source<'b>,
    /// Every node's label, once the nodes are read: steps and expectations may name only these.
    labels: BTreeSet<String>,
    /// Each label's node name in the protocol (two labels may share a name).
    names: BTreeMap<String, String>,
}

/// A product version `major.minor.patch` (3.0.0 when absent).
fn product(
    source: &Source<'_>,
    raw: &Option<Spanned<String>>,
) -> Result<ProductVersion, ScenarioError> {
    match raw {
        None => Ok(ProductVersion::default()),
        Some(v) => v
            .get_ref()
            .parse()
            .map_err(|e: joinsim::Error| source.error(v.span(), e.to_string())),
    }
}

impl<'a, 'b> Builder<'a, 'b> {
    fn new(source: &'a Source<'b>) -> Self {
        Builder {
            source,
            labels: BTreeSet::new(),
            names: BTreeMap::new(),
        }
    }

    fn err(&self, span: Range<usize>, message: impl Into<String>) -> ScenarioError {
        self.source.error(span, message)
    }

    /// The label a step, seed or expectation names, if some node has it.
    fn known(&self, name: &Spanned<String>, what: &str) -> Result<String, ScenarioError> {
        let label = name.get_ref().clone();
        if self.labels.contains(&label) {
            Ok(label)
        } else {
            Err(self.err(
                name.span(),
                format!(
                    "{what} names unknown node {label:?} (nodes: {})",
                    self.labels.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
            ))
        }
    }

    /// The whole scenario, in the order of the checks (their order decides which error a file
    /// with several mistakes gets).
    fn build(mut self, raw: RawScenario) -> Result<Scenario, ScenarioError> {
        if raw.name.get_ref().trim().is_empty() {
            return Err(self.err(raw.name.span(), "the scenario name must not be blank"));
        }
        let seeds = match (&raw.seeds, &raw.seed) {
            (Some(_), Some(one)) => {
                return Err(self.err(
                    one.span(),
                    "give either `seed` (run exactly this seed) or `seeds` (run seeds 0..N), not both",
                ));
            }
            (Some(s), None) => self.bounded(s, "seeds", &limits::SEEDS)?,
            (None, Some(_)) => 0,
            (None, None) => 32,
        };
        let origin = raw.origin.as_ref().map(|o| self.origin(o)).transpose()?;
        if raw.nodes.len() as u64 > *limits::NODES.end() {
            return Err(self.err(
                raw.nodes[*limits::NODES.end() as usize].span(),
                format!("a scenario has at most {} nodes", limits::NODES.end()),
            ));
        }
        if raw.steps.len() as u64 > *limits::STEPS.end() {
            return Err(self.err(
                raw.steps[*limits::STEPS.end() as usize].span(),
                format!("a scenario has at most {} steps", limits::STEPS.end()),
            ));
        }
        if raw.clusters.len() as u64 > *limits::CLUSTERS.end() {
            return Err(self.err(
                raw.clusters[*limits::CLUSTERS.end() as usize].span(),
                format!("a scenario has at most {} clusters", limits::CLUSTERS.end()),
            ));
        }
        let regression_seeds = match &raw.regression_seeds {
            Some(list) if list.get_ref().len() > MAX_REGRESSION_SEEDS => {
                return Err(self.err(
                    list.span(),
                    format!("at most {MAX_REGRESSION_SEEDS} regression seeds"),
                ));
            }
            Some(list) => list.get_ref().clone(),
            None => Vec::new(),
        };
        let network = self.network(raw.network.as_ref())?;
        let bug = match &raw.bug {
            None => None,
            Some(b) => Some(PlantedBug::from_name(b.get_ref()).ok_or_else(|| {
                self.err(
                    b.span(),
                    format!(
                        "unknown planted bug {:?}; bugs: {}",
                        b.get_ref(),
                        <PlantedBug as strum::VariantNames>::VARIANTS.join(", ")
                    ),
                )
            })?),
        };
        if raw.nodes.is_empty() {
            return Err(self.err(0..0, "a scenario needs at least one [[node]]"));
        }
        // Labels first, so that seeds and steps can name any node.
        for node in &raw.nodes {
            let label = node
                .get_ref()
                .label
                .as_ref()
                .unwrap_or(&node.get_ref().name);
            if label.get_ref().trim().is_empty() {
                return Err(self.err(label.span(), "node names must not be blank"));
            }
            // A name is compared byte for byte everywhere (Raft ids, init lists, the LT): one
            // with surrounding whitespace would be a second name that reads like the first.
            for field in std::iter::once(&node.get_ref().name).chain(node.get_ref().label.as_ref())
            {
                let text = field.get_ref();
                if text.trim() != text {
                    return Err(self.err(
                        field.span(),
                        format!(
                            "node name {text:?} has whitespace around it (write {:?})",
                            text.trim()
                        ),
                    ));
                }
            }
            // A step's node fields take roles as well as labels: a label must not read as one.
            let text = label.get_ref();
            if text.contains(':') || text.parse::<RoleName>().is_ok() {
                return Err(self.err(
                    label.span(),
                    format!(
                        "node label {text:?} reads as a role (roles: {}; a label has no `:`): give the node another `label`",
                        <RoleName as strum::VariantNames>::VARIANTS.join(", ")
                    ),
                ));
            }
            self.names.insert(
                label.get_ref().clone(),
                node.get_ref().name.get_ref().clone(),
            );
            if !self.labels.insert(label.get_ref().clone()) {
                return Err(self.err(
                    label.span(),
                    format!(
                        "two nodes are labelled {:?} (give one a distinct `label`)",
                        label.get_ref()
                    ),
                ));
            }
        }
        let order: Vec<String> = raw
            .nodes
            .iter()
            .map(|n| {
                n.get_ref()
                    .label
                    .as_ref()
                    .unwrap_or(&n.get_ref().name)
                    .get_ref()
                    .clone()
            })
            .collect();
        let clusters = self.clusters(&raw.clusters, &raw.nodes, &order)?;
        let mut nodes = Vec::new();
        let mut start = Vec::new();
        let first = order[0].clone();
        for (node, label) in raw.nodes.iter().zip(&order) {
            let raw_node = node.get_ref();
            let seeds: Vec<String> = match &raw_node.seeds {
                Some(seeds) => seeds
                    .iter()
                    .map(|s| self.known(s, "seed"))
                    .collect::<Result<_, _>>()?,
                None if *label == first => Vec::new(),
                None => vec![first.clone()],
            };
            let mut spec = NodeSpec::new(raw_node.name.get_ref())
                .label(label)
                .product(product(self.source, &raw_node.product)?)
                .protocol(ProtocolVersion(raw_node.protocol.unwrap_or(1)));
            spec.seeds = seeds;
            if let Some(vault) = &raw_node.vault {
                let v = vault.get_ref();
                let Some(cluster) = clusters.get(v.cluster.get_ref()) else {
                    return Err(self.err(
                        v.cluster.span(),
                        format!("vault names unknown [[cluster]] {:?}", v.cluster.get_ref()),
                    ));
                };
                let version = match &v.ms_version {
                    Some(x) => self.bounded(x, "ms_version", &limits::MS_VERSION)?,
                    None => cluster.config.ms_version,
                };
                spec.vault = cluster.vault_of(raw_node.name.get_ref(), version);
            }
            if raw_node.start.unwrap_or(true) {
                start.push(label.clone());
            }
            nodes.push(spec);
        }
        let steps = self.steps(&raw.steps)?;
        let expect = self.expect(&raw.expect, &steps)?;
        let liveness = self.liveness(raw.liveness.as_ref())?;
        Ok(Scenario {
            path: self.source.file.to_string(),
            name: raw.name.into_inner(),
            description: raw.description,
            seeds,
            seed: raw.seed.as_ref().map(|s| *s.get_ref()),
            regression_seeds,
            bug,
            origin,
            network,
            nodes,
            start,
            steps,
            expect,
            liveness,
        })
    }

    /// A number within its documented bound (see [`limits`]), or an error at its position.
    fn bounded(
        &self,
        value: &Spanned<u64>,
        field: &str,
        range: &std::ops::RangeInclusive<u64>,
    ) -> Result<u64, ScenarioError> {
        limits::check(field, *value.get_ref(), range).map_err(|m| self.err(value.span(), m))
    }

    /// A latency range `[min, max]`: ordered, each within [`limits::LATENCY_MS`].
    fn latency(&self, raw: &Spanned<Vec<u64>>) -> Result<(u64, u64), ScenarioError> {
        let [min, max] = raw.get_ref()[..] else {
            return Err(self.err(
                raw.span(),
                format!(
                    "latency_ms must be [min, max]: two numbers, not {}",
                    raw.get_ref().len()
                ),
            ));
        };
        if min > max {
            return Err(self.err(raw.span(), format!("latency_ms [{min}, {max}] is reversed")));
        }
        limits::check("latency_ms", max, &limits::LATENCY_MS)
            .map_err(|m| self.err(raw.span(), m))?;
        Ok((min, max))
    }

    /// A loss rate within `0..=1`.
    fn loss(&self, raw: &Spanned<f64>) -> Result<f64, ScenarioError> {
        let loss = *raw.get_ref();
        if !(0.0..=1.0).contains(&loss) {
            return Err(self.err(raw.span(), format!("loss {loss} is not within 0..=1")));
        }
        Ok(loss)
    }

    /// `[origin]`: a trace hash, if given, is 16 hex digits (kept in lower case).
    fn origin(&self, raw: &Spanned<RawOrigin>) -> Result<Origin, ScenarioError> {
        let o = raw.get_ref();
        if let Some(hash) = &o.trace_hash {
            let text = hash.get_ref();
            if text.len() != 16 || !text.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(self.err(
                    hash.span(),
                    format!("trace_hash {text:?} is not 16 hexadecimal digits"),
                ));
            }
        }
        Ok(Origin {
            joinsim: o.joinsim.clone(),
            commit: o.commit.clone(),
            command: o.command.clone(),
            failure: o.failure.clone(),
            trace_hash: o.trace_hash.as_ref().map(|h| h.get_ref().to_lowercase()),
        })
    }

    /// `[network]`: the settings at the start (the defaults where the file is silent).
    fn network(&self, raw: Option<&Spanned<RawNetwork>>) -> Result<NetSettings, ScenarioError> {
        let mut settings = NetSettings::default();
        let Some(raw) = raw else {
            return Ok(settings);
        };
        let n = raw.get_ref();
        if let Some(latency) = &n.latency_ms {
            (settings.latency_min_ms, settings.latency_max_ms) = self.latency(latency)?;
        }
        if let Some(loss) = &n.loss {
            settings.loss = self.loss(loss)?;
        }
        Ok(settings)
    }

    /// `[[cluster]]`s by name: each with a unique name and id, and a non-empty CMG.
    fn clusters(
        &self,
        raw: &[Spanned<RawCluster>],
        nodes: &[Spanned<RawNode>],
        order: &[String],
    ) -> Result<BTreeMap<String, RestoredCluster>, ScenarioError> {
        let mut out = BTreeMap::new();
        let addr_of = |name: &str| {
            nodes
                .iter()
                .position(|n| n.get_ref().name.get_ref() == name)
                .map(|i| Addr::new(crate::world::ip_of(i), NODE_PORT))
        };
        let _ = order;
        for c in raw {
            let rc = c.get_ref();
            let id: ClusterId = rc
                .id
                .get_ref()
                .parse()
                .map_err(|e: joinsim::Error| self.err(rc.id.span(), e.to_string()))?;
            if rc.cmg.is_empty() {
                return Err(self.err(c.span(), "a [[cluster]] needs a non-empty `cmg` list"));
            }
            let ms = rc.ms.clone().unwrap_or_else(|| rc.cmg.clone());
            let addrs = rc
                .cmg
                .iter()
                .chain(ms.iter())
                .filter_map(|n| addr_of(n).map(|a| (n.clone(), a)))
                .collect();
            let cluster = RestoredCluster {
                config: ClusterConfig {
                    tag: ClusterTag {
                        name: rc.name.get_ref().clone(),
                        id,
                    },
                    cmg_nodes: rc.cmg.clone(),
                    ms_nodes: ms,
                    ms_version: match &rc.ms_version {
                        Some(v) => self.bounded(v, "ms_version", &limits::MS_VERSION)?,
                        None => 1,
                    },
                },
                product: product(self.source, &rc.product)?,
                protocol: ProtocolVersion(rc.protocol.unwrap_or(1)),
                addrs,
            };
            if let Some(same) = out
                .values()
                .find(|c: &&RestoredCluster| c.config.tag.id == id)
            {
                return Err(self.err(
                    rc.id.span(),
                    format!(
                        "two clusters have id {:?} ({:?} and {:?}): each cluster has its own id",
                        rc.id.get_ref(),
                        same.config.tag.name,
                        rc.name.get_ref()
                    ),
                ));
            }
            if out.insert(rc.name.get_ref().clone(), cluster).is_some() {
                return Err(self.err(
                    rc.name.span(),
                    format!("two clusters are named {:?}", rc.name.get_ref()),
                ));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{at, error_of, HEAD};
    use super::*;

    /// A file with `n` nodes, `n1`..`nN`: node `i`'s table starts on line `2 * i + 1`.
    fn with_nodes(n: u64) -> String {
        let mut text = "name = \"t\"\ndescription = \"d\"\n".to_string();
        for i in 1..=n {
            text.push_str(&format!("[[node]]\nname = \"n{i}\"\n"));
        }
        text + "[expect]\n"
    }

    #[test]
    fn a_scenario_has_up_to_a_thousand_nodes() {
        let most = *limits::NODES.end();
        assert_eq!(most, 1_000);
        let s = parse_scenario("t.toml", &with_nodes(most)).unwrap();
        assert_eq!(s.nodes.len() as u64, most);
        let e = error_of(&with_nodes(most + 1));
        assert!(
            e.message.contains("a scenario has at most 1000 nodes"),
            "{e}"
        );
        // The error points at the node past the bound.
        assert!(
            (2 * most + 3..=2 * most + 4).contains(&(e.line as u64)),
            "{e}"
        );
    }

    #[test]
    fn a_valid_file_parses_with_defaults() {
        let s = parse_scenario("t.toml", &format!("{HEAD}[expect]\n")).unwrap();
        assert_eq!(s.seeds, 32);
        assert_eq!(s.start, vec!["a", "b"]);
        assert!(s.nodes[0].seeds.is_empty());
        assert_eq!(s.nodes[1].seeds, vec!["a"]);
        assert!(s.liveness.enabled);
        assert_eq!(s.expect.deadline_ms, 120_000);
    }

    #[test]
    fn regression_seeds_run_after_the_seed_range() {
        let text = "name = \"t\"\ndescription = \"d\"\nseeds = 3\nregression_seeds = [77, 1, 77]\n[[node]]\nname = \"a\"\n[expect]\n";
        let s = parse_scenario("t.toml", text).unwrap();
        assert_eq!(s.seed_list(None), vec![0, 1, 2, 77]);
        assert_eq!(s.seed_list(Some(1)), vec![0, 77, 1]);
        let many: Vec<String> = (0..=MAX_REGRESSION_SEEDS).map(|i| i.to_string()).collect();
        let text = format!(
            "name = \"t\"\ndescription = \"d\"\nregression_seeds = [{}]\n[[node]]\nname = \"a\"\n[expect]\n",
            many.join(", ")
        );
        at(&text, 3, 20, "at most 64 regression seeds");
    }

    #[test]
    fn a_node_name_with_whitespace_around_it_is_an_error() {
        let text = "name = \"t\"\ndescription = \"d\"\n[[node]]\nname = \" a\"\n[expect]\n";
        at(text, 4, 8, "whitespace around it");
        let text =
            "name = \"t\"\ndescription = \"d\"\n[[node]]\nname = \"a\"\nlabel = \"b \"\n[expect]\n";
        at(text, 5, 9, "write \"b\"");
    }
}
