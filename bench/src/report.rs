//! The results and how `BENCHMARKS.md` shows them.

use std::fmt::Write as _;

use crate::stats::{Summary, summarize};

/// One system's runs of one measurement.
pub struct Row {
    /// `ours`, `actix`, ...
    pub system: String,
    /// Median, min and max of the runs.
    pub summary: Summary,
}

/// Whether a target was met.
pub enum Verdict {
    /// Met, with the figures.
    Met(String),
    /// Missed, with the figures.
    Missed(String),
    /// Not measured in this run, and why.
    NotMeasured(String),
}

/// One workload's table.
pub struct Table {
    /// `W1`, `L1 10 MiB`, ...
    pub id: String,
    /// What it measures.
    pub title: String,
    /// The unit of the numbers.
    pub unit: &'static str,
    /// True when bigger numbers are better.
    pub higher_is_better: bool,
    /// The systems measured.
    pub rows: Vec<Row>,
    /// The target line, if the workload has one.
    pub target: Option<(String, Verdict)>,
    /// Lines shown under the table.
    pub notes: Vec<String>,
}

impl Table {
    /// An empty table.
    pub fn new(id: &str, title: String, unit: &'static str, higher_is_better: bool) -> Table {
        Table { id: id.into(), title, unit, higher_is_better, rows: Vec::new(), target: None, notes: Vec::new() }
    }

    /// Adds a system's runs.
    pub fn add(&mut self, system: &str, samples: &[f64]) {
        self.rows.push(Row { system: system.into(), summary: summarize(samples) });
    }

    /// The median of `system`.
    pub fn median(&self, system: &str) -> Option<f64> {
        self.rows.iter().find(|r| r.system == system).map(|r| r.summary.median)
    }

    /// The best median among the Rust peers (not ours, not Thespian).
    pub fn best_peer(&self) -> Option<(&str, f64)> {
        self.best_of(|s| !s.starts_with("ours") && !s.starts_with("Thespian"))
    }

    /// The best median among the systems `keep` selects.
    pub fn best_of(&self, keep: impl Fn(&str) -> bool) -> Option<(&str, f64)> {
        let peers = self.rows.iter().filter(|r| keep(&r.system) && r.summary.median.is_finite());
        let best = if self.higher_is_better {
            peers.max_by(|a, b| a.summary.median.total_cmp(&b.summary.median))
        } else {
            peers.min_by(|a, b| a.summary.median.total_cmp(&b.summary.median))
        };
        best.map(|r| (r.system.as_str(), r.summary.median))
    }

    /// How many times better ours is than `other` (above 1: ours is better).
    pub fn ratio(&self, other: f64) -> Option<f64> {
        let ours = self.median("ours")?;
        Some(if self.higher_is_better { ours / other } else { other / ours })
    }

    /// Renders the table as Markdown.
    pub fn render(&self) -> String {
        let mut out = format!("### {}: {}\n\n", self.id, self.title);
        if self.rows.is_empty() {
            if let Some((text, verdict)) = &self.target {
                let d = match verdict {
                    Verdict::Met(d) | Verdict::Missed(d) | Verdict::NotMeasured(d) => d,
                };
                let _ = writeln!(out, "{text}: {d}\n");
            }
            for note in &self.notes {
                let _ = writeln!(out, "- {note}");
            }
            if !self.notes.is_empty() {
                out.push('\n');
            }
            return out;
        }
        let better = if self.higher_is_better { "higher is better" } else { "lower is better" };
        let _ = writeln!(out, "| system | median ({}) | min | max | ours vs it |", self.unit);
        out.push_str("| --- | ---: | ---: | ---: | ---: |\n");
        for r in &self.rows {
            let ratio = if r.system == "ours" {
                "-".to_string()
            } else {
                self.ratio(r.summary.median).map_or("-".into(), |x| format!("{x:.2}x"))
            };
            let s = r.summary;
            let _ = writeln!(out, "| {} | {} | {} | {} | {ratio} |", r.system, num(s.median), num(s.min), num(s.max));
        }
        let _ = writeln!(out, "\n({better}; \"ours vs it\" above 1.00x means ours is better.)\n");
        for note in &self.notes {
            let _ = writeln!(out, "{note}\n");
        }
        if let Some((text, verdict)) = &self.target {
            let line = match verdict {
                Verdict::Met(d) => format!("**Target met**: {text} ({d})"),
                Verdict::Missed(d) => format!("**Target missed**: {text} ({d})"),
                Verdict::NotMeasured(d) => format!("**Target not measured**: {text} ({d})"),
            };
            let _ = writeln!(out, "{line}\n");
        }
        out
    }
}

/// A number with a sensible number of digits.
pub fn num(x: f64) -> String {
    if !x.is_finite() {
        return "n/a".into();
    }
    let a = x.abs();
    if a >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else if a >= 1e3 {
        format!("{:.1}k", x / 1e3)
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.3}")
    }
}

/// A versions line from the workspace's Cargo.lock.
pub fn locked_versions(names: &[&str]) -> String {
    let lock = std::fs::read_to_string(test_support::workspace_root().join("Cargo.lock")).unwrap_or_default();
    names
        .iter()
        .map(|n| {
            let needle = format!("name = \"{n}\"\nversion = \"");
            let v = lock.find(&needle).and_then(|i| lock[i + needle.len()..].split('"').next()).unwrap_or("?");
            format!("{n} {v}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}
