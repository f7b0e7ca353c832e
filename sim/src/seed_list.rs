//! A list of seeds as a user writes it on the command line (`joinsim demo --seeds SPEC`).
//!
//! A spec is one of:
//! - `N`: the seeds `0..N` (a count, as `run --seeds N` and `check --seeds N` read it);
//! - `A..B`: the half-open range of seeds `A, A+1, ..., B-1`;
//! - a comma list whose items are single seeds or ranges, mixed freely: `3,7,19`, `0..10,15,20..25`
//!   (spaces around an item are allowed). In a list a bare number is one seed, not a count; a
//!   list of one seed is written as the range `S..S+1` (a trailing comma is an empty item).
//!
//! Every seed appears once: a seed listed twice (`3,3`, or `0..10,5`) is an error, so a run is
//! never counted twice. The runs are made in ascending seed order whatever order the spec gives,
//! so one set of seeds always folds to one trace hash. A list holds from one seed up to a bound the
//! caller gives (`demo --seeds`: [`crate::limits::DEMO_RUNS`]); the bound is checked before any seed
//! is materialised.

use std::fmt;
use std::num::IntErrorKind;
use std::ops::{Range, RangeInclusive};

/// A non-empty set of seeds: disjoint, non-adjacent half-open ranges in ascending order.
///
/// Built by [`SeedList::parse`] or [`SeedList::range`]; its [`Display`](fmt::Display) form parses
/// back to the same set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedList {
    /// Sorted by start; each range non-empty; a range ends before the next one starts (ranges
    /// that touch are merged).
    ranges: Vec<Range<u64>>,
}

impl SeedList {
    /// The seeds `start..start + count`.
    ///
    /// # Errors
    /// `count` is 0, or `start + count` passes `u64::MAX` (the end of a half-open range).
    pub fn range(start: u64, count: u64) -> Result<SeedList, String> {
        if count == 0 {
            return Err("no seeds: a list holds at least one".into());
        }
        let end = start
            .checked_add(count)
            .ok_or_else(|| format!("{count} seeds from {start} pass the largest seed"))?;
        Ok(SeedList {
            ranges: std::iter::once(start..end).collect(),
        })
    }

    /// Parses `spec` (the module's grammar) into a list of between `count.start()` and
    /// `count.end()` seeds.
    ///
    /// # Errors
    /// A message naming the problem and the offending part of `spec`: an empty spec or list item,
    /// a part that is not a number or is larger than `u64::MAX`, an empty or reversed range, a
    /// seed listed twice, or a number of seeds outside `count`.
    pub fn parse(spec: &str, count: &RangeInclusive<u64>) -> Result<SeedList, String> {
        let spec = spec.trim();
        if spec.is_empty() {
            return Err(
                "the seed list is empty: give a count N (seeds 0..N), a range A..B or a list such as 3,7,19"
                    .into(),
            );
        }
        let mut ranges = Vec::new();
        if !spec.contains(',') && !spec.contains("..") {
            let n = number(spec)?;
            if n == 0 {
                return Err("0 seeds: the count N runs seeds 0..N and must be at least 1".into());
            }
            ranges.push(0..n);
        } else {
            for item in spec.split(',') {
                let item = item.trim();
                if item.is_empty() {
                    return Err(format!("{spec:?} has an empty item between commas"));
                }
                ranges.push(match item.split_once("..") {
                    Some((a, b)) => {
                        if let Some(last) = b.strip_prefix('=') {
                            let end = last
                                .trim()
                                .parse::<u64>()
                                .ok()
                                .and_then(|b| b.checked_add(1));
                            let end = end.map_or("B+1".to_string(), |e| e.to_string());
                            return Err(format!(
                                "{item:?}: ranges are half-open A..B: write {}..{end}",
                                a.trim()
                            ));
                        }
                        let (a, b) = (number(a.trim())?, number(b.trim())?);
                        if a == b {
                            return Err(format!("the range {a}..{b} is empty"));
                        }
                        if a > b {
                            return Err(format!(
                                "the range {a}..{b} is reversed: its start is past its end"
                            ));
                        }
                        a..b
                    }
                    None => {
                        let seed = number(item)?;
                        // u64::MAX as one seed: the range seed..seed+1 cannot be written, so
                        // such a list is refused rather than wrapped.
                        let end = seed.checked_add(1).ok_or_else(|| {
                            format!(
                                "seed {seed} is the largest u64, past the largest seed of a list"
                            )
                        })?;
                        seed..end
                    }
                });
            }
        }
        let list = SeedList::normalise(ranges)?;
        let n = list.len();
        if !count.contains(&n) {
            return Err(format!(
                "{n} seeds is out of range: expected {}..={}",
                count.start(),
                count.end()
            ));
        }
        Ok(list)
    }

    /// Sorts and merges `ranges` (each non-empty); a seed in two of them is an error.
    fn normalise(mut ranges: Vec<Range<u64>>) -> Result<SeedList, String> {
        ranges.sort_by_key(|r| (r.start, r.end));
        let mut merged: Vec<Range<u64>> = Vec::with_capacity(ranges.len());
        for range in ranges {
            match merged.last_mut() {
                Some(last) if range.start < last.end => {
                    return Err(format!("seed {} is listed twice", range.start));
                }
                Some(last) if range.start == last.end => last.end = range.end,
                _ => merged.push(range),
            }
        }
        Ok(SeedList { ranges: merged })
    }

    /// How many seeds the list holds (at least 1).
    pub fn len(&self) -> u64 {
        self.ranges.iter().map(|r| r.end - r.start).sum()
    }

    /// Always false: a list holds at least one seed (for clippy's `len_without_is_empty`).
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The seeds in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.ranges.iter().flat_map(Clone::clone)
    }
}

/// A seed or a count: a decimal `u64`.
fn number(text: &str) -> Result<u64, String> {
    text.parse()
        .map_err(|e: std::num::ParseIntError| match e.kind() {
            IntErrorKind::Empty => "a range needs both ends, A..B".to_string(),
            IntErrorKind::PosOverflow => {
                format!("{text} is larger than the largest seed, {}", u64::MAX)
            }
            _ => format!("{text:?} is not a seed: expected a decimal number"),
        })
}

impl SeedList {
    /// The [`Display`](fmt::Display) form cut after its first `max_parts` comma-separated parts
    /// (single seeds or ranges), followed by `,... (K more parts)` when it was cut: for a report's
    /// header line, which a list of thousands of scattered seeds would otherwise flood.
    /// At least one part is shown (`max_parts` 0 reads as 1).
    pub fn abbreviated(&self, max_parts: usize) -> String {
        let max_parts = max_parts.max(1);
        let mut out = String::new();
        let _ = self.write_parts(&mut out, max_parts);
        if self.ranges.len() > max_parts {
            out.push_str(&format!(
                ",... ({} more parts)",
                self.ranges.len() - max_parts
            ));
        }
        out
    }

    fn write_parts(&self, f: &mut impl fmt::Write, max_parts: usize) -> fmt::Result {
        if let [only] = self.ranges.as_slice() {
            return write!(f, "{}..{}", only.start, only.end);
        }
        for (i, range) in self.ranges.iter().take(max_parts).enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if range.end - range.start == 1 {
                write!(f, "{}", range.start)?;
            } else {
                write!(f, "{}..{}", range.start, range.end)?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for SeedList {
    /// `A..B` for one range, else a comma list with single seeds as `S` and ranges as `A..B`:
    /// the form [`SeedList::parse`] reads back to the same list.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_parts(f, usize::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANY: RangeInclusive<u64> = 1..=1_000_000;

    fn seeds(spec: &str) -> Vec<u64> {
        SeedList::parse(spec, &ANY)
            .unwrap_or_else(|e| panic!("{spec}: {e}"))
            .iter()
            .collect()
    }

    fn error(spec: &str) -> String {
        SeedList::parse(spec, &ANY).expect_err(spec)
    }

    #[test]
    fn a_count_is_the_seeds_from_zero() {
        assert_eq!(seeds("4"), [0, 1, 2, 3]);
        assert_eq!(seeds(" 1 "), [0]);
    }

    #[test]
    fn a_range_is_half_open() {
        assert_eq!(seeds("3..6"), [3, 4, 5]);
        assert_eq!(seeds("7..8"), [7]);
        let top = SeedList::parse("18446744073709551613..18446744073709551615", &ANY).unwrap();
        assert_eq!(top.iter().collect::<Vec<_>>(), [u64::MAX - 2, u64::MAX - 1]);
    }

    #[test]
    fn a_list_mixes_seeds_and_ranges_and_runs_them_in_ascending_order() {
        assert_eq!(seeds("19,3,7"), [3, 7, 19]);
        assert_eq!(seeds("3, 7 ,19"), [3, 7, 19]);
        assert_eq!(seeds("20..22,5,0..2"), [0, 1, 5, 20, 21]);
    }

    #[test]
    fn the_display_form_parses_back_to_the_same_list() {
        for (spec, shown) in [
            ("4", "0..4"),
            ("3..6", "3..6"),
            ("19,3,7", "3,7,19"),
            ("3,4,5", "3..6"),
            ("0..10,15,20..25", "0..10,15,20..25"),
            ("9,0..9", "0..10"),
        ] {
            let list = SeedList::parse(spec, &ANY).unwrap();
            assert_eq!(list.to_string(), shown, "{spec}");
            assert_eq!(SeedList::parse(shown, &ANY).unwrap(), list, "{spec}");
        }
        assert_eq!(SeedList::range(3, 12).unwrap().to_string(), "3..15");
    }

    #[test]
    fn the_abbreviated_form_names_how_many_parts_it_left_out() {
        let list = SeedList::parse("1,3,5,7..9,11", &ANY).unwrap();
        assert_eq!(list.abbreviated(10), "1,3,5,7..9,11");
        assert_eq!(list.abbreviated(5), "1,3,5,7..9,11");
        assert_eq!(list.abbreviated(2), "1,3,... (3 more parts)");
        assert_eq!(list.abbreviated(0), "1,... (4 more parts)");
        assert_eq!(
            SeedList::parse("0..9", &ANY).unwrap().abbreviated(1),
            "0..9"
        );
    }

    #[test]
    fn len_counts_every_seed() {
        let list = SeedList::parse("0..10,15,20..25", &ANY).unwrap();
        assert_eq!(list.len(), 16);
        assert!(!list.is_empty());
        assert_eq!(list.iter().count(), 16);
    }

    #[test]
    fn every_bad_spec_is_an_error_naming_its_problem() {
        assert!(error("").contains("empty"));
        assert!(error("  ").contains("empty"));
        assert!(error("0").contains("0 seeds"));
        assert!(error("5..5").contains("the range 5..5 is empty"));
        assert!(error("9..3").contains("the range 9..3 is reversed"));
        assert!(error("x").contains("\"x\" is not a seed"));
        assert!(error("-3").contains("\"-3\" is not a seed"));
        assert!(error("1.5").contains("\"1.5\" is not a seed"));
        assert!(error("3,x").contains("\"x\" is not a seed"));
        assert!(error("3..").contains("both ends"));
        assert!(error("..3").contains("both ends"));
        assert!(error("1..2..3").contains("\"2..3\" is not a seed"));
        assert!(error("3,,7").contains("empty item"));
        assert!(error(",").contains("empty item"));
        assert!(error("0,").contains("empty item"));
        assert!(error("18446744073709551616").contains("larger than the largest seed"));
        assert!(error("0..18446744073709551616").contains("larger than the largest seed"));
        assert!(error("18446744073709551615,1").contains("largest u64"));
        assert!(error("3,7,3").contains("seed 3 is listed twice"));
        assert!(error("0..10,5").contains("seed 5 is listed twice"));
        assert!(error("0..10,8..12").contains("seed 8 is listed twice"));
        assert!(error("0..100,3..4,50..60").contains("seed 3 is listed twice"));
        assert!(error("0..=4").contains("half-open") && error("0..=4").contains("0..5"));
    }

    #[test]
    fn the_number_of_seeds_is_bounded_before_any_is_made() {
        let small = 1..=3;
        assert!(SeedList::parse("3", &small).is_ok());
        assert_eq!(
            SeedList::parse("4", &small),
            Err("4 seeds is out of range: expected 1..=3".into())
        );
        assert!(SeedList::parse("0..2,5,9", &small)
            .unwrap_err()
            .contains("4 seeds"));
        // A huge range is refused from its length alone.
        assert!(SeedList::parse("0..18446744073709551615", &ANY)
            .unwrap_err()
            .contains("18446744073709551615 seeds is out of range"));
    }

    #[test]
    fn a_counted_range_must_fit_below_the_largest_seed() {
        assert!(SeedList::range(0, 0).is_err());
        assert!(SeedList::range(u64::MAX, 1)
            .unwrap_err()
            .contains("largest seed"));
        assert_eq!(SeedList::range(u64::MAX - 1, 1).unwrap().len(), 1);
    }
}
