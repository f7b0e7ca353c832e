//! The timeline's time axis: simulated time (µs) to a vertical position (px), linear between
//! the moments worth seeing and compressed across long quiet stretches.
//!
//! The moments are the *key times* the page draws at (protocol messages, milestones, faults,
//! the violation). Between two consecutive key times at most [`QUIET_GAP_MS`] apart, time runs at
//! [`PX_PER_MS`]; a longer stretch is a *quiet gap*, drawn [`COMPRESSED_GAP_PX`] tall and marked
//! on the page. Anything else (a Raft message, a probe) is placed by linear interpolation inside
//! its stretch. The whole chart is at most [`MAX_CHART_PX`] tall: a run that would be taller is
//! drawn at a smaller scale (and smaller gaps), never cut.

use std::collections::BTreeSet;

/// Pixels per simulated millisecond at full scale: a typical 3–10 ms network latency slants an
/// arrow by 9–30 px, enough to see which of two messages came first.
pub const PX_PER_MS: f64 = 3.0;

/// A stretch longer than this between two key times (milliseconds) is compressed: at full scale
/// it would be more than 120 px of nothing.
pub const QUIET_GAP_MS: u64 = 40;

/// How tall a compressed quiet gap is drawn at full scale (pixels): room for its marker and label.
pub const COMPRESSED_GAP_PX: f64 = 48.0;

/// The tallest chart (pixels): about sixty screens, well inside what a browser lays out in one
/// SVG element. A run whose linear stretches would be taller than half of it is drawn at a
/// smaller scale; one whose quiet gaps would be taller than the other half has smaller gaps.
pub const MAX_CHART_PX: f64 = 60_000.0;

/// A compressed quiet gap: `[start_us, end_us]` drawn from `y0` to `y1`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QuietGap {
    /// Simulated time where the gap starts, µs.
    pub start_us: u64,
    /// Simulated time where it ends, µs.
    pub end_us: u64,
    /// Its top, px.
    pub y0: f64,
    /// Its bottom, px.
    pub y1: f64,
}

/// The mapping from simulated time to vertical position.
#[derive(Clone, Debug)]
pub struct TimeScale {
    /// (time µs, y px) at each key time, increasing in both.
    knots: Vec<(u64, f64)>,
    /// The compressed stretches.
    gaps: Vec<QuietGap>,
    /// Pixels per millisecond in linear stretches (at most [`PX_PER_MS`]).
    px_per_ms: f64,
}

impl TimeScale {
    /// A scale over `key_times` (µs; time 0 and `end_us` are added) starting at `top` px.
    pub fn new(key_times: &BTreeSet<u64>, end_us: u64, top: f64) -> TimeScale {
        let mut times: BTreeSet<u64> = key_times.clone();
        times.insert(0);
        times.insert(end_us);
        let times: Vec<u64> = times.into_iter().collect();
        let quiet_us = QUIET_GAP_MS * 1000;
        let mut linear_ms = 0.0;
        let mut quiet = 0usize;
        for pair in times.windows(2) {
            let gap = pair[1] - pair[0];
            if gap > quiet_us {
                quiet += 1;
            } else {
                linear_ms += gap as f64 / 1000.0;
            }
        }
        let half = MAX_CHART_PX / 2.0;
        let px_per_ms = if linear_ms * PX_PER_MS > half {
            half / linear_ms
        } else {
            PX_PER_MS
        };
        let gap_px = if quiet as f64 * COMPRESSED_GAP_PX > half {
            half / quiet as f64
        } else {
            COMPRESSED_GAP_PX
        };
        let mut knots = Vec::with_capacity(times.len());
        let mut gaps = Vec::new();
        let mut y = top;
        knots.push((times[0], y));
        for pair in times.windows(2) {
            let gap = pair[1] - pair[0];
            let y0 = y;
            if gap > quiet_us {
                y += gap_px;
                gaps.push(QuietGap {
                    start_us: pair[0],
                    end_us: pair[1],
                    y0,
                    y1: y,
                });
            } else {
                y += gap as f64 / 1000.0 * px_per_ms;
            }
            knots.push((pair[1], y));
        }
        TimeScale {
            knots,
            gaps,
            px_per_ms,
        }
    }

    /// The vertical position of simulated time `t_us`: exact at key times, interpolated between
    /// them, clamped to the chart outside it.
    pub fn y(&self, t_us: u64) -> f64 {
        let i = self.knots.partition_point(|&(t, _)| t <= t_us);
        if i == 0 {
            return self.knots[0].1;
        }
        let (t0, y0) = self.knots[i - 1];
        match self.knots.get(i) {
            None => y0,
            Some(&(t1, y1)) => y0 + (y1 - y0) * ((t_us - t0) as f64 / (t1 - t0) as f64),
        }
    }

    /// The bottom of the chart (the position of the last key time), px.
    pub fn bottom(&self) -> f64 {
        self.knots.last().map_or(0.0, |k| k.1)
    }

    /// The compressed quiet gaps, in time order.
    pub fn gaps(&self) -> &[QuietGap] {
        &self.gaps
    }

    /// Pixels per millisecond in linear stretches.
    pub fn px_per_ms(&self) -> f64 {
        self.px_per_ms
    }

    /// The key times with their positions, in time order.
    pub fn knots(&self) -> &[(u64, f64)] {
        &self.knots
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_between_close_moments_and_compressed_across_quiet_gaps() {
        let keys: BTreeSet<u64> = [10_000, 20_000, 2_020_000].into_iter().collect();
        let scale = TimeScale::new(&keys, 2_030_000, 100.0);
        assert_eq!(scale.y(0), 100.0);
        assert_eq!(scale.y(10_000), 100.0 + 10.0 * PX_PER_MS);
        assert_eq!(scale.y(15_000), 100.0 + 15.0 * PX_PER_MS);
        let after_gap = 100.0 + 20.0 * PX_PER_MS + COMPRESSED_GAP_PX;
        assert_eq!(scale.y(2_020_000), after_gap);
        assert_eq!(scale.bottom(), after_gap + 10.0 * PX_PER_MS);
        assert_eq!(scale.y(u64::MAX), scale.bottom());
        assert_eq!(
            scale.gaps(),
            [QuietGap {
                start_us: 20_000,
                end_us: 2_020_000,
                y0: 100.0 + 20.0 * PX_PER_MS,
                y1: after_gap
            }]
        );
        // Inside the gap, time is interpolated.
        let mid = scale.y(1_020_000);
        assert!(mid > scale.gaps()[0].y0 && mid < scale.gaps()[0].y1);
    }

    #[test]
    fn a_long_busy_run_is_drawn_smaller_never_taller_than_the_bound() {
        // A key time every 30 ms for an hour: all linear, 360 000 ms at full scale.
        let keys: BTreeSet<u64> = (0..120_000u64).map(|i| i * 30_000).collect();
        let scale = TimeScale::new(&keys, 3_600_000_000, 0.0);
        assert!(scale.bottom() <= MAX_CHART_PX);
        assert!(scale.px_per_ms() < PX_PER_MS);
        // A quiet gap every 100 ms for an hour.
        let keys: BTreeSet<u64> = (0..36_000u64).map(|i| i * 100_000).collect();
        let scale = TimeScale::new(&keys, 3_600_000_000, 0.0);
        assert!(scale.bottom() <= MAX_CHART_PX);
        assert_eq!(scale.gaps().len(), 36_000);
    }
}
