//! Unload under traffic (issue 16): asks by role from several threads while
//! another version of the group loads and unloads in a loop. Every ask is
//! answered, by a version that was active when it was sent or by the one
//! that took over; the process ends as it started (RSS, descriptors,
//! threads).
//!
//! Here the real daemon, with versions in its process and with a worker
//! process per version; `churn_embedded.rs` has the runtime (an embedded
//! Director), `convention.rs` another member of a convention.

mod common;

use std::time::Duration;

use common::churn::{churn_settles, two_versions};
use director::{DirectorControl, SendOptions};
use serde_json::json;

/// The daemon's churn: loads and unloads of foo 2 while askers ask
/// `MainFoo`; the daemon settles (see [`churn_settles`]).
fn daemon_churn(isolation: &str) {
    let (env, second) = two_versions(isolation);
    let _daemon = env.start();
    let control = DirectorControl::new(&env.dir()).with_binary(common::BIN);
    control.load("foo").expect("version 1 loaded");
    let options = SendOptions { timeout: Some(Duration::from_secs(30)), ..SendOptions::default() };
    let ask = |n: u64| control.ask("MainFoo", json!({"probe": n}), &options).map_err(|e| e.to_string());
    let cycle = |i: usize| {
        let loaded = control.load(&second).unwrap_or_else(|e| panic!("cycle {i}: load: {e}"));
        let unloaded = control.unload(&loaded.hash).unwrap_or_else(|e| panic!("cycle {i}: unload: {e}"));
        assert_eq!(unloaded.undelivered, 0, "cycle {i}");
        assert!(unloaded.freed, "cycle {i}: {}", unloaded.code);
    };
    churn_settles(&env.pid().to_string(), ask, cycle);
}

#[test]
fn asks_by_role_to_the_daemon_all_get_answers_during_churn_in_process() {
    daemon_churn("inprocess");
}

#[test]
fn asks_by_role_to_the_daemon_all_get_answers_during_churn_in_workers() {
    daemon_churn("process");
}
