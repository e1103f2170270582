//! The convention (issue 14) through the real binary and a real
//! `nats-server` (started by the test; `./scripts/test.sh` installs one):
//! joining with each kind of credential, membership and heartbeats, the
//! leader's loads and unloads followed by trusting members, placement of
//! actors that require a capability, and unload under traffic on another
//! member (issue 16).

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

/// An nkey user: `convention.cfg` names a seed file; a seed the server does
/// not know is refused clearly, and the seed never shows.
#[test]
fn a_daemon_joins_with_an_nkey_seed_and_an_unknown_seed_is_refused() {
    let user = nkeys::KeyPair::new_user();
    let nats = NatsServer::start_with_nkeys(&[&user.public_key()]);
    let env = Env::new();
    let seed_file = env.dir().join("member.nk");
    let cfg = format!("{{'Url': {:?}, 'Name': 'prod', 'NkeySeed': 'member.nk'}}", nats.url());
    std::fs::write(env.dir().join("convention.cfg"), cfg).unwrap();
    let stranger = nkeys::KeyPair::new_user().seed().unwrap();
    std::fs::write(&seed_file, format!("{stranger}\n")).unwrap();
    let config = env.run(&["config"]).ok().stdout;
    assert!(config.contains(&format!("(nkey seed file {})", seed_file.display())), "{config}");
    let _guard = common::DaemonGuard::new(&env);
    let r = env.run(&["start"]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(r.stderr.contains("the server refused these credentials"), "a clear refusal: {}", r.stderr);
    assert!(!r.stderr.contains(&stranger), "the seed never shows: {}", r.stderr);

    std::fs::write(&seed_file, format!("{}\n", user.seed().unwrap())).unwrap();
    env.run(&["start"]).ok();
    let status = env.run(&["status"]).ok().stdout;
    assert!(status.contains(&format!("via {} (connected)", nats.url())), "{status}");
    assert!(names(&env).len() == 1, "it registered: {:?}", names(&env));
    env.run(&["shutdown"]).ok();
}

/// A creds file (a user JWT signed by an account, and the user's seed)
/// against a server in operator mode: a user of an account the server
/// does not trust is refused clearly; one of its account joins, and
/// JetStream (membership) works for it.
#[test]
fn a_daemon_joins_with_a_creds_file_and_one_of_an_unknown_account_is_refused() {
    let trust = test_support::nats_jwt::Trust::new();
    let nats = NatsServer::start_operator(&trust);
    let env = Env::new();
    let cfg = format!("{{'Url': {:?}, 'Name': 'prod', 'Credentials': 'member.creds'}}", nats.url());
    std::fs::write(env.dir().join("convention.cfg"), cfg).unwrap();
    let creds = env.dir().join("member.creds");
    let foreign = test_support::nats_jwt::Trust::foreign_creds("stray");
    std::fs::write(&creds, &foreign).unwrap();
    let config = env.run(&["config"]).ok().stdout;
    assert!(config.contains(&creds.display().to_string()), "{config}");
    let _guard = common::DaemonGuard::new(&env);
    let r = env.run(&["start"]);
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(r.stderr.contains(&format!("cannot connect to {}", nats.url())), "{}", r.stderr);
    assert!(r.stderr.contains("the server refused these credentials"), "a clear refusal: {}", r.stderr);
    let seed = foreign.lines().find(|l| l.starts_with("SU")).unwrap_or("SU");
    assert!(!r.stderr.contains(seed), "the seed never shows: {}", r.stderr);

    std::fs::write(&creds, trust.creds("member")).unwrap();
    env.run(&["start"]).ok();
    let status = env.run(&["status"]).ok().stdout;
    assert!(status.contains(&format!("via {} (connected)", nats.url())), "{status}");
    assert_eq!(names(&env).len(), 1, "it registered in the bucket: {:?}", names(&env));
    env.run(&["shutdown"]).ok();
}

/// A member of `nats`'s convention named `name`, foo 1.0 in its directory.
fn member(nats: &NatsServer, name: &str, leader: &str) -> Env {
    let env = Env::new();
    convention_cfg(&env, &nats.url(), PASSWORD);
    std::fs::write(env.dir().join("membername.cfg"), format!("{name:?}")).unwrap();
    std::fs::write(env.dir().join("convleader.cfg"), format!("{leader:?}")).unwrap();
    std::fs::write(env.dir().join("othercaps.cfg"), format!("{{'Slot': {}}}", name.len())).unwrap();
    env.tli("foo", "{'Actors': {'foo.fooactor': {'OnLoad': {'Role': 'MainFoo'}}}}");
    env.gensrc_prebuilt(Some("1.0")).ok();
    env
}

fn members(env: &Env) -> Vec<serde_json::Value> {
    env.json(&["list", "--convention", "--json"]).as_array().cloned().unwrap_or_default()
}

fn names(env: &Env) -> Vec<String> {
    members(env).iter().map(|m| m["key"].as_str().unwrap_or_default().to_string()).collect()
}

#[test]
fn members_heartbeat_into_the_bucket_and_a_killed_one_is_gone_within_three_heartbeats() {
    let nats = NatsServer::start();
    let (lead, other) = (member(&nats, "lead", "lead"), member(&nats, "other-1", "lead"));
    let _daemons = (lead.start(), other.start());
    // What a member runs is rewritten at once after a change (here the
    // start's refresh), not only at the next heartbeat.
    let hash = lead.hash_of("foo-1.0.tls");
    let running = serde_json::json!([format!("foo 1.0 {} *", &hash[..12])]);
    let listed = test_support::eventually(std::time::Duration::from_secs(3), || {
        members(&lead).first().is_some_and(|m| m["record"]["versions"] == running)
    });
    assert!(listed, "{:#?}", members(&lead));
    let all = members(&lead);
    assert_eq!(names(&lead), ["lead", "other-1"], "{all:#?}");
    let r = &all[0]["record"];
    assert_eq!((r["leader"].as_bool(), r["pid"].as_u64()), (Some(true), Some(u64::from(lead.pid()))));
    assert_eq!(r["capabilities"], serde_json::json!({"Slot": 4}));
    assert_eq!(all[1]["record"]["leader"], false);
    let text = other.run(&["list", "--convention"]).ok().stdout;
    assert!(text.starts_with("Member lead  [LEADER]  pid "), "{text}");
    assert!(text.contains("Member other-1  pid "), "{text}");

    // A clean shutdown leaves at once; a kill -9 expires.
    other.run(&["shutdown"]).ok();
    assert_eq!(names(&lead), ["lead"]);
    other.run(&["start"]).ok();
    assert_eq!(names(&lead), ["lead", "other-1"]);
    let pid = other.pid();
    // SAFETY: kill has no memory-safety preconditions; the pid is our daemon's.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    let killed = std::time::Instant::now();
    let gone = test_support::eventually(std::time::Duration::from_secs(10), || names(&lead) == ["lead"]);
    assert!(gone, "still listed: {:?}", names(&lead));
    let took = killed.elapsed();
    assert!(took <= std::time::Duration::from_secs(5), "gone after {took:?}; three heartbeats are 3 s");

    let r = lead.run(&["list", "--convention"]);
    assert!(r.stdout.contains("Member lead"), "{}", r.stdout);
    let alone = Env::new();
    let _solo = alone.start();
    let r = alone.run(&["list", "--convention"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("in no convention"), "{}", r.stderr);
}

const FOO_TLI: &str = "{'Actors': {'foo.fooactor': {'OnLoad': {'Role': 'MainFoo'}}}}";

/// A member `name` of `nats`'s convention led by `lead`, with nothing of
/// its own to load.
fn bare_member(nats: &NatsServer, name: &str) -> Env {
    let env = Env::new();
    convention_cfg(&env, &nats.url(), PASSWORD);
    std::fs::write(env.dir().join("membername.cfg"), format!("{name:?}")).unwrap();
    std::fs::write(env.dir().join("convleader.cfg"), "'lead'").unwrap();
    env
}

/// Makes `member` trust the key `lead` signs its packages with.
fn trust_leader(lead: &Env, member: &Env) {
    std::fs::copy(lead.dir().join("signer_tls.key"), member.dir().join("lead_tls.key")).unwrap();
}

/// A [`bare_member`] that trusts `lead`'s signing key.
fn trusting_member(nats: &NatsServer, lead: &Env, name: &str) -> Env {
    let env = bare_member(nats, name);
    trust_leader(lead, &env);
    env
}

/// Starts `members`, then `lead` with foo 1.0 (its start loads it, and as
/// the leader it asks the members to run it); foo's TLI in every directory.
fn start_all(lead: &Env, members: &[&Env]) -> Vec<common::DaemonGuard> {
    let mut guards: Vec<common::DaemonGuard> = members.iter().map(|m| m.start()).collect();
    for env in members.iter().copied().chain([lead]) {
        env.tli("foo", FOO_TLI);
    }
    lead.gensrc_prebuilt(Some("1.0")).ok();
    guards.push(lead.start());
    guards
}

fn record_of(env: &Env, name: &str) -> serde_json::Value {
    members(env).into_iter().find(|m| m["key"] == name).map(|m| m["record"].clone()).unwrap_or_default()
}

/// The first refusal in `name`'s record as `env` lists it, once there is
/// one (within 30 s).
fn first_refusal(env: &Env, name: &str) -> String {
    let refused = test_support::eventually(std::time::Duration::from_secs(30), || {
        record_of(env, name)["refused"].as_array().is_some_and(|r| !r.is_empty())
    });
    assert!(refused, "{:#}", record_of(env, name));
    record_of(env, name)["refused"][0].as_str().unwrap_or_default().to_string()
}

/// The hashes loaded in `env`'s daemon.
fn loaded(env: &Env) -> Vec<String> {
    let list = env.json(&["list", "--json"]);
    list.as_array().unwrap().iter().map(|v| v["hash"].as_str().unwrap_or_default().to_string()).collect()
}

#[test]
fn the_leaders_load_runs_on_a_member_that_trusts_its_key_and_is_refused_by_one_that_does_not() {
    let nats = NatsServer::start();
    let lead = bare_member(&nats, "lead");
    let (trusting, wary) = (bare_member(&nats, "trusting"), bare_member(&nats, "wary"));
    // `trusting` trusts the leader's signing key; `wary` only its own.
    trust_leader(&lead, &trusting);
    let _daemons = start_all(&lead, &[&trusting, &wary]);
    let h1 = lead.hash_of("foo-1.0.tls");
    let ran = test_support::eventually(std::time::Duration::from_secs(30), || loaded(&trusting) == [h1.clone()]);
    assert!(
        ran,
        "the trusting member runs it: {:?}\nleader: {}\nmember: {}",
        loaded(&trusting),
        log_of(&lead),
        log_of(&trusting)
    );
    assert_eq!(trusting.hash_of("foo-1.0.tls"), h1, "kept in its own directory, as the leader named it");
    let pong = common::ask(&trusting, &["MainFoo", "{\"ping\": 3}"]);
    assert_eq!((pong["pong"].as_i64(), pong["hash"].as_str()), (Some(3), Some(h1.as_str())));

    let why = first_refusal(&lead, "wary");
    assert!(why.starts_with(&format!("{}: ", &h1[..12])) && why.contains("no trusted key validates"), "{why}");
    assert!(loaded(&wary).is_empty(), "the wary member loaded nothing");
    assert!(!wary.dir().join("foo-1.0.tls").exists(), "and kept nothing");
    let text = lead.run(&["list", "--convention"]).ok().stdout;
    assert!(text.contains(&format!("  refused {why}")), "{text}");
    assert_eq!(record_of(&lead, "wary")["refused"].as_array().map(Vec::len), Some(1), "one refusal per package");

    // The operator adds the leader's key: the next try (after 5 s at first)
    // runs it, and the refusal is gone.
    trust_leader(&lead, &wary);
    let ran = test_support::eventually(std::time::Duration::from_secs(30), || loaded(&wary) == [h1.clone()]);
    assert!(ran, "the wary member tried again: {:?}\n{}", loaded(&wary), log_of(&wary));
    let cleared = test_support::eventually(std::time::Duration::from_secs(10), || {
        record_of(&lead, "wary")["refused"].as_array().is_some_and(Vec::is_empty)
    });
    assert!(cleared, "{:#}", record_of(&lead, "wary"));
}

/// A connection to `env`'s convention server with its credentials, that
/// is no member (it writes no record).
fn intruder(env: &Env) -> director::convention::Link {
    let text = std::fs::read_to_string(env.dir().join("convention.cfg")).unwrap();
    let settings =
        director::convention::ConventionSettings::parse(&director::pyliteral::parse(&text).unwrap(), &env.dir())
            .unwrap();
    director::convention::Link::connect(&settings, "intruder").unwrap()
}

/// A relayed ask (or tell) from member `from` to `MainFoo`, as one member
/// sends another on `NAME.ask.MEMBER`.
fn relayed(from: &str, tell: bool, message: serde_json::Value) -> serde_json::Value {
    serde_json::json!({"from": from, "tell": tell, "send": {"target": "MainFoo", "group": null,
        "source": null, "message": message, "timeout_ms": 500}})
}

/// Someone with the credentials but no member record sends a relayed ask
/// and actor messages to a member: both are dropped and logged, and
/// nothing reaches its actors.
#[test]
fn messages_from_a_name_that_is_not_a_member_are_dropped_and_logged() {
    let nats = NatsServer::start();
    let member = bare_member(&nats, "member");
    let _member = member.start();
    member.tli("foo", FOO_TLI);
    member.gensrc_prebuilt(Some("1.0")).ok();
    member.run(&["load", "foo-1.0.tls"]).ok();
    let main_foo = member.json(&["list", "--json"])[0]["actors"][0]["address"].as_str().unwrap_or_default().to_string();
    let link = intruder(&member);
    let ask = relayed("intruder", true, "from the intruder".into());
    let subject = director::convention::relay::relay_subject("prod", "member");
    let answer = link.block_on(async {
        let request = link.client().request(subject, ask.to_string().into());
        tokio::time::timeout(std::time::Duration::from_secs(3), request).await
    });
    assert!(!matches!(answer, Ok(Ok(_))), "no answer to a stranger");
    // An actor message that names a member's block but comes from no member.
    let to = actor_abi::Address::parse(&main_foo).unwrap();
    let env = runtime::remote::RemoteEnvelope {
        from: actor_abi::Address::NOBODY,
        to,
        msg: runtime::remote::RemoteMessage::Value(actor_abi::wire::encode(&actor_abi::Value::from("forged")).into()),
    };
    let mut bytes = vec![8u8];
    bytes.extend_from_slice(b"intruder");
    runtime::remote::frame::encode_batch(&[env], &mut bytes);
    let subject = director::convention::transport::message_subject("prod", "member");
    link.block_on(async { link.client().publish(subject, bytes.into()).await.map(drop) }).unwrap();
    link.block_on(link.client().flush()).unwrap();
    let logged = test_support::eventually(std::time::Duration::from_secs(10), || {
        let log = log_of(&member);
        log.contains("dropped a relayed request from \"intruder\", which is not a listed member")
            && log.contains("dropped actor messages: from \"intruder\", which is not a listed member")
    });
    assert!(logged, "{}", log_of(&member));
    let history = common::ask(&member, &["MainFoo", "\"history\""]);
    assert_eq!(history, serde_json::json!([]), "nothing reached the actor");
}

/// A relayed ask from `from` to `member`'s `MainFoo` through `link`: the
/// reply's payload, or why there was none within 3 s.
fn relay_ask(link: &director::convention::Link, from: &str, member: &str) -> Result<Vec<u8>, String> {
    let ask = relayed(from, false, serde_json::json!({"ping": 1}));
    let subject = director::convention::relay::relay_subject("prod", member);
    link.block_on(async {
        let request = link.client().request(subject, ask.to_string().into());
        match tokio::time::timeout(std::time::Duration::from_secs(3), request).await {
            Ok(Ok(reply)) => Ok(reply.payload.to_vec()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("no answer within 3 s".into()),
        }
    })
}

/// A member that joins is heard at once, even by a member that read the
/// records a moment before (a stranger's request made it read them): its
/// first relayed ask is answered, not dropped as from a stranger. (CI
/// lost the first asks of members that joined just after another had
/// read the records.)
#[test]
fn a_member_that_just_joined_is_answered_even_right_after_the_records_were_read() {
    use director::convention::members::{MemberRecord, start_heartbeat};
    let nats = NatsServer::start();
    let member = bare_member(&nats, "member");
    let _member = member.start();
    member.tli("foo", FOO_TLI);
    member.gensrc_prebuilt(Some("1.0")).ok();
    member.run(&["load", "foo-1.0.tls"]).ok();
    let link = intruder(&member);
    // No record yet: dropped (logged once the member has read the
    // records again), then it joins at once.
    let subject = director::convention::relay::relay_subject("prod", "member");
    let stray = relayed("newcomer", true, "early".into());
    link.block_on(async {
        let inbox = link.client().new_inbox();
        link.client().publish_with_reply(subject, inbox, stray.to_string().into()).await.unwrap();
        link.client().flush().await.unwrap();
    });
    let dropped = test_support::eventually(std::time::Duration::from_secs(10), || {
        log_of(&member).contains("dropped a relayed request from \"newcomer\"")
    });
    assert!(dropped, "{}", log_of(&member));
    // Now it joins (a block and a record), and asks at once.
    let block = director::convention::slots::claim(&link, "newcomer").unwrap();
    let record = MemberRecord {
        name: "newcomer".into(),
        pid: std::process::id(),
        leader: false,
        capabilities: serde_json::json!({}),
        versions: vec![],
        refused: vec![],
        unloaded: vec![],
        packages: vec![],
        settled: true,
        block,
        actors: vec![],
    };
    let _heartbeat = start_heartbeat(&link, move || record.clone()).unwrap();
    let reply = relay_ask(&link, "newcomer", "member").unwrap_or_else(|e| panic!("{e}\n{}", log_of(&member)));
    let reply: serde_json::Value = serde_json::from_slice(&reply).unwrap();
    assert_eq!(reply["result"]["reply"]["pong"], 1, "{reply}");
}

#[test]
fn a_package_changed_in_the_store_is_refused_by_the_member() {
    let nats = NatsServer::start();
    let lead = bare_member(&nats, "lead");
    let member = trusting_member(&nats, &lead, "member");
    let _member = member.start();
    // Someone with access to the server puts other bytes under the name of
    // the leader's next package before the leader publishes it (the leader
    // keeps an object of the same size).
    lead.gensrc_prebuilt(Some("1.0")).ok();
    let hash = lead.hash_of("foo-1.0.tls");
    let mut bytes = std::fs::read(lead.dir().join("foo-1.0.tls")).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    let link = intruder(&lead);
    director::convention::store::publish(&link, &hash, &bytes).unwrap();
    member.tli("foo", FOO_TLI);
    lead.tli("foo", FOO_TLI);
    let _lead = lead.start();
    let why = first_refusal(&lead, "member");
    assert!(why.contains(&format!("the store's copy of {hash} hashes to")) && why.contains("was changed"), "{why}");
    assert!(loaded(&member).is_empty());
}

fn log_of(env: &Env) -> String {
    std::fs::read_to_string(env.root.path().join("logs/thespian_system.log")).unwrap_or_default()
}

#[test]
fn a_member_that_starts_later_runs_what_the_leader_runs_and_the_leaders_unload_reaches_it() {
    let nats = NatsServer::start();
    let lead = bare_member(&nats, "lead");
    let late = trusting_member(&nats, &lead, "late");
    let _lead = start_all(&lead, &[]);
    let h1 = lead.hash_of("foo-1.0.tls");
    let _late = late.start();
    late.tli("foo", FOO_TLI);
    let ran = test_support::eventually(std::time::Duration::from_secs(30), || loaded(&late) == [h1.clone()]);
    assert!(ran, "the late member converges to the leader: {:?}\n{}", loaded(&late), log_of(&late));
    assert_eq!(common::ask(&late, &["MainFoo", "{\"ping\": 1}"])["hash"], h1.as_str());

    lead.run(&["unload", &h1[..12]]).ok();
    let gone = test_support::eventually(std::time::Duration::from_secs(30), || loaded(&late).is_empty());
    assert!(gone, "the leader's unload reaches the member: {:?}\n{}", loaded(&late), log_of(&late));
    let clean = test_support::eventually(std::time::Duration::from_secs(10), || {
        common::children_of(late.pid()).is_empty() && !late.maps().contains("libfoo.so")
    });
    assert!(clean, "no worker and no mapping of the library are left on the member");
    let reported = test_support::eventually(std::time::Duration::from_secs(5), || {
        record_of(&lead, "late")["unloaded"]
            == serde_json::json!([format!("{}: unloaded foo 1.0, code freed (worker exited)", &h1[..12])])
    });
    assert!(reported, "the member reports its own unload to the convention: {:#}", record_of(&lead, "late"));
    let text = lead.run(&["list", "--convention"]).ok().stdout;
    assert!(text.contains("  as the leader did: "), "{text}");
}

/// foo with an `OnDeactivate` message.
const DEACTIVATING_TLI: &str =
    "{'Actors': {'foo.fooactor': {'OnLoad': {'Role': 'MainFoo'}, 'OnDeactivate': {'Message': 'bye'}}}}";

#[test]
fn a_new_version_refreshed_on_the_leader_becomes_active_on_the_members_after_on_deactivate() {
    let nats = NatsServer::start();
    let lead = bare_member(&nats, "lead");
    let member = trusting_member(&nats, &lead, "member");
    let _member = member.start();
    member.tli("foo", DEACTIVATING_TLI);
    lead.tli("foo", DEACTIVATING_TLI);
    lead.gensrc_prebuilt(Some("1.0")).ok();
    let _lead = lead.start();
    let h1 = lead.hash_of("foo-1.0.tls");
    let up = test_support::eventually(std::time::Duration::from_secs(30), || loaded(&member) == [h1.clone()]);
    assert!(up, "{:?}\n{}", loaded(&member), log_of(&member));

    lead.gensrc_prebuilt(Some("2.0")).ok();
    let r = lead.run(&["refresh"]).ok();
    let h2 = lead.hash_of("foo-2.0.tls");
    assert!(r.stdout.contains(&h2), "{}", r.stdout);
    let active = |env: &Env| {
        let list = env.json(&["list", "--json"]);
        let versions = list.as_array().cloned().unwrap_or_default();
        versions.iter().find(|v| v["active"] == true).map(|v| v["hash"].as_str().unwrap_or_default().to_string())
    };
    let moved = test_support::eventually(std::time::Duration::from_secs(30), || active(&member) == Some(h2.clone()));
    assert!(moved, "the member runs 2.0 as active: {:?}\n{}", loaded(&member), log_of(&member));
    assert_eq!(loaded(&member), [h1.clone(), h2.clone()], "1.0 stays loaded, as on the leader");
    assert_eq!(common::ask(&member, &["MainFoo", "{\"ping\": 1}"])["hash"], h2.as_str());
    let old = common::ask(&member, &["--source", &h1[..12], "MainFoo", "\"history\""]);
    assert_eq!(old, serde_json::json!(["bye"]), "the member's 1.0 actor got OnDeactivate");

    lead.run(&["unload", &h1[..12]]).ok();
    let gone = test_support::eventually(std::time::Duration::from_secs(30), || loaded(&member) == [h2.clone()]);
    assert!(gone, "{:?}", loaded(&member));
}

/// How many times `env`'s daemon loaded one of the leader's packages
/// (asked again for one it runs, it says "already running").
fn runs_of(env: &Env) -> usize {
    log_of(env).lines().filter(|l| l.contains("convention: ran the leader's") && l.contains(": loaded ")).count()
}

#[test]
fn members_keep_running_through_a_leader_restart_and_a_nats_server_restart() {
    let mut nats = NatsServer::start();
    let lead = bare_member(&nats, "lead");
    let member = trusting_member(&nats, &lead, "member");
    let _daemons = start_all(&lead, &[&member]);
    let h1 = lead.hash_of("foo-1.0.tls");
    let up = test_support::eventually(std::time::Duration::from_secs(30), || loaded(&member) == [h1.clone()]);
    assert!(up, "{:?}", loaded(&member));
    let actor_of = |env: &Env| env.json(&["list", "--json"])[0]["actors"][0]["address"].clone();
    let actor = actor_of(&member);
    assert!(actor.is_string(), "{actor}");

    // The leader dies: its record expires; the member changes nothing.
    let pid = lead.pid();
    // SAFETY: kill has no memory-safety preconditions; the pid is our daemon's.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    let expired = test_support::eventually(std::time::Duration::from_secs(10), || names(&member) == ["member"]);
    assert!(expired, "{:?}", names(&member));
    std::thread::sleep(crate::HEARTBEAT * 2);
    assert_eq!(loaded(&member), std::slice::from_ref(&h1), "the member keeps what it runs while the leader is gone");
    // The leader comes back (restoring foo after its crash): nothing runs twice.
    lead.run(&["start"]).ok();
    let back = test_support::eventually(std::time::Duration::from_secs(10), || names(&member).len() == 2);
    assert!(back, "{:?}", names(&member));
    std::thread::sleep(crate::HEARTBEAT * 2);
    assert_eq!(loaded(&member), std::slice::from_ref(&h1));
    assert_eq!(runs_of(&member), 1, "the member ran the leader's package once: {}", log_of(&member));
    assert_eq!(actor_of(&member), actor, "the same actor runs, not a new one");

    // nats-server restarts: both reconnect, heartbeats resume, nothing runs twice.
    nats.restart();
    for env in [&lead, &member] {
        let reconnected = test_support::eventually(std::time::Duration::from_secs(30), || {
            env.run(&["status"]).stdout.contains("(connected)") && names(env).len() == 2
        });
        assert!(reconnected, "{}\n{:?}", env.run(&["status"]).stdout, names(env));
    }
    std::thread::sleep(crate::HEARTBEAT * 2);
    assert_eq!(loaded(&member), [h1]);
    assert_eq!(runs_of(&member), 1, "{}", log_of(&member));
    assert_eq!(actor_of(&member), actor);
    assert_eq!(common::ask(&member, &["MainFoo", "{\"ping\": 3}"])["pong"], 3);
}

const HEARTBEAT: std::time::Duration = director::convention::members::HEARTBEAT;

#[test]
fn a_tls_server_is_joined_with_the_ca_convention_cfg_names_and_refused_without_it() {
    let nats = NatsServer::start_tls();
    let url = nats.url().replace("nats://", "tls://");
    let ca = nats.ca().expect("a TLS server has a CA");
    let env = Env::new();
    let _guard = common::DaemonGuard::new(&env);
    let cfg = |tls: &str| {
        let text = format!("{{'Url': {url:?}, 'Name': 'prod', 'User': {USER:?}, 'Password': {PASSWORD:?}{tls}}}");
        std::fs::write(env.dir().join("convention.cfg"), text).unwrap();
    };
    // Without the CA, the server's certificate is not trusted.
    cfg("");
    let r = env.run(&["start"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains(&format!("cannot connect to {url}")), "{}", r.stderr);
    assert!(r.stderr.to_lowercase().contains("certificate"), "says why: {}", r.stderr);
    // With it, the daemon joins over TLS.
    cfg(&format!(", 'Tls': {{'Ca': {:?}}}", ca.display().to_string()));
    env.run(&["start"]).ok();
    let status = env.run(&["status"]).ok().stdout;
    assert!(status.contains(&format!("via {url} (connected)")), "{status}");
}

/// foo with `Slotted` (the cow actor) requiring slot 19, and `MainFoo`
/// requiring nothing.
const PLACED_TLI: &str = "{'Actors': {'foo.fooactor': {'OnLoad': {'Role': 'MainFoo'}},
  'foo.subdir2.barn.cowactor': {'OnLoad': {'Role': 'Slotted', 'Message': 'hello'}, 'Requires': {'Slot': 19}}}}";

/// A member of `lead`'s convention with capabilities `caps`, trusting the
/// leader's key (write [`PLACED_TLI`] once it has started: a start with a
/// `.tli` and no package fails).
fn placing_member(nats: &NatsServer, lead: &Env, name: &str, caps: &str) -> Env {
    let env = bare_member(nats, name);
    std::fs::write(env.dir().join("othercaps.cfg"), caps).unwrap();
    if name != "lead" {
        trust_leader(lead, &env);
    }
    env
}

/// `env`'s listing of actor `class` of its one loaded version.
fn actor_listing(env: &Env, class: &str) -> serde_json::Value {
    let list = env.json(&["list", "--json"]);
    let actors = list[0]["actors"].as_array().cloned().unwrap_or_default();
    actors.into_iter().find(|a| a["class"] == class).unwrap_or_default()
}

const COW: &str = "foo.subdir2.barn.cowactor";

#[test]
fn an_actor_that_requires_a_capability_runs_on_one_fitting_member_and_is_reached_from_every_member() {
    let nats = NatsServer::start();
    let lead = bare_member(&nats, "lead");
    let lead = placing_member(&nats, &lead, "lead", "{'Slot': 4}");
    let alpha = placing_member(&nats, &lead, "alpha", "{'Slot': 19}");
    let beta = placing_member(&nats, &lead, "beta", "{'Slot': 19, 'Worker': True}");
    let mut guards = vec![alpha.start(), beta.start()];
    for env in [&lead, &alpha, &beta] {
        env.tli("foo", PLACED_TLI);
    }
    lead.gensrc_prebuilt(Some("1.0")).ok();
    guards.push(lead.start());
    let h1 = lead.hash_of("foo-1.0.tls");
    for env in [&alpha, &beta] {
        let ran = test_support::eventually(std::time::Duration::from_secs(30), || loaded(env) == [h1.clone()]);
        assert!(ran, "{:?}\n{}", loaded(env), log_of(env));
    }
    // The leader lacks slot 19: the first fitting member by name runs it;
    // the others say where it runs. MainFoo (no Requires) runs everywhere.
    let placed = test_support::eventually(std::time::Duration::from_secs(10), || {
        actor_listing(&alpha, COW)["address"].is_string()
    });
    assert!(placed, "{:#}\n{}", actor_listing(&alpha, COW), log_of(&alpha));
    for env in [&lead, &beta] {
        let cow = actor_listing(env, COW);
        assert_eq!((cow["address"].is_null(), cow["placed"].as_str()), (true, Some("on alpha")), "{cow:#}");
        assert!(env.run(&["list"]).ok().stdout.contains(&format!("(on alpha) -- {COW} (Slotted)")));
    }
    for env in [&lead, &alpha, &beta] {
        assert!(actor_listing(env, "foo.fooactor")["address"].is_string());
    }
    assert_eq!(record_of(&lead, "lead")["packages"][0]["placed"], serde_json::json!({COW: "alpha"}));

    // From the CLI on any member: a tell from the leader and an ask from
    // beta reach the one actor on alpha, in order after its OnLoad message.
    lead.run(&["tell", "Slotted", "{\"note\": 1}"]).ok();
    let history = common::ask(&beta, &["Slotted", "\"history\""]);
    assert_eq!(history, serde_json::json!(["hello", {"note": 1}]), "{history}");
    let pong = common::ask(&lead, &["Slotted", "{\"ping\": 7}"]);
    assert_eq!((pong["pong"].as_i64(), pong["hash"].as_str()), (Some(7), Some(h1.as_str())));

    // Actor to actor: MainFoo on the leader sends a ping to Slotted's
    // address (the same on every member: alpha's node block), and Slotted
    // on alpha answers the actor on the leader.
    let slotted = actor_listing(&alpha, COW)["address"].as_str().unwrap_or_default().to_string();
    // Role lookups on the other members give that address once alpha's
    // record names it: the Director actor's RetrieveRole, and the library's.
    let retrieve = r#"{"DirectorOp": "RetrieveRole", "Role": "Slotted"}"#;
    let found = test_support::eventually(std::time::Duration::from_secs(5), || {
        common::ask(&lead, &["Director", retrieve])["Address"] == slotted.as_str()
    });
    assert!(found, "{} vs {slotted}", common::ask(&lead, &["Director", retrieve]));
    let control = director::DirectorControl::new(&beta.dir());
    let found = test_support::eventually(std::time::Duration::from_secs(5), || {
        control.get_role_address("Slotted", None).ok().flatten().as_deref() == Some(slotted.as_str())
    });
    assert!(found, "{:?}", control.get_role_address("Slotted", None));
    let forward = serde_json::json!({"forward": slotted, "msg": {"ping": 5}}).to_string();
    lead.run(&["tell", "MainFoo", &forward]).ok();
    let answered = test_support::eventually(std::time::Duration::from_secs(10), || {
        let history = common::ask(&lead, &["MainFoo", "\"history\""]);
        history.as_array().is_some_and(|h| h.iter().any(|m| m["pong"] == 5 && m["class"] == COW))
    });
    assert!(
        answered,
        "{}\nleader: {}\nalpha: {}",
        common::ask(&lead, &["MainFoo", "\"history\""]),
        log_of(&lead),
        log_of(&alpha)
    );
    let r = beta.run(&["ask", "Slotted", "\"exit\"", "--timeout", "1"]);
    assert_ne!(r.code, 0, "an actor that exits without a reply: the ask fails, on the member that asked");
    assert!(r.stderr.contains("(on member \"alpha\")"), "{}", r.stderr);

    // alpha is killed: an ask to it fails at once (not at its timeout),
    // then the leader places the actor on beta (alpha's record expires in
    // 3 heartbeats; the leader and beta each act within one more).
    let pid = alpha.pid();
    // SAFETY: kill has no memory-safety preconditions; the pid is our daemon's.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    let r = lead.run(&["ask", "--timeout", "60", "Slotted", "\"history\""]);
    let prompt = r.code != 0 && (r.stderr.contains("which does not answer") || r.stderr.contains("which is gone"));
    let moved_already = r.code == 0 && r.stdout.contains("hello");
    assert!(prompt || moved_already, "{} {}", r.stdout, r.stderr);
    let moved = test_support::eventually(std::time::Duration::from_secs(10), || {
        actor_listing(&beta, COW)["address"].is_string()
    });
    assert!(moved, "re-placed on beta within 10 s: {:#}\n{}", actor_listing(&beta, COW), log_of(&lead));
    assert_eq!(actor_listing(&lead, COW)["placed"], "on beta");
    let history = common::ask(&lead, &["Slotted", "\"history\""]);
    assert_eq!(history, serde_json::json!(["hello"]), "a new actor on beta, with its OnLoad message");
    drop(guards);
}

#[test]
fn an_actor_no_member_fits_is_reported_by_the_load_and_placed_once_a_member_fits() {
    let nats = NatsServer::start();
    let lead = bare_member(&nats, "lead");
    let lead = placing_member(&nats, &lead, "lead", "{}");
    let late = placing_member(&nats, &lead, "late", "{'Slot': 19}");
    let _lead = lead.start();
    lead.tli("foo", PLACED_TLI);
    lead.gensrc_prebuilt(Some("1.0")).ok();
    let r = lead.run(&["load", "foo-1.0.tls"]).ok();
    assert!(
        r.stderr.contains(&format!(
            "warning: not placed (it does not run): {COW}: no member can run it: the leader lead has no 'Slot'"
        )),
        "{}",
        r.stderr
    );
    assert!(actor_listing(&lead, COW)["placed"].as_str().unwrap_or_default().starts_with("unplaced: "));
    let err = lead.run(&["ask", "--timeout", "1", "Slotted", "\"history\""]);
    assert!(err.code != 0 && err.stderr.contains("no running actor"), "{}", err.stderr);
    // A member that fits joins: the leader places the actor there.
    let _late = late.start();
    late.tli("foo", PLACED_TLI);
    let placed = test_support::eventually(std::time::Duration::from_secs(30), || {
        actor_listing(&late, COW)["address"].is_string()
    });
    assert!(placed, "{:#}\n{}", actor_listing(&late, COW), log_of(&lead));
    assert_eq!(common::ask(&lead, &["Slotted", "\"history\""]), serde_json::json!(["hello"]));
}

/// A leader (slot 4) and member alpha (slot 19) running foo 1.0, with
/// `Slotted` placed on alpha and listed there; the daemons' guards.
fn slotted_on_alpha(nats: &NatsServer) -> (Env, Env, Vec<common::DaemonGuard>) {
    let lead = bare_member(nats, "lead");
    let lead = placing_member(nats, &lead, "lead", "{'Slot': 4}");
    let alpha = placing_member(nats, &lead, "alpha", "{'Slot': 19}");
    let mut guards = vec![alpha.start()];
    for env in [&lead, &alpha] {
        env.tli("foo", PLACED_TLI);
    }
    lead.gensrc_prebuilt(Some("1.0")).ok();
    guards.push(lead.start());
    let placed = test_support::eventually(std::time::Duration::from_secs(30), || {
        actor_listing(&alpha, COW)["address"].is_string() && actor_listing(&lead, COW)["placed"] == "on alpha"
    });
    assert!(placed, "{:#}\n{:#}\n{}", actor_listing(&lead, COW), actor_listing(&alpha, COW), log_of(&alpha));
    (lead, alpha, guards)
}

/// A member that stops answering (frozen, as a hung or cut-off host: the
/// server still holds its connection) has the asks relayed to it fail
/// once its record expires, not at their timeout.
#[test]
fn an_ask_to_a_member_that_stops_answering_fails_once_its_record_expires() {
    let nats = NatsServer::start();
    let (lead, alpha, guards) = slotted_on_alpha(&nats);
    assert_eq!(common::ask(&lead, &["Slotted", "\"history\""]), serde_json::json!(["hello"]));
    let pid = alpha.pid() as i32;
    // SAFETY: kill has no memory-safety preconditions; the pid is our daemon's.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    let asked = std::time::Instant::now();
    let r = lead.run(&["ask", "--timeout", "60", "Slotted", "\"history\""]);
    let took = asked.elapsed();
    // SAFETY: as above; a stopped process dies of SIGKILL too.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert!(r.stderr.contains("runs on member \"alpha\", which is gone"), "{}", r.stderr);
    // 3 heartbeats for the record to expire, one for the map to be read.
    assert!(took < std::time::Duration::from_secs(15), "failed after {took:?}, not at once the record expired");
    drop(guards);
}

/// Load/unload cycles of the convention churn: each cycle reaches the
/// member over NATS, so fewer than the single-host churn's 2,000.
const CONVENTION_CYCLES: usize = 300;

/// Unload under traffic on a convention (issue 16): while the leader loads
/// and unloads foo 2.0 in a loop (the member follows), askers ask
/// `Slotted` by role, placed on alpha: two on the leader (relayed to
/// alpha, which resolves the role itself) and one on alpha. None fails,
/// and every reply comes from 1.0 or 2.0.
#[test]
fn asks_by_role_to_an_actor_on_another_member_all_get_answers_while_the_leader_churns_a_version() {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let nats = NatsServer::start();
    let (lead, alpha, guards) = slotted_on_alpha(&nats);
    let h1 = lead.hash_of("foo-1.0.tls");
    // 2.0 beside the directory: loaded by its path, never by a refresh.
    lead.gensrc_prebuilt(Some("2.0")).ok();
    let second = lead.root.path().join("foo-2.0.tls");
    std::fs::rename(lead.dir().join("foo-2.0.tls"), &second).unwrap();
    let second = second.display().to_string();

    let (stop, failed) = (AtomicBool::new(false), Mutex::new(Vec::<String>::new()));
    let by_version = [AtomicU64::new(0), AtomicU64::new(0)];
    let options = director::SendOptions { timeout: Some(std::time::Duration::from_secs(30)), ..Default::default() };
    let lead_control = director::DirectorControl::new(&lead.dir());
    let hashes = std::thread::scope(|s| {
        for env in [&lead, &lead, &alpha] {
            let (stop, by_version, failed, options) = (&stop, &by_version, &failed, &options);
            s.spawn(move || {
                let control = director::DirectorControl::new(&env.dir());
                for n in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let reply = control.ask("Slotted", serde_json::json!({"probe": n}), options);
                    let version = reply.as_ref().ok().filter(|r| r["class"] == COW).map(|r| r["version"].clone());
                    match (version.as_ref().and_then(|v| v.as_str()), reply) {
                        (Some("1.0"), _) => drop(by_version[0].fetch_add(1, Ordering::Relaxed)),
                        (Some("2.0"), _) => drop(by_version[1].fetch_add(1, Ordering::Relaxed)),
                        (_, Ok(r)) => failed.lock().unwrap().push(format!("not from 1.0 or 2.0: {r}")),
                        (_, Err(e)) => failed.lock().unwrap().push(format!("{} asked: {e}", env.dir().display())),
                    }
                }
            });
        }
        let churn = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut h2 = String::new();
            for i in 0..CONVENTION_CYCLES {
                h2 = lead_control.load(&second).unwrap_or_else(|e| panic!("cycle {i}: load: {e}")).hash;
                let unloaded = lead_control.unload(&h2).unwrap_or_else(|e| panic!("cycle {i}: unload: {e}"));
                assert_eq!(unloaded.undelivered, 0, "cycle {i}");
            }
            h2
        }));
        stop.store(true, Ordering::Relaxed);
        churn.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    });
    let failed = failed.into_inner().unwrap();
    assert!(
        failed.is_empty(),
        "{} asks failed during the churn, first ones: {:#?}",
        failed.len(),
        &failed[..failed.len().min(10)]
    );
    let [v1, v2] = by_version.map(|v| v.into_inner());
    assert!(v1 > 0 && v2 > 0, "both versions answered: 1.0 {v1}, 2.0 {v2}");
    // The member followed the last unload: only 1.0 is left there.
    let followed = test_support::eventually(std::time::Duration::from_secs(30), || loaded(&alpha) == [h1.clone()]);
    assert!(followed, "alpha runs {:?} (2.0 is {hashes})", loaded(&alpha));
    drop(guards);
}
