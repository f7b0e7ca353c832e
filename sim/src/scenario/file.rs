//! Scenario files: the TOML format, parsed with serde, and checked before anything runs.
//!
//! Every mistake — an unknown field, an unknown node, a time out of order, an expectation that
//! names no node — is a [`ScenarioError`] with the file, line and column. See `docs/scenarios.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::path::Path;

use joinsim::{
    Addr, AdminError, ClusterConfig, ClusterId, ClusterTag, InitError, InitParams, MessageKind,
    PlantedBug, ProductVersion, ProtocolVersion, RejectionReason, RejectionStage, RestoredCluster,
};
use serde::Deserialize;
use toml::Spanned;

use crate::host::NODE_PORT;
use crate::limits;
use crate::network::MessageFilter;
use crate::sim::NetSettings;
use crate::world::NodeSpec;

/// A scenario file that cannot be used, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

impl std::error::Error for ScenarioError {}

// ---------------------------------------------------------------------------------------------
// The file as written.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Spanned<String>,
    description: String,
    seed: Option<Spanned<u64>>,
    seeds: Option<Spanned<u64>>,
    regression_seeds: Option<Spanned<Vec<u64>>>,
    bug: Option<Spanned<String>>,
    origin: Option<Spanned<RawOrigin>>,
    network: Option<Spanned<RawNetwork>>,
    #[serde(default, rename = "cluster")]
    clusters: Vec<Spanned<RawCluster>>,
    #[serde(rename = "node")]
    nodes: Vec<Spanned<RawNode>>,
    #[serde(default, rename = "step")]
    steps: Vec<Spanned<RawStep>>,
    expect: Spanned<RawExpect>,
    liveness: Option<Spanned<RawLiveness>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrigin {
    joinsim: Option<String>,
    commit: Option<String>,
    command: Option<String>,
    failure: Option<String>,
    trace_hash: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNetwork {
    latency_ms: Option<Spanned<Vec<u64>>>,
    loss: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCluster {
    name: Spanned<String>,
    id: Spanned<String>,
    cmg: Vec<String>,
    ms: Option<Vec<String>>,
    ms_version: Option<Spanned<u64>>,
    product: Option<Spanned<String>>,
    protocol: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    name: Spanned<String>,
    label: Option<Spanned<String>>,
    product: Option<Spanned<String>>,
    protocol: Option<u32>,
    seeds: Option<Vec<Spanned<String>>>,
    start: Option<bool>,
    vault: Option<Spanned<RawVault>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVault {
    cluster: Spanned<String>,
    ms_version: Option<Spanned<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    at_ms: Option<Spanned<u64>>,
    after: Option<Spanned<RawCondition>>,
    delay_ms: Option<Spanned<u64>>,
    action: Spanned<String>,
    node: Option<Spanned<String>>,
    via: Option<Spanned<String>>,
    cluster: Option<String>,
    cmg: Option<Vec<String>>,
    ms: Option<Vec<String>>,
    nodes: Option<Vec<String>>,
    groups: Option<Vec<Vec<Spanned<String>>>>,
    from: Option<Spanned<String>>,
    to: Option<Spanned<String>>,
    kind: Option<Spanned<String>>,
    for_ms: Option<Spanned<u64>>,
    id: Option<Spanned<String>>,
    rule: Option<Spanned<String>>,
    latency_ms: Option<Spanned<Vec<u64>>>,
    loss: Option<Spanned<f64>>,
    expect: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCondition {
    event: Spanned<String>,
    node: Option<Spanned<String>>,
    id: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    deadline_ms: Option<Spanned<u64>>,
    lt: Option<Vec<Spanned<String>>>,
    nodes: Option<BTreeMap<String, Spanned<String>>>,
    hazards: Option<Vec<Spanned<String>>>,
    allow_hazards: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLiveness {
    enabled: Option<bool>,
    timeout_ms: Option<Spanned<u64>>,
    reason: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// The scenario as the runner uses it.

/// A validated scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The file it came from.
    pub path: String,
    /// Its name.
    pub name: String,
    /// What race it describes.
    pub description: String,
    /// How many seeds (`0..seeds`) `run` and `check` go over by default: the file's `seeds`
    /// (default 32), or 0 when the file names its one `seed`.
    pub seeds: u64,
    /// The one seed the file runs by default (`seed = N`, as the fuzzer writes it).
    pub seed: Option<u64>,
    /// Seeds run in addition to `0..seeds` (the seed a fuzzer finding was drawn from).
    pub regression_seeds: Vec<u64>,
    /// A planted bug every node runs with (files written by the fuzzer for a planted bug).
    pub bug: Option<PlantedBug>,
    /// Where a fuzzer finding came from (the `[origin]` table), if the file says.
    pub origin: Option<Origin>,
    /// Network at the start.
    pub network: NetSettings,
    /// Nodes in file order.
    pub nodes: Vec<NodeSpec>,
    /// Labels started at time 0, in file order.
    pub start: Vec<String>,
    /// The timeline.
    pub steps: Vec<Step>,
    /// What must hold at the end.
    pub expect: Expectations,
    /// The liveness phase.
    pub liveness: Liveness,
}

/// Where a fuzzer finding came from: the `[origin]` table the fuzzer writes. Informative: a
/// replay on another build may differ, and `joinsim run` says so.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    /// The joinsim version that found it.
    pub joinsim: Option<String>,
    /// The git commit it was found on.
    pub commit: Option<String>,
    /// The command that found it.
    pub command: Option<String>,
    /// How the run failed (`invariant:<name>`, `liveness`, ...).
    pub failure: Option<String>,
    /// The trace hash of the failing run of this file's seed (16 hex digits).
    pub trace_hash: Option<String>,
}

impl Scenario {
    /// The seeds a run goes over: `0..count` (the file's `seeds` unless given; none by default
    /// when the file names one `seed`), then its `seed` and regression seeds that are not
    /// already among them.
    pub fn seed_list(&self, count: Option<u64>) -> Vec<u64> {
        let count = count.unwrap_or(self.seeds);
        let mut list: Vec<u64> = (0..count).collect();
        for seed in self.seed.iter().chain(&self.regression_seeds) {
            if *seed >= count && !list.contains(seed) {
                list.push(*seed);
            }
        }
        list
    }
}

/// When a step runs.
#[derive(Clone, Debug, PartialEq)]
pub enum Trigger {
    /// Right after the previous step.
    Immediately,
    /// At this simulated time (or at once, if it has passed).
    At(u64),
    /// When the condition happened after the previous step, plus a delay.
    After {
        /// The condition.
        condition: Condition,
        /// Delay after it.
        delay_ms: u64,
    },
}

/// An observable event a step can wait for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    /// The node entered the physical topology.
    InTopology(String),
    /// A CMG replica validated the node.
    Validated(String),
    /// The node sent join ready.
    JoinReadySent(String),
    /// The node joined the LT.
    Joined(String),
    /// The node stopped with a rejection.
    Rejected(String),
    /// The node left the LT (the CMG removed it).
    LeftLt(String),
    /// A CMG leader was elected (this node, if given).
    CmgLeaderElected(Option<String>),
    /// A CMG replica committed a cluster state.
    ClusterInitialized,
    /// The user got the answer of this init step.
    InitAnswered(String),
    /// The user got the answer of this admin step.
    AdminAnswered(String),
}

/// A node a step acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// This node.
    Node(String),
    /// Whichever node leads the CMG when the step runs.
    CmgLeader,
}

/// What the user expects as an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnswerExpectation {
    /// Any answer, or none.
    Any,
    /// Success.
    Ok,
    /// Success with the same tag as another init step.
    SameTagAs(String),
    /// An error of any kind.
    AnyError,
    /// An error of this kind.
    Error(String),
    /// No answer within the user's patience.
    NoAnswer,
}

/// One step of the timeline.
#[derive(Clone, Debug)]
pub struct Step {
    /// Line in the file.
    pub line: usize,
    /// When.
    pub trigger: Trigger,
    /// What.
    pub action: Action,
}

/// What a step does.
#[derive(Clone, Debug)]
pub enum Action {
    /// Start a stopped node.
    Start(String),
    /// Kill a node.
    Kill(Target),
    /// Kill (if running) and start a node.
    Restart(Target),
    /// Wipe a node's vault (killing it first).
    Wipe(String),
    /// The user sends init (does not wait for the answer).
    Init {
        /// Step id.
        id: String,
        /// The node that receives it.
        via: String,
        /// Parameters.
        params: InitParams,
        /// Expected answer.
        expect: AnswerExpectation,
    },
    /// The user sends a Meta Storage reconfiguration (does not wait for the answer).
    ReconfigureMs {
        /// Step id.
        id: String,
        /// The node that receives it.
        via: String,
        /// The new voters.
        nodes: Vec<String>,
        /// Expected answer.
        expect: AnswerExpectation,
    },
    /// Cut links between groups.
    Partition(Vec<Vec<String>>),
    /// Cut one direction.
    PartitionOneway {
        /// Sender.
        from: String,
        /// Receiver.
        to: String,
    },
    /// Restore every link.
    Heal,
    /// Change latency and loss.
    Network {
        /// Latency range.
        latency_ms: (u64, u64),
        /// Loss rate.
        loss: f64,
    },
    /// Hold matching messages.
    Hold {
        /// Rule id.
        id: String,
        /// Which messages.
        filter: MessageFilter,
        /// For how long (until released if absent).
        for_ms: Option<u64>,
    },
    /// Drop matching messages.
    Drop {
        /// Rule id.
        id: String,
        /// Which messages.
        filter: MessageFilter,
        /// For how long (until released if absent).
        for_ms: Option<u64>,
    },
    /// End a hold or drop rule.
    Release(String),
    /// Nothing: a step that only waits for its trigger.
    Wait,
}

/// A node's expected outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeOutcome {
    /// Anything.
    Any,
    /// In the LT.
    Joined,
    /// Running, neither joined nor rejected.
    Waiting,
    /// Not running.
    Down,
    /// Stopped with a rejection, optionally of this stage and reason.
    Rejected {
        /// Stage.
        stage: Option<RejectionStage>,
        /// Reason kind (`tag_mismatch`, ...).
        reason: Option<String>,
    },
}

impl fmt::Display for NodeOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeOutcome::Any => f.write_str("any"),
            NodeOutcome::Joined => f.write_str("joined"),
            NodeOutcome::Waiting => f.write_str("waiting"),
            NodeOutcome::Down => f.write_str("down"),
            NodeOutcome::Rejected { stage, reason } => {
                f.write_str("rejected")?;
                if let Some(stage) = stage {
                    write!(f, ":{}", stage.kind())?;
                }
                if let Some(reason) = reason {
                    write!(f, ":{reason}")?;
                }
                Ok(())
            }
        }
    }
}

/// What must hold at the end of a run.
#[derive(Clone, Debug)]
pub struct Expectations {
    /// Simulated time by which everything must hold.
    pub deadline_ms: u64,
    /// The final LT's members, if given.
    pub lt: Option<Vec<String>>,
    /// Each listed node's outcome.
    pub nodes: BTreeMap<String, NodeOutcome>,
    /// Hazards that must be reported (and no others, unless `allow_hazards`).
    pub hazards: Vec<String>,
    /// Hazards beyond `hazards` do not fail the run (fuzzing campaigns).
    pub allow_hazards: bool,
}

/// The liveness phase after the last step.
#[derive(Clone, Debug)]
pub struct Liveness {
    /// On unless turned off with a reason.
    pub enabled: bool,
    /// How long the cluster has to converge once faults stop.
    pub timeout_ms: u64,
    /// Why it is off.
    pub reason: Option<String>,
}

/// How many `regression_seeds` a file may list.
pub const MAX_REGRESSION_SEEDS: usize = 64;

/// Hazard kinds a scenario may expect.
pub const HAZARD_KINDS: [&str; 1] = ["two_clusters"];

/// Events a step may wait for.
pub const CONDITION_EVENTS: [&str; 10] = [
    "in_topology",
    "validated",
    "join_ready_sent",
    "joined",
    "rejected",
    "left_lt",
    "cmg_leader_elected",
    "cluster_initialized",
    "init_answered",
    "admin_answered",
];

/// Actions a step may take.
pub const ACTIONS: [&str; 14] = [
    "start",
    "kill",
    "restart",
    "wipe",
    "init",
    "reconfigure_ms",
    "partition",
    "partition_oneway",
    "heal",
    "network",
    "hold",
    "drop",
    "release",
    "wait",
];

// ---------------------------------------------------------------------------------------------

struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
}

impl Ctx<'_> {
    fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let column = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
        (line, column)
    }

    fn error(&self, span: Range<usize>, message: impl Into<String>) -> ScenarioError {
        let (line, column) = self.position(span.start);
        ScenarioError {
            file: self.file.to_string(),
            line,
            column,
            message: message.into(),
        }
    }
}

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
    let ctx = Ctx { file, text };
    if text.len() as u64 > limits::FILE_BYTES {
        return Err(ctx.error(
            0..0,
            format!(
                "the text has {} bytes; a scenario file has at most {}",
                text.len(),
                limits::FILE_BYTES
            ),
        ));
    }
    let raw: RawScenario = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        ctx.error(span, e.message().trim().to_string())
    })?;
    Builder::new(&ctx).build(raw)
}

struct Builder<'a, 'b> {
    ctx: &'a Ctx<'b>,
    labels: BTreeSet<String>,
}

fn product(ctx: &Ctx<'_>, raw: &Option<Spanned<String>>) -> Result<ProductVersion, ScenarioError> {
    match raw {
        None => Ok(ProductVersion::default()),
        Some(v) => v
            .get_ref()
            .parse()
            .map_err(|e: joinsim::Error| ctx.error(v.span(), e.to_string())),
    }
}

impl<'a, 'b> Builder<'a, 'b> {
    fn new(ctx: &'a Ctx<'b>) -> Self {
        Builder {
            ctx,
            labels: BTreeSet::new(),
        }
    }

    fn err(&self, span: Range<usize>, message: impl Into<String>) -> ScenarioError {
        self.ctx.error(span, message)
    }

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
                        PlantedBug::ALL.map(|b| b.name()).join(", ")
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
                .product(product(self.ctx, &raw_node.product)?)
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
        let liveness = match &raw.liveness {
            None => Liveness {
                enabled: true,
                timeout_ms: 30_000,
                reason: None,
            },
            Some(l) => {
                let raw_l = l.get_ref();
                let enabled = raw_l.enabled.unwrap_or(true);
                let reason = raw_l.reason.clone().filter(|r| !r.trim().is_empty());
                if !enabled && reason.is_none() {
                    return Err(self.err(
                        l.span(),
                        "the liveness phase may be turned off only with a `reason`",
                    ));
                }
                Liveness {
                    enabled,
                    timeout_ms: match &raw_l.timeout_ms {
                        Some(t) => self.bounded(t, "timeout_ms", &limits::LIVENESS_TIMEOUT_MS)?,
                        None => 30_000,
                    },
                    reason,
                }
            }
        };
        Ok(Scenario {
            path: self.ctx.file.to_string(),
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
                product: product(self.ctx, &rc.product)?,
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

    fn steps(&self, raw: &[Spanned<RawStep>]) -> Result<Vec<Step>, ScenarioError> {
        let mut steps = Vec::new();
        let mut last_at: Option<u64> = None;
        let mut ids: BTreeMap<String, &'static str> = BTreeMap::new();
        let mut rule_steps = 0usize;
        for (index, spanned) in raw.iter().enumerate() {
            let step = spanned.get_ref();
            let (line, _) = self.ctx.position(spanned.span().start);
            let trigger = match (&step.at_ms, &step.after) {
                (Some(at), Some(_)) => {
                    return Err(
                        self.err(at.span(), "a step has either `at_ms` or `after`, not both")
                    );
                }
                (Some(at), None) => {
                    if let Some(previous) = last_at {
                        if *at.get_ref() < previous {
                            return Err(self.err(
                                at.span(),
                                format!(
                                    "step {} at {} ms comes after a step at {previous} ms: times out of order",
                                    index + 1,
                                    at.get_ref()
                                ),
                            ));
                        }
                    }
                    self.bounded(at, "at_ms", &limits::STEP_TIME_MS)?;
                    last_at = Some(*at.get_ref());
                    Trigger::At(*at.get_ref())
                }
                (None, Some(cond)) => Trigger::After {
                    condition: self.condition(cond, &ids)?,
                    delay_ms: match &step.delay_ms {
                        Some(d) => self.bounded(d, "delay_ms", &limits::STEP_TIME_MS)?,
                        None => 0,
                    },
                },
                (None, None) => Trigger::Immediately,
            };
            let action = self.action(step, spanned.span(), &mut ids)?;
            if matches!(action, Action::Hold { .. } | Action::Drop { .. }) {
                rule_steps += 1;
                if rule_steps > crate::network::MAX_RULES {
                    return Err(self.err(
                        spanned.span(),
                        format!(
                            "a scenario has at most {} hold and drop steps",
                            crate::network::MAX_RULES
                        ),
                    ));
                }
            }
            steps.push(Step {
                line,
                trigger,
                action,
            });
        }
        Ok(steps)
    }

    fn condition(
        &self,
        cond: &Spanned<RawCondition>,
        ids: &BTreeMap<String, &'static str>,
    ) -> Result<Condition, ScenarioError> {
        let c = cond.get_ref();
        let event = c.event.get_ref().as_str();
        let node = || -> Result<String, ScenarioError> {
            match &c.node {
                Some(n) => self.known(n, "condition"),
                None => Err(self.err(cond.span(), format!("event {event:?} needs a `node`"))),
            }
        };
        let id = |kind: &str| -> Result<String, ScenarioError> {
            match &c.id {
                Some(i) if ids.get(i.get_ref()) == Some(&"init") && kind == "init" => {
                    Ok(i.get_ref().clone())
                }
                Some(i) if ids.get(i.get_ref()) == Some(&"admin") && kind == "admin" => {
                    Ok(i.get_ref().clone())
                }
                Some(i) => Err(self.err(
                    i.span(),
                    format!("no earlier {kind} step has id {:?}", i.get_ref()),
                )),
                None => Err(self.err(
                    cond.span(),
                    format!("event {event:?} needs the `id` of an earlier {kind} step"),
                )),
            }
        };
        Ok(match event {
            "in_topology" => Condition::InTopology(node()?),
            "validated" => Condition::Validated(node()?),
            "join_ready_sent" => Condition::JoinReadySent(node()?),
            "joined" => Condition::Joined(node()?),
            "rejected" => Condition::Rejected(node()?),
            "left_lt" => Condition::LeftLt(node()?),
            "cmg_leader_elected" => Condition::CmgLeaderElected(match &c.node {
                Some(n) => Some(self.known(n, "condition")?),
                None => None,
            }),
            "cluster_initialized" => Condition::ClusterInitialized,
            "init_answered" => Condition::InitAnswered(id("init")?),
            "admin_answered" => Condition::AdminAnswered(id("admin")?),
            other => {
                return Err(self.err(
                    c.event.span(),
                    format!(
                        "unknown event {other:?}; a step can wait for: {}",
                        CONDITION_EVENTS.join(", ")
                    ),
                ))
            }
        })
    }

    fn target(&self, step: &RawStep, span: &Range<usize>) -> Result<Target, ScenarioError> {
        match &step.node {
            Some(n) if n.get_ref() == "cmg_leader" => Ok(Target::CmgLeader),
            Some(n) => Ok(Target::Node(self.known(n, "step")?)),
            None => Err(self.err(
                span.clone(),
                format!("action {:?} needs a `node`", step.action.get_ref()),
            )),
        }
    }

    fn action(
        &self,
        step: &RawStep,
        span: Range<usize>,
        ids: &mut BTreeMap<String, &'static str>,
    ) -> Result<Action, ScenarioError> {
        let action = step.action.get_ref().as_str();
        let allowed: &[&str] = match action {
            "start" | "wipe" | "kill" | "restart" => &["node"],
            "init" => &["via", "cluster", "cmg", "ms", "id", "expect"],
            "reconfigure_ms" => &["via", "nodes", "id", "expect"],
            "partition" => &["groups"],
            "partition_oneway" => &["from", "to"],
            "heal" | "wait" => &[],
            "network" => &["latency_ms", "loss"],
            "hold" | "drop" => &["kind", "from", "to", "for_ms", "id"],
            "release" => &["rule"],
            other => {
                return Err(self.err(
                    step.action.span(),
                    format!("unknown action {other:?}; actions: {}", ACTIONS.join(", ")),
                ))
            }
        };
        let present: [(&str, bool); 17] = [
            ("node", step.node.is_some()),
            ("via", step.via.is_some()),
            ("cluster", step.cluster.is_some()),
            ("cmg", step.cmg.is_some()),
            ("ms", step.ms.is_some()),
            ("nodes", step.nodes.is_some()),
            ("groups", step.groups.is_some()),
            ("from", step.from.is_some()),
            ("to", step.to.is_some()),
            ("kind", step.kind.is_some()),
            ("for_ms", step.for_ms.is_some()),
            ("id", step.id.is_some()),
            ("rule", step.rule.is_some()),
            ("latency_ms", step.latency_ms.is_some()),
            ("loss", step.loss.is_some()),
            ("expect", step.expect.is_some()),
            ("delay_ms", step.delay_ms.is_some() && step.after.is_none()),
        ];
        for (field, is_present) in present {
            if is_present && !allowed.contains(&field) {
                return Err(self.err(
                    span,
                    format!(
                        "field `{field}` is not allowed for action {action:?} (allowed: {})",
                        allowed.join(", ")
                    ),
                ));
            }
        }
        let node_label = |n: &Option<Spanned<String>>,
                          field: &str|
         -> Result<String, ScenarioError> {
            match n {
                Some(n) => self.known(n, "step"),
                None => Err(self.err(span.clone(), format!("action {action:?} needs `{field}`"))),
            }
        };
        let new_id = |ids: &mut BTreeMap<String, &'static str>,
                      kind: &'static str,
                      default: String|
         -> Result<String, ScenarioError> {
            let id = step
                .id
                .as_ref()
                .map(|i| i.get_ref().clone())
                .unwrap_or(default);
            if ids.insert(id.clone(), kind).is_some() {
                let at = step.id.as_ref().map(|i| i.span()).unwrap_or(span.clone());
                return Err(self.err(at, format!("two steps have id {id:?}")));
            }
            Ok(id)
        };
        Ok(match action {
            "start" => Action::Start(node_label(&step.node, "node")?),
            "wipe" => Action::Wipe(node_label(&step.node, "node")?),
            "kill" => Action::Kill(self.target(step, &span)?),
            "restart" => Action::Restart(self.target(step, &span)?),
            "init" => {
                let via = node_label(&step.via, "via")?;
                let Some(cluster) = step.cluster.clone() else {
                    return Err(
                        self.err(span, "action \"init\" needs `cluster` (the cluster name)")
                    );
                };
                let id = new_id(
                    ids,
                    "init",
                    format!("init@{}", self.ctx.position(span.start).0),
                )?;
                Action::Init {
                    id,
                    via,
                    params: InitParams {
                        cluster_name: cluster,
                        cmg_nodes: step.cmg.clone().unwrap_or_default(),
                        ms_nodes: step.ms.clone().unwrap_or_default(),
                    },
                    expect: self.answer(&step.expect, &InitError::KINDS, ids)?,
                }
            }
            "reconfigure_ms" => {
                let via = node_label(&step.via, "via")?;
                let id = new_id(
                    ids,
                    "admin",
                    format!("admin@{}", self.ctx.position(span.start).0),
                )?;
                Action::ReconfigureMs {
                    id,
                    via,
                    nodes: step.nodes.clone().unwrap_or_default(),
                    expect: self.answer(&step.expect, &AdminError::KINDS, ids)?,
                }
            }
            "partition" => {
                let Some(groups) = &step.groups else {
                    return Err(self.err(span, "action \"partition\" needs `groups`"));
                };
                if groups.len() < 2 {
                    return Err(self.err(span, "a partition needs at least two groups"));
                }
                let mut seen = BTreeSet::new();
                let mut out = Vec::new();
                for group in groups {
                    let mut g = Vec::new();
                    for n in group {
                        let label = self.known(n, "partition")?;
                        if !seen.insert(label.clone()) {
                            return Err(self.err(n.span(), format!("{label:?} is in two groups")));
                        }
                        g.push(label);
                    }
                    out.push(g);
                }
                Action::Partition(out)
            }
            "partition_oneway" => Action::PartitionOneway {
                from: node_label(&step.from, "from")?,
                to: node_label(&step.to, "to")?,
            },
            "heal" => Action::Heal,
            "wait" => Action::Wait,
            "network" => Action::Network {
                latency_ms: match &step.latency_ms {
                    Some(l) => self.latency(l)?,
                    None => (1, 10),
                },
                loss: match &step.loss {
                    Some(l) => self.loss(l)?,
                    None => 0.0,
                },
            },
            "hold" | "drop" => {
                let kind = match &step.kind {
                    None => None,
                    Some(k) => Some(MessageKind::from_name(k.get_ref()).ok_or_else(|| {
                        self.err(
                            k.span(),
                            format!(
                                "unknown message kind {:?}; kinds: {}",
                                k.get_ref(),
                                MessageKind::ALL.map(|k| k.name()).join(", ")
                            ),
                        )
                    })?),
                };
                let from = step
                    .from
                    .as_ref()
                    .map(|f| self.known(f, "filter"))
                    .transpose()?;
                let to = step
                    .to
                    .as_ref()
                    .map(|t| self.known(t, "filter"))
                    .transpose()?;
                let id = new_id(
                    ids,
                    "rule",
                    format!("rule@{}", self.ctx.position(span.start).0),
                )?;
                let filter = MessageFilter { kind, from, to };
                let for_ms = step
                    .for_ms
                    .as_ref()
                    .map(|f| self.bounded(f, "for_ms", &limits::STEP_TIME_MS))
                    .transpose()?;
                if action == "hold" {
                    Action::Hold { id, filter, for_ms }
                } else {
                    Action::Drop { id, filter, for_ms }
                }
            }
            "release" => {
                let Some(rule) = &step.rule else {
                    return Err(self.err(
                        span,
                        "action \"release\" needs `rule` (the id of a hold or drop step)",
                    ));
                };
                if ids.get(rule.get_ref()) != Some(&"rule") {
                    return Err(self.err(
                        rule.span(),
                        format!("no earlier hold or drop step has id {:?}", rule.get_ref()),
                    ));
                }
                Action::Release(rule.get_ref().clone())
            }
            _ => unreachable!("actions were matched above"),
        })
    }

    fn answer(
        &self,
        raw: &Option<Spanned<String>>,
        kinds: &[&str],
        ids: &BTreeMap<String, &'static str>,
    ) -> Result<AnswerExpectation, ScenarioError> {
        let Some(raw) = raw else {
            return Ok(AnswerExpectation::Any);
        };
        let text = raw.get_ref().as_str();
        Ok(match text {
            "any" => AnswerExpectation::Any,
            "ok" => AnswerExpectation::Ok,
            "error" => AnswerExpectation::AnyError,
            "no_answer" => AnswerExpectation::NoAnswer,
            _ => {
                if let Some(other) = text.strip_prefix("same_tag:") {
                    if ids.get(other) != Some(&"init") {
                        return Err(
                            self.err(raw.span(), format!("no earlier init step has id {other:?}"))
                        );
                    }
                    AnswerExpectation::SameTagAs(other.to_string())
                } else if kinds.contains(&text) {
                    AnswerExpectation::Error(text.to_string())
                } else {
                    return Err(self.err(
                        raw.span(),
                        format!(
                            "unknown expected answer {text:?}; expected any, ok, error, no_answer, same_tag:<init id>, or one of: {}",
                            kinds.join(", ")
                        ),
                    ));
                }
            }
        })
    }

    fn expect(
        &self,
        raw: &Spanned<RawExpect>,
        steps: &[Step],
    ) -> Result<Expectations, ScenarioError> {
        let e = raw.get_ref();
        let lt = match &e.lt {
            None => None,
            Some(list) => Some(
                list.iter()
                    .map(|n| self.known(n, "the expected LT"))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        let mut nodes = BTreeMap::new();
        for (label, outcome) in e.nodes.iter().flatten() {
            if !self.labels.contains(label) {
                return Err(self.err(
                    outcome.span(),
                    format!("expectation names unknown node {label:?}"),
                ));
            }
            nodes.insert(label.clone(), self.outcome(outcome)?);
        }
        let mut hazards = Vec::new();
        for h in e.hazards.iter().flatten() {
            if !HAZARD_KINDS.contains(&h.get_ref().as_str()) {
                return Err(self.err(
                    h.span(),
                    format!(
                        "unknown hazard {:?}; hazards: {}",
                        h.get_ref(),
                        HAZARD_KINDS.join(", ")
                    ),
                ));
            }
            hazards.push(h.get_ref().clone());
        }
        let deadline_ms = match &e.deadline_ms {
            Some(d) => self.bounded(d, "deadline_ms", &limits::DEADLINE_MS)?,
            None => 120_000,
        };
        if let Some(last) = steps
            .iter()
            .filter_map(|s| match s.trigger {
                Trigger::At(t) => Some(t),
                _ => None,
            })
            .max()
        {
            if last >= deadline_ms {
                return Err(self.err(
                    raw.span(),
                    format!("deadline_ms {deadline_ms} is not after the last step at {last} ms"),
                ));
            }
        }
        Ok(Expectations {
            deadline_ms,
            lt,
            nodes,
            hazards,
            allow_hazards: e.allow_hazards.unwrap_or(false),
        })
    }

    fn outcome(&self, raw: &Spanned<String>) -> Result<NodeOutcome, ScenarioError> {
        let text = raw.get_ref().as_str();
        let bad = || {
            self.err(
                raw.span(),
                format!(
                    "unknown outcome {text:?}; expected joined, waiting, down, any, rejected, rejected:<reason> or rejected:<pre_init|join>:<reason>, with reasons {}",
                    RejectionReason::KINDS.join(", ")
                ),
            )
        };
        Ok(match text {
            "joined" => NodeOutcome::Joined,
            "waiting" => NodeOutcome::Waiting,
            "down" => NodeOutcome::Down,
            "any" => NodeOutcome::Any,
            "rejected" => NodeOutcome::Rejected {
                stage: None,
                reason: None,
            },
            _ => {
                let rest = text.strip_prefix("rejected:").ok_or_else(bad)?;
                let (stage, reason) = match rest.split_once(':') {
                    Some(("pre_init", r)) => (Some(RejectionStage::PreInit), r),
                    Some(("join", r)) => (Some(RejectionStage::Join), r),
                    Some(_) => return Err(bad()),
                    None => match rest {
                        "pre_init" => (Some(RejectionStage::PreInit), ""),
                        "join" => (Some(RejectionStage::Join), ""),
                        r => (None, r),
                    },
                };
                if !reason.is_empty() && !RejectionReason::KINDS.contains(&reason) {
                    return Err(bad());
                }
                NodeOutcome::Rejected {
                    stage,
                    reason: (!reason.is_empty()).then(|| reason.to_string()),
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str =
        "name = \"t\"\ndescription = \"d\"\n[[node]]\nname = \"a\"\n[[node]]\nname = \"b\"\n";

    fn error_of(text: &str) -> ScenarioError {
        parse_scenario("t.toml", text).expect_err("the text is invalid")
    }

    fn at(text: &str, line: usize, column: usize, contains: &str) {
        let e = error_of(text);
        assert_eq!((e.line, e.column), (line, column), "{e}");
        assert!(e.message.contains(contains), "{e}");
        assert!(
            e.to_string()
                .starts_with(&format!("t.toml:{line}:{column}: ")),
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
    fn unknown_fields_are_errors_with_their_position() {
        at(
            &format!("{HEAD}colour = 1\n[expect]\n"),
            7,
            1,
            "unknown field `colour`",
        );
        at(
            &format!("{HEAD}[[step]]\nat_ms = 1\naction = \"heal\"\nnode_name = \"a\"\n[expect]\n"),
            10,
            1,
            "unknown field `node_name`",
        );
        at(
            &format!("{HEAD}[expect]\nlt = []\nfoo = 2\n"),
            9,
            1,
            "unknown field `foo`",
        );
    }

    #[test]
    fn unknown_node_names_are_errors() {
        at(
            &format!("{HEAD}[[step]]\nat_ms = 1\naction = \"kill\"\nnode = \"zz\"\n[expect]\n"),
            10,
            8,
            "unknown node \"zz\"",
        );
        let seeds = "name = \"t\"\ndescription = \"d\"\n[[node]]\nname = \"a\"\nseeds = [\"q\"]\n[expect]\n";
        at(seeds, 5, 10, "unknown node \"q\"");
        at(
            &format!("{HEAD}[[step]]\nafter = {{ event = \"joined\", node = \"c\" }}\naction = \"heal\"\n[expect]\n"),
            8,
            36,
            "unknown node \"c\"",
        );
    }

    #[test]
    fn times_out_of_order_are_errors() {
        let text = format!(
            "{HEAD}[[step]]\nat_ms = 500\naction = \"heal\"\n[[step]]\nat_ms = 400\naction = \"heal\"\n[expect]\n"
        );
        at(&text, 11, 9, "times out of order");
    }

    #[test]
    fn expectations_that_name_no_node_are_errors() {
        at(
            &format!("{HEAD}[expect]\nnodes = {{ c = \"joined\" }}\n"),
            8,
            15,
            "unknown node \"c\"",
        );
        at(
            &format!("{HEAD}[expect]\nlt = [\"a\", \"x\"]\n"),
            8,
            12,
            "unknown node \"x\"",
        );
        at(
            &format!("{HEAD}[expect]\nnodes = {{ a = \"happy\" }}\n"),
            8,
            15,
            "unknown outcome",
        );
        at(
            &format!("{HEAD}[expect]\nhazards = [\"fire\"]\n"),
            8,
            12,
            "unknown hazard",
        );
    }

    #[test]
    fn actions_fields_and_references_are_checked() {
        let step = |body: &str| format!("{HEAD}[[step]]\n{body}\n[expect]\n");
        assert!(error_of(&step("action = \"explode\""))
            .message
            .contains("unknown action"));
        assert!(
            error_of(&step("action = \"kill\"\nvia = \"a\"\nnode = \"a\""))
                .message
                .contains("`via` is not allowed")
        );
        assert!(error_of(&step("action = \"release\"\nrule = \"h\""))
            .message
            .contains("no earlier hold"));
        assert!(error_of(&step("action = \"hold\"\nkind = \"gossip\""))
            .message
            .contains("unknown message kind"));
        assert!(error_of(&step(
            "action = \"init\"\nvia = \"a\"\ncluster = \"c\"\nexpect = \"great\""
        ))
        .message
        .contains("unknown expected answer"));
        assert!(error_of(&step(
            "after = { event = \"exploded\", node = \"a\" }\naction = \"heal\""
        ))
        .message
        .contains("unknown event"));
        assert!(error_of(&step(
            "after = { event = \"init_answered\", id = \"i\" }\naction = \"heal\""
        ))
        .message
        .contains("no earlier init step"));
        assert!(
            error_of(&format!("{HEAD}[liveness]\nenabled = false\n[expect]\n"))
                .message
                .contains("reason")
        );
        assert!(
            error_of(&format!("{HEAD}[network]\nlatency_ms = [9, 1]\n[expect]\n"))
                .message
                .contains("reversed")
        );
        assert!(error_of("name = \"t\"\ndescription = \"d\"\n[expect]\n")
            .message
            .contains("missing field `node`"));
        assert!(error_of("name = [\n").line >= 1);
    }
}
