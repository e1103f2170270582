//! Loading once on the leader, running everywhere: after a load, the
//! leader puts the package file into the store and asks each member to run
//! it (`NAME.run.MEMBER`, request and reply). A member fetches the bytes,
//! checks their hash, writes them into its own directory and loads them
//! like any file there, so that its own Source Authority verifies them with
//! its own trusted keys; it answers with the outcome.
//!
//! A request is another host's word: it is size-capped, parsed as data,
//! refused unless it names this member's leader (`convleader.cfg`), and
//! refused when `othercaps.cfg` says `'AllowRemoteActorSources': 'no'`.
//! Requests are handled one at a time on a thread of their own, never on
//! the NATS client's runtime (a load can take long).
//!
//! Requests make a member run a new load at once; a second thread makes
//! it converge, every heartbeat, to what the leader's membership record
//! says it runs: a member that starts later runs what the leader runs, and
//! a version the leader unloads is unloaded on the members that took it
//! from the leader (see `converge`, started beside the request thread).

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use crate::convention::link::Link;
use crate::convention::placement::Assignments;
use crate::convention::publisher::Publisher;
use crate::convention::store::{self, short};
use crate::daemon::operations::Director;

/// The largest run request a member reads.
const MAX_REQUEST: usize = 64 << 10;
/// How long the leader waits for a member to fetch, verify and load.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(60);
/// How many refusals (and unloads) a member keeps showing.
const MAX_REFUSALS: usize = 16;

/// The leader's request: run this version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRequest {
    /// The leader's member name.
    pub leader: String,
    /// The package's group.
    pub group: String,
    /// The package hash (the name in the store).
    pub hash: String,
    /// The package file's name at the leader (`GROUP-VERSION.tls`): the
    /// Source Authority checks it against the signed manifest.
    pub file_name: String,
    /// Where the leader placed its actors with `Requires` (class, then
    /// member name).
    #[serde(default)]
    pub placed: BTreeMap<String, String>,
}

/// A member's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunReply {
    /// The member.
    pub member: String,
    /// True if the version is loaded there now.
    pub loaded: bool,
    /// What happened (the refusal's reason when not loaded).
    pub detail: String,
}

/// `othercaps.cfg`'s `AllowRemoteActorSources`, as in the original.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllowRemote {
    /// `'yes'` (the default): run what the leader asks for.
    Yes,
    /// `'no'`: never run packages from other members.
    No,
    /// `'LeaderOnly'`: only the leader's (the only sender here).
    LeaderOnly,
}

impl AllowRemote {
    /// Reads the capability; anything else is refused by `config`.
    pub fn from_caps(caps: &actor_abi::Map) -> Result<AllowRemote, String> {
        match caps.get("AllowRemoteActorSources") {
            None => Ok(AllowRemote::Yes),
            Some(actor_abi::Value::String(s)) if s == "yes" => Ok(AllowRemote::Yes),
            Some(actor_abi::Value::String(s)) if s == "no" => Ok(AllowRemote::No),
            Some(actor_abi::Value::String(s)) if s == "LeaderOnly" => Ok(AllowRemote::LeaderOnly),
            Some(other) => Err(format!("AllowRemoteActorSources: expected 'yes', 'no' or 'LeaderOnly', found {other}")),
        }
    }
}

/// The subject a member takes run requests on (`.` in a member name, as in
/// a host name, becomes `_`: subjects use `.` between tokens).
pub fn run_subject(convention: &str, member: &str) -> String {
    format!("{convention}.run.{}", member.replace('.', "_"))
}

/// What a member needs to run the leader's versions.
pub struct MemberSide {
    /// This member's name.
    pub name: String,
    /// `convleader.cfg`: the only name a request may come from.
    pub leader: Option<String>,
    /// `AllowRemoteActorSources`.
    pub allow: AllowRemote,
    /// The director directory the packages are written into.
    pub dir: PathBuf,
    /// The Director that loads them.
    pub director: Arc<Director>,
    /// Recent refusals and unloads, shown in the member's record.
    pub notes: Arc<Notes>,
    /// The hashes it loaded because the leader runs them: unloaded again
    /// when the leader no longer does.
    pub from_leader: Arc<Mutex<HashSet<String>>>,
    /// Where the leader placed the actors of those versions.
    pub assigned: Assignments,
    /// Held while a package is fetched and loaded.
    pub running: Mutex<()>,
}

/// Takes run requests for this member from now on.
pub fn serve_member(link: &Arc<Link>, side: Arc<MemberSide>) -> Result<(), String> {
    let subject = run_subject(link.name(), &side.name);
    let mut requests = link
        .block_on(link.client().subscribe(subject.clone()))
        .map_err(|e| format!("subscribing to {subject}: {e}"))?;
    let (tx, rx) = channel();
    link.spawn(async move {
        while let Some(msg) = requests.next().await {
            if tx.send(msg).is_err() {
                return;
            }
        }
    });
    let link = link.clone();
    std::thread::Builder::new()
        .name("thespian-deploy".into())
        .spawn(move || handle_requests(&link, &side, rx))
        .map_err(|e| format!("starting the deploy thread: {e}"))?;
    Ok(())
}

/// What a member tells the convention about the leader's packages: its
/// recent refusals (`HASH12: reason`) and the unloads it did because the
/// leader unloaded (`HASH12: code freed...`), at most 16 each.
#[derive(Default)]
pub struct Notes {
    refused: Mutex<Vec<String>>,
    unloaded: Mutex<Vec<String>>,
}

impl Notes {
    /// The recent refusals.
    pub fn refused(&self) -> Vec<String> {
        self.refused.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The recent unloads.
    pub fn unloaded(&self) -> Vec<String> {
        self.unloaded.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Remembers an unload of `hash` with its outcome.
    pub(crate) fn note_unload(&self, hash: &str, outcome: &str) {
        let mut unloaded = self.unloaded.lock().unwrap_or_else(|p| p.into_inner());
        push_capped(&mut unloaded, format!("{}: {outcome}", short(hash)));
    }

    /// Remembers the outcome of running a leader's package `hash`: a
    /// refusal replaces an earlier one of the same package, a load clears it.
    pub(crate) fn note_run(&self, hash: &str, reply: &RunReply) {
        let prefix = format!("{}: ", short(hash));
        let mut refusals = self.refused.lock().unwrap_or_else(|p| p.into_inner());
        refusals.retain(|r| !r.starts_with(&prefix));
        if !reply.loaded {
            push_capped(&mut refusals, reply.detail.clone());
        }
    }
}

/// Appends `line`, dropping the oldest lines beyond [`MAX_REFUSALS`].
fn push_capped(lines: &mut Vec<String>, line: String) {
    lines.push(line);
    let excess = lines.len().saturating_sub(MAX_REFUSALS);
    lines.drain(..excess);
}

fn handle_requests(link: &Link, side: &MemberSide, rx: Receiver<async_nats::Message>) {
    for msg in rx {
        let Some(reply_to) = msg.reply.clone() else { continue };
        let (hash, reply) = match parse(&msg.payload) {
            Ok(req) => (req.hash.clone(), run(link, side, &req)),
            Err(why) => {
                log::warn!("convention: dropped a run request: {why}");
                continue;
            }
        };
        side.notes.note_run(&hash, &reply);
        let bytes = serde_json::to_vec(&reply).unwrap_or_default();
        if let Err(e) = link.block_on(link.client().publish(reply_to, bytes.into())) {
            log::warn!("convention: answering a run request: {e}");
        }
    }
}

fn parse(payload: &[u8]) -> Result<RunRequest, String> {
    if payload.len() > MAX_REQUEST {
        return Err(format!("{} bytes (at most {MAX_REQUEST})", payload.len()));
    }
    let req: RunRequest = serde_json::from_slice(payload).map_err(|e| format!("not a run request: {e}"))?;
    check(&req)?;
    Ok(req)
}

/// Checks what a run request names (from the wire, or from the leader's
/// record) before anything is fetched or written.
pub(crate) fn check(req: &RunRequest) -> Result<(), String> {
    let hex = req.hash.len() == 64 && req.hash.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
    if !hex {
        return Err(format!("{:?} is not a package hash", req.hash));
    }
    runtime::tls::format::check_group(&req.group).map_err(|e| format!("group {:?}: {e}", req.group))?;
    let f = &req.file_name;
    let plain = f.len() <= 255 && !f.contains('/') && !f.starts_with('.') && f.ends_with(".tls");
    if !plain || !(f == &format!("{}.tls", req.group) || f.starts_with(&format!("{}-", req.group))) {
        return Err(format!("file name {f:?} is not a package file name of group {:?}", req.group));
    }
    let name_like = |s: &str| !s.is_empty() && s.len() <= 255 && !s.chars().any(char::is_control);
    if let Some((class, member)) = req.placed.iter().find(|(c, m)| !name_like(c) || !name_like(m)) {
        return Err(format!("placement {class:?} -> {member:?} does not name an actor class and a member"));
    }
    Ok(())
}

/// Fetches, writes and loads the requested version; the outcome.
pub(crate) fn run(link: &Link, side: &MemberSide, req: &RunRequest) -> RunReply {
    let short = short(&req.hash);
    let outcome = (|| {
        if side.leader.as_deref() != Some(req.leader.as_str()) {
            return Err(format!("{short}: the request says it is from {:?}, not this member's leader", req.leader));
        }
        if side.allow == AllowRemote::No {
            return Err(format!("{short}: AllowRemoteActorSources is 'no'"));
        }
        // One run at a time (a request and the convergence thread may ask
        // for the same package): the second finds it running.
        let _one = side.running.lock().unwrap_or_else(|p| p.into_inner());
        if side.director.state().find(&req.hash).is_ok() {
            side.from_leader.lock().unwrap_or_else(|p| p.into_inner()).insert(req.hash.clone());
            return Ok(format!("{short}: already running {}", req.group));
        }
        // The leader's file name: verification checks it against the
        // signed manifest. A different package of that name here stays.
        let file = side.dir.join(&req.file_name);
        if let Ok(here) = std::fs::read(&file)
            && runtime::sha256_hex(&here) != req.hash
        {
            return Err(format!("{short}: a different {} is in this member's directory", req.file_name));
        }
        let started = std::time::Instant::now();
        store::fetch_into(link, &req.hash, &file).map_err(|e| format!("{short}: {e}"))?;
        let written = started.elapsed();
        // Placed as the leader says (read by the member's placer during the load).
        side.assigned.lock().unwrap_or_else(|p| p.into_inner()).insert(req.hash.clone(), req.placed.clone());
        match side.director.load(&file.display().to_string()) {
            Ok(l) => {
                side.from_leader.lock().unwrap_or_else(|p| p.into_inner()).insert(req.hash.clone());
                let what = if l.already_loaded { "already running" } else { "loaded" };
                log::info!("convention: {short}: fetched in {written:?}, loaded by {:?}", started.elapsed());
                Ok(format!("{short}: {what} {} {}", l.group, l.version))
            }
            Err(e) => {
                // Refused here (no trusted key...): the file is not kept.
                let _ = std::fs::remove_file(&file);
                Err(format!("{short}: {}", e.message))
            }
        }
    })();
    match outcome {
        Ok(detail) => {
            log::info!("convention: ran the leader's {detail}");
            RunReply { member: side.name.clone(), loaded: true, detail }
        }
        Err(detail) => {
            log::warn!("convention: refused the leader's package {detail}");
            RunReply { member: side.name.clone(), loaded: false, detail }
        }
    }
}

/// On the leader, after a load: on a thread of its own (the load does not
/// wait on the server), waits until the package file is stored (the upload
/// began when the leader verified it) and asks each other member (as
/// listed now) to run it, all at once; logs each answer.
pub fn deploy(link: Arc<Link>, publisher: Arc<Publisher>, req: RunRequest, file: PathBuf) {
    let spawned = std::thread::Builder::new().name("thespian-publish".into()).spawn(move || {
        let members: Vec<String> = match crate::convention::members::members(&link) {
            Ok(all) => all.into_iter().map(|m| m.key).filter(|k| *k != req.leader).collect(),
            Err(e) => {
                log::warn!("convention: listing members to run {} on: {e}", req.group);
                Vec::new()
            }
        };
        log::info!("convention: storing {} {} and asking {members:?} to run it", req.group, short(&req.hash));
        if let Err(e) = publisher.wait(&req.hash, &file) {
            log::error!("convention: {} {} is not stored, so no member runs it: {e}", req.group, short(&req.hash));
            return;
        }
        let payload = serde_json::to_vec(&req).unwrap_or_default();
        // Every member at once: each fetches and loads in parallel.
        let asks = members.into_iter().map(|member| {
            let subject = run_subject(link.name(), &member);
            // The client's own request timeout (10 s) is too short for a load.
            let request = async_nats::Request::new().payload(payload.clone().into()).timeout(Some(RUN_TIMEOUT));
            let client = link.client().clone();
            async move { (member, client.send_request(subject, request).await) }
        });
        for (member, answer) in link.block_on(futures_util::future::join_all(asks)) {
            match answer {
                Ok(answer) => match serde_json::from_slice::<RunReply>(&answer.payload) {
                    Ok(r) if r.loaded => log::info!("convention: {member}: {}", r.detail),
                    Ok(r) => log::warn!("convention: {member} refused: {}", r.detail),
                    Err(e) => log::warn!("convention: {member} answered something else: {e}"),
                },
                Err(e) if e.kind() == async_nats::RequestErrorKind::TimedOut => {
                    log::warn!("convention: {member} did not answer within {RUN_TIMEOUT:?}")
                }
                Err(e) => log::warn!("convention: asking {member} to run {}: {e}", short(&req.hash)),
            }
        }
    });
    if let Err(e) = spawned {
        log::error!("convention: cannot start publishing: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_request_is_checked_before_anything_is_fetched() {
        let req = |group: &str, hash: String, file: &str| {
            serde_json::json!({"leader": "l", "group": group, "hash": hash, "file_name": file}).to_string()
        };
        assert!(parse(req("foo", "ab".repeat(32), "foo-1.0.tls").as_bytes()).is_ok());
        assert!(parse(req("foo", "AB".repeat(32), "foo-1.tls").as_bytes()).unwrap_err().contains("not a package hash"));
        assert!(parse(req("../x", "ab".repeat(32), "x.tls").as_bytes()).unwrap_err().starts_with("group"));
        for bad in ["../foo-1.tls", "bar-1.tls", "foo-1.zip", ".foo.tls", "foo-/x.tls"] {
            let e = parse(req("foo", "ab".repeat(32), bad).as_bytes()).unwrap_err();
            assert!(e.contains("is not a package file name"), "{bad}: {e}");
        }
        assert!(parse(&vec![b' '; MAX_REQUEST + 1]).unwrap_err().contains("at most"));
        assert!(parse(b"{}").unwrap_err().starts_with("not a run request"));
        let placed = |class: &str, member: &str| {
            serde_json::json!({"leader": "l", "group": "foo", "hash": "ab".repeat(32), "file_name": "foo-1.tls",
                "placed": {class: member}})
            .to_string()
        };
        assert!(parse(placed("foo.slot", "m1").as_bytes()).is_ok());
        assert!(parse(placed("foo.slot", "").as_bytes()).unwrap_err().starts_with("placement"));
        assert!(parse(placed("foo.slot", "m\n1").as_bytes()).unwrap_err().starts_with("placement"));
    }

    #[test]
    fn allow_remote_sources_reads_the_originals_three_values() {
        let caps = |v: &str| {
            let mut m = actor_abi::Map::new();
            m.insert("AllowRemoteActorSources".into(), actor_abi::Value::from(v));
            m
        };
        assert_eq!(AllowRemote::from_caps(&actor_abi::Map::new()), Ok(AllowRemote::Yes));
        assert_eq!(AllowRemote::from_caps(&caps("no")), Ok(AllowRemote::No));
        assert_eq!(AllowRemote::from_caps(&caps("LeaderOnly")), Ok(AllowRemote::LeaderOnly));
        assert!(AllowRemote::from_caps(&caps("maybe")).is_err());
        assert_eq!(run_subject("prod", "host.example"), "prod.run.host_example");
    }
}
