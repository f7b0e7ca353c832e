//! A random scenario, drawn from a seed with proptest strategies, swarm style: each run first
//! draws its own *weather* — which fault kinds are on, how many — then its nodes and timeline.
//! A case is turned into scenario-file text, so the run the fuzzer checks and the file it writes
//! for a failure are the very same scenario.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use joinsim::MessageKind;
use proptest::prelude::*;
use proptest::strategy::{BoxedStrategy, Strategy};

use super::guide::WeatherBias;

/// Which fault kinds a run has, and how much.
#[derive(Clone, Debug, PartialEq)]
pub struct Weather {
    /// Two-sided partitions.
    pub partitions: bool,
    /// One-way partitions.
    pub oneway: bool,
    /// Kills with a later restart.
    pub crashes: bool,
    /// Restarts of whichever node leads the CMG.
    pub leader_bounces: bool,
    /// Wipes of joining nodes (never of group members).
    pub wipes: bool,
    /// Message holds by kind.
    pub holds: bool,
    /// Message drops by kind.
    pub drops: bool,
    /// Latency and loss changes.
    pub network: bool,
    /// Meta Storage reconfigurations.
    pub reconfigurations: bool,
    /// A second init at the same time (same, overlapping or disjoint lists).
    pub concurrent_inits: bool,
    /// Nodes that start during the run.
    pub late_joiners: bool,
    /// The cluster exists before the run (restored vaults) instead of being initialized.
    pub restored: bool,
    /// An initialized node of another cluster.
    pub intruder: bool,
    /// Initialized nodes of this (restored) cluster, behind and ahead of its MS version.
    pub version_skew: bool,
    /// A node with an incompatible product or protocol version.
    pub incompatible: bool,
    /// A second node named like a core node (another address, empty vault), started during the
    /// run: while the original lives it must be refused (`duplicate_name`); after the original
    /// died (with crashes on) it takes the name.
    pub duplicates: bool,
    /// A CMG member whose `start_groups_ack`s are dropped (so that init times out and cancels),
    /// which is down while the cancel goes out and comes back much later.
    pub cancel_victims: bool,
    /// Kills followed, just before the leader's failure detector fires, by a restart of the
    /// CMG leader.
    pub detector_races: bool,
    /// A second initiator of the same init that hears no other core node for a while (every
    /// link into it cut one way): its own CMG replica sees no leader while the others answer,
    /// and its init times out and cancels (fuzz seed 12035143, "the fence").
    pub deaf_initiators: bool,
    /// A late joiner killed for good once it has had time to join, then the CMG leader restarted
    /// just before its failure detector would declare the joiner dead (LT hygiene).
    pub departures: bool,
    /// The first core node (every node's seed) and the intruder cut off from the other nodes
    /// right after they were admitted, while the far side initializes a cluster of its own and
    /// its CMG leader is restarted shortly before the heal: the restarted nodes meet their seed
    /// empty and holding the intruder's tag (a refusal must not halt a live cluster, fuzz seed
    /// 4005285).
    pub seed_splits: bool,
    /// The incompatible node forms a topology of its own (no seeds, started late) and a node
    /// outside the groups lists it as a second seed, so that rejoin probes meet it outside any
    /// handshake (pre-init on every path).
    pub islands: bool,
    /// A Meta Storage reconfiguration followed by the first init again, via any core node: a
    /// repeat of the command the cluster was created with returns the first tag (docs/spec.md
    /// §5).
    pub init_repeats: bool,
    /// Like `cancel_victims`, but the init is sent again naming the survivors before the victim
    /// comes back to them (Ignite's testInitCancel, with the member away during the cancel).
    pub cancel_returns: bool,
    /// Message duplication (`duplicate` rules), per kind and per link, with chances.
    pub duplication: bool,
    /// Message delays beyond latency (`delay` rules: reordering), per kind and per link, with
    /// chances.
    pub delays: bool,
    /// Per-link latency and loss, asymmetric (`link`, then `links_default`).
    pub links: bool,
    /// Clock skew and drift of a node (`clock`).
    pub clocks: bool,
    /// Pauses of a running node (`pause`).
    pub pauses: bool,
    /// Storage faults (`storage_fault`: crash after write, torn write, power loss), each
    /// followed by a restart.
    pub storage_faults: bool,
    /// Graceful leaves (`leave`), each followed by a start.
    pub leaves: bool,
    /// Address changes (`move`).
    pub moves: bool,
}

/// One fault of the timeline. Times are in simulated milliseconds; node indexes are positions
/// in the case's node list (taken modulo its length).
#[derive(Clone, Debug, PartialEq)]
#[allow(missing_docs)]
pub enum Fault {
    /// Split the nodes in two for a while.
    Partition {
        at_ms: u64,
        for_ms: u64,
        side: Vec<bool>,
    },
    /// Cut one direction for a while.
    Oneway {
        at_ms: u64,
        for_ms: u64,
        from: usize,
        to: usize,
    },
    /// Kill a node, start it again later.
    Crash {
        at_ms: u64,
        down_ms: u64,
        node: usize,
    },
    /// Restart whichever node leads the CMG.
    BounceLeader { at_ms: u64 },
    /// Wipe a joining node, start it again later.
    Wipe {
        at_ms: u64,
        down_ms: u64,
        joiner: usize,
    },
    /// Hold messages of a kind (from a node, or from anyone) for a while.
    Hold {
        at_ms: u64,
        for_ms: u64,
        kind: usize,
        from: Option<usize>,
    },
    /// Duplicate messages (of a kind, on a link, or any) with a chance, for a while.
    Duplicate {
        at_ms: u64,
        for_ms: u64,
        kind: Option<usize>,
        from: Option<usize>,
        to: Option<usize>,
        chance_permille: u64,
    },
    /// Delay messages (of a kind, on a link, or any) by `min_ms..=min_ms + span_ms` more, with a
    /// chance, for a while.
    Delay {
        at_ms: u64,
        for_ms: u64,
        kind: Option<usize>,
        from: Option<usize>,
        to: Option<usize>,
        chance_permille: u64,
        min_ms: u64,
        span_ms: u64,
    },
    /// Give the link `from -> to` its own latency (`min_ms..=min_ms + span_ms`) and loss, and
    /// the way back, if `back` (min, span), another latency: asymmetric; `links_default` after
    /// `for_ms`.
    Link {
        at_ms: u64,
        for_ms: u64,
        from: usize,
        to: usize,
        min_ms: u64,
        span_ms: u64,
        loss_permille: u64,
        back: Option<(u64, u64)>,
    },
    /// Skew a node's clock ahead and make it drift (it keeps both to the end).
    Clock {
        at_ms: u64,
        node: usize,
        skew_ms: u64,
        drift_ppm: i64,
    },
    /// Pause a node for a while.
    Pause {
        at_ms: u64,
        node: usize,
        for_ms: u64,
    },
    /// Strike a node's vault with storage fault `fault` (an index into
    /// [`crate::storage::StorageFault`]'s names), restart it `down_ms` later.
    StorageFault {
        at_ms: u64,
        node: usize,
        fault: usize,
        down_ms: u64,
    },
    /// A node leaves gracefully, and starts again `down_ms` later.
    Leave {
        at_ms: u64,
        node: usize,
        down_ms: u64,
    },
    /// A node moves to a new address with its vault.
    Move { at_ms: u64, node: usize },
    /// Drop messages of a kind for a while.
    Drop {
        at_ms: u64,
        for_ms: u64,
        kind: usize,
    },
    /// Change latency and loss.
    Network {
        at_ms: u64,
        latency_max_ms: u64,
        loss_permille: u64,
    },
    /// Reconfigure the Meta Storage through a core node to a subset of the core nodes.
    Reconfigure {
        at_ms: u64,
        via: usize,
        nodes: Vec<bool>,
    },
    /// Another init: 0 the same, 1 overlapping, 2 disjoint lists.
    ExtraInit { at_ms: u64, via: usize, variant: u8 },
    /// From just before the init until `for_ms` after it, no core node but the main initiator
    /// reaches core node `via` (it still reaches them), and the same init is also sent via `via`.
    DeafInitiator { via: usize, for_ms: u64 },
    /// Kill a node, then restart whichever node leads the CMG `delay_ms` later — just before the
    /// leader's failure detector would declare the node dead — and start the node again later.
    KillThenBounceLeader {
        at_ms: u64,
        delay_ms: u64,
        node: usize,
        down_ms: u64,
    },
    /// Drop a core node's `start_groups_ack`s from the start (the first init times out and is
    /// cancelled), kill it at `at_ms`, start it again `down_ms` later.
    AbsentDuringCancel {
        at_ms: u64,
        node: usize,
        down_ms: u64,
    },
    /// Drop the `start_groups_ack`s of a node the first init names (the init times out and is
    /// cancelled) and kill it `at_ms` after the first init; `reinit_ms` after the first init,
    /// send the init again naming the CMG without that node; start the node again `down_ms`
    /// after that.
    CancelReturn {
        at_ms: u64,
        node: usize,
        down_ms: u64,
        reinit_ms: u64,
    },
    /// A `Reconfigure`, then `after_ms` later the first init again via core node `repeat_via`.
    ReconfigureThenRepeat {
        reconfigure: Box<Fault>,
        repeat_via: usize,
        after_ms: u64,
    },
    /// Kill a late joiner `after_ms` after its start, for good, and restart whichever node leads
    /// the CMG `delay_ms` later.
    Departure {
        joiner: usize,
        after_ms: u64,
        delay_ms: u64,
    },
    /// At `at_ms` cut the first core node, the intruder and the core nodes not marked `far` off
    /// from the rest for `for_ms`; init a cluster of the far core nodes via one of them
    /// (`via`); restart whichever node leads the CMG `bounce_ms` before the heal.
    SeedSplit {
        at_ms: u64,
        for_ms: u64,
        far: Vec<bool>,
        via: usize,
        bounce_ms: u64,
    },
}

/// Far beyond any run: a node killed for good is busy until then.
const FOREVER_MS: u64 = u64::MAX / 4;

/// How long a run goes on after a late start (weather `islands`, `cancel_returns`: an island,
/// a cancel's victim coming back), so that the run does not end, its liveness already met, before the
/// node that started has met anyone.
const AFTER_LATE_START_MS: u64 = 8_000;

/// A generated run.
#[derive(Clone, Debug, PartialEq)]
pub struct FuzzCase {
    /// The weather.
    pub weather: Weather,
    /// Empty core nodes (a fresh cluster), or joiners of a restored one.
    pub core: usize,
    /// Nodes that start late.
    pub joiners: usize,
    /// How many core nodes the CMG (and Meta Storage) has.
    pub group_size: usize,
    /// The restored cluster's Meta Storage version.
    pub ms_version: u64,
    /// When the first init is sent, and through which core node.
    pub init_at_ms: u64,
    /// Through which core node.
    pub init_via: usize,
    /// When the late joiners start.
    pub join_at_ms: Vec<u64>,
    /// Whether the incompatible node differs in protocol (else in product).
    pub incompatible_protocol: bool,
    /// The faults.
    pub faults: Vec<Fault>,
    /// With `duplicates`: which core node the duplicate is named after, and when it starts.
    pub duplicate: (usize, u64),
    /// With `islands`: when the incompatible node starts.
    pub island_at_ms: u64,
    /// Weather `reconfiguration_races` (drawn last: a seed's other draws are as before).
    pub race: Option<ReconfigurationRace>,
}

/// Weather `reconfiguration_races` (IGNITE-22818, Ignite's `testNoConfigurationReordering`): two
/// Meta Storage reconfigurations through two core nodes, `gap_ms` apart, while every
/// `ms_reconfigure` message is delayed by up to `delay_ms` more than its latency (a `delay` rule
/// of that kind), so that the CMG leader's requests for the first version, overtaken by those for
/// the second, reach the Meta Storage after the second was applied, and a request meets a
/// membership change still pending. Only in a run that initializes its cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct ReconfigurationRace {
    /// When the first reconfiguration is asked for (ms).
    pub at_ms: u64,
    /// How long after it the second is (ms).
    pub gap_ms: u64,
    /// Through which core node, and to which core nodes, the first.
    pub first: (usize, Vec<bool>),
    /// Through which core node, and to which core nodes, the second.
    pub second: (usize, Vec<bool>),
    /// The most a `ms_reconfigure` message is delayed (ms).
    pub delay_ms: u64,
}

/// The strategy of weather `reconfiguration_races`: on in about 40% of runs.
fn reconfiguration_race(core: usize) -> impl Strategy<Value = Option<ReconfigurationRace>> {
    let pick = move || (0..core, proptest::collection::vec(any::<bool>(), core));
    proptest::option::weighted(
        0.4,
        (
            2_000..12_000u64,
            100..3_000u64,
            pick(),
            pick(),
            500..5_000u64,
        )
            .prop_map(
                |(at_ms, gap_ms, first, second, delay_ms)| ReconfigurationRace {
                    at_ms,
                    gap_ms,
                    first,
                    second,
                    delay_ms,
                },
            ),
    )
}

/// Message kinds worth holding or dropping, named through [`MessageKind::name`] (the one name
/// table). The order is part of the fuzzer: a case draws an index into this list, so reordering
/// it changes what every seed generates (docs/determinism.md).
pub const FAULT_KINDS: [MessageKind; 12] = [
    MessageKind::JoinRequest,
    MessageKind::JoinResponse,
    MessageKind::JoinReady,
    MessageKind::JoinReadyResponse,
    MessageKind::ClusterState,
    MessageKind::StartGroupsAck,
    MessageKind::StatusReply,
    MessageKind::CancelInit,
    MessageKind::RaftCmg,
    MessageKind::RaftMs,
    MessageKind::MsAddLearner,
    MessageKind::HandshakeAccepted,
];

/// The last time a fault may start.
pub const TIMELINE_MS: u64 = 15_000;

/// The weather of a run: each kind on with its chance in `bias` — about 40% of runs for the
/// swarm's (docs/fuzzing.md). The swarm's chances draw exactly as before guided search; other
/// chances draw each kind from its own weighted coin.
fn weather(bias: WeatherBias) -> impl Strategy<Value = Weather> {
    let (flags, faults) = if bias.is_swarm() {
        (
            proptest::collection::vec(proptest::bool::weighted(0.4), WEATHER_FLAGS).boxed(),
            proptest::collection::vec(proptest::bool::weighted(0.4), FAULT_MODEL_FLAGS).boxed(),
        )
    } else {
        let coins = |range: std::ops::Range<usize>| {
            range
                .map(|i| proptest::bool::weighted(bias.chance(i)))
                .collect::<Vec<_>>()
                .boxed()
        };
        (
            coins(0..WEATHER_FLAGS),
            coins(WEATHER_FLAGS..WEATHER_FLAGS + FAULT_MODEL_FLAGS),
        )
    };
    (flags, faults).prop_map(|(f, g)| Weather {
        duplication: g[0],
        delays: g[1],
        links: g[2],
        clocks: g[3],
        pauses: g[4],
        storage_faults: g[5],
        leaves: g[6],
        moves: g[7],
        partitions: f[0],
        oneway: f[1],
        crashes: f[2],
        leader_bounces: f[3],
        wipes: f[4],
        holds: f[5],
        drops: f[6],
        network: f[7],
        reconfigurations: f[8],
        concurrent_inits: f[9],
        late_joiners: f[10] || f[4],
        restored: f[11],
        // A seed split needs the intruder, an island the incompatible node.
        intruder: f[12] || f[20],
        version_skew: f[13],
        incompatible: f[14] || f[21],
        duplicates: f[15],
        cancel_victims: f[16],
        detector_races: f[17],
        deaf_initiators: f[18],
        departures: f[19],
        seed_splits: f[20],
        islands: f[21],
        init_repeats: f[22],
        cancel_returns: f[23],
    })
}

/// How many weather flags a run draws (one per kind), before those of the fault model.
const WEATHER_FLAGS: usize = 24;

/// How many flags of the fault model (issue 11) a run draws: duplication, delays, links, clocks,
/// pauses, storage faults, leaves, moves.
const FAULT_MODEL_FLAGS: usize = 8;

/// The storage faults a case draws from, by index (`Fault::StorageFault::fault`).
pub const STORAGE_FAULTS: [crate::storage::StorageFault; 3] = [
    crate::storage::StorageFault::CrashAfterWrite,
    crate::storage::StorageFault::TornWrite,
    crate::storage::StorageFault::PowerLoss,
];

/// The fault kinds of the fault model (issue 11), as the coverage counters name them
/// (`fault:<kind>:drawn`, `fault:<kind>:in_trace`; docs/fuzzing.md).
pub const FAULT_MODEL_KINDS: [&str; 10] = [
    "duplicate",
    "delay",
    "link",
    "clock",
    "pause",
    "crash_after_write",
    "torn_write",
    "power_loss",
    "leave",
    "move",
];

/// The fault-model kinds a case's steps use (each once), from the step bodies the case writes.
fn fault_model_kinds_of(steps: &[(u64, String)]) -> std::collections::BTreeSet<&'static str> {
    let mut kinds = std::collections::BTreeSet::new();
    for (_, body) in steps {
        for kind in FAULT_MODEL_KINDS {
            let action = format!("action = \"{kind}\"");
            let fault = format!("fault = \"{kind}\"");
            if body.contains(&action) || body.contains(&fault) {
                kinds.insert(kind);
            }
        }
    }
    kinds
}

/// A Meta Storage reconfiguration at a time in `at`, through a core node, to a subset of the core
/// nodes.
fn reconfigure(at: std::ops::Range<u64>, core: usize) -> BoxedStrategy<Fault> {
    (at, 0..core, proptest::collection::vec(any::<bool>(), core))
        .prop_map(|(at_ms, via, nodes)| Fault::Reconfigure { at_ms, via, nodes })
        .boxed()
}

fn fault(w: &Weather, nodes: usize, core: usize, joiners: usize) -> BoxedStrategy<Fault> {
    let at = 0..TIMELINE_MS;
    let mut options: Vec<BoxedStrategy<Fault>> = Vec::new();
    if w.partitions {
        options.push(
            (
                at.clone(),
                300..8_000u64,
                proptest::collection::vec(any::<bool>(), nodes),
            )
                .prop_map(|(at_ms, for_ms, side)| Fault::Partition {
                    at_ms,
                    for_ms,
                    side,
                })
                .boxed(),
        );
    }
    if w.oneway {
        options.push(
            (at.clone(), 300..8_000u64, 0..nodes, 0..nodes)
                .prop_map(|(at_ms, for_ms, from, to)| Fault::Oneway {
                    at_ms,
                    for_ms,
                    from,
                    to,
                })
                .boxed(),
        );
    }
    if w.crashes {
        options.push(
            (at.clone(), 100..6_000u64, 0..nodes)
                .prop_map(|(at_ms, down_ms, node)| Fault::Crash {
                    at_ms,
                    down_ms,
                    node,
                })
                .boxed(),
        );
    }
    if w.leader_bounces {
        options.push(
            at.clone()
                .prop_map(|at_ms| Fault::BounceLeader { at_ms })
                .boxed(),
        );
    }
    if w.detector_races {
        options.push(
            (at.clone(), 1_500..2_100u64, 0..nodes, 3_000..20_000u64)
                .prop_map(
                    |(at_ms, delay_ms, node, down_ms)| Fault::KillThenBounceLeader {
                        at_ms,
                        delay_ms,
                        node,
                        down_ms,
                    },
                )
                .boxed(),
        );
    }
    if w.cancel_victims && !w.restored {
        options.push(
            (0..6_000u64, 0..core.max(1), 5_000..40_000u64)
                .prop_map(|(at_ms, node, down_ms)| Fault::AbsentDuringCancel {
                    at_ms,
                    node,
                    down_ms,
                })
                .boxed(),
        );
    }
    if w.cancel_returns && !w.restored {
        options.push(
            (
                300..6_000u64,
                0..core.max(1),
                1_000..30_000u64,
                11_000..16_000u64,
            )
                .prop_map(|(at_ms, node, down_ms, reinit_ms)| Fault::CancelReturn {
                    at_ms,
                    node,
                    down_ms,
                    reinit_ms,
                })
                .boxed(),
        );
    }
    if w.departures && joiners > 0 {
        // Drawn three times as often as one other kind: the leader that never saw the joiner
        // die must win the election after its restart, which it does in about a third of the
        // draws.
        let departure = (0..joiners, 1_500..8_000u64, 1_000..1_900u64)
            .prop_map(|(joiner, after_ms, delay_ms)| Fault::Departure {
                joiner,
                after_ms,
                delay_ms,
            })
            .boxed();
        options.extend([departure.clone(), departure.clone(), departure]);
    }
    if w.init_repeats && !w.restored {
        options.push(
            (reconfigure(2_000..12_000, core), 0..core, 2_000..8_000u64)
                .prop_map(
                    |(reconfigure, repeat_via, after_ms)| Fault::ReconfigureThenRepeat {
                        reconfigure: Box::new(reconfigure),
                        repeat_via,
                        after_ms,
                    },
                )
                .boxed(),
        );
    }
    if w.seed_splits && !w.restored {
        options.push(
            (
                20..200u64,
                3_000..9_000u64,
                proptest::collection::vec(any::<bool>(), core),
                0..core,
                500..3_500u64,
            )
                .prop_map(|(at_ms, for_ms, far, via, bounce_ms)| Fault::SeedSplit {
                    at_ms,
                    for_ms,
                    far,
                    via,
                    bounce_ms,
                })
                .boxed(),
        );
    }
    if w.wipes && joiners > 0 {
        options.push(
            (at.clone(), 100..4_000u64, 0..joiners)
                .prop_map(|(at_ms, down_ms, joiner)| Fault::Wipe {
                    at_ms,
                    down_ms,
                    joiner,
                })
                .boxed(),
        );
    }
    if w.holds {
        options.push(
            (
                at.clone(),
                100..6_000u64,
                0..FAULT_KINDS.len(),
                proptest::option::of(0..nodes),
            )
                .prop_map(|(at_ms, for_ms, kind, from)| Fault::Hold {
                    at_ms,
                    for_ms,
                    kind,
                    from,
                })
                .boxed(),
        );
    }
    if w.drops {
        options.push(
            (at.clone(), 100..4_000u64, 0..FAULT_KINDS.len())
                .prop_map(|(at_ms, for_ms, kind)| Fault::Drop {
                    at_ms,
                    for_ms,
                    kind,
                })
                .boxed(),
        );
    }
    if w.network {
        options.push(
            (at.clone(), 5..150u64, 0..200u64)
                .prop_map(|(at_ms, latency_max_ms, loss_permille)| Fault::Network {
                    at_ms,
                    latency_max_ms,
                    loss_permille,
                })
                .boxed(),
        );
    }
    if w.reconfigurations && !w.restored {
        options.push(reconfigure(at.clone(), core));
    }
    if w.concurrent_inits {
        options.push(
            (at.clone(), 0..core.max(1), 0..3u8)
                .prop_map(|(at_ms, via, variant)| Fault::ExtraInit {
                    at_ms,
                    via,
                    variant,
                })
                .boxed(),
        );
    }
    if w.deaf_initiators && !w.restored {
        // Drawn three times as often as one other kind: the race needs the deaf node's
        // replica to miss the answer, which most draws of the timing do not give.
        let deaf = (0..core.max(1), 3_000..9_000u64)
            .prop_map(|(via, for_ms)| Fault::DeafInitiator { via, for_ms })
            .boxed();
        options.extend([deaf.clone(), deaf.clone(), deaf]);
    }
    let kind = || proptest::option::of(0..FAULT_KINDS.len());
    let node = || proptest::option::of(0..nodes);
    if w.duplication {
        options.push(
            (
                at.clone(),
                100..8_000u64,
                kind(),
                node(),
                node(),
                50..=1_000u64,
            )
                .prop_map(
                    |(at_ms, for_ms, kind, from, to, chance_permille)| Fault::Duplicate {
                        at_ms,
                        for_ms,
                        kind,
                        from,
                        to,
                        chance_permille,
                    },
                )
                .boxed(),
        );
    }
    if w.delays {
        options.push(
            (
                at.clone(),
                100..8_000u64,
                kind(),
                node(),
                node(),
                50..=1_000u64,
                0..2_000u64,
                0..5_000u64,
            )
                .prop_map(
                    |(at_ms, for_ms, kind, from, to, chance_permille, min_ms, span_ms)| {
                        Fault::Delay {
                            at_ms,
                            for_ms,
                            kind,
                            from,
                            to,
                            chance_permille,
                            min_ms,
                            span_ms,
                        }
                    },
                )
                .boxed(),
        );
    }
    if w.links {
        options.push(
            (
                at.clone(),
                300..10_000u64,
                0..nodes,
                0..nodes,
                0..50u64,
                0..300u64,
                0..200u64,
                proptest::option::of((0..20u64, 0..30u64)),
            )
                .prop_map(
                    |(at_ms, for_ms, from, to, min_ms, span_ms, loss_permille, back)| Fault::Link {
                        at_ms,
                        for_ms,
                        from,
                        to,
                        min_ms,
                        span_ms,
                        loss_permille,
                        back,
                    },
                )
                .boxed(),
        );
    }
    if w.clocks {
        options.push(
            (at.clone(), 0..nodes, 0..5_000u64, -100_000..=100_000i64)
                .prop_map(|(at_ms, node, skew_ms, drift_ppm)| Fault::Clock {
                    at_ms,
                    node,
                    skew_ms,
                    drift_ppm,
                })
                .boxed(),
        );
    }
    if w.pauses {
        options.push(
            (at.clone(), 0..nodes, 100..6_000u64)
                .prop_map(|(at_ms, node, for_ms)| Fault::Pause {
                    at_ms,
                    node,
                    for_ms,
                })
                .boxed(),
        );
    }
    if w.storage_faults {
        options.push(
            (at.clone(), 0..nodes, 0..STORAGE_FAULTS.len(), 100..6_000u64)
                .prop_map(|(at_ms, node, fault, down_ms)| Fault::StorageFault {
                    at_ms,
                    node,
                    fault,
                    down_ms,
                })
                .boxed(),
        );
    }
    if w.leaves {
        options.push(
            (at.clone(), 0..nodes, 100..8_000u64)
                .prop_map(|(at_ms, node, down_ms)| Fault::Leave {
                    at_ms,
                    node,
                    down_ms,
                })
                .boxed(),
        );
    }
    if w.moves {
        options.push(
            (at.clone(), 0..nodes)
                .prop_map(|(at_ms, node)| Fault::Move { at_ms, node })
                .boxed(),
        );
    }
    if options.is_empty() {
        // Unreachable: `fuzz_case` asks for faults only when some kind is on.
        return Just(Fault::BounceLeader { at_ms: 0 }).boxed();
    }
    proptest::strategy::Union::new(options).boxed()
}

/// The strategy of a whole run, the weather drawn with the swarm's chances.
pub fn fuzz_case() -> impl Strategy<Value = FuzzCase> {
    fuzz_case_with(WeatherBias::SWARM)
}

/// The strategy of a whole run, the weather drawn with `bias` (guided search,
/// `crate::fuzz::guide`).
pub fn fuzz_case_with(bias: WeatherBias) -> impl Strategy<Value = FuzzCase> {
    weather(bias).prop_flat_map(|w| {
        let core = if w.restored { 1..=3usize } else { 3..=6usize };
        let joiners = if w.late_joiners {
            1..=3usize
        } else {
            0..=0usize
        };
        (Just(w), core, joiners).prop_flat_map(|(w, core, joiners)| {
            let nodes = node_count(&w, core, joiners);
            let any_fault = w.partitions
                || w.oneway
                || w.crashes
                || w.leader_bounces
                || (w.wipes && joiners > 0)
                || w.holds
                || w.drops
                || w.network
                || (w.reconfigurations && !w.restored)
                || w.concurrent_inits
                || w.detector_races
                || (w.cancel_victims && !w.restored)
                || (w.cancel_returns && !w.restored)
                || (w.deaf_initiators && !w.restored)
                || (w.departures && joiners > 0)
                || (w.seed_splits && !w.restored)
                || (w.init_repeats && !w.restored)
                || w.duplication
                || w.delays
                || w.links
                || w.clocks
                || w.pauses
                || w.storage_faults
                || w.leaves
                || w.moves;
            let fault_count = if any_fault { 0..12usize } else { 0..1usize };
            let faults = if any_fault {
                proptest::collection::vec(fault(&w, nodes, core, joiners), fault_count).boxed()
            } else {
                Just(Vec::new()).boxed()
            };
            (
                Just(w.clone()),
                Just(core),
                Just(joiners),
                1..=core.min(5),
                1..=3u64,
                0..3_000u64,
                0..core,
                proptest::collection::vec(0..TIMELINE_MS, joiners),
                any::<bool>(),
                faults,
                (0..core, 1..TIMELINE_MS),
                // Drawn only with the weather that uses it: other seeds draw as before; then
                // weather `reconfiguration_races`, drawn last, so that every draw before it is
                // what it was before this weather.
                (
                    if w.islands {
                        (1..TIMELINE_MS).boxed()
                    } else {
                        Just(0).boxed()
                    },
                    reconfiguration_race(core),
                ),
            )
                .prop_map(
                    |(
                        weather,
                        core,
                        joiners,
                        group_size,
                        ms_version,
                        init_at_ms,
                        init_via,
                        join_at_ms,
                        incompatible_protocol,
                        faults,
                        duplicate,
                        (island_at_ms, race),
                    )| FuzzCase {
                        weather,
                        core,
                        joiners,
                        group_size,
                        ms_version,
                        init_at_ms,
                        init_via,
                        join_at_ms,
                        incompatible_protocol,
                        faults,
                        duplicate,
                        island_at_ms,
                        race,
                    },
                )
        })
    })
}

fn node_count(w: &Weather, core: usize, joiners: usize) -> usize {
    let restored = if w.restored { 3 } else { 0 };
    let skew = if w.restored && w.version_skew { 2 } else { 0 };
    restored
        + core
        + joiners
        + skew
        + usize::from(w.intruder)
        + usize::from(w.incompatible)
        + usize::from(w.duplicates)
}

/// A node of a case, as the scenario file will have it.
#[derive(Clone, Debug)]
struct CaseNode {
    name: String,
    /// A label other than the name (a duplicate of another node's name).
    label: Option<String>,
    seeds: Vec<String>,
    start_at: Option<u64>,
    vault: Option<(String, u64)>,
    product: Option<&'static str>,
    protocol: Option<u32>,
}

impl CaseNode {
    fn label(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.name)
    }
}

impl FuzzCase {
    fn nodes(&self) -> Vec<CaseNode> {
        let w = &self.weather;
        let mut nodes = Vec::new();
        let first = if w.restored { "r1" } else { "a1" }.to_string();
        let plain = |name: String, seeds: Vec<String>| CaseNode {
            name,
            label: None,
            seeds,
            start_at: Some(0),
            vault: None,
            product: None,
            protocol: None,
        };
        if w.restored {
            for i in 1..=3 {
                let seeds = if i == 1 { vec![] } else { vec![first.clone()] };
                let mut n = plain(format!("r{i}"), seeds);
                n.vault = Some(("r".into(), self.ms_version));
                nodes.push(n);
            }
        }
        for i in 1..=self.core {
            let seeds = if !w.restored && i == 1 {
                vec![]
            } else {
                vec![first.clone()]
            };
            nodes.push(plain(format!("a{i}"), seeds));
        }
        for i in 1..=self.joiners {
            let mut n = plain(format!("z{i}"), vec![first.clone()]);
            n.start_at = Some(self.join_at_ms.get(i - 1).copied().unwrap_or(0));
            nodes.push(n);
        }
        if w.restored && w.version_skew {
            let mut stale = plain("s1".into(), vec![first.clone()]);
            stale.vault = Some(("r".into(), self.ms_version.saturating_sub(1).max(1)));
            nodes.push(stale);
            let mut ahead = plain("s2".into(), vec![first.clone()]);
            ahead.vault = Some(("r".into(), self.ms_version + 1));
            nodes.push(ahead);
        }
        if w.intruder {
            let mut x = plain("x1".into(), vec![first.clone()]);
            x.vault = Some(("other".into(), 1));
            nodes.push(x);
        }
        if w.incompatible {
            let mut v = plain("v1".into(), vec![first.clone()]);
            if self.incompatible_protocol {
                v.protocol = Some(2);
            } else {
                v.product = Some("3.1.0");
            }
            if let Some(lister) = self.island_lister() {
                // An island: v1 forms a topology of its own, and `lister` lists it as a seed
                // too: its rejoin probes meet v1 outside any handshake. v1 starts 10 to 25 s
                // after the timeline's faults could start and after the lister did, and the
                // lister may ask every core node to let it in: it is admitted by then. (A
                // lister still handshaking when v1 is up may pick v1, be refused by version
                // and stop, leaving v1 alone for good with no one to refuse it.)
                let core = self.core_names();
                if let Some(n) = nodes.iter_mut().find(|n| n.name == lister) {
                    for seed in core.iter().filter(|c| **c != lister) {
                        if !n.seeds.contains(seed) {
                            n.seeds.push(seed.clone());
                        }
                    }
                    n.seeds.push("v1".into());
                    let after = n.start_at.unwrap_or(0).max(TIMELINE_MS);
                    v.seeds = Vec::new();
                    v.start_at = Some(after + 10_000 + self.island_at_ms % 15_000);
                }
            }
            nodes.push(v);
        }
        if let Some(original) = self.duplicate_of() {
            let mut d = plain(original, vec![first.clone()]);
            d.label = Some("d1".into());
            d.start_at = Some(self.duplicate.1.max(1));
            nodes.push(d);
        }
        nodes
    }

    /// The core node the duplicate is named after, if the weather has one. A namesake that
    /// outlives a dead group member would join as that member with an empty log — the wiped
    /// voter, a Raft hazard the fuzzer keeps out (as it never wipes group members): with kills
    /// or restarts in the weather (the returning cancel victims, group members, included) the
    /// duplicate is named after a core node outside the groups, or there is none.
    fn duplicate_of(&self) -> Option<String> {
        let w = &self.weather;
        if !w.duplicates || self.core == 0 {
            return None;
        }
        let mut index = self.duplicate.0 % self.core;
        let group_size = if w.restored { 0 } else { self.group_size };
        let restarts = w.crashes
            || w.leader_bounces
            || w.detector_races
            || w.cancel_returns
            || w.departures
            || w.seed_splits;
        if restarts && index < group_size {
            if self.core <= group_size {
                return None;
            }
            index = group_size + index % (self.core - group_size);
        }
        Some(format!("a{}", index + 1))
    }

    /// With `islands`: the node that lists the incompatible node as a second seed — a late
    /// joiner, or a core node outside the groups (a group member that a restart makes hand
    /// itself to the island would be refused by version, and with it its group's majority)
    /// that no duplicate is named after (it could lose its name to the duplicate and stop).
    fn island_lister(&self) -> Option<String> {
        let w = &self.weather;
        if !w.islands || !w.incompatible {
            return None;
        }
        if self.joiners > 0 {
            return Some("z1".into());
        }
        let group_size = if w.restored { 0 } else { self.group_size };
        let duplicated = self.duplicate_of();
        (group_size.max(1)..self.core)
            .rev()
            .map(|i| format!("a{}", i + 1))
            .find(|name| Some(name) != duplicated.as_ref())
    }

    fn core_names(&self) -> Vec<String> {
        (1..=self.core).map(|i| format!("a{i}")).collect()
    }

    /// The case as scenario-file text that replays alone: `seed = N` (the one seed it runs
    /// by default), its planted bug, and, for a finding, its `[origin]`.
    pub fn to_toml(
        &self,
        seed: u64,
        bug: Option<&str>,
        header: &[String],
        origin: Option<&crate::scenario::Origin>,
    ) -> String {
        let w = &self.weather;
        let nodes = self.nodes();
        let names: Vec<String> = nodes.iter().map(|n| n.label().to_string()).collect();
        let mut out = String::new();
        for line in header {
            let _ = writeln!(out, "# {line}");
        }
        let _ = writeln!(out, "# Weather: {w:?}");
        let _ = writeln!(
            out,
            "# Replay: cargo run --release -- run <this file>   (it runs seed {seed})"
        );
        let _ = writeln!(out);
        let _ = writeln!(out, "name = \"fuzz-{seed}\"");
        let _ = writeln!(
            out,
            "description = \"A run drawn by joinsim fuzz from seed {seed}.\""
        );
        let _ = writeln!(out, "seed = {seed}");
        if let Some(bug) = bug {
            let _ = writeln!(out, "bug = \"{bug}\"");
        }
        if let Some(origin) = origin {
            let _ = writeln!(out, "\n[origin]");
            let fields = [
                ("joinsim", &origin.joinsim),
                ("commit", &origin.commit),
                ("command", &origin.command),
                ("failure", &origin.failure),
                ("trace_hash", &origin.trace_hash),
            ];
            for (key, value) in fields {
                if let Some(value) = value {
                    let _ = writeln!(out, "{key} = {}", toml_string(value));
                }
            }
        }
        if w.restored
            || nodes
                .iter()
                .any(|n| n.vault.as_ref().is_some_and(|v| v.0 == "r"))
        {
            let _ = writeln!(
                out,
                "\n[[cluster]]\nname = \"r\"\nid = \"5eed\"\ncmg = [\"r1\", \"r2\", \"r3\"]\nms_version = {}",
                self.ms_version
            );
        }
        if w.intruder {
            let _ = writeln!(
                out,
                "\n[[cluster]]\nname = \"other\"\nid = \"0bad\"\ncmg = [\"x1\", \"gone\"]"
            );
        }
        for node in &nodes {
            let _ = writeln!(out, "\n[[node]]\nname = \"{}\"", node.name);
            if let Some(label) = &node.label {
                let _ = writeln!(out, "label = \"{label}\"");
            }
            let _ = writeln!(out, "seeds = {:?}", node.seeds);
            if node.start_at != Some(0) {
                let _ = writeln!(out, "start = false");
            }
            if let Some((cluster, version)) = &node.vault {
                let _ = writeln!(
                    out,
                    "vault = {{ cluster = \"{cluster}\", ms_version = {version} }}"
                );
            }
            if let Some(product) = node.product {
                let _ = writeln!(out, "product = \"{product}\"");
            }
            if let Some(protocol) = node.protocol {
                let _ = writeln!(out, "protocol = {protocol}");
            }
        }
        for (at, step) in self.steps(&nodes, &names) {
            let _ = writeln!(out, "\n[[step]]\nat_ms = {at}\n{step}");
        }
        let _ = writeln!(
            out,
            "\n[liveness]\ntimeout_ms = 60000\n\n[expect]\ndeadline_ms = 200000\nallow_hazards = true"
        );
        out
    }

    /// The fault-model kinds (issue 11) this case's timeline uses ([`FAULT_MODEL_KINDS`]): a
    /// drawn fault its timeline left out (its node busy) does not count.
    pub fn fault_model_kinds(&self) -> std::collections::BTreeSet<&'static str> {
        let nodes = self.nodes();
        let names: Vec<String> = nodes.iter().map(|n| n.label().to_string()).collect();
        fault_model_kinds_of(&self.steps(&nodes, &names))
    }

    /// The timeline, sorted by time: (time, step body). Kills and wipes come with their restart,
    /// and a node's faults never overlap, so that no step acts on a node in the wrong state.
    fn steps(&self, nodes: &[CaseNode], names: &[String]) -> Vec<(u64, String)> {
        let w = &self.weather;
        let mut steps: Vec<(u64, String)> = Vec::new();
        // Per node: the times it is up from, and windows when a fault holds it down.
        let mut busy: BTreeMap<String, Vec<(u64, u64)>> = BTreeMap::new();
        for node in nodes {
            if let Some(at) = node.start_at.filter(|t| *t > 0) {
                steps.push((
                    at,
                    format!("action = \"start\"\nnode = \"{}\"", node.label()),
                ));
                if self.island_lister().is_some() && node.name == "v1" {
                    steps.push((at + AFTER_LATE_START_MS, "action = \"wait\"".into()));
                }
                // Down until it starts.
                busy.entry(node.label().to_string())
                    .or_default()
                    .push((0, at));
            }
        }
        // The island's lister is never killed, wiped or restarted: a restart of it would hand it
        // to the island (a seed), which would refuse it by version, and no one would meet the
        // island again.
        if let Some(lister) = self.island_lister() {
            busy.entry(lister).or_default().push((0, FOREVER_MS));
        }
        let core = self.core_names();
        let group: Vec<String> = core.iter().take(self.group_size).cloned().collect();
        if !w.restored {
            steps.push((
                self.init_at_ms,
                format!(
                    "action = \"init\"\nid = \"init\"\nvia = \"{}\"\ncluster = \"fuzz\"\ncmg = {group:?}",
                    core[self.init_via.min(core.len() - 1)]
                ),
            ));
        }
        let free = |busy: &BTreeMap<String, Vec<(u64, u64)>>, name: &str, from: u64, to: u64| {
            busy.get(name)
                .is_none_or(|ws| ws.iter().all(|(a, b)| to + 50 < *a || from > *b + 50))
        };
        // One seed split a run: a second would cut the first one's sides apart at random.
        let mut split_done = false;
        for (index, fault) in self.faults.iter().enumerate() {
            match fault {
                Fault::Partition {
                    at_ms,
                    for_ms,
                    side,
                } => {
                    let (a, b) = (marked(names, side, true), marked(names, side, false));
                    if a.is_empty() || b.is_empty() {
                        continue;
                    }
                    steps.push((
                        *at_ms,
                        format!("action = \"partition\"\ngroups = [{a:?}, {b:?}]"),
                    ));
                    steps.push((at_ms + for_ms, "action = \"heal\"".into()));
                }
                Fault::Oneway {
                    at_ms,
                    for_ms,
                    from,
                    to,
                } => {
                    if from == to {
                        continue;
                    }
                    steps.push((
                        *at_ms,
                        format!(
                            "action = \"partition_oneway\"\nfrom = \"{}\"\nto = \"{}\"",
                            names[*from % names.len()],
                            names[*to % names.len()]
                        ),
                    ));
                    steps.push((at_ms + for_ms, "action = \"heal\"".into()));
                }
                Fault::Crash {
                    at_ms,
                    down_ms,
                    node,
                } => {
                    let name = &names[*node % names.len()];
                    if !free(&busy, name, *at_ms, at_ms + down_ms) {
                        continue;
                    }
                    busy.entry(name.clone())
                        .or_default()
                        .push((*at_ms, at_ms + down_ms));
                    steps.push((*at_ms, format!("action = \"kill\"\nnode = \"{name}\"")));
                    steps.push((
                        at_ms + down_ms,
                        format!("action = \"start\"\nnode = \"{name}\""),
                    ));
                }
                Fault::BounceLeader { at_ms } => {
                    steps.push((*at_ms, "action = \"restart\"\nnode = \"cmg_leader\"".into()));
                }
                Fault::KillThenBounceLeader {
                    at_ms,
                    delay_ms,
                    node,
                    down_ms,
                } => {
                    let name = &names[*node % names.len()];
                    let up_at = at_ms + (*delay_ms).max(*down_ms);
                    if !free(&busy, name, *at_ms, up_at) {
                        continue;
                    }
                    busy.entry(name.clone()).or_default().push((*at_ms, up_at));
                    steps.push((*at_ms, format!("action = \"kill\"\nnode = \"{name}\"")));
                    steps.push((
                        at_ms + delay_ms,
                        "action = \"restart\"\nnode = \"cmg_leader\"".into(),
                    ));
                    steps.push((up_at, format!("action = \"start\"\nnode = \"{name}\"")));
                }
                Fault::AbsentDuringCancel {
                    at_ms,
                    node,
                    down_ms,
                } => {
                    let name = &core[node % core.len()];
                    let up_at = at_ms + down_ms;
                    if !free(&busy, name, *at_ms, up_at) {
                        continue;
                    }
                    busy.entry(name.clone()).or_default().push((*at_ms, up_at));
                    steps.push((
                        0,
                        format!(
                            "action = \"drop\"\nid = \"acks{index}\"\nkind = \"start_groups_ack\"\nfrom = \"{name}\"\nfor_ms = {}",
                            (at_ms + 1_000).max(9_000)
                        ),
                    ));
                    steps.push((*at_ms, format!("action = \"kill\"\nnode = \"{name}\"")));
                    steps.push((up_at, format!("action = \"start\"\nnode = \"{name}\"")));
                }
                Fault::CancelReturn {
                    at_ms,
                    node,
                    down_ms,
                    reinit_ms,
                } => {
                    // A node the init names (its missing answer makes the init fail), not the
                    // first core node (every node's seed) when the CMG has another: the victim
                    // comes back to the survivors through it.
                    let name = if group.len() > 1 {
                        &group[1 + node % (group.len() - 1)]
                    } else {
                        &group[0]
                    };
                    // Killed once it had time to join the first init's cluster; once that init
                    // has failed, it is sent again naming the survivors (as a user would,
                    // Ignite's testInitCancel); the victim comes back to them.
                    let kill_at = self.init_at_ms + at_ms;
                    let reinit_at = self.init_at_ms + reinit_ms;
                    let up_at = reinit_at + down_ms;
                    if !free(&busy, name, kill_at, up_at) {
                        continue;
                    }
                    busy.entry(name.clone()).or_default().push((kill_at, up_at));
                    steps.push((
                        0,
                        format!(
                            "action = \"drop\"\nid = \"acks{index}\"\nkind = \"start_groups_ack\"\nfrom = \"{name}\"\nfor_ms = {}",
                            (kill_at + 1_000).max(9_000)
                        ),
                    ));
                    steps.push((kill_at, format!("action = \"kill\"\nnode = \"{name}\"")));
                    steps.push((up_at, format!("action = \"start\"\nnode = \"{name}\"")));
                    steps.push((up_at + AFTER_LATE_START_MS, "action = \"wait\"".into()));
                    let survivors: Vec<&String> = group.iter().filter(|n| *n != name).collect();
                    if let Some(via) = core.iter().find(|n| *n != name) {
                        if !survivors.is_empty() {
                            steps.push((
                                reinit_at,
                                format!(
                                    "action = \"init\"\nid = \"reinit{index}\"\nvia = \"{via}\"\ncluster = \"fuzz\"\ncmg = {survivors:?}"
                                ),
                            ));
                        }
                    }
                }
                Fault::Departure {
                    joiner,
                    after_ms,
                    delay_ms,
                } => {
                    let k = joiner % self.joiners.max(1);
                    let name = format!("z{}", k + 1);
                    let at_ms = self.join_at_ms.get(k).copied().unwrap_or(0) + after_ms;
                    if !free(&busy, &name, at_ms, FOREVER_MS) {
                        continue;
                    }
                    busy.entry(name.clone())
                        .or_default()
                        .push((at_ms, FOREVER_MS));
                    steps.push((at_ms, format!("action = \"kill\"\nnode = \"{name}\"")));
                    steps.push((
                        at_ms + delay_ms,
                        "action = \"restart\"\nnode = \"cmg_leader\"".into(),
                    ));
                }
                Fault::SeedSplit {
                    at_ms,
                    for_ms,
                    far,
                    via,
                    bounce_ms,
                } => {
                    if split_done || w.restored {
                        continue;
                    }
                    let mut far_core = marked(&core, far, true);
                    far_core.retain(|n| **n != core[0]);
                    let near: Vec<&String> = names
                        .iter()
                        .filter(|n| {
                            *n == &core[0]
                                || n.as_str() == "x1"
                                || (core.contains(n) && !far_core.contains(n))
                        })
                        .collect();
                    let rest: Vec<&String> = names.iter().filter(|n| !near.contains(n)).collect();
                    if far_core.is_empty() || rest.is_empty() {
                        continue;
                    }
                    split_done = true;
                    steps.push((
                        *at_ms,
                        format!("action = \"partition\"\ngroups = [{near:?}, {rest:?}]"),
                    ));
                    let cmg: Vec<&String> = far_core.iter().take(5).copied().collect();
                    steps.push((
                        at_ms + 20,
                        format!(
                            "action = \"init\"\nid = \"far{index}\"\nvia = \"{}\"\ncluster = \"fuzz\"\ncmg = {cmg:?}",
                            far_core[via % far_core.len()]
                        ),
                    ));
                    let heal_ms = at_ms + for_ms;
                    steps.push((
                        heal_ms.saturating_sub(*bounce_ms).max(at_ms + 40),
                        "action = \"restart\"\nnode = \"cmg_leader\"".into(),
                    ));
                    steps.push((heal_ms, "action = \"heal\"".into()));
                }
                Fault::Wipe {
                    at_ms,
                    down_ms,
                    joiner,
                } => {
                    let name = format!("z{}", joiner % self.joiners.max(1) + 1);
                    if !free(&busy, &name, *at_ms, at_ms + down_ms) {
                        continue;
                    }
                    busy.entry(name.clone())
                        .or_default()
                        .push((*at_ms, at_ms + down_ms));
                    steps.push((*at_ms, format!("action = \"wipe\"\nnode = \"{name}\"")));
                    steps.push((
                        at_ms + down_ms,
                        format!("action = \"start\"\nnode = \"{name}\""),
                    ));
                }
                Fault::Hold {
                    at_ms,
                    for_ms,
                    kind,
                    from,
                } => {
                    let from = from
                        .map(|f| format!("\nfrom = \"{}\"", names[f % names.len()]))
                        .unwrap_or_default();
                    steps.push((
                        *at_ms,
                        format!(
                            "action = \"hold\"\nid = \"hold{index}\"\nkind = \"{}\"\nfor_ms = {for_ms}{from}",
                            FAULT_KINDS[kind % FAULT_KINDS.len()].name()
                        ),
                    ));
                }
                Fault::Duplicate {
                    at_ms,
                    for_ms,
                    kind,
                    from,
                    to,
                    chance_permille,
                } => {
                    steps.push((
                        *at_ms,
                        format!(
                            "action = \"duplicate\"\nid = \"dup{index}\"\nfor_ms = {for_ms}\nchance = {}{}",
                            *chance_permille as f64 / 1000.0,
                            rule_filter(names, *kind, *from, *to)
                        ),
                    ));
                }
                Fault::Delay {
                    at_ms,
                    for_ms,
                    kind,
                    from,
                    to,
                    chance_permille,
                    min_ms,
                    span_ms,
                } => {
                    steps.push((
                        *at_ms,
                        format!(
                            "action = \"delay\"\nid = \"delay{index}\"\nfor_ms = {for_ms}\nchance = {}\ndelay_ms = [{min_ms}, {}]{}",
                            *chance_permille as f64 / 1000.0,
                            min_ms + span_ms,
                            rule_filter(names, *kind, *from, *to)
                        ),
                    ));
                }
                Fault::Link {
                    at_ms,
                    for_ms,
                    from,
                    to,
                    min_ms,
                    span_ms,
                    loss_permille,
                    back,
                } => {
                    let (a, b) = (&names[from % names.len()], &names[to % names.len()]);
                    if a == b {
                        continue;
                    }
                    steps.push((
                        *at_ms,
                        format!(
                            "action = \"link\"\nfrom = \"{a}\"\nto = \"{b}\"\nlatency_ms = [{min_ms}, {}]\nloss = {}",
                            min_ms + span_ms,
                            *loss_permille as f64 / 1000.0
                        ),
                    ));
                    if let Some((back_min, back_span)) = back {
                        steps.push((
                            *at_ms,
                            format!(
                                "action = \"link\"\nfrom = \"{b}\"\nto = \"{a}\"\nlatency_ms = [{back_min}, {}]",
                                back_min + back_span
                            ),
                        ));
                    }
                    steps.push((at_ms + for_ms, "action = \"links_default\"".into()));
                }
                Fault::Clock {
                    at_ms,
                    node,
                    skew_ms,
                    drift_ppm,
                } => {
                    steps.push((
                        *at_ms,
                        format!(
                            "action = \"clock\"\nnode = \"{}\"\nskew_ms = {skew_ms}\ndrift_ppm = {drift_ppm}",
                            names[node % names.len()]
                        ),
                    ));
                }
                Fault::Pause {
                    at_ms,
                    node,
                    for_ms,
                } => {
                    let name = &names[node % names.len()];
                    if !free(&busy, name, *at_ms, at_ms + for_ms) {
                        continue;
                    }
                    busy.entry(name.clone())
                        .or_default()
                        .push((*at_ms, at_ms + for_ms));
                    steps.push((
                        *at_ms,
                        format!("action = \"pause\"\nnode = \"{name}\"\nfor_ms = {for_ms}"),
                    ));
                }
                Fault::StorageFault {
                    at_ms,
                    node,
                    fault,
                    down_ms,
                } => {
                    let name = &names[node % names.len()];
                    if !free(&busy, name, *at_ms, at_ms + down_ms) {
                        continue;
                    }
                    busy.entry(name.clone())
                        .or_default()
                        .push((*at_ms, at_ms + down_ms));
                    steps.push((
                        *at_ms,
                        format!(
                            "action = \"storage_fault\"\nnode = \"{name}\"\nfault = \"{}\"",
                            STORAGE_FAULTS[fault % STORAGE_FAULTS.len()].name()
                        ),
                    ));
                    // An armed fault strikes at the node's next write, which may not come:
                    // `restart` brings the node back whether it struck (down) or not.
                    steps.push((
                        at_ms + down_ms,
                        format!("action = \"restart\"\nnode = \"{name}\""),
                    ));
                }
                Fault::Leave {
                    at_ms,
                    node,
                    down_ms,
                } => {
                    let name = &names[node % names.len()];
                    if !free(&busy, name, *at_ms, at_ms + down_ms) {
                        continue;
                    }
                    busy.entry(name.clone())
                        .or_default()
                        .push((*at_ms, at_ms + down_ms));
                    steps.push((*at_ms, format!("action = \"leave\"\nnode = \"{name}\"")));
                    steps.push((
                        at_ms + down_ms,
                        format!("action = \"start\"\nnode = \"{name}\""),
                    ));
                }
                Fault::Move { at_ms, node } => {
                    let name = &names[node % names.len()];
                    if !free(&busy, name, *at_ms, *at_ms) {
                        continue;
                    }
                    busy.entry(name.clone()).or_default().push((*at_ms, *at_ms));
                    steps.push((*at_ms, format!("action = \"move\"\nnode = \"{name}\"")));
                }
                Fault::Drop {
                    at_ms,
                    for_ms,
                    kind,
                } => {
                    steps.push((
                        *at_ms,
                        format!(
                            "action = \"drop\"\nid = \"drop{index}\"\nkind = \"{}\"\nfor_ms = {for_ms}",
                            FAULT_KINDS[kind % FAULT_KINDS.len()].name()
                        ),
                    ));
                }
                Fault::Network {
                    at_ms,
                    latency_max_ms,
                    loss_permille,
                } => {
                    steps.push((
                        *at_ms,
                        format!(
                            "action = \"network\"\nlatency_ms = [1, {latency_max_ms}]\nloss = {}",
                            *loss_permille as f64 / 1000.0
                        ),
                    ));
                }
                Fault::Reconfigure { at_ms, via, nodes } => {
                    steps.extend(reconfigure_step(&core, index, *at_ms, *via, nodes));
                }
                Fault::ReconfigureThenRepeat {
                    reconfigure,
                    repeat_via,
                    after_ms,
                } => {
                    let Fault::Reconfigure { at_ms, via, nodes } = &**reconfigure else {
                        continue;
                    };
                    let Some(step) = reconfigure_step(&core, index, *at_ms, *via, nodes) else {
                        continue;
                    };
                    if w.restored {
                        continue;
                    }
                    steps.push(step);
                    steps.push((
                        at_ms + after_ms,
                        format!(
                            "action = \"init\"\nid = \"repeat{index}\"\nvia = \"{}\"\ncluster = \"fuzz\"\ncmg = {group:?}",
                            core[repeat_via % core.len()]
                        ),
                    ));
                }
                Fault::ExtraInit {
                    at_ms,
                    via,
                    variant,
                } => {
                    let lists: Vec<String> = match variant {
                        0 => group.clone(),
                        1 => core
                            .iter()
                            .rev()
                            .take(self.group_size.max(2))
                            .cloned()
                            .collect(),
                        _ => core.iter().skip(self.group_size).cloned().collect(),
                    };
                    if lists.is_empty() {
                        continue;
                    }
                    let via = if w.restored {
                        names[via % names.len()].clone()
                    } else {
                        core[via % core.len()].clone()
                    };
                    steps.push((
                        *at_ms,
                        format!(
                            "action = \"init\"\nid = \"init{index}\"\nvia = \"{via}\"\ncluster = \"fuzz\"\ncmg = {lists:?}"
                        ),
                    ));
                }
                Fault::DeafInitiator { via, for_ms } => {
                    if w.restored || core.len() < 3 {
                        continue;
                    }
                    let main = &core[self.init_via.min(core.len() - 1)];
                    let mut deaf = &core[via % core.len()];
                    if deaf == main {
                        deaf = &core[(via + 1) % core.len()];
                    }
                    // It hears the main initiator only (which must reach every named node), not
                    // the CMG leader (another node, mostly).
                    let init_ms = self.init_at_ms;
                    let at_ms = init_ms.saturating_sub(1);
                    for other in core.iter().filter(|n| *n != deaf && *n != main) {
                        steps.push((
                            at_ms,
                            format!(
                                "action = \"partition_oneway\"\nfrom = \"{other}\"\nto = \"{deaf}\""
                            ),
                        ));
                    }
                    steps.push((
                        init_ms,
                        format!(
                            "action = \"init\"\nid = \"init{index}\"\nvia = \"{deaf}\"\ncluster = \"fuzz\"\ncmg = {group:?}"
                        ),
                    ));
                    steps.push((init_ms + for_ms, "action = \"heal\"".into()));
                }
            }
        }
        if let Some(race) = self.race.as_ref().filter(|_| !w.restored) {
            steps.extend(race_steps(race, &core));
        }
        steps.sort_by_key(|(t, _)| *t);
        steps
    }
}

/// The steps of weather `reconfiguration_races`: the delay rule on `ms_reconfigure` from the
/// first reconfiguration until `delay_ms` after the second, and both reconfigurations (ids
/// `reconf100` and `reconf101`, apart from the faults' own).
fn race_steps(race: &ReconfigurationRace, core: &[String]) -> Vec<(u64, String)> {
    let mut steps = vec![(
        race.at_ms,
        format!(
            "action = \"delay\"\nid = \"race\"\nfor_ms = {}\nchance = 1.0\ndelay_ms = [0, {}]\nkind = \"{}\"",
            race.gap_ms + race.delay_ms + 1_000,
            race.delay_ms,
            MessageKind::MsReconfigure.name()
        ),
    )];
    let (first_via, first) = &race.first;
    let (second_via, second) = &race.second;
    steps.extend(reconfigure_step(core, 100, race.at_ms, *first_via, first));
    steps.extend(reconfigure_step(
        core,
        101,
        race.at_ms + race.gap_ms,
        *second_via,
        second,
    ));
    steps
}

/// The filter lines of a generated message rule: its kind, sender and receiver, each if drawn.
fn rule_filter(
    names: &[String],
    kind: Option<usize>,
    from: Option<usize>,
    to: Option<usize>,
) -> String {
    let mut out = String::new();
    if let Some(kind) = kind {
        let _ = write!(
            out,
            "\nkind = \"{}\"",
            FAULT_KINDS[kind % FAULT_KINDS.len()].name()
        );
    }
    if let Some(from) = from {
        let _ = write!(out, "\nfrom = \"{}\"", names[from % names.len()]);
    }
    if let Some(to) = to {
        let _ = write!(out, "\nto = \"{}\"", names[to % names.len()]);
    }
    out
}

/// The names whose flag (same position) is `flag`.
fn marked<'a>(names: &'a [String], flags: &[bool], flag: bool) -> Vec<&'a String> {
    names
        .iter()
        .zip(flags)
        .filter(|(_, f)| **f == flag)
        .map(|(n, _)| n)
        .collect()
}

/// The step that reconfigures the Meta Storage, through core node `via`, to the core nodes chosen
/// by `nodes`; none when it chooses none.
fn reconfigure_step(
    core: &[String],
    index: usize,
    at_ms: u64,
    via: usize,
    nodes: &[bool],
) -> Option<(u64, String)> {
    let chosen = marked(core, nodes, true);
    if chosen.is_empty() {
        return None;
    }
    Some((
        at_ms,
        format!(
            "action = \"reconfigure_ms\"\nid = \"reconf{index}\"\nvia = \"{}\"\nnodes = {chosen:?}",
            core[via % core.len()]
        ),
    ))
}

/// `text` as a TOML basic string: quotes, backslashes and control characters escaped.
pub fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::FAULT_KINDS;

    /// Guided chances reach the kind they name: with kind `i` certain and every other kind
    /// impossible, a drawn weather has kind `i` on and no other kind than those it switches on.
    #[test]
    fn each_guided_chance_steers_the_kind_it_names() {
        use super::weather;
        use crate::fuzz::guide::{kinds_on, WeatherBias, WEATHER_KINDS};
        use proptest::strategy::{Strategy, ValueTree};
        use proptest::test_runner::TestRunner;
        // Kinds another kind switches on: (kind, the kinds it turns on besides itself).
        let implied = |kind: &str| -> Vec<usize> {
            match kind {
                "wipes" => vec![10],
                "seed_splits" => vec![12],
                "islands" => vec![14],
                _ => vec![],
            }
        };
        let mut runner = TestRunner::deterministic();
        for (i, kind) in WEATHER_KINDS.iter().enumerate() {
            let mut bias = WeatherBias([0; 32]);
            bias.0[i] = 1000;
            let w = weather(bias).new_tree(&mut runner).unwrap().current();
            let on: Vec<usize> = (0..32).filter(|j| kinds_on(&w)[*j]).collect();
            let mut expected = implied(kind);
            expected.push(i);
            expected.sort();
            assert_eq!(on, expected, "kind {kind}");
        }
    }

    /// The fault kinds, in the order cases draw them: changing it changes what every seed
    /// generates, so it is pinned here (docs/determinism.md).
    #[test]
    fn the_fault_kinds_keep_their_order_and_names() {
        let names: Vec<&str> = FAULT_KINDS.iter().map(|k| k.name()).collect();
        assert_eq!(
            names,
            [
                "join_request",
                "join_response",
                "join_ready",
                "join_ready_response",
                "cluster_state",
                "start_groups_ack",
                "status_reply",
                "cancel_init",
                "raft_cmg",
                "raft_ms",
                "ms_add_learner",
                "handshake_accepted",
            ]
        );
    }
}
