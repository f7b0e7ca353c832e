//! A machine's clock: the time a node reads and its timers run on, which may be skewed (ahead of
//! the world's time by an offset) and drift (run faster or slower by a rate), within documented
//! bounds (docs/network.md, "Clocks"). Failure detection and election timeouts run on it.
//!
//! The reading is continuous and never goes back: a new rate applies from the instant it is set,
//! and a skew only moves the clock forward.

/// The largest drift, parts per million either way (±10%: a timer of 1 s fires between 0.9 s and
/// 1.1 s of world time).
pub const MAX_DRIFT_PPM: i64 = 100_000;

/// The largest skew a clock may be put ahead by, milliseconds (ten minutes).
pub const MAX_SKEW_MS: u64 = 600_000;

const PPM: i64 = 1_000_000;

/// One machine's clock. The default is the world's clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeClock {
    /// World microsecond at which the current rate began.
    base_world_us: u64,
    /// The clock's reading then, microseconds.
    base_local_us: u64,
    /// Drift, parts per million (positive: runs fast).
    drift_ppm: i64,
}

impl NodeClock {
    /// The reading at world microsecond `now_us`, microseconds.
    pub fn local_us(&self, now_us: u64) -> u64 {
        let elapsed = now_us.saturating_sub(self.base_world_us) as i128;
        let scaled = elapsed * i128::from(PPM + self.drift_ppm) / i128::from(PPM);
        self.base_local_us + scaled as u64
    }

    /// The reading at world microsecond `now_us`, milliseconds.
    pub fn local_ms(&self, now_us: u64) -> u64 {
        self.local_us(now_us) / 1_000
    }

    /// How many world microseconds `ms` of this clock take (at least 1).
    pub fn world_us_for(&self, ms: u64) -> u64 {
        let local = i128::from(ms) * 1_000;
        ((local * i128::from(PPM) / i128::from(PPM + self.drift_ppm)) as u64).max(1)
    }

    /// The drift, parts per million.
    pub fn drift_ppm(&self) -> i64 {
        self.drift_ppm
    }

    /// From world microsecond `now_us` on, the clock runs at `drift_ppm` and reads `skew_ms`
    /// more than it would have.
    ///
    /// # Errors
    /// A drift beyond ±[`MAX_DRIFT_PPM`] or a skew above [`MAX_SKEW_MS`].
    pub fn adjust(&mut self, now_us: u64, skew_ms: u64, drift_ppm: i64) -> Result<(), String> {
        check(skew_ms, drift_ppm)?;
        let reading = self.local_us(now_us);
        self.base_world_us = now_us;
        self.base_local_us = reading + skew_ms * 1_000;
        self.drift_ppm = drift_ppm;
        Ok(())
    }
}

/// Checks a skew and a drift against their bounds.
///
/// # Errors
/// A message naming the value and its bound.
pub fn check(skew_ms: u64, drift_ppm: i64) -> Result<(), String> {
    if drift_ppm.abs() > MAX_DRIFT_PPM {
        return Err(format!(
            "drift {drift_ppm} ppm is beyond the bound of ±{MAX_DRIFT_PPM} ppm"
        ));
    }
    if skew_ms > MAX_SKEW_MS {
        return Err(format!(
            "skew {skew_ms} ms is above the bound of {MAX_SKEW_MS} ms"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_clock_is_the_worlds() {
        let clock = NodeClock::default();
        assert_eq!(clock.local_ms(12_345_678), 12_345);
        assert_eq!(clock.world_us_for(100), 100_000);
    }

    #[test]
    fn a_fast_clock_reads_more_and_fires_sooner() {
        let mut clock = NodeClock::default();
        clock.adjust(1_000_000, 0, 100_000).expect("in bounds");
        assert_eq!(clock.local_ms(1_000_000), 1_000);
        assert_eq!(clock.local_ms(2_000_000), 2_100);
        assert_eq!(clock.world_us_for(110), 100_000);
        clock.adjust(2_000_000, 500, -100_000).expect("in bounds");
        assert_eq!(
            clock.local_ms(2_000_000),
            2_600,
            "continuous, then skewed ahead"
        );
        assert_eq!(clock.local_ms(3_000_000), 3_500);
        assert_eq!(clock.world_us_for(90), 100_000);
    }

    #[test]
    fn bounds_are_refused_with_their_values() {
        let mut clock = NodeClock::default();
        let err = clock.adjust(0, 0, 100_001).unwrap_err();
        assert!(err.contains("100001 ppm"), "{err}");
        let err = clock.adjust(0, MAX_SKEW_MS + 1, 0).unwrap_err();
        assert!(err.contains("skew"), "{err}");
        assert_eq!(
            clock,
            NodeClock::default(),
            "a refused change changes nothing"
        );
    }
}
