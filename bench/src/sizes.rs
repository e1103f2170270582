//! How big each workload is: the full report or a quick smoke run.

/// Workload sizes and repetitions.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// Runs per measurement (the report shows median, min and max).
    pub runs: usize,
    /// W1 messages.
    pub w1: u64,
    /// W2 round trips.
    pub w2: u64,
    /// W3 asks.
    pub w3: u64,
    /// W4 actors.
    pub w4: u64,
    /// W5 messages.
    pub w5: u64,
    /// L1 library sizes in MiB.
    pub l1_mib: &'static [u64],
    /// L3 load/unload cycles.
    pub l3: u64,
    /// L4 groups, and versions per group.
    pub l4: (usize, usize),
    /// CLI calls timed in L4 and L5.
    pub list_runs: usize,
    /// C1 asks between two members.
    pub c1: u64,
    /// C2 messages between two members.
    pub c2: u64,
    /// C3 package size in MiB.
    pub c3_mib: u64,
    /// U1 window length in ms.
    pub churn_ms: u64,
}

impl Sizes {
    /// The full report's sizes (the numbers).
    pub const FULL: Sizes = Sizes {
        runs: 9,
        w1: 1_000_000,
        w2: 100_000,
        w3: 20_000,
        w4: 100_000,
        w5: 1_000_000,
        l1_mib: &[1, 10, 50],
        l3: 1000,
        l4: (200, 5),
        list_runs: 20,
        c1: 20_000,
        c2: 1_000_000,
        c3_mib: 50,
        churn_ms: 3000,
    };
    /// A few seconds in all, for CI.
    pub const QUICK: Sizes = Sizes {
        runs: 1,
        w1: 20_000,
        w2: 2_000,
        w3: 500,
        w4: 2_000,
        w5: 20_000,
        l1_mib: &[1],
        l3: 20,
        l4: (3, 2),
        list_runs: 3,
        c1: 200,
        c2: 20_000,
        c3_mib: 1,
        churn_ms: 300,
    };
}
