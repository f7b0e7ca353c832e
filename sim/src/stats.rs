//! Summary statistics for the figures the testbed prints (`demo --runs`, the benchmarks).

/// The median of `values`: the upper middle value once sorted (`total_cmp` order, so a NaN sorts
/// last); `None` when there is none. Sorts `values` in place.
pub fn median(values: &mut [f64]) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied()
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_is_the_upper_middle_value() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), Some(3.0));
    }
}
