//! Asks and tells between members: a member that is asked for a role the
//! leader placed on another member relays the request to that member
//! (`NAME.ask.MEMBER`, request and reply), which resolves it locally (never
//! a second hop) and answers with the control protocol's `Response`.
//!
//! A relayed request is another host's word: it is size-capped, parsed as
//! data, and dropped (with a log line) unless it names as its sender a
//! member listed in the membership bucket; at most [`MAX_CONCURRENT`] are
//! handled at once (more are answered "busy"). An ask to a member that is
//! gone fails at once: the server answers "no responders". One that
//! reached a member that died before it answered (or that the server
//! cannot tell is gone, as behind a cut network) fails once the member's
//! record is gone from the map (3 heartbeats, then at most one more),
//! not at its timeout.
//!
//! What this does not protect against: every member holds the same
//! credentials, so a member can claim to be another; the sender's name is
//! a filter against strays, not an authentication.

use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::future::{self, Either};
use serde::{Deserialize, Serialize};

use crate::convention::link::Link;
use crate::convention::transport::Records;
use crate::daemon::core::{DirectorError, fail};
use crate::daemon::operations::Director;
use crate::daemon::relay::Relay;
use crate::protocol::{ErrorKind, Reply, Response, Send};

/// The largest relayed request (as the control socket's).
pub const MAX_RELAYED: usize = crate::daemon::server::MAX_REQUEST;
/// How many relayed requests a member handles at once.
pub const MAX_CONCURRENT: usize = 64;
/// What a relayed ask may take beyond its own timeout (the way there and
/// back).
pub const TRANSIT: Duration = Duration::from_secs(2);

/// What one member relays to another.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Relayed {
    /// The sending member's name.
    from: String,
    /// A tell (no reply but "told").
    tell: bool,
    /// The ask or tell.
    send: Send,
}

/// The subject member `member` takes relayed requests on.
pub fn relay_subject(convention: &str, member: &str) -> String {
    format!("{convention}.ask.{}", member.replace('.', "_"))
}

/// Relays through the convention's server.
pub struct NatsRelay {
    /// The connection.
    pub link: Arc<Link>,
    /// This member's name.
    pub name: String,
    /// The members' records (where the placed actors are).
    pub records: Records,
}

impl Relay for NatsRelay {
    fn placed_address(&self, member: &str, hash: &str, class: &str) -> Option<actor_abi::Address> {
        self.records.placed_address(member, hash, class)
    }

    fn relay(&self, member: &str, send: &Send, tell: bool) -> Result<serde_json::Value, DirectorError> {
        let relayed = Relayed { from: self.name.clone(), tell, send: send.clone() };
        let payload = serde_json::to_vec(&relayed).map_err(|e| fail(ErrorKind::Failed, e.to_string()))?;
        let wait = Duration::from_millis(send.timeout_ms.max(1)) + TRANSIT;
        let request = async_nats::Request::new().payload(payload.into()).timeout(Some(wait));
        let asked = self.link.client().send_request(relay_subject(self.link.name(), member), request);
        let target = &send.target;
        let answered = self.link.block_on(async {
            match future::select(pin!(asked), pin!(self.records.gone(member))).await {
                Either::Left((answer, _)) => Some(answer),
                Either::Right(((), _)) => None,
            }
        });
        let Some(answer) = answered else {
            let gone = format!("{target} runs on member {member:?}, which is gone (its record expired)");
            return Err(fail(ErrorKind::NotFound, gone));
        };
        let answer = answer.map_err(|e| {
            use async_nats::RequestErrorKind as Kind;
            match e.kind() {
                Kind::NoResponders => fail(
                    ErrorKind::NotFound,
                    format!("{target} runs on member {member:?}, which does not answer (gone or cut off)"),
                ),
                Kind::TimedOut => {
                    fail(ErrorKind::Timeout, format!("{target} on member {member:?}: no answer within {wait:?}"))
                }
                _ => fail(ErrorKind::Failed, format!("{target} on member {member:?}: {e}")),
            }
        })?;
        match serde_json::from_slice::<Response>(&answer.payload) {
            Ok(Response::Ok { result: Reply::Answer { reply } }) if !tell => Ok(reply),
            Ok(Response::Ok { result: Reply::Told }) if tell => Ok(serde_json::Value::Null),
            Ok(Response::Error { kind, message }) => Err(fail(kind, format!("{message} (on member {member:?})"))),
            Ok(_) | Err(_) => {
                Err(fail(ErrorKind::Failed, format!("member {member:?} answered something other than a reply")))
            }
        }
    }
}

/// Takes relayed requests for member `name` from now on; a sender must be
/// one of the members `records` lists.
pub fn serve(link: &Link, name: &str, director: Arc<Director>, records: Records) -> Result<(), String> {
    let subject = relay_subject(link.name(), name);
    let mut requests = link
        .block_on(link.client().subscribe(subject.clone()))
        .map_err(|e| format!("subscribing to {subject}: {e}"))?;
    let permits = Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT));
    let client = link.client().clone();
    link.spawn(async move {
        while let Some(msg) = requests.next().await {
            let Some(reply_to) = msg.reply.clone() else { continue };
            let (client, records, director) = (client.clone(), records.clone(), director.clone());
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                let busy =
                    error(ErrorKind::Busy, format!("{MAX_CONCURRENT} relayed requests are under way; try again"));
                let _ = client.publish(reply_to, busy.into()).await;
                continue;
            };
            tokio::spawn(async move {
                let relayed = match parse(&msg.payload) {
                    Ok(r) => r,
                    Err(why) => return log::warn!("convention: dropped a relayed request: {why}"),
                };
                if !records.lists(&relayed.from).await {
                    return log::warn!(
                        "convention: dropped a relayed request from {:?}, which is not a listed member",
                        relayed.from
                    );
                }
                let answered = tokio::task::spawn_blocking(move || handle(&director, &relayed)).await;
                drop(permit);
                let bytes = answered.unwrap_or_else(|e| error(ErrorKind::Failed, format!("handling it failed: {e}")));
                if let Err(e) = client.publish(reply_to, bytes.into()).await {
                    log::warn!("convention: answering a relayed request: {e}");
                }
            });
        }
    });
    Ok(())
}

fn parse(payload: &[u8]) -> Result<Relayed, String> {
    if payload.len() > MAX_RELAYED {
        return Err(format!("{} bytes (at most {MAX_RELAYED})", payload.len()));
    }
    serde_json::from_slice(payload).map_err(|e| format!("not a relayed ask or tell: {e}"))
}

/// Resolves and sends a relayed request here (never relaying it again).
fn handle(director: &Director, relayed: &Relayed) -> Vec<u8> {
    let result = if relayed.tell {
        director.tell_here(&relayed.send).map(|()| Reply::Told)
    } else {
        director.ask_here(&relayed.send).map(|reply| Reply::Answer { reply: reply.to_json() })
    };
    let response = match result {
        Ok(result) => Response::Ok { result },
        Err(e) => Response::Error { kind: e.kind, message: e.message },
    };
    serde_json::to_vec(&response).unwrap_or_default()
}

fn error(kind: ErrorKind, message: String) -> Vec<u8> {
    serde_json::to_vec(&Response::Error { kind, message }).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relayed_request_is_capped_and_parsed_as_data() {
        assert!(parse(&vec![b' '; MAX_RELAYED + 1]).unwrap_err().contains("at most"));
        assert!(parse(b"{\"from\": 1}").unwrap_err().starts_with("not a relayed ask or tell"));
        let ok = serde_json::json!({"from": "m1", "tell": false, "send": {"target": "Slot", "group": null,
            "source": null, "message": {"ping": 1}, "timeout_ms": 500}});
        assert_eq!(parse(ok.to_string().as_bytes()).unwrap().from, "m1");
        assert_eq!(relay_subject("prod", "host.example"), "prod.ask.host_example");
    }
}
