//! The network model (docs/network.md): what happens to a message between its send and its
//! arrival, apart from the rules of [`super::rules`].
//!
//! - **Latency**: each message (each copy of a duplicated one) draws its one-way latency
//!   uniformly, in microseconds, from its link's range if the link has one ([`NetworkModel::set_link`],
//!   per direction, so links may be asymmetric), else from the default range (1–10 ms unless
//!   configured). Sending and processing take no simulated time: every message of one output
//!   leaves at the same instant, and a node handles each arrival at the instant it arrives.
//! - **Loss**: each message is lost with the link's loss rate (the default one unless set).
//! - **Partitions**: a message is lost when its link is cut at its send or at its arrival.
//!
//! Bounds: latencies at most [`MAX_LATENCY_MS`]; loss within 0..=1 (parts per million).

use std::collections::{BTreeMap, BTreeSet};

use super::rules::ALWAYS_PPM;

/// The largest one-way latency a range may have, milliseconds (one minute).
pub const MAX_LATENCY_MS: u64 = 60_000;

/// A one-way latency range and loss rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkSettings {
    /// Least latency, milliseconds.
    pub latency_min_ms: u64,
    /// Most latency, milliseconds (inclusive; at most [`MAX_LATENCY_MS`]).
    pub latency_max_ms: u64,
    /// Chance that a message is lost, parts per million.
    pub loss_ppm: u32,
}

impl Default for LinkSettings {
    fn default() -> Self {
        LinkSettings {
            latency_min_ms: 1,
            latency_max_ms: 10,
            loss_ppm: 0,
        }
    }
}

impl LinkSettings {
    /// Checks the bounds: the range is not reversed, its top is at most [`MAX_LATENCY_MS`], the
    /// loss at most one.
    pub fn check(&self) -> Result<(), String> {
        if self.latency_min_ms > self.latency_max_ms {
            return Err(format!(
                "latency range {}..={} ms is reversed",
                self.latency_min_ms, self.latency_max_ms
            ));
        }
        if self.latency_max_ms > MAX_LATENCY_MS {
            return Err(format!(
                "latency {} ms is above the bound of {MAX_LATENCY_MS} ms",
                self.latency_max_ms
            ));
        }
        if self.loss_ppm > ALWAYS_PPM {
            return Err(format!("loss {} ppm is above 1", self.loss_ppm));
        }
        Ok(())
    }
}

/// The network's state: default settings, per-link settings, cut links.
///
/// Links are kept by sender, then receiver, so that a message's lookup borrows its labels
/// instead of building an owned key (issue 13).
#[derive(Clone, Debug, Default)]
pub struct NetworkModel {
    default: LinkSettings,
    links: BTreeMap<String, BTreeMap<String, LinkSettings>>,
    cut: BTreeMap<String, BTreeSet<String>>,
}

impl NetworkModel {
    /// A network whose every link has `default`.
    pub fn new(default: LinkSettings) -> NetworkModel {
        NetworkModel {
            default,
            ..Default::default()
        }
    }

    /// Sets the default settings (links with their own keep them).
    pub fn set_default(&mut self, settings: LinkSettings) {
        self.default = settings;
    }

    /// The default settings.
    pub fn default_settings(&self) -> LinkSettings {
        self.default
    }

    /// Gives the link `from -> to` (one direction) its own settings.
    pub fn set_link(&mut self, from: &str, to: &str, settings: LinkSettings) {
        self.links
            .entry(from.to_string())
            .or_default()
            .insert(to.to_string(), settings);
    }

    /// Forgets every link's own settings.
    pub fn clear_links(&mut self) {
        self.links.clear();
    }

    /// The settings of `from -> to`.
    pub fn settings(&self, from: &str, to: &str) -> LinkSettings {
        self.links
            .get(from)
            .and_then(|to_settings| to_settings.get(to))
            .copied()
            .unwrap_or(self.default)
    }

    /// Cuts `from -> to`; false when it was cut already.
    pub fn cut(&mut self, from: &str, to: &str) -> bool {
        self.cut
            .entry(from.to_string())
            .or_default()
            .insert(to.to_string())
    }

    /// Restores every link; returns the ones that were cut, as `(from, to)` in order.
    pub fn heal(&mut self) -> BTreeSet<(String, String)> {
        let cut = self.cut_links();
        self.cut.clear();
        cut
    }

    /// True when `from -> to` is cut.
    pub fn is_cut(&self, from: &str, to: &str) -> bool {
        self.cut.get(from).is_some_and(|tos| tos.contains(to))
    }

    /// The cut links, as `(from, to)` in order.
    pub fn cut_links(&self) -> BTreeSet<(String, String)> {
        self.cut
            .iter()
            .flat_map(|(from, tos)| tos.iter().map(move |to| (from.clone(), to.clone())))
            .collect()
    }

    /// Draws the latency of one message on `from -> to`, in microseconds, with `draw` giving a
    /// uniform `u64`; `None` when the message is lost. The loss coin is drawn only when the loss
    /// rate is above zero.
    pub fn draw(&self, from: &str, to: &str, draw: &mut dyn FnMut() -> u64) -> Option<u64> {
        let link = self.settings(from, to);
        if link.loss_ppm > 0 && draw() % u64::from(ALWAYS_PPM) < u64::from(link.loss_ppm) {
            return None;
        }
        let min_us = link.latency_min_ms * 1_000;
        let span_us = (link.latency_max_ms - link.latency_min_ms) * 1_000;
        Some(min_us + draw() % (span_us + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_have_their_own_settings_per_direction() {
        let mut net = NetworkModel::default();
        let slow = LinkSettings {
            latency_min_ms: 50,
            latency_max_ms: 50,
            loss_ppm: 0,
        };
        net.set_link("a", "b", slow);
        assert_eq!(net.settings("a", "b"), slow);
        assert_eq!(net.settings("b", "a"), LinkSettings::default());
        let mut zero = || 0;
        assert_eq!(net.draw("a", "b", &mut zero), Some(50_000));
        assert_eq!(net.draw("b", "a", &mut zero), Some(1_000));
        let mut top = || 9_000;
        assert_eq!(net.draw("b", "a", &mut top), Some(10_000));
        net.clear_links();
        assert_eq!(net.draw("a", "b", &mut zero), Some(1_000));
    }

    #[test]
    fn loss_draws_a_coin_only_when_there_is_loss() {
        let mut net = NetworkModel::new(LinkSettings {
            loss_ppm: 500_000,
            ..Default::default()
        });
        let mut coins = vec![7, 499_999];
        let mut draw = || coins.pop().unwrap_or(0);
        assert_eq!(net.draw("a", "b", &mut draw), None);
        let mut draws = vec![7, 500_000];
        let mut draw = || draws.pop().unwrap_or(0);
        assert_eq!(net.draw("a", "b", &mut draw), Some(1_007));
        net.set_default(LinkSettings::default());
        let mut once = vec![3];
        let mut draw = || once.pop().expect("one draw: no coin without loss");
        assert_eq!(net.draw("a", "b", &mut draw), Some(1_003));
    }

    #[test]
    fn bounds_are_checked() {
        let bad = LinkSettings {
            latency_min_ms: 5,
            latency_max_ms: 4,
            loss_ppm: 0,
        };
        assert!(bad.check().unwrap_err().contains("reversed"));
        let far = LinkSettings {
            latency_max_ms: MAX_LATENCY_MS + 1,
            ..Default::default()
        };
        assert!(far.check().unwrap_err().contains("bound"));
        assert!(LinkSettings::default().check().is_ok());
    }

    #[test]
    fn cuts_are_one_way_until_healed() {
        let mut net = NetworkModel::default();
        assert!(net.cut("a", "b"));
        assert!(!net.cut("a", "b"));
        assert!(net.is_cut("a", "b"));
        assert!(!net.is_cut("b", "a"));
        assert_eq!(net.heal().len(), 1);
        assert!(!net.is_cut("a", "b"));
    }
}
