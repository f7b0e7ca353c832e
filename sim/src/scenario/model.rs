//! The scenario as the runner uses it: what [`validate`](super::validate) makes of a file that
//! passed every check.
//!
//! The enums that a scenario file spells by name carry their names here, derived once with
//! `strum` (snake_case of the variant): [`ActionName`] for `action = "..."`, [`ConditionEvent`]
//! for `after = { event = "..." }`, [`OutcomeName`] for the outcomes of `[expect] nodes`,
//! [`AnswerWord`] for the fixed words of a step's `expect`. Parsing,
//! the lists in error messages and `docs/scenarios.md` (checked by a test here) all come from them.

use std::collections::BTreeMap;
use std::fmt;

use joinsim::{GroupKind, InitParams, PlantedBug, RejectionStage};
use strum::{EnumDiscriminants, EnumString, IntoStaticStr, VariantNames};

use crate::checkers::HazardKind;
use crate::sim::NetSettings;
use crate::world::NodeSpec;

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

/// An observable event a step can wait for: `after = { event = "<name>", ... }`.
#[derive(Clone, Debug, PartialEq, Eq, EnumDiscriminants)]
#[strum_discriminants(
    name(ConditionEvent),
    doc = "The name of a [`Condition`] as `after = { event = \"...\" }` spells it: the snake_case of the variant.",
    derive(EnumString, IntoStaticStr, VariantNames),
    strum(serialize_all = "snake_case")
)]
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
    /// The node left the LT: it was in a CMG replica's LT once, and a CMG leader's LT does not
    /// hold it now.
    LeftLt(String),
    /// A CMG leader was elected (this node, if given).
    CmgLeaderElected(Option<String>),
    /// A CMG replica committed a cluster state.
    ClusterInitialized,
    /// The user got the answer of this init step.
    InitAnswered(String),
    /// The user got the answer of this admin step.
    AdminAnswered(String),
    /// The node started a replica of this group (created, or restarted from its vault).
    GroupStarted {
        /// The node (label).
        node: String,
        /// `cmg` or `ms`.
        group: GroupKind,
    },
    /// A cancel of an init (`cancel_init`) reached the node.
    CancelReceived(String),
    /// A CMG replica took the node's validation away before its join ready
    /// (`Event::ValidationRevoked`).
    ValidationRevoked(String),
    /// The CMG refused the node's join ready; it starts its join again.
    JoinReadyRefused(String),
    /// The CMG answered the node's join request `StaleAttempt` (its validation of that attempt
    /// was revoked); it starts a new attempt (`Event::JoinAttemptStale`).
    JoinAttemptStale(String),
    /// A Meta Storage replica (this node's, if given) applied configuration version `version`
    /// or a later one.
    MsVersionApplied {
        /// The version (1..=1000000).
        version: u64,
        /// Only this node's replica.
        node: Option<String>,
    },
    /// A CMG replica's LT (this node's, if given) reached version `version` or a later one.
    LtVersionReached {
        /// The version (0..=1000000).
        version: u64,
        /// Only this node's replica.
        node: Option<String>,
    },
    /// The node received the cluster state from a CMG leader (whether or not it followed it).
    ClusterStateReceived(String),
    /// The CMG leader's failure detection declared the node dead: a node whose CMG replica led
    /// removed it from its physical topology as dead (`MemberRemoved`, cause `Dead`).
    NodeDeclaredDead(String),
}

/// A role a step names instead of a node label, as the file spells it (the snake_case of the
/// variant; [`RoleName::ValidatorOf`] goes on with `:<label>`). In the order errors and the docs
/// list them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumString, IntoStaticStr, VariantNames)]
#[strum(serialize_all = "snake_case")]
pub enum RoleName {
    /// [`Target::CmgLeader`].
    CmgLeader,
    /// [`Target::MsLeader`].
    MsLeader,
    /// [`Target::ValidatorOf`], spelled `validator_of:<label>`.
    ValidatorOf,
}

/// A node a step acts on: a label, or a role that names a node when the step runs (docs/scenarios.md,
/// "Roles"). A role that names nobody then makes the step do nothing (a `step_skipped` note in
/// the trace).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    /// This node.
    Node(String),
    /// Whichever node's CMG replica leads when the step runs (of several, the highest term; then
    /// the first label).
    CmgLeader,
    /// Whichever node's Meta Storage replica leads when the step runs (likewise).
    MsLeader,
    /// The node whose CMG replica emitted the most recent `Validated` event for this node
    /// (label) before the step runs.
    ValidatorOf(String),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let role = match self {
            Target::Node(label) => return f.write_str(label),
            Target::CmgLeader => RoleName::CmgLeader,
            Target::MsLeader => RoleName::MsLeader,
            Target::ValidatorOf(_) => RoleName::ValidatorOf,
        };
        f.write_str(role.into())?;
        if let Target::ValidatorOf(label) = self {
            write!(f, ":{label}")?;
        }
        Ok(())
    }
}

/// The filter of a `hold` or `drop` step, its `from` and `to` still targets: they name nodes
/// when the step runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetFilter {
    /// The message kind, if only one.
    pub kind: Option<joinsim::MessageKind>,
    /// The sender, if only one.
    pub from: Option<Target>,
    /// The receiver, if only one.
    pub to: Option<Target>,
}

/// The words a step's `expect` may be besides `<`[`AnswerPrefix`]`>:<init id>` and an error kind, as the file
/// spells them (the snake_case of the variant, `error` for [`AnswerWord::AnyError`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumString, IntoStaticStr, VariantNames)]
#[strum(serialize_all = "snake_case")]
pub enum AnswerWord {
    /// [`AnswerExpectation::Any`].
    Any,
    /// [`AnswerExpectation::Ok`].
    Ok,
    /// [`AnswerExpectation::AnyError`].
    #[strum(serialize = "error")]
    AnyError,
    /// [`AnswerExpectation::NoAnswer`].
    NoAnswer,
}

/// The prefixes of a step's `expect` that name an earlier init (`<prefix>:<init id>`), as the
/// file spells them (the snake_case of the variant).
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumString, IntoStaticStr, VariantNames)]
#[strum(serialize_all = "snake_case")]
pub enum AnswerPrefix {
    /// [`AnswerExpectation::SameTagAs`]: `same_tag:<init id>`.
    SameTag,
    /// [`AnswerExpectation::OtherTagThan`]: `other_tag:<init id>`.
    OtherTag,
}

/// What the user expects as an answer: a step's `expect` (an [`AnswerWord`],
/// `same_tag:<init id>`, `other_tag:<init id>`, or an error kind of the step's command).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnswerExpectation {
    /// Any answer, or none.
    Any,
    /// Success.
    Ok,
    /// Success with the same tag as another init step.
    SameTagAs(String),
    /// Success with a tag other than the one another init step succeeded with (that step must
    /// have succeeded too).
    OtherTagThan(String),
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

/// What a step does: `action = "<name>"` and the fields that action takes.
///
/// Adding an action (`docs/scenarios.md`, "Adding an action"): a variant here (its name, the
/// snake_case of the variant, comes with it: [`ActionName`]), its arm in
/// `validate/step.rs` (`Builder::action`: the fields it takes and what it makes of them) and its
/// arm in `runner.rs` (`perform`). The compiler points at every `match` that must handle it.
#[derive(Clone, Debug, EnumDiscriminants)]
#[strum_discriminants(
    name(ActionName),
    doc = "The name of an [`Action`] as `action = \"...\"` spells it: the snake_case of the variant.",
    derive(EnumString, IntoStaticStr, VariantNames),
    strum(serialize_all = "snake_case")
)]
pub enum Action {
    /// Start a stopped node.
    Start(Target),
    /// Kill a node.
    Kill(Target),
    /// Kill (if running) and start a node.
    Restart(Target),
    /// Wipe a node's vault (killing it first).
    Wipe(Target),
    /// The user sends init (does not wait for the answer).
    Init {
        /// Step id.
        id: String,
        /// The node that receives it.
        via: Target,
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
        via: Target,
        /// The new voters.
        nodes: Vec<String>,
        /// Expected answer.
        expect: AnswerExpectation,
    },
    /// Cut links between groups.
    Partition(Vec<Vec<Target>>),
    /// Cut one direction.
    PartitionOneway {
        /// Sender.
        from: Target,
        /// Receiver.
        to: Target,
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
    /// Give one direction `from -> to` its own latency range and loss (links may be asymmetric),
    /// until `links_default` or the liveness phase (docs/network.md, "Links").
    Link {
        /// Sender.
        from: Target,
        /// Receiver.
        to: Target,
        /// Latency range, milliseconds, inclusive (each at most
        /// [`crate::network::MAX_LATENCY_MS`]).
        latency_ms: (u64, u64),
        /// Loss rate, 0..=1.
        loss: f64,
    },
    /// Every link takes the default settings again (`World::clear_links`).
    LinksDefault,
    /// Hold matching messages.
    Hold {
        /// Rule id.
        id: String,
        /// Which messages.
        filter: TargetFilter,
        /// For how long (until released if absent).
        for_ms: Option<u64>,
    },
    /// Drop matching messages.
    Drop {
        /// Rule id.
        id: String,
        /// Which messages.
        filter: TargetFilter,
        /// For how long (until released if absent).
        for_ms: Option<u64>,
    },
    /// Send matching messages twice (each copy with its own latency and loss), each with
    /// chance `chance_ppm`.
    Duplicate {
        /// Rule id.
        id: String,
        /// Which messages.
        filter: TargetFilter,
        /// For how long (until released if absent).
        for_ms: Option<u64>,
        /// The chance a matching message is duplicated, parts per million (1..=1,000,000).
        chance_ppm: u32,
    },
    /// Add extra latency, drawn in `delay_ms`, to matching messages, each with chance
    /// `chance_ppm` (later messages overtake them: reordering beyond latency).
    Delay {
        /// Rule id.
        id: String,
        /// Which messages.
        filter: TargetFilter,
        /// For how long (until released if absent).
        for_ms: Option<u64>,
        /// The chance a matching message is delayed, parts per million (0..=1,000,000).
        chance_ppm: u32,
        /// The extra latency's range, milliseconds, inclusive (each at most
        /// [`crate::network::MAX_DELAY_MS`]).
        delay_ms: (u64, u64),
    },
    /// End a hold, drop, duplicate or delay rule.
    Release(String),
    /// Put a node's machine clock ahead and give it a drift (docs/network.md, "Clocks"); the
    /// clock keeps it across restarts and the liveness phase.
    Clock {
        /// The node.
        node: Target,
        /// How far ahead, milliseconds (at most [`crate::clock::MAX_SKEW_MS`]).
        skew_ms: u64,
        /// Drift, parts per million (within ±[`crate::clock::MAX_DRIFT_PPM`]; positive: fast).
        drift_ppm: i64,
    },
    /// Pause a running node (it keeps its state; messages wait in its inbox).
    Pause {
        /// The node.
        node: Target,
        /// For how long, milliseconds (at most [`crate::world::MAX_PAUSE_MS`]).
        for_ms: u64,
    },
    /// Strike a running node's vault with a storage fault.
    StorageFault {
        /// The node.
        node: Target,
        /// Which fault.
        fault: crate::storage::StorageFault,
    },
    /// Stop a running node gracefully: it hands over what it leads and tells its members.
    Leave(Target),
    /// Restart a node at a new address with its vault (`World::move_node`).
    Move(Target),
    /// Nothing: a step that only waits for its trigger.
    Wait,
}

/// A node's expected outcome: `[expect] nodes = { <label> = "<outcome>" }`.
#[derive(Clone, Debug, PartialEq, Eq, EnumDiscriminants)]
#[strum_discriminants(
    name(OutcomeName),
    doc = "The name of a [`NodeOutcome`] as `[expect] nodes` spells it: the snake_case of the variant (`rejected` may go on with `:<stage>` and `:<reason>`). In the order errors and the docs list them.",
    derive(EnumString, IntoStaticStr, VariantNames),
    strum(serialize_all = "snake_case")
)]
pub enum NodeOutcome {
    /// In the LT.
    Joined,
    /// Running, neither joined nor rejected.
    Waiting,
    /// Not running.
    Down,
    /// Anything.
    Any,
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
        f.write_str(OutcomeName::from(self).into())?;
        if let NodeOutcome::Rejected { stage, reason } = self {
            if let Some(stage) = stage {
                write!(f, ":{}", stage.kind())?;
            }
            if let Some(reason) = reason {
                write!(f, ":{reason}")?;
            }
        }
        Ok(())
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
    pub hazards: Vec<HazardKind>,
    /// Hazards beyond `hazards` do not fail the run (fuzzing campaigns).
    pub allow_hazards: bool,
    /// The final LT's version (`lt_version`): some CMG leader's LT has it (the same leader as
    /// `lt`'s, when both are given).
    pub lt_version: Option<u64>,
    /// `cmg_lts_agree = true`: every running CMG replica of a cluster holds the same LT (version
    /// and members with their launches) as every other replica of that cluster.
    pub cmg_lts_agree: bool,
    /// `lts`: the LT of each cluster that has a CMG leader at the end, one list per cluster (in
    /// any order): as many clusters as lists, each held by that cluster's leader of the highest
    /// term.
    pub lts: Option<Vec<Vec<String>>>,
    /// `ms_voters`: some Meta Storage leader's configuration has exactly these voters (labels).
    pub ms_voters: Option<Vec<String>>,
    /// `ms_learners`: ... exactly these learners (labels; the same leader as `ms_voters`').
    pub ms_learners: Option<Vec<String>>,
    /// `ms_version`: ... this configuration version (the same leader again).
    pub ms_version: Option<u64>,
    /// `[[expect.order]]`: events that must happen in this order.
    pub order: Vec<Order>,
}

/// `[[expect.order]] first = { event = ... } then = { event = ... }`: both happen during the run
/// (counted from its start), and the first occurrence of `then` comes after the first
/// occurrence of `first` in the trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Order {
    /// Line of the table in the file.
    pub line: usize,
    /// What must happen first.
    pub first: Condition,
    /// What must happen only after it.
    pub then: Condition,
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

#[cfg(test)]
mod tests {
    use super::*;

    const DOCS: &str = include_str!("../../../docs/scenarios.md");

    /// The names in the first column of the docs' table whose header row is `header`: each row's
    /// first `code` span, in order.
    fn first_column(header: &str) -> Vec<&'static str> {
        let mut lines = DOCS.lines().skip_while(|l| *l != header);
        assert!(
            lines.next().is_some(),
            "docs/scenarios.md has no table headed {header:?}"
        );
        lines
            .skip(1)
            .take_while(|l| l.starts_with('|'))
            .map(|row| {
                row.split('`')
                    .nth(1)
                    .unwrap_or_else(|| panic!("a row without a name: {row}"))
            })
            .collect()
    }

    #[test]
    fn the_docs_list_exactly_the_hazard_kinds() {
        let row = DOCS
            .lines()
            .find(|l| l.starts_with("| `hazards` |"))
            .expect("docs/scenarios.md has a `hazards` row");
        let meaning = row.split('|').nth(2).expect("the row's meaning");
        let names: Vec<&str> = meaning.split('`').skip(1).step_by(2).collect();
        assert_eq!(names, HazardKind::VARIANTS);
    }

    #[test]
    fn the_docs_list_exactly_the_actions() {
        assert_eq!(
            first_column("| action | fields | meaning |"),
            ActionName::VARIANTS
        );
    }

    #[test]
    fn the_docs_list_exactly_the_events() {
        assert_eq!(
            first_column("| event | needs | meaning |"),
            ConditionEvent::VARIANTS
        );
    }

    #[test]
    fn the_docs_list_exactly_the_outcomes() {
        assert_eq!(
            first_column("| outcome | the node at the end |"),
            OutcomeName::VARIANTS
        );
    }

    #[test]
    fn the_docs_list_exactly_the_answer_words() {
        let mut words: Vec<String> = AnswerWord::VARIANTS.iter().map(|w| w.to_string()).collect();
        words.extend(
            AnswerPrefix::VARIANTS
                .iter()
                .map(|p| format!("{p}:<init id>")),
        );
        assert_eq!(first_column("| expect | the user expects |"), words);
    }

    #[test]
    fn the_docs_list_exactly_the_roles() {
        let roles: Vec<String> = RoleName::VARIANTS
            .iter()
            .map(|r| match r.parse::<RoleName>() {
                Ok(RoleName::ValidatorOf) => format!("{r}:<label>"),
                _ => r.to_string(),
            })
            .collect();
        assert_eq!(first_column("| role | names, when the step runs |"), roles);
    }

    #[test]
    fn the_docs_list_exactly_the_expect_fields() {
        assert_eq!(
            first_column("| field | meaning |"),
            <crate::scenario::raw::ExpectField as VariantNames>::VARIANTS
        );
    }

    #[test]
    fn names_are_the_snake_case_of_the_variants() {
        let name: &str = ActionName::PartitionOneway.into();
        assert_eq!(name, "partition_oneway");
        assert_eq!(
            "reconfigure_ms".parse::<ActionName>(),
            Ok(ActionName::ReconfigureMs)
        );
        assert!("Heal".parse::<ActionName>().is_err());
        assert_eq!(
            "cmg_leader_elected".parse::<ConditionEvent>(),
            Ok(ConditionEvent::CmgLeaderElected)
        );
        let rejected = NodeOutcome::Rejected {
            stage: Some(RejectionStage::Join),
            reason: Some("tag_mismatch".into()),
        };
        assert_eq!(rejected.to_string(), "rejected:join:tag_mismatch");
        assert_eq!(NodeOutcome::Waiting.to_string(), "waiting");
    }
}
