//! The actor semantics an operator relies on, through the real daemon, once
//! with every version in a worker process (the default) and once in-process
//! (`simpleSystemBase`): OnLoad, OnDeactivate and OnReactivate, global
//! names following the active version, `--source`, children (named and
//! not) and their exit notices, wakeups, messages between groups, and
//! PoisonMessage after a handler panics twice.

mod common;

use std::time::Duration;

use common::{Env, ask};
use serde_json::{Value, json};
use test_support::{eventually, plugins};

const FOO_TLI: &str = "{'Actors': {'foo.fooactor': {
    'OnLoad': {'Role': 'MainFoo', 'Message': 'StartFoo', 'GlobalName': 'Foo Primary'},
    'OnDeactivate': {'Message': {'Shutdown': True}},
    'OnReactivate': {'Message': 'Restart'}}}}";

fn history(env: &Env, args: &[&str]) -> Vec<Value> {
    let mut full = args.to_vec();
    full.push("\"history\"");
    ask(env, &full).as_array().cloned().unwrap_or_default()
}

fn soon(env: &Env, what: &str, mut f: impl FnMut(&[Value]) -> bool) {
    let ok = eventually(Duration::from_secs(20), || f(&history(env, &["MainFoo"])));
    assert!(ok, "{what}: MainFoo's history is {:?}", history(env, &["MainFoo"]));
}

fn address_of(env: &Env, group: &str) -> String {
    let list = env.json(&["list", "--json"]);
    let v = list.as_array().unwrap().iter().find(|v| v["group"] == group && v["active"] == true).unwrap().clone();
    v["actors"][0]["address"].as_str().unwrap().to_string()
}

fn semantics(env: &Env, expect_runs: &str) {
    env.tli("foo", FOO_TLI);
    env.gensrc_prebuilt(Some("1.0")).ok();
    env.tli("misbehave", "{'Actors': {'misbehave.Actor': {'OnLoad': {'Role': 'M'}}}}");
    env.gensrc_with("misbehave", &plugins().misbehave, &["version:1"]).ok();
    let _daemon = env.start();
    let list = env.json(&["list", "--json"]);
    assert!(list.as_array().unwrap().iter().all(|v| v["runs"].as_str().unwrap().starts_with(expect_runs)), "{list:#}");
    let h1 = env.hash_of("foo-1.0.tls");

    // OnLoad, and the global name.
    assert_eq!(history(env, &["MainFoo"]), vec![json!("StartFoo")]);
    assert_eq!(ask(env, &["Foo Primary", "{\"ping\": 1}"])["version"], "1.0");

    // Children: a named one answers by its global name; an unnamed one's
    // exit reaches its parent.
    let named = ask(env, &["MainFoo", "{\"spawn_named\": \"Cow\"}"]);
    assert_eq!(ask(env, &["Cow", "{\"ping\": 2}"])["class"], "foo.subdir2.barn.cowactor", "{named}");
    let child = ask(env, &["MainFoo", "\"spawn\""]);
    let child = child.as_str().expect("a child address").to_string();
    let exit = format!("{{\"forward\": \"{child}\", \"msg\": \"exit\"}}");
    env.run(&["tell", "MainFoo", &exit]).ok();
    soon(env, "the child's exit", |h| h.contains(&json!({"ChildActorExited": child})));

    // Wakeups.
    env.run(&["tell", "MainFoo", "{\"wakeup\": 20, \"payload\": \"tick\"}"]).ok();
    soon(env, "the wakeup", |h| h.contains(&json!({"WakeupMessage": "tick"})));

    // Between groups: foo's actor writes to misbehave's, which answers it.
    let m = address_of(env, "misbehave");
    env.run(&["tell", "MainFoo", &format!("{{\"forward\": \"{m}\", \"msg\": \"ping\"}}")]).ok();
    soon(env, "misbehave's answer", |h| h.contains(&json!("pong")));

    // PoisonMessage after the handler panicked twice.
    let poison = env.run(&["ask", "M", "{\"panic\": 1}"]);
    assert!(poison.stderr.contains("PoisonMessage") && poison.stderr.contains("asked to panic"), "{}", poison.stderr);
    assert_eq!(ask(env, &["M", "\"panic_attempts\""]), json!(2), "tried twice");
    assert_eq!(ask(env, &["M", "\"ping\""]), json!("pong"), "and serves on");

    // A new version: OnDeactivate to the old, the name moves, --source
    // still reaches the old one.
    env.gensrc_prebuilt(Some("2.0")).ok();
    env.run(&["load", "foo"]).ok();
    assert_eq!(ask(env, &["Foo Primary", "{\"ping\": 3}"])["version"], "2.0");
    assert_eq!(history(env, &["MainFoo"]), vec![json!("StartFoo"), json!({"ping": 3})]);
    let old = history(env, &["--source", &h1[..12], "MainFoo"]);
    assert_eq!(old.last(), Some(&json!({"Shutdown": true})), "{old:?}");

    // Unloading it: 1.0 is active again with OnReactivate, and has the name.
    let h2 = env.hash_of("foo-2.0.tls");
    let u = env.run(&["unload", &h2[..12]]).ok();
    assert!(u.stdout.contains("is active again"), "{}", u.stdout);
    assert_eq!(history(env, &["MainFoo"]).last(), Some(&json!("Restart")));
    assert_eq!(ask(env, &["Foo Primary", "{\"ping\": 4}"])["version"], "1.0");
}

#[test]
fn actor_semantics_in_worker_processes() {
    semantics(&Env::new(), "worker pid ");
}

#[test]
fn actor_semantics_in_process() {
    let env = Env::new();
    env.in_process();
    semantics(&env, "in-process");
}
