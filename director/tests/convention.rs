//! The convention (issue 14), first part, through the real binary and a
//! real `nats-server` (started by the test; `./scripts/test.sh` installs
//! one): `convention.cfg` and `membername.cfg` as `config` shows them, a
//! daemon that joins the convention at start, and one that is refused for
//! wrong credentials and says so.

mod common;

use common::Env;
use test_support::nats::{NatsServer, PASSWORD, USER};

fn convention_cfg(env: &Env, url: &str, password: &str) {
    let text = format!("{{'Url': {url:?}, 'Name': 'prod', 'User': {USER:?}, 'Password': {password:?}}}");
    std::fs::write(env.dir().join("convention.cfg"), text).unwrap();
}

#[test]
fn config_shows_the_convention_but_never_the_password() {
    let env = Env::new();
    convention_cfg(&env, "nats://127.0.0.1:4222", "hunter2-secret");
    std::fs::write(env.dir().join("membername.cfg"), "'member-a'").unwrap();
    let out = env.run(&["config"]).ok().stdout;
    assert!(
        out.contains(
            "Convention: prod at nats://127.0.0.1:4222 (user \"director\" with a password)\nMember Name: member-a\n"
        ),
        "{out}"
    );
    let json = env.run(&["config", "--json"]).ok().stdout;
    for text in [&out, &json] {
        assert!(!text.contains("hunter2"), "the password never shows: {text}");
    }
    let j: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(j["convention"]["name"], "prod");
    assert_eq!(j["member_name"], "member-a");

    std::fs::write(env.dir().join("convention.cfg"), "{'Url': 'nats://127.0.0.1:4222'}").unwrap();
    let r = env.run(&["config"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("convention.cfg: Name: missing"), "{}", r.stderr);
    let r = env.run(&["start"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("convention.cfg: Name: missing"), "start refuses too: {}", r.stderr);
}

#[test]
fn a_daemon_joins_the_convention_and_wrong_credentials_are_refused_clearly() {
    let nats = NatsServer::start();
    let env = Env::new();
    convention_cfg(&env, &nats.url(), "not-the-password");
    let _guard = common::DaemonGuard::new(&env);
    let r = env.run(&["start"]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stderr.contains(&format!("convention.cfg: cannot connect to {} (user \"director\" with a password): the server refused these credentials", nats.url())),
        "a clear refusal: {}",
        r.stderr
    );
    assert!(!r.stderr.contains("not-the-password"), "{}", r.stderr);
    assert!(!env.dir().join(".director.sock").exists(), "nothing left behind");

    convention_cfg(&env, &nats.url(), PASSWORD);
    env.run(&["start"]).ok();
    let status = env.run(&["status"]).ok().stdout;
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let expected = format!("convention: prod as member {:?} via {} (connected)", host.trim(), nats.url());
    assert!(status.contains(&expected), "{status}");
    env.run(&["shutdown"]).ok();
}
