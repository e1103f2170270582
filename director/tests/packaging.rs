//! Packaging and inspecting never load or run a library (issue 11, item 4):
//! gensrc reads what a library exports from its descriptor section, checks
//! its format and architecture against the target it is packaged for, and
//! packages libraries for any target.

mod common;

use std::path::Path;

use common::{Env, foo_dir, run_env};
use test_support::plugins;

#[test]
fn gensrc_tlsinfo_and_avail_never_run_the_librarys_constructor() {
    let env = Env::new();
    let mark = env.root.path().join("constructor-ran");
    let with_mark = [("THESPIAN_TEST_CTOR_MARK", mark.as_path())];
    let run = |args: &[&str]| run_env(&env.dir(), env.root.path(), &with_mark, args);
    env.tli("misbehave", "{'Actors': {'misbehave.Actor': {'OnLoad': {'Role': 'M'}}}}");
    let lib = format!("lib:{}={}", runtime::TARGET_TRIPLE, plugins().misbehave.display());
    run(&["gensrc", "misbehave", &env.key(), &foo_dir(), &lib, "version:1"]).ok();
    run(&["tlsinfo", "misbehave-1.tls"]).ok();
    run(&["tlsinfo", "misbehave-1.tls", "contents"]).ok();
    run(&["avail"]).ok();
    assert!(!mark.exists(), "packaging or inspecting ran the library's constructor");

    // The constructor is real: the daemon's worker for the version runs it
    // when it loads the package.
    let _daemon = common::DaemonGuard::new(&env);
    run(&["start"]).ok();
    let pids = std::fs::read_to_string(&mark).expect("loading the package runs its constructor");
    let workers = common::children_of(env.pid());
    assert_eq!(workers.len(), 1, "one worker for the one version");
    assert_eq!(pids.trim(), workers[0].to_string(), "and only that worker did");
}

#[test]
fn a_library_for_another_architecture_is_packaged_for_its_target_only() {
    let env = Env::new();
    // The foo library with an ELF header that says another architecture.
    let (foreign, other) = common::foreign_foo(env.root.path());
    let lib = |triple: &str| format!("lib:{triple}={}", foreign.display());

    let wrong = env.run(&["gensrc", "foo", &env.key(), &foo_dir(), &lib(runtime::TARGET_TRIPLE), "version:1"]);
    assert_ne!(wrong.code, 0, "a library for another architecture was packaged for this one");
    assert!(wrong.stderr.contains(runtime::TARGET_TRIPLE) && wrong.stderr.contains("needs"), "{}", wrong.stderr);
    assert!(!env.dir().join("foo-1.tls").exists());

    env.run(&["gensrc", "foo", &env.key(), &foo_dir(), &lib(other), "version:1"]).ok();
    // Signed and whole, but not for this machine: tlsinfo says which targets it has.
    let info = env.run(&["tlsinfo", "foo-1.tls"]);
    assert!(info.stderr.contains(&format!("it has: {other}")), "{}{}", info.stdout, info.stderr);
    let _daemon = env.start();
    let load = env.run(&["load", "foo"]);
    assert_ne!(load.code, 0, "this host cannot run it");
    assert!(load.stderr.contains(runtime::TARGET_TRIPLE), "{}", load.stderr);
}

#[test]
fn a_library_without_a_descriptor_is_refused_by_name() {
    let env = Env::new();
    // A real shared library that was not built with export_actors!.
    let libc_so = ["/lib/x86_64-linux-gnu/libm.so.6", "/lib/aarch64-linux-gnu/libm.so.6"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.exists())
        .expect("the C math library");
    let lib = format!("lib:{}={}", runtime::TARGET_TRIPLE, libc_so.display());
    let r = env.run(&["gensrc", "foo", &env.key(), &foo_dir(), &lib]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("descriptor") && r.stderr.contains(".thespian_actors"), "{}", r.stderr);
}

/// gensrc stores libraries as they are (a load copies them out instead of
/// inflating them) and deflates the manifest, signature and sources; the
/// package stays a plain ZIP that any reader opens (here Python's zipfile).
#[test]
fn gensrc_stores_libraries_as_they_are_and_deflates_the_rest() {
    let env = Env::new();
    let lib = format!("lib:{}={}", runtime::TARGET_TRIPLE, plugins().foo.display());
    env.run(&["gensrc", "foo", &env.key(), &foo_dir(), &lib, "version:1", "src/**"]).ok();
    let package = env.dir().join("foo-1.tls");
    let listing = "import sys, zipfile\n\
        for i in zipfile.ZipFile(sys.argv[1]).infolist(): print(i.compress_type, i.filename)";
    let out = std::process::Command::new("python3").args(["-c", listing]).arg(&package).output().expect("python3 runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let entries: Vec<(String, String)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(m, n)| (m.to_string(), n.to_string())))
        .collect();
    let method = |prefix: &str| -> Vec<&str> {
        entries.iter().filter(|(_, n)| n.starts_with(prefix)).map(|(m, _)| m.as_str()).collect()
    };
    // zipfile's numbers: 0 stored, 8 deflated.
    assert_eq!(method("lib/"), ["0"], "{entries:?}");
    assert_eq!(method("MANIFEST."), ["8", "8"], "{entries:?}");
    assert!(!method("src/").is_empty() && method("src/").iter().all(|m| *m == "8"), "{entries:?}");
}
