//! Unit tests of the frame codec: every message kind round-trips, and
//! hostile bytes are refused with the reason, never a panic or a huge
//! allocation.

use actor_abi::{Address, Value, wire};

use super::*;
use crate::remote::{Control, LoadRequest};

fn addr(node: u32, home: u32, id: u64) -> Address {
    Address::from_parts(node, home, id)
}

fn every_kind() -> Vec<RemoteEnvelope> {
    let (from, to) = (addr(2, 1, 10), addr(0, 0, 5));
    let value = wire::encode(&Value::from("héllo")).into_boxed_slice();
    [
        RemoteMessage::Value(value.clone()),
        RemoteMessage::ExitRequest,
        RemoteMessage::ChildExited { child: addr(2, 1, 11) },
        RemoteMessage::Wakeup(value.clone()),
        RemoteMessage::Poison { original: value, target: addr(0, 3, 7), details: "it panicked: ünïcode".into() },
    ]
    .into_iter()
    .map(|msg| RemoteEnvelope { from, to, msg })
    .collect()
}

/// The body of one encoded batch (without its length prefix).
fn body_of(envs: &[RemoteEnvelope]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_batch(envs, &mut out);
    assert_eq!(body_len(out[..4].try_into().unwrap()), Ok(out.len() - 4));
    out.split_off(4)
}

#[test]
fn every_message_kind_round_trips_in_one_batch() {
    let envs = every_kind();
    assert_eq!(decode(&body_of(&envs)), Ok(Frame::Batch(envs)));
}

#[test]
fn frames_read_back_one_by_one_and_a_clean_end_is_none() {
    let envs = every_kind();
    let mut stream = Vec::new();
    encode_batch(&envs[..2], &mut stream);
    encode_batch(&envs[2..], &mut stream);
    let (mut r, mut buf) = (stream.as_slice(), Vec::new());
    assert_eq!(read_frame(&mut r, &mut buf).unwrap(), Some(Frame::Batch(envs[..2].to_vec())));
    assert_eq!(read_frame(&mut r, &mut buf).unwrap(), Some(Frame::Batch(envs[2..].to_vec())));
    assert_eq!(read_frame(&mut r, &mut buf).unwrap(), None);
}

#[test]
fn a_stream_that_ends_inside_a_frame_is_an_error() {
    let mut stream = Vec::new();
    encode_batch(&every_kind(), &mut stream);
    for cut in [1, 3, 4, 5, stream.len() - 1] {
        let err = read_frame(&mut &stream[..cut], &mut Vec::new()).unwrap_err();
        assert!(matches!(err, ReadError::Io(_)), "cut at {cut}: {err}");
    }
}

#[test]
fn lengths_out_of_bounds_are_refused_before_anything_is_read() {
    for len in [0u32, 1, MAX_FRAME as u32 + 1, u32::MAX] {
        let err = body_len(len.to_le_bytes()).unwrap_err();
        assert!(matches!(err, FrameError::Length { .. }), "{len}: {err}");
        let mut stream = len.to_le_bytes().to_vec();
        stream.extend_from_slice(&[PROTOCOL_VERSION, 1]);
        assert!(matches!(read_frame(&mut stream.as_slice(), &mut Vec::new()), Err(ReadError::Frame(_))));
    }
}

#[test]
fn versions_kinds_tags_and_counts_outside_the_protocol_are_named() {
    let good = body_of(&every_kind()[..1]);
    let mut bad = good.clone();
    bad[0] = 9;
    assert_eq!(decode(&bad), Err(FrameError::Version { got: 9 }));
    let mut bad = good.clone();
    bad[1] = 77;
    assert_eq!(decode(&bad), Err(FrameError::Kind(77)));
    let mut bad = good.clone();
    bad[2 + 4 + 2 * 16] = 200;
    assert_eq!(decode(&bad), Err(FrameError::Tag(200)));
    for count in [0u32, MAX_BATCH + 1] {
        let mut bad = good.clone();
        bad[2..6].copy_from_slice(&count.to_le_bytes());
        assert_eq!(decode(&bad), Err(FrameError::Count(count)));
    }
}

#[test]
fn a_count_or_length_larger_than_the_frame_is_truncation_not_an_allocation() {
    let good = body_of(&every_kind()[..1]);
    let mut many = good.clone();
    many[2..6].copy_from_slice(&MAX_BATCH.to_le_bytes());
    assert!(matches!(decode(&many), Err(FrameError::Truncated { .. })));
    let mut huge = good.clone();
    let len_at = 2 + 4 + 2 * 16 + 1;
    huge[len_at..len_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(decode(&huge), Err(FrameError::Truncated { .. })));
}

#[test]
fn bad_text_and_trailing_bytes_are_refused() {
    let poison = every_kind().pop().unwrap();
    let mut bad = body_of(std::slice::from_ref(&poison));
    let last = bad.len() - 1;
    bad[last] = 0xff;
    assert!(matches!(decode(&bad), Err(FrameError::NotUtf8(_))));
    let mut extra = body_of(std::slice::from_ref(&poison));
    extra.extend_from_slice(b"xyz");
    assert_eq!(decode(&extra), Err(FrameError::Trailing(3)));
}

#[test]
fn garbage_never_panics() {
    // A fixed xorshift stream: the same garbage on every run.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let seed = body_of(&every_kind());
    for round in 0..20_000 {
        let mut body =
            if round % 2 == 0 { seed.clone() } else { (0..(next() % 200) as usize).map(|_| next() as u8).collect() };
        for _ in 0..(next() % 4) {
            if !body.is_empty() {
                let i = (next() as usize) % body.len();
                body[i] = next() as u8;
            }
        }
        let _ = decode(&body);
    }
}

fn every_control() -> Vec<Control> {
    vec![
        Control::Hello { node: 4, pid: 4242 },
        Control::Load(LoadRequest {
            dir: "/run/x/stage.1".into(),
            library: "libfoo.so".into(),
            sha256: "ab".repeat(32),
            group: "foo".into(),
            version: "1.0".into(),
            hash: "cd".repeat(32),
            actors: vec!["foo.a".into(), "foo.b".into()],
        }),
        Control::Loaded { home: 3, library: "/run/x/abc/libfoo.so".into(), classes: vec!["foo.a".into()] },
        Control::Create { class: "foo.a".into(), global_name: None, parent: Address::NOBODY },
        Control::Create { class: "foo.a".into(), global_name: Some("Main".into()), parent: addr(0, 0, 7) },
        Control::Created { addr: addr(4, 1, 99) },
        Control::Failed { reason: "no such class".into() },
        Control::Stop { drain_ms: 10_000 },
        Control::Stopped { undelivered: 1000 },
        Control::Log { level: 3, target: "foo".into(), message: "hello".into(), actor: addr(4, 1, 2) },
        Control::ClaimName { id: u64::MAX - 1, name: "Cow".into(), addr: addr(4, 1, 3) },
        Control::NameClaimed { id: 7, holder: addr(2, 1, 5) },
        Control::ReleaseName { name: "Cow".into(), addr: addr(4, 1, 3) },
    ]
}

#[test]
fn every_control_message_round_trips_between_batches() {
    let mut stream = Vec::new();
    for ctrl in every_control() {
        encode_control(&ctrl, &mut stream);
        encode_batch(&every_kind()[..1], &mut stream);
    }
    let (mut r, mut buf) = (stream.as_slice(), Vec::new());
    for ctrl in every_control() {
        assert_eq!(read_frame(&mut r, &mut buf).unwrap(), Some(Frame::Control(ctrl)));
        assert_eq!(read_frame(&mut r, &mut buf).unwrap(), Some(Frame::Batch(every_kind()[..1].to_vec())));
    }
    assert_eq!(read_frame(&mut r, &mut buf).unwrap(), None);
}

#[test]
fn unknown_control_operations_and_long_lists_are_refused() {
    let mut out = Vec::new();
    encode_control(&Control::Stop { drain_ms: 1 }, &mut out);
    let mut body = out.split_off(4);
    body[2] = 99;
    assert_eq!(decode(&body), Err(FrameError::Op(99)));
    let mut out = Vec::new();
    encode_control(&Control::Loaded { home: 1, library: String::new(), classes: vec![] }, &mut out);
    let mut body = out.split_off(4);
    let at = body.len() - 4;
    body[at..].copy_from_slice(&(MAX_TEXTS + 1).to_le_bytes());
    assert_eq!(decode(&body), Err(FrameError::Texts(MAX_TEXTS + 1)));
}
