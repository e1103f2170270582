//! The real `thespian-director` binary: keygen, gensrc from
//! `example-packages/foo`, tlsinfo (validate, contents, MEMBER, exit codes)
//! and avail (order, refusals, JSON).

mod common;

use std::process::Command;

use common::{Env, foo_dir, openssl_ok, run_in};
use test_support::{plugins, workspace_root};

#[test]
fn keygen_writes_keys_openssl_can_read_and_never_overwrites() {
    let env = Env::new();
    let private = env.root.path().join("signer.pem");
    let public = env.root.path().join("signer_tls.key");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&private).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    assert!(std::fs::read_to_string(&private).unwrap().starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(openssl_ok(&["rsa", "-in", private.to_str().unwrap(), "-check", "-noout"]));
    assert!(openssl_ok(&["pkey", "-pubin", "-in", public.to_str().unwrap(), "-noout"]));
    let text =
        Command::new("openssl").args(["rsa", "-in", private.to_str().unwrap(), "-noout", "-text"]).output().unwrap();
    assert!(String::from_utf8_lossy(&text.stdout).contains("3072 bit"), "default size is 3072 bits");
    let again = env.run(&["keygen", "signer"]);
    assert_ne!(again.code, 0);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    let small = env.run(&["keygen", "small", "--bits", "1024"]);
    assert_ne!(small.code, 0);
    assert!(small.stderr.contains("--allow-legacy-key"), "{}", small.stderr);
    assert!(!env.root.path().join("small.pem").exists());
    assert_eq!(env.run(&["keygen", "small", "--bits", "1024", "--allow-legacy-key"]).code, 0);
}

#[test]
fn gensrc_builds_foo_then_tlsinfo_shows_it() {
    plugins(); // the nested cargo build inside gensrc is then a no-op
    let env = Env::new();
    let tli = env.root.path().join("foo.tli");
    std::fs::write(&tli, "{'Actors': {'foo.fooactor': {'OnLoad': {'Role': 'MainFoo', 'Message': 0}}}}\n").unwrap();
    let tli_arg = format!("tli:{}", tli.display());
    let key = env.key();
    let foo = foo_dir();
    let r = env.run(&["gensrc", "foo", &key, &foo, "version:1.0", &tli_arg, "src/**/*.rs", "Cargo.toml"]);
    assert_eq!(r.code, 0, "gensrc failed: {}", r.stderr);
    let package = env.dir().join("foo-1.0.tls");
    assert!(r.stdout.contains(&format!("Wrote {}", package.display())), "{}", r.stdout);
    assert_eq!(std::fs::read_to_string(env.dir().join("foo.tli")).unwrap(), std::fs::read_to_string(&tli).unwrap());
    assert_eq!(env.files(), ["foo-1.0.tls", "foo.tli", "signer_tls.key", "thesplogd.cfg"], "no temporary files left");

    let v = env.run(&["tlsinfo", "foo-1.0.tls"]);
    assert_eq!(v.code, 0, "{}", v.stderr);
    let trusted = env.dir().join("signer_tls.key");
    assert_eq!(v.stdout, format!("Validated \"{}\" loadable with key {}\n", package.display(), trusted.display()));

    let c = env.run(&["tlsinfo", package.to_str().unwrap(), "contents"]);
    assert_eq!(c.code, 0, "{}", c.stderr);
    for want in ["Group: foo", "Version: 1.0", "Actors: foo.fooactor, foo.subdir2.barn.cowactor", "TLI: embedded"] {
        assert!(c.stdout.contains(want), "missing {want:?} in\n{}", c.stdout);
    }
    assert!(c.stdout.contains(&format!("Targets: {}", runtime::TARGET_TRIPLE)));
    let lib_line = format!("  lib/{}/libfoo.so", runtime::TARGET_TRIPLE);
    let size = std::fs::metadata(&plugins().foo).unwrap().len();
    assert!(
        c.stdout.lines().any(|l| l.ends_with(&lib_line) && l.trim_start().starts_with(&size.to_string())),
        "{}",
        c.stdout
    );
    assert!(c.stdout.lines().any(|l| l.ends_with("  src/src/lib.rs")));
    assert!(c.stdout.lines().any(|l| l.ends_with("  src/Cargo.toml")));

    let m = env.run(&["tlsinfo", "foo-1.0.tls", "src/lib.rs"]);
    assert_eq!(m.code, 0, "{}", m.stderr);
    assert_eq!(m.stdout, std::fs::read_to_string(workspace_root().join("example-packages/foo/src/lib.rs")).unwrap());
    let none = env.run(&["tlsinfo", "foo-1.0.tls", "nope.rs"]);
    assert_ne!(none.code, 0);
    assert!(none.stderr.contains("nope.rs"), "{}", none.stderr);
}

#[test]
fn gensrc_refusals_name_the_cause_and_write_nothing() {
    let env = Env::new();
    let before = env.files();
    let lib = format!("lib:{}={}", runtime::TARGET_TRIPLE, plugins().foo.display());
    let key = env.key();
    let foo = foo_dir();
    // A TLI naming an actor the library does not export.
    let tli = env.root.path().join("bad.tli");
    std::fs::write(&tli, "{'Actors': {'foo.pigactor': {}}}").unwrap();
    let r = env.run(&["gensrc", "foo", &key, &foo, "version:1.0", &lib, &format!("tli:{}", tli.display())]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("foo.pigactor") && r.stderr.contains("bad.tli"), "{}", r.stderr);
    // A TLI that is code, not data.
    std::fs::write(&tli, "{'Actors': {}}\n__import__('os').system('touch pwned')").unwrap();
    let r = env.run(&["gensrc", "foo", &key, &foo, &lib, &format!("tli:{}", tli.display())]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("line 2, column 1"), "{}", r.stderr);
    assert!(!env.root.path().join("pwned").exists());
    // A 512-bit key, a 1024-bit key without the legacy flag, a missing key.
    for (name, bits) in [("k512", "512"), ("k1024", "1024")] {
        let p = env.root.path().join(format!("{name}.pem"));
        assert!(openssl_ok(&["genrsa", "-out", p.to_str().unwrap(), bits]));
        let r = env.run(&["gensrc", "foo", p.to_str().unwrap(), &foo, &lib]);
        assert_ne!(r.code, 0);
        assert!(r.stderr.contains(&format!("{bits} bits")), "{}", r.stderr);
    }
    let r = env.run(&["gensrc", "foo", "/nonexistent.pem", &foo, &lib]);
    assert!(r.code != 0 && r.stderr.contains("/nonexistent.pem"), "{}", r.stderr);
    // A bad group name, a glob that escapes the sources, a glob matching nothing.
    assert!(env.run(&["gensrc", "foo-bar", &key, &foo, &lib]).stderr.contains("foo-bar"));
    assert!(env.run(&["gensrc", "foo", &key, &foo, &lib, "../../*"]).stderr.contains("../../*"));
    assert!(env.run(&["gensrc", "foo", &key, &foo, &lib, "*.py"]).stderr.contains("matches no file"));
    assert_eq!(env.files(), before, "nothing was written");
    // The 1024-bit key works with --allow-legacy-key, with a warning.
    let k1024 = env.root.path().join("k1024.pem");
    let r = env.run(&["gensrc", "foo", k1024.to_str().unwrap(), &foo, &lib, "version:2", "--allow-legacy-key"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("legacy 1024-bit key"), "{}", r.stderr);
}

#[test]
fn tlsinfo_exit_codes_4_6_7() {
    let env = Env::new();
    assert_eq!(env.gensrc_prebuilt(Some("1.0")).code, 0);
    let missing = env.run(&["tlsinfo", "foo-9.tls"]);
    assert_eq!(missing.code, 4);
    assert!(missing.stderr.contains("The tls file \"foo-9.tls\" does not exist"), "{}", missing.stderr);
    std::fs::write(env.dir().join("foo-3.tls"), b"not a package").unwrap();
    assert_eq!(env.run(&["tlsinfo", "foo-3.tls"]).code, 6);
    std::fs::remove_file(env.dir().join("signer_tls.key")).unwrap();
    let other = env.root.path().join("other");
    assert_eq!(run_in(&env.dir(), env.root.path(), &["keygen", other.to_str().unwrap()]).code, 0);
    std::fs::copy(env.root.path().join("other_tls.key"), env.dir().join("other_tls.key")).unwrap();
    let untrusted = env.run(&["tlsinfo", "foo-1.0.tls"]);
    assert_eq!(untrusted.code, 7, "{}", untrusted.stderr);
}

#[test]
fn avail_lists_groups_newest_first_and_refuses_renamed_files() {
    let env = Env::new();
    for v in [Some("1.9"), Some("1.10"), Some("15"), Some("15a"), Some("15.2.1"), None, Some("date")] {
        let r = env.gensrc_prebuilt(v);
        assert_eq!(r.code, 0, "{v:?}: {}", r.stderr);
    }
    let dated = env.files().into_iter().find(|f| f.len() == "foo-YYYYMMDDHHMM.tls".len()).expect("a date version");
    std::fs::copy(env.dir().join("foo-1.9.tls"), env.dir().join("foo-99.tls")).unwrap();
    let r = env.run(&["avail"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], format!("THESPIAN_DIRECTOR_DIR={}", env.dir().display()));
    let order: Vec<String> = lines[1..8]
        .iter()
        .map(|l| l.trim_start_matches("foo: ").trim_start_matches("    + ").split("  ").next().unwrap().to_string())
        .collect();
    let d = env.dir();
    let expect: Vec<String> =
        [dated.as_str(), "foo-15a.tls", "foo-15.2.1.tls", "foo-15.tls", "foo-1.10.tls", "foo-1.9.tls", "foo.tls"]
            .iter()
            .map(|f| d.join(f).display().to_string())
            .collect();
    assert_eq!(order, expect, "\n{}", r.stdout);
    assert!(lines[1].starts_with("foo: ") && lines[2].starts_with("    + "));
    let hash = runtime::sha256_hex(&std::fs::read(d.join(&dated)).unwrap());
    assert!(lines[1].ends_with(&format!("  {hash}")));
    assert!(lines[8].starts_with(&format!("    ! {}  ", d.join("foo-99.tls").display())), "{}", r.stdout);
    assert!(lines[8].contains("expected \"foo-1.9.tls\""), "{}", lines[8]);

    let j = env.run(&["avail", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&j.stdout).unwrap();
    let first = &json["groups"][0]["packages"][0];
    assert_eq!(first["file"], d.join(&dated).display().to_string());
    assert_eq!(first["hash"], hash.as_str());
    assert_eq!(json["refused"][0]["file"], d.join("foo-99.tls").display().to_string());
}

#[test]
fn help_lists_the_commands() {
    let env = Env::new();
    let r = env.run(&["help"]);
    assert_eq!(r.code, 0);
    for cmd in ["gensrc", "keygen", "tlsinfo", "avail"] {
        assert!(r.stdout.contains(cmd), "{}", r.stdout);
    }
    assert_eq!(env.run(&["frobnicate"]).code, 2);
}

/// Issue 11, item 10: timeouts that are not a sane number of seconds are
/// usage errors, never a panic.
#[test]
fn ask_timeouts_that_are_not_a_sane_number_are_usage_errors() {
    let env = Env::new();
    for t in ["inf", "NaN", "-1", "0", "1e300", "86401", "soon"] {
        let arg = format!("--timeout={t}");
        let r = env.run(&["ask", &arg, "MainFoo", "1"]);
        assert_eq!(r.code, 2, "--timeout {t}: {}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains("--timeout") && !r.stderr.contains("panicked"), "--timeout {t}: {}", r.stderr);
    }
}

/// Issue 11, item 10: output into a closed pipe (`list | head -1`) ends the
/// command quietly, as it ends any Unix filter.
#[test]
fn a_closed_stdout_ends_the_cli_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let env = Env::new();
    for args in [&["config"][..], &["status"][..], &["--help"][..]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new(common::BIN)
            .args(args)
            .env("THESPIAN_DIRECTOR_DIR", env.dir())
            .stdout(writer)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(
            out.status.signal() == Some(libc::SIGPIPE) || out.status.code().is_some_and(|c| c != 101),
            "{args:?}: {:?} {stderr}",
            out.status
        );
    }
}

/// Issue 11, item 10: a `.tli` over 1 MiB is refused unread, by name.
#[test]
fn a_tli_over_one_mib_is_refused() {
    let env = Env::new();
    env.gensrc_prebuilt(Some("1")).ok();
    let _daemon = env.start();
    env.tli("foo", &format!("{{'Actors': {{}}, 'Pad': '{}'}}", "x".repeat(2 << 20)));
    let r = env.run(&["load", "foo"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("foo.tli") && r.stderr.contains("1048576-byte limit"), "{}", r.stderr);
}
