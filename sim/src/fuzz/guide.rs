//! Guided search (docs/fuzzing.md, "Guided search"): the weather's chances steered towards
//! the coverage marks a campaign hits least.
//!
//! The swarm draws each of the weather's [`WEATHER_KINDS`] kinds on with chance 0.4
//! ([`WeatherBias::SWARM`]). A guided campaign starts the same, and after each batch of
//! [`BATCH_RUNS`] runs it gives every run of the batch a *rarity reward* — the sum, over the
//! marks the run hit (`crate::fuzz::marks::marks_of`: the protocol's and the world's), of
//! `1 / (1 + runs of earlier batches that hit the mark)`, so a mark no earlier run hit is worth
//! 1 — and sets each kind's chance to `0.4 × (mean reward of runs with the kind on) / (mean
//! reward of runs with it off)`, within [`MIN_PERMILLE`, `MAX_PERMILLE`] (per mille; a kind
//! stays at 0.4 until [`MIN_SAMPLES`] runs had it on and as many had it off).
//!
//! Determinism: a batch's runs are folded in run order once all of them are done, and no run
//! of the next batch starts before, so the chances each run draws with depend on the campaign's
//! first seed and shard, never on the number of jobs or their timing. A seed alone no longer
//! names its case (its batch's chances do too): a finding's scenario file holds the whole case
//! and replays alone, and the command a finding came from replays the campaign up to it.

use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use super::case::Weather;

/// The weather's kinds, in the order the case strategy draws them: the 24 of the protocol
/// faults and the world, then the 8 of the fault model (issue 11). Names are [`Weather`]'s
/// fields.
pub const WEATHER_KINDS: [&str; 32] = [
    "partitions",
    "oneway",
    "crashes",
    "leader_bounces",
    "wipes",
    "holds",
    "drops",
    "network",
    "reconfigurations",
    "concurrent_inits",
    "late_joiners",
    "restored",
    "intruder",
    "version_skew",
    "incompatible",
    "duplicates",
    "cancel_victims",
    "detector_races",
    "deaf_initiators",
    "departures",
    "seed_splits",
    "islands",
    "init_repeats",
    "cancel_returns",
    "duplication",
    "delays",
    "links",
    "clocks",
    "pauses",
    "storage_faults",
    "leaves",
    "moves",
];

/// Runs per batch: the chances change only between batches.
pub const BATCH_RUNS: u64 = 50;
/// The lowest chance a guided kind gets, per mille.
pub const MIN_PERMILLE: u16 = 150;
/// The highest chance a guided kind gets, per mille.
pub const MAX_PERMILLE: u16 = 850;
/// The swarm's chance of every kind, per mille.
pub const SWARM_PERMILLE: u16 = 400;
/// Runs with a kind on, and as many with it off, before its chance moves.
pub const MIN_SAMPLES: u64 = 20;

/// Each weather kind's chance of being on, per mille, in [`WEATHER_KINDS`] order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WeatherBias(pub [u16; 32]);

impl WeatherBias {
    /// The swarm: every kind on with chance 0.4.
    pub const SWARM: WeatherBias = WeatherBias([SWARM_PERMILLE; 32]);

    /// True for the swarm's chances (a case is then drawn exactly as before guided search).
    pub fn is_swarm(&self) -> bool {
        *self == Self::SWARM
    }

    /// The chance of kind `i`, as a probability.
    pub fn chance(&self, i: usize) -> f64 {
        f64::from(self.0[i]) / 1000.0
    }

    /// The kinds whose chance differs from the swarm's: (name, per mille), in kind order.
    pub fn steered(&self) -> BTreeMap<&'static str, u16> {
        WEATHER_KINDS
            .iter()
            .zip(self.0)
            .filter(|(_, p)| *p != SWARM_PERMILLE)
            .map(|(k, p)| (*k, p))
            .collect()
    }
}

/// Whether each kind of [`WEATHER_KINDS`] is on in `w` (a kind another one switches on, such as
/// `late_joiners` by `wipes`, counts as on).
pub fn kinds_on(w: &Weather) -> [bool; 32] {
    [
        w.partitions,
        w.oneway,
        w.crashes,
        w.leader_bounces,
        w.wipes,
        w.holds,
        w.drops,
        w.network,
        w.reconfigurations,
        w.concurrent_inits,
        w.late_joiners,
        w.restored,
        w.intruder,
        w.version_skew,
        w.incompatible,
        w.duplicates,
        w.cancel_victims,
        w.detector_races,
        w.deaf_initiators,
        w.departures,
        w.seed_splits,
        w.islands,
        w.init_repeats,
        w.cancel_returns,
        w.duplication,
        w.delays,
        w.links,
        w.clocks,
        w.pauses,
        w.storage_faults,
        w.leaves,
        w.moves,
    ]
}

/// What one run tells the guide: its weather's kinds, and the marks it hit.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// [`kinds_on`] of its case.
    pub kinds: [bool; 32],
    /// The marks it hit (`marks_of`).
    pub marks: Vec<&'static str>,
}

/// Rewards summed per kind, on and off.
#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    reward: f64,
    runs: u64,
}

impl Tally {
    fn mean(&self) -> f64 {
        self.reward / self.runs.max(1) as f64
    }
}

/// The guide's state: the runs of the current batch that are done, what earlier batches taught.
#[derive(Debug)]
struct Learned {
    /// The batch whose runs draw with `bias`.
    batch: u64,
    bias: WeatherBias,
    /// Outcomes of the current batch, by run index (bounded by [`BATCH_RUNS`]).
    pending: BTreeMap<u64, Outcome>,
    /// Runs of earlier batches that hit each mark.
    hits: BTreeMap<&'static str, u64>,
    /// Rewards of runs with each kind on, and off.
    on: [Tally; 32],
    off: [Tally; 32],
}

/// The chances of a guided campaign, shared by its workers ([`WeatherBias::SWARM`] for every run
/// of a swarm campaign).
#[derive(Debug)]
pub struct Guide {
    guided: bool,
    learned: Mutex<Learned>,
    batch_done: Condvar,
}

impl Guide {
    /// A guide; `guided: false` gives every run the swarm's chances.
    pub fn new(guided: bool) -> Guide {
        Guide {
            guided,
            learned: Mutex::new(Learned {
                batch: 0,
                bias: WeatherBias::SWARM,
                pending: BTreeMap::new(),
                hits: BTreeMap::new(),
                on: [Tally::default(); 32],
                off: [Tally::default(); 32],
            }),
            batch_done: Condvar::new(),
        }
    }

    /// The chances run `k` (its index in the campaign) draws with. Waits until every run of the
    /// earlier batches is done; `None` when `give_up` turns true while waiting (the campaign
    /// stops).
    pub fn bias_for(&self, k: u64, give_up: impl Fn() -> bool) -> Option<WeatherBias> {
        if !self.guided {
            return Some(WeatherBias::SWARM);
        }
        let batch = k / BATCH_RUNS;
        let mut learned = self.learned.lock().expect("guide lock");
        loop {
            assert!(
                learned.batch <= batch,
                "run {k} asked for the chances of a batch already folded"
            );
            if learned.batch == batch {
                return Some(learned.bias);
            }
            if give_up() {
                return None;
            }
            learned = self
                .batch_done
                .wait_timeout(learned, Duration::from_millis(50))
                .expect("guide lock")
                .0;
        }
    }

    /// The chances of the current batch (the latest the campaign learned).
    pub fn current(&self) -> WeatherBias {
        self.learned.lock().expect("guide lock").bias
    }

    /// Run `k` is done: once its batch is, the batch is folded and the next batch's chances set.
    pub fn record(&self, k: u64, outcome: Outcome) {
        if !self.guided {
            return;
        }
        let mut learned = self.learned.lock().expect("guide lock");
        assert_eq!(
            k / BATCH_RUNS,
            learned.batch,
            "run {k} recorded out of its batch"
        );
        learned.pending.insert(k, outcome);
        if learned.pending.len() as u64 == BATCH_RUNS {
            learned.fold();
            self.batch_done.notify_all();
        }
    }
}

impl Learned {
    /// Folds the finished batch in run order and sets the next batch's chances.
    fn fold(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        for outcome in pending.values() {
            let reward: f64 = outcome
                .marks
                .iter()
                .map(|m| 1.0 / (1 + self.hits.get(m).copied().unwrap_or(0)) as f64)
                .sum();
            for (i, on) in outcome.kinds.iter().enumerate() {
                let tally = if *on {
                    &mut self.on[i]
                } else {
                    &mut self.off[i]
                };
                tally.reward += reward;
                tally.runs += 1;
            }
        }
        for outcome in pending.values() {
            for m in &outcome.marks {
                *self.hits.entry(m).or_default() += 1;
            }
        }
        let mut bias = WeatherBias::SWARM;
        for (i, p) in bias.0.iter_mut().enumerate() {
            let (on, off) = (self.on[i], self.off[i]);
            if on.runs < MIN_SAMPLES || off.runs < MIN_SAMPLES {
                continue;
            }
            let ratio = if off.mean() > 0.0 {
                on.mean() / off.mean()
            } else {
                f64::from(MAX_PERMILLE) / f64::from(SWARM_PERMILLE)
            };
            let steered = (f64::from(SWARM_PERMILLE) * ratio).round();
            *p = steered.clamp(f64::from(MIN_PERMILLE), f64::from(MAX_PERMILLE)) as u16;
        }
        self.bias = bias;
        self.batch += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(on: &[usize], marks: &[&'static str]) -> Outcome {
        let mut kinds = [false; 32];
        for i in on {
            kinds[*i] = true;
        }
        Outcome {
            kinds,
            marks: marks.to_vec(),
        }
    }

    #[test]
    fn a_swarm_guide_never_steers() {
        let guide = Guide::new(false);
        for k in 0..3 * BATCH_RUNS {
            assert_eq!(guide.bias_for(k, || false), Some(WeatherBias::SWARM));
            guide.record(k, outcome(&[0], &["rare"]));
        }
    }

    #[test]
    fn a_kind_whose_runs_hit_rare_marks_is_drawn_more_and_the_others_less() {
        let guide = Guide::new(true);
        // Kind 2 on in every other run, and those runs alone hit a new mark each.
        let mut fresh = ["m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7"]
            .iter()
            .cycle();
        for k in 0..2 * BATCH_RUNS {
            let batch = k / BATCH_RUNS;
            let bias = guide.bias_for(k, || false).unwrap();
            if batch == 0 {
                assert!(bias.is_swarm(), "the first batch draws as the swarm");
            }
            let run = if k % 2 == 0 {
                outcome(&[2], &["common", fresh.next().unwrap()])
            } else {
                outcome(&[5], &["common"])
            };
            guide.record(k, run);
        }
        let bias = guide.bias_for(2 * BATCH_RUNS, || false).unwrap();
        assert!(bias.0[2] > SWARM_PERMILLE, "{bias:?}");
        assert!(bias.0[5] < SWARM_PERMILLE, "{bias:?}");
        assert_eq!(bias.0[7], SWARM_PERMILLE, "never on: not enough samples");
        assert!(bias
            .0
            .iter()
            .all(|p| (MIN_PERMILLE..=MAX_PERMILLE).contains(p)));
        assert_eq!(bias.steered().len(), 2);
    }

    #[test]
    fn the_chances_do_not_depend_on_the_order_runs_finish_in() {
        let runs: Vec<Outcome> = (0..2 * BATCH_RUNS)
            .map(|k| {
                outcome(
                    &[(k % 3) as usize],
                    &[["a", "b", "c", "d"][(k % 4) as usize]],
                )
            })
            .collect();
        let in_order = Guide::new(true);
        let reversed = Guide::new(true);
        for batch in 0..2 {
            let ks: Vec<u64> = (batch * BATCH_RUNS..(batch + 1) * BATCH_RUNS).collect();
            for &k in &ks {
                in_order.bias_for(k, || false).unwrap();
                in_order.record(k, runs[k as usize].clone());
            }
            for &k in ks.iter().rev() {
                reversed.bias_for(k, || false).unwrap();
                reversed.record(k, runs[k as usize].clone());
            }
        }
        let a = in_order.bias_for(2 * BATCH_RUNS, || false);
        let b = reversed.bias_for(2 * BATCH_RUNS, || false);
        assert_eq!(a, b);
        assert!(!a.unwrap().is_swarm());
    }

    #[test]
    fn a_run_of_the_next_batch_waits_and_gives_up_when_told() {
        let guide = Guide::new(true);
        guide.record(0, outcome(&[], &[]));
        assert_eq!(guide.bias_for(BATCH_RUNS, || true), None);
    }
}
