//! One line on stderr per step of a long run, so an operator sees what runs.

/// Tells the operator what runs now.
pub fn progress(what: &str) {
    eprintln!("bench: {what}");
}
