//! This process's memory, from `/proc/self/status` (Linux): for benchmarks, campaign summaries
//! and the test that memory stays flat over many runs. `None` where `/proc` is not there.

fn status_kib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// The resident set now, in MiB (`VmRSS`).
pub fn resident_mib() -> Option<f64> {
    status_kib("VmRSS:").map(|kib| kib / 1024.0)
}

/// The largest resident set so far, in MiB (`VmHWM`).
pub fn peak_resident_mib() -> Option<f64> {
    status_kib("VmHWM:").map(|kib| kib / 1024.0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_peak_is_at_least_the_current_resident_set() {
        let (now, peak) = (super::resident_mib(), super::peak_resident_mib());
        if let (Some(now), Some(peak)) = (now, peak) {
            assert!(now > 0.0 && peak >= now, "{now} {peak}");
        }
    }
}
