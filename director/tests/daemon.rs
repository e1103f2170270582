//! The real binary, a real daemon, real signed packages: the seed's
//! walkthrough, AutoUnload, TLS_Keep_Limit, refusals, concurrency, kill -9
//! recovery and the control socket's access check. Every test runs its own
//! director directory and a guard that shuts its daemon down.

mod common;

use std::path::Path;

use common::{Env, ask, run_in};
use serde_json::{Value, json};
use test_support::plugins;

const FOO_TLI: &str = "{ 'Actors':
  { 'foo.fooactor':
    { 'OnLoad': { 'Role': 'MainFoo', 'Message': 0, 'GlobalName': 'Foo Primary' },
      'OnReactivate': { 'Message': ('Restart', True) },
      'OnDeactivate': { 'Message': {'Shutdown': True, 'timeout': 3} } },
    'foo.subdir2.barn.cowactor':
    { 'OnLoad': { 'Role': 'FlyingCow', 'Message': 'Moo!' } },
  },
}
";

/// The mappings of a version's extracted library in the daemon and its
/// workers, and whether its directory exists.
fn code_of(env: &Env, hash: &str) -> (usize, bool) {
    let dir = env.dir().join(".director-run").join(hash);
    let lib = dir.join("libfoo.so");
    (runtime::maps::mappings_in(&env.maps(), &lib).len(), dir.exists())
}

#[test]
fn the_seed_walkthrough() {
    let env = Env::new();
    env.tli("foo", FOO_TLI);
    env.gensrc_prebuilt(Some("1.0")).ok();
    let _daemon = env.start();
    let h1 = env.hash_of("foo-1.0.tls");
    // start refreshed: OnLoad delivered, `Message: 0` included.
    assert_eq!(ask(&env, &["MainFoo", "\"history\""]), json!([0]));
    assert_eq!(ask(&env, &["FlyingCow", "\"history\""]), json!(["Moo!"]));
    assert_eq!(ask(&env, &["Foo Primary", "{\"ping\": 1}"])["version"], "1.0", "the global name reaches 1.0");
    let (mapped, dir) = code_of(&env, &h1);
    assert!(mapped > 0 && dir, "1.0 is loaded");

    // A newer version: 1.0 gets OnDeactivate and still answers through --source.
    env.gensrc_prebuilt(Some("2.0")).ok();
    let h2 = env.hash_of("foo-2.0.tls");
    let r = env.run(&["load", "foo"]).ok();
    assert_eq!(r.stdout.trim(), format!("Loaded \"foo\" {}: {h2}", env.dir().join("foo-2.0.tls").display()));
    assert_eq!(ask(&env, &["MainFoo", "{\"ping\": 2}"])["version"], "2.0");
    assert_eq!(
        ask(&env, &["Foo Primary", "{\"ping\": 2}"])["version"],
        "2.0",
        "the global name follows the active version"
    );
    assert_eq!(
        ask(&env, &["--source", &h1[..12], "MainFoo", "\"history\""]),
        json!([0, {"ping": 1}, {"Shutdown": true, "timeout": 3}])
    );
    assert_eq!(ask(&env, &["--source", &h1[..12], "MainFoo", "{\"ping\": 3}"])["version"], "1.0");

    let list = env.json(&["list", "--json"]);
    let versions = list.as_array().unwrap();
    assert_eq!(versions.len(), 2);
    for v in versions {
        let expect_active = v["hash"] == h2.as_str();
        assert_eq!(v["group"], "foo");
        assert_eq!(v["active"], expect_active);
        let actors = v["actors"].as_array().unwrap();
        assert_eq!(actors.len(), 2);
        assert!(actors.iter().all(|a| a["class"].is_string() && a["role"].is_string() && a["address"].is_string()));
    }

    // Unloading the active version re-activates the highest remaining one.
    let r = env.run(&["unload", &h2[..10]]).ok();
    assert!(r.stdout.contains("code freed") && r.stdout.contains(&format!("{h1} is active again")), "{}", r.stdout);
    assert_eq!(code_of(&env, &h2), (0, false), "2.0's library is unmapped and its directory gone");
    assert_eq!(
        ask(&env, &["MainFoo", "\"history\""]),
        json!([0, {"ping": 1}, {"Shutdown": true, "timeout": 3}, {"ping": 3}, ["Restart", true]]),
        "1.0 got OnReactivate"
    );
    assert_eq!(ask(&env, &["Foo Primary", "{\"ping\": 4}"])["version"], "1.0");

    let r = env.run(&["unload", &h1]).ok();
    assert!(r.stdout.contains("code freed"), "{}", r.stdout);
    assert_eq!(code_of(&env, &h1), (0, false));
    assert_eq!(env.json(&["list", "--json"]), json!([]));
    let missing = env.run(&["ask", "MainFoo", "1"]);
    assert_ne!(missing.code, 0);
    assert!(missing.stderr.contains("MainFoo"), "{}", missing.stderr);
}

#[test]
fn auto_unload_true_keeps_one_and_n_keeps_n() {
    let env = Env::new();
    env.tli("foo", "{'Actors': {'foo.fooactor': {'OnLoad': {'Role': 'R'}}}, 'AutoUnload': True}");
    for v in ["1", "2"] {
        env.gensrc_prebuilt(Some(v)).ok();
    }
    let _daemon = env.start();
    env.run(&["load", "foo-1.tls"]).ok();
    let r = env.run(&["load", "foo-2.tls"]).ok();
    assert!(r.stdout.contains("AutoUnload: Unloaded \"foo\" 1"), "{}", r.stdout);
    let hashes: Vec<Value> =
        env.json(&["list", "--json"]).as_array().unwrap().iter().map(|v| v["version"].clone()).collect();
    assert_eq!(hashes, vec![json!("2")]);

    env.tli("foo", "{'Actors': {'foo.fooactor': {'OnLoad': {'Role': 'R'}}}, 'AutoUnload': 2}");
    env.gensrc_prebuilt(Some("3")).ok();
    env.gensrc_prebuilt(Some("4")).ok();
    env.run(&["load", "foo-3.tls"]).ok();
    env.run(&["load", "foo-4.tls"]).ok();
    let mut versions: Vec<String> = env
        .json(&["list", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap().to_string())
        .collect();
    versions.sort();
    assert_eq!(versions, ["3", "4"], "AutoUnload 2 keeps two versions, the new one included");

    env.tli("foo", "{'Actors': {'foo.fooactor': {'OnLoad': {'Role': 'R'}}}, 'AutoUnload': 0}");
    env.gensrc_prebuilt(Some("5")).ok();
    env.run(&["load", "foo"]).ok();
    assert_eq!(
        env.json(&["list", "--json"]).as_array().unwrap().len(),
        3,
        "AutoUnload 0 is off (the original unloaded everything)"
    );
}

#[test]
fn tls_keep_limit_deletes_the_oldest_files_but_never_a_loaded_one() {
    let env = Env::new();
    env.tli("foo", "{'Actors': {'foo.fooactor': {'OnLoad': {'Role': 'R'}}}, 'TLS_Keep_Limit': 2}");
    for v in ["1", "2", "3", "4"] {
        env.gensrc_prebuilt(Some(v)).ok();
    }
    let _daemon = env.start(); // its refresh loads foo-4
    let tls = |env: &Env| env.files().into_iter().filter(|f| f.ends_with(".tls")).collect::<Vec<_>>();
    assert_eq!(tls(&env), ["foo-3.tls", "foo-4.tls"], "gensrc keeps every file; the load applied the limit");
    env.gensrc_prebuilt(Some("1")).ok();
    env.gensrc_prebuilt(Some("2")).ok();
    let r = env.run(&["load", "foo-1.tls"]).ok();
    assert!(r.stdout.contains("TLS_Keep_Limit: deleted"), "{}", r.stdout);
    assert_eq!(tls(&env), ["foo-1.tls", "foo-3.tls", "foo-4.tls"], "2 deleted; 1 kept because it is loaded");
}

#[test]
fn refusals_change_nothing() {
    let env = Env::new();
    env.tli("foo", "{'Actors': {'foo.fooactor': {'OnLoad': {'Role': 'R'}}}}");
    env.gensrc_prebuilt(Some("1.0")).ok();
    let _daemon = env.start();
    let before = env.json(&["list", "--json"]);
    assert_eq!(before.as_array().unwrap().len(), 1);
    let good = std::fs::read(env.dir().join("foo-1.0.tls")).unwrap();
    // Tampered: one byte of the stored library changed.
    let mut tampered = good.clone();
    let at = tampered.len() / 2;
    tampered[at] ^= 1;
    std::fs::write(env.dir().join("foo-2.0.tls"), tampered).unwrap();
    // Renamed: 1.0's bytes under a newer name.
    std::fs::write(env.dir().join("foo-3.0.tls"), &good).unwrap();
    // Untrusted: signed by a key the directory does not trust.
    let other = env.root.path().join("other");
    run_in(&env.dir(), env.root.path(), &["keygen", other.to_str().unwrap()]).ok();
    let lib = format!("lib:{}={}", runtime::TARGET_TRIPLE, plugins().foo.display());
    let foo = common::foo_dir();
    env.run(&["gensrc", "foo", &format!("{}.pem", other.display()), &foo, &lib, "version:4.0"]).ok();
    // A library for this target and one for another architecture.
    let (foreign, triple) = common::foreign_foo(env.root.path());
    let cross = format!("lib:{triple}={}", foreign.display());
    env.run(&["gensrc", "foo", &env.key(), &foo, &lib, &cross, "version:5.0"]).ok();
    for (file, reason) in [
        ("foo-2.0.tls", "damaged"),
        ("foo-3.0.tls", "does not match the signed manifest"),
        ("foo-4.0.tls", "no trusted key validates"),
    ] {
        let r = env.run(&["load", file]);
        assert_ne!(r.code, 0, "{file} loaded");
        assert!(r.stderr.contains(reason), "{file}: {}", r.stderr);
        assert_eq!(env.json(&["list", "--json"]), before, "{file} changed the state");
    }
    let hash5 = env.hash_of("foo-5.0.tls");
    let r = env.run(&["load", "foo-5.0.tls"]).ok();
    assert!(r.stdout.contains(&hash5), "a package with this target and another one loads");
}

#[test]
fn no_library_for_this_target_is_refused_and_changes_nothing() {
    let env = Env::new();
    env.gensrc_prebuilt(Some("1.0")).ok();
    let _daemon = env.start();
    env.run(&["load", "foo"]).ok();
    let before = env.json(&["list", "--json"]);
    // Re-sign a package whose only library is for another target, by hand.
    use runtime::tls::{PackageBuilder, inspect_library, keys};
    let info = inspect_library(&plugins().foo).unwrap();
    let mut b = PackageBuilder::new("foo", Some("9.0"), 0, &info).unwrap();
    b.library("aarch64-unknown-linux-gnu", "libfoo.so", std::fs::read(&plugins().foo).unwrap()).unwrap();
    let key = keys::read_private_key(Path::new(&env.key())).unwrap();
    std::fs::write(env.dir().join("foo-9.0.tls"), b.build(&key, false).unwrap().0).unwrap();
    let r = env.run(&["load", "foo-9.0.tls"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("no library for target") && r.stderr.contains("aarch64-unknown-linux-gnu"),
        "{}",
        r.stderr
    );
    assert_eq!(env.json(&["list", "--json"]), before);
}

#[test]
fn twenty_concurrent_clients_leave_a_consistent_state() {
    let env = Env::new();
    env.tli("foo", "{'Actors': {'foo.fooactor': {'OnLoad': {'Role': 'MainFoo'}}}}");
    for v in ["1", "2", "3"] {
        env.gensrc_prebuilt(Some(v)).ok();
    }
    let _daemon = env.start();
    let hashes: Vec<String> = ["foo-1.tls", "foo-2.tls", "foo-3.tls"].iter().map(|f| env.hash_of(f)).collect();
    std::thread::scope(|s| {
        for i in 0..20 {
            let env = &env;
            let hashes = &hashes;
            s.spawn(move || {
                for round in 0..3 {
                    let file = format!("foo-{}.tls", (i + round) % 3 + 1);
                    let _ = env.run(&["load", &file]);
                    let _ = env.run(&["list", "--json"]);
                    let _ = env.run(&["ask", "MainFoo", "{\"ping\": 1}"]);
                    if (i + round) % 4 == 0 {
                        let _ = env.run(&["unload", &hashes[(i + round) % 3][..16]]);
                    }
                }
            });
        }
    });
    let list = env.json(&["list", "--json"]);
    let versions = list.as_array().unwrap();
    assert!(versions.iter().filter(|v| v["active"] == true).count() <= 1, "one active version at most");
    for v in versions {
        assert!(hashes.contains(&v["hash"].as_str().unwrap().to_string()));
        for a in v["actors"].as_array().unwrap() {
            assert!(a["address"].is_string(), "every listed actor is running: {v}");
        }
    }
    if versions.iter().any(|v| v["active"] == true) {
        ask(&env, &["MainFoo", "{\"ping\": 9}"]);
    }
    let status = env.json(&["status", "--json"]);
    assert_eq!(status["versions"], versions.len());
}

#[test]
fn after_kill_9_start_cleans_up_and_loads_the_newest_again() {
    let env = Env::new();
    env.tli("foo", "{'Actors': {'foo.fooactor': {'OnLoad': {'Role': 'MainFoo'}}}}");
    env.gensrc_prebuilt(Some("1")).ok();
    env.gensrc_prebuilt(Some("2")).ok();
    let _daemon = env.start();
    let old_pid = env.pid();
    let h2 = env.hash_of("foo-2.tls");
    assert!(env.dir().join(".director-run").join(&h2).exists());
    // SAFETY: kill has no memory-safety preconditions; the pid is our daemon's.
    unsafe { libc::kill(old_pid as i32, libc::SIGKILL) };
    while director::client::process_alive(old_pid) {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(env.dir().join(".director.sock").exists(), "a killed daemon leaves its socket");
    let status = env.run(&["status"]);
    assert_eq!(status.code, 3, "a stale socket is not a running daemon: {}{}", status.stdout, status.stderr);
    let r = env.run(&["start"]).ok();
    assert!(r.stdout.starts_with("Started"), "{}", r.stdout);
    assert_ne!(env.pid(), old_pid);
    let list = env.json(&["list", "--json"]);
    assert_eq!(list[0]["hash"], h2.as_str());
    assert_eq!(list[0]["active"], true);
    assert_eq!(ask(&env, &["MainFoo", "{\"ping\": 1}"])["version"], "2");
    let again = env.run(&["start"]).ok();
    assert!(again.stdout.starts_with("Already running"), "{}", again.stdout);
}

#[test]
fn another_users_connection_is_refused() {
    common::require_root();
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let env = Env::new();
    let _daemon = env.start();
    let as_nobody = |env: &Env| {
        std::process::Command::new(common::BIN)
            .arg("status")
            .env("THESPIAN_DIRECTOR_DIR", env.dir())
            .uid(65534)
            .gid(65534)
            .output()
            .unwrap()
    };
    // The socket's permissions keep other users out...
    for p in [env.root.path(), env.dir().as_path()] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = as_nobody(&env);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ermission denied"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // ...and with the socket opened up, the peer-credential check still refuses.
    std::fs::set_permissions(env.dir().join(".director.sock"), std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = as_nobody(&env);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr.contains("uid 65534 may not control this daemon"), "{stderr}");
    assert_eq!(env.run(&["status"]).code, 0, "the owner still can");
}

#[test]
fn shutdown_of_a_stopped_system_is_not_an_error_and_leaves_no_state() {
    let env = Env::new();
    let r = env.run(&["shutdown"]).ok();
    assert_eq!(r.stdout.trim(), "Not running");
    env.gensrc_prebuilt(Some("1")).ok();
    env.tli("foo", "{'Actors': {'foo.fooactor': {}}}");
    {
        let _daemon = env.start();
        env.run(&["shutdown"]).ok();
    }
    let leftovers: Vec<String> =
        env.files().into_iter().filter(|f| f.starts_with(".director") && f != ".director.log").collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn an_exited_tli_actor_is_restarted_and_list_counts_it() {
    let env = Env::new();
    env.tli("foo", "{'Actors': {'foo.fooactor': {'OnLoad': {'Role': 'MainFoo', 'GlobalName': 'Foo'}}}}");
    env.gensrc_prebuilt(Some("1")).ok();
    let _daemon = env.start();
    let first = env.json(&["list", "--json"])[0]["actors"][0].clone();
    assert_eq!(first["restarts"], 0);
    env.run(&["tell", "MainFoo", "\"exit\""]).ok();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let restarted = loop {
        let a = env.json(&["list", "--json"])[0]["actors"][0].clone();
        if a["restarts"] == 1 && a["address"].is_string() {
            break a;
        }
        assert!(std::time::Instant::now() < deadline, "not restarted: {a}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_ne!(restarted["address"], first["address"]);
    assert_eq!(ask(&env, &["Foo", "{\"ping\": 1}"])["pong"], 1, "the global name moved to the restarted actor");
}

#[test]
fn ask_fails_clearly_on_timeout_poison_and_unknown_targets() {
    let env = Env::new();
    env.tli("misbehave", "{'Actors': {'misbehave.Actor': {'OnLoad': {'Role': 'Bad'}}}}");
    env.tli("foo", "{'Actors': {'foo.fooactor': {'OnLoad': {'Role': 'MainFoo'}}}}");
    env.gensrc_with("misbehave", &plugins().misbehave, &["version:1"]).ok();
    env.gensrc_prebuilt(Some("1")).ok();
    let _daemon = env.start();
    let poison = env.run(&["ask", "Bad", "{\"panic\": 1}"]);
    assert_ne!(poison.code, 0);
    assert!(poison.stderr.contains("PoisonMessage") && poison.stderr.contains("asked to panic"), "{}", poison.stderr);
    assert_eq!(ask(&env, &["Bad", "\"ping\""]), json!("pong"), "the actor keeps serving");
    let timeout = env.run(&["ask", "--timeout", "0.2", "MainFoo", "\"no reply to this\""]);
    assert_ne!(timeout.code, 0);
    assert!(timeout.stderr.contains("no reply"), "{}", timeout.stderr);
    let unknown = env.run(&["ask", "--group", "foo", "Bad", "1"]);
    assert_ne!(unknown.code, 0);
    assert!(unknown.stderr.contains("no running actor with role or global name \"Bad\""), "{}", unknown.stderr);
    let bad_json = env.run(&["ask", "MainFoo", "{not json"]);
    assert_eq!(bad_json.code, 2);
    assert!(bad_json.stderr.contains("not valid JSON"), "{}", bad_json.stderr);
}

#[test]
fn refresh_goes_on_past_a_failing_group_and_exits_non_zero() {
    let env = Env::new();
    env.tli("foo", "{'Actors': {'foo.fooactor': {'OnLoad': {'Role': 'MainFoo'}}}}");
    env.tli("ghost", "{'Actors': {}}");
    env.gensrc_prebuilt(Some("1")).ok();
    let _daemon = common::DaemonGuard::new(&env);
    let start = env.run(&["start"]);
    assert_eq!(start.code, 1, "start reports the group it could not load: {}", start.stderr);
    assert!(start.stderr.contains("Failed \"ghost\""), "{}", start.stderr);
    env.gensrc_prebuilt(Some("2")).ok();
    let r = env.run(&["refresh"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("Loaded \"foo\"") && r.stdout.contains("foo-2.tls"), "{}", r.stdout);
    assert!(r.stderr.contains("Failed \"ghost\": no valid package for group \"ghost\""), "{}", r.stderr);
    let again = env.run(&["refresh"]);
    assert!(again.stdout.contains("Already loaded \"foo\""), "an already loaded newest is a no-op: {}", again.stdout);
}

#[test]
fn director_control_is_the_same_api_for_programs() {
    let env = Env::new();
    env.tli("foo", "{'Actors': {'foo.fooactor': {'OnLoad': {'Role': 'MainFoo'}}}}");
    env.gensrc_prebuilt(Some("1")).ok();
    let control = director::DirectorControl::new(&env.dir()).with_binary(common::BIN);
    assert_eq!(control.status().unwrap(), None);
    let _daemon = env.start();
    let loaded = control.load("foo").unwrap();
    assert!(loaded.already_loaded, "start refreshed it");
    let addr = control.get_role_address("MainFoo", Some("foo")).unwrap().expect("role address");
    let listed = control.list().unwrap();
    assert_eq!(listed[0].versions[0].actors[0].address.as_deref(), Some(addr.as_str()));
    let reply = control.ask("MainFoo", json!({"ping": 5}), &director::SendOptions::default()).unwrap();
    assert_eq!(reply["pong"], 5);
    assert_eq!(control.get_role_address("Nobody", None).unwrap(), None);
    assert!(control.shutdown().unwrap());
    assert!(!control.shutdown().unwrap(), "a stopped system is not an error");
}

/// Issue 11, item 6, through the daemon: a version left resident by a
/// handler still sleeping is loaded again; the new load runs its own image
/// (not the old, deleted one), and `list` shows the old copy `freed` once
/// its handler has returned.
#[test]
fn reloading_while_the_old_copy_is_resident_runs_new_code_and_list_shows_freed_later() {
    let env = Env::new();
    // Code stays resident only in the daemon's own process.
    env.in_process();
    env.tli("misbehave", "{'Actors': {'misbehave.Actor': {'OnLoad': {'Role': 'M'}}}}");
    env.gensrc_with("misbehave", &plugins().misbehave, &["version:1"]).ok();
    let _daemon = env.start();
    let hash = env.hash_of("misbehave-1.tls");
    // The handler sleeps past the daemon's 10 s unload grace.
    env.run(&["tell", "M", "{\"sleep_ms\": 13000}"]).ok();
    let u = env.run(&["unload", &hash[..12]]).ok();
    assert!(u.stdout.contains("resident") && u.stdout.contains("still running"), "{}", u.stdout);
    env.run(&["load", "misbehave"]).ok();
    let maps = std::fs::read_to_string(format!("/proc/{}/maps", env.pid())).unwrap();
    let images: Vec<&str> = maps.lines().filter(|l| l.contains("libmisbehave.so")).collect();
    assert!(
        images.iter().any(|l| !l.ends_with("(deleted)") && !l.contains(&format!("/{hash}/"))),
        "the new load maps its own file: {images:#?}"
    );
    assert_eq!(ask(&env, &["M", "\"ping\""]), json!("pong"));
    let codes = |env: &Env| -> Vec<String> {
        let list = env.json(&["list", "--json"]);
        list.as_array().unwrap().iter().map(|v| v["code"].as_str().unwrap().to_string()).collect()
    };
    let now = codes(&env);
    assert!(now.contains(&"mapped".to_string()) && now.iter().any(|c| c.starts_with("resident")), "{now:?}");
    assert!(
        test_support::eventually(std::time::Duration::from_secs(30), || codes(&env).contains(&"freed".to_string())),
        "list shows the old copy freed once its handler returned: {:?}",
        codes(&env)
    );
    assert_eq!(ask(&env, &["M", "\"ping\""]), json!("pong"), "the new version still serves");
}

/// Issue 12, item 3: no lock is held across a load. While a package whose
/// OnLoad handler sleeps 5 s loads, 20 clients run status, list and ask
/// against another group; each finishes before the load does.
#[test]
fn status_list_and_ask_never_wait_on_a_slow_load() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let env = Arc::new(Env::new());
    env.tli("foo", "{'Actors': {'foo.fooactor': {'OnLoad': {'Role': 'MainFoo'}}}}");
    env.gensrc_prebuilt(Some("1")).ok();
    let _daemon = env.start();
    env.tli("misbehave", "{'Actors': {'misbehave.Actor': {'OnLoad': {'Role': 'M', 'Message': {'sleep_ms': 5000}}}}}");
    env.gensrc_with("misbehave", &plugins().misbehave, &["version:1"]).ok();

    let loaded = Arc::new(AtomicBool::new(false));
    let load = {
        let (env, loaded) = (env.clone(), loaded.clone());
        std::thread::spawn(move || {
            let r = env.run(&["load", "misbehave"]);
            loaded.store(true, Ordering::SeqCst);
            r
        })
    };
    // The load is under way once its version is listed (OnLoad not yet handled).
    assert!(test_support::eventually(std::time::Duration::from_secs(30), || {
        env.run(&["list"]).stdout.contains("Group misbehave")
    }));
    let clients: Vec<_> = (0..20)
        .map(|i| {
            let (env, loaded) = (env.clone(), loaded.clone());
            std::thread::spawn(move || {
                let args: &[&str] = match i % 3 {
                    0 => &["status"],
                    1 => &["list", "--json"],
                    _ => &["ask", "MainFoo", "{\"ping\": 5}"],
                };
                let r = env.run(args);
                (args.join(" "), r.code, loaded.load(Ordering::SeqCst))
            })
        })
        .collect();
    for c in clients {
        let (what, code, after_load) = c.join().unwrap();
        assert_eq!(code, 0, "{what} failed");
        assert!(!after_load, "{what} waited for the slow load to finish");
    }
    let r = load.join().unwrap();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(ask(&env, &["M", "\"ping\""]), json!("pong"));
}
