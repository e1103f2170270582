//! Unload under traffic (issue 16) in the runtime: an embedded Director in
//! this process, asked by role as the CLI does and as an actor does
//! (through the Director actor's SendToRole) while another version loads
//! and unloads in a loop. The only test of its binary, so that the
//! process's RSS, descriptors and threads are the runtime's alone.

mod common;

use std::sync::Arc;
use std::time::Duration;

use actor_abi::value;
use common::churn::{CYCLES, churn_settles, two_versions};
use director::daemon::{self, operations::Director};
use director::protocol::Send;
use runtime::{ActorSystem, SystemConfig};
use serde_json::json;

#[test]
fn asks_by_role_through_an_embedded_director_all_get_answers_during_churn() {
    let (env, second) = two_versions("inprocess");
    let system = Arc::new(ActorSystem::start(SystemConfig::default()).unwrap());
    let embedded = daemon::embed(&system, &env.dir());
    let core: &Director = &embedded.core;
    core.load("foo").expect("version 1 loaded");
    // Half the asks as the CLI's go (Director::ask), half as an actor's
    // would: through the Director actor's SendToRole, answered straight
    // from the role's actor.
    let ask = |n: u64| {
        if n.is_multiple_of(2) {
            let message = json!({"probe": n});
            let send = Send { target: "MainFoo".into(), group: None, source: None, message, timeout_ms: 10_000 };
            return core.ask(&send).map(|v| v.to_json()).map_err(|e| e.to_string());
        }
        let request = value!({"DirectorOp": "SendToRole", "Role": "MainFoo", "Message": {"probe": n as i64}});
        let reply = system.ask(&embedded.director, request, Duration::from_secs(10));
        reply.map(|v| v.to_json()).map_err(|e| e.to_string())
    };
    let cycle = |i: usize| {
        let loaded = core.load(&second).unwrap_or_else(|e| panic!("cycle {i}: load: {e}"));
        let unloaded = core.unload(&loaded.hash).unwrap_or_else(|e| panic!("cycle {i}: unload: {e}"));
        assert_eq!(unloaded.undelivered, 0, "cycle {i}");
        assert!(unloaded.freed, "cycle {i}: {}", unloaded.code);
    };
    // The only test of this binary: the process is the runtime's alone.
    let answered = churn_settles("self", ask, cycle);
    assert!(answered > CYCLES as u64, "the askers kept asking: {answered}");
    system.shutdown();
}
