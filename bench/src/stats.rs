//! Medians, extremes and percentiles of repeated measurements.

/// The summary of several runs of one measurement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// The median.
    pub median: f64,
    /// The smallest run.
    pub min: f64,
    /// The largest run.
    pub max: f64,
}

/// Summarises `samples` (at least one).
pub fn summarize(samples: &[f64]) -> Summary {
    let mut s: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
    s.sort_by(f64::total_cmp);
    if s.is_empty() {
        return Summary { median: f64::NAN, min: f64::NAN, max: f64::NAN };
    }
    Summary { median: percentile(&s, 50.0), min: s[0], max: s[s.len() - 1] }
}

/// The `p`th percentile of sorted samples (nearest rank).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_min_max_and_percentiles() {
        let s = summarize(&[3.0, 1.0, 2.0, 10.0, 4.0]);
        assert_eq!((s.median, s.min, s.max), (3.0, 1.0, 10.0));
        let sorted: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&sorted, 50.0), 50.0);
        assert_eq!(percentile(&sorted, 99.0), 99.0);
    }
}
