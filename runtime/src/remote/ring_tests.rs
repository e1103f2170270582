use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::*;

fn region() -> Arc<SharedRegion> {
    Arc::new(SharedRegion::create("ring-test", REGION_BYTES).expect("memfd"))
}

/// The bytes of positions `from..from + n` of a test stream.
fn pattern(from: u64, n: usize) -> Vec<u8> {
    (from..from + n as u64).map(|i| (i.wrapping_mul(31) % 251) as u8).collect()
}

#[test]
fn bytes_arrive_in_order_across_the_wrap_and_each_direction_is_its_own() {
    let region = region();
    let (mut to_worker, mut from_worker) = ends(region.clone(), Side::Starter);
    let (mut to_starter, mut from_starter) = ends(region, Side::Worker);
    let (mut sent, mut got) = (0u64, 0u64);
    let mut buf = vec![0; 70_001];
    // Odd-sized chunks, 5 rings' worth: every place of the wrap is crossed.
    while got < 5 * RING_BYTES as u64 {
        let chunk = pattern(sent, 65_537);
        sent += to_worker.put(&chunk).unwrap() as u64;
        let n = from_starter.take(&mut buf).unwrap();
        assert_eq!(buf[..n], pattern(got, n)[..], "at {got}");
        got += n as u64;
    }
    // The other direction is untouched, then works on its own.
    assert_eq!(from_worker.available().unwrap(), 0);
    assert_eq!(to_starter.put(b"back").unwrap(), 4);
    assert_eq!(from_worker.take(&mut buf).unwrap(), 4);
    assert_eq!(&buf[..4], b"back");
}

#[test]
fn a_full_ring_takes_only_what_fits_until_the_reader_catches_up() {
    let region = region();
    let (mut p, _) = ends(region.clone(), Side::Starter);
    let (_, mut c) = ends(region, Side::Worker);
    let big = vec![7u8; RING_BYTES + 100];
    assert_eq!(p.put(&big).unwrap(), RING_BYTES);
    assert_eq!(p.put(b"more").unwrap(), 0, "a full ring takes nothing");
    let mut out = vec![0; 10];
    assert_eq!(c.take(&mut out).unwrap(), 10);
    assert_eq!(p.put(b"more than ten bytes").unwrap(), 10);
}

#[test]
fn impossible_positions_written_by_the_other_side_are_refused() {
    let region = region();
    let (mut p, mut c) = ends(region.clone(), Side::Starter);
    // The worker's read position of ring 0 ahead of what was written.
    region.atomic(HEAD).store(5, Ordering::Release);
    let err = p.put(b"x").unwrap_err();
    assert!(err.to_string().contains("read up to 5"), "{err}");
    // The worker's write position of ring 1 more than a ring ahead.
    region.atomic(HEADER + TAIL).store(RING_BYTES as u64 + 1, Ordering::Release);
    assert!(c.take(&mut [0; 8]).is_err());
    assert!(c.available().is_err());
    // A position that went backwards (wraps to a huge count) too.
    region.atomic(HEADER + TAIL).store(u64::MAX, Ordering::Release);
    assert!(c.available().is_err());
}

#[test]
fn a_stream_between_two_threads_keeps_every_byte_in_order() {
    let region = region();
    let (mut p, _) = ends(region.clone(), Side::Starter);
    let (_, mut c) = ends(region, Side::Worker);
    const TOTAL: u64 = 20 << 20;
    let writer = std::thread::spawn(move || {
        let mut sent = 0;
        while sent < TOTAL {
            let chunk = pattern(sent, 4099.min((TOTAL - sent) as usize));
            let mut off = 0;
            while off < chunk.len() {
                off += p.put(&chunk[off..]).unwrap();
                std::hint::spin_loop();
            }
            sent += chunk.len() as u64;
        }
    });
    let (mut got, mut buf) = (0u64, vec![0; 10_007]);
    while got < TOTAL {
        let n = c.take(&mut buf).unwrap();
        assert_eq!(buf[..n], pattern(got, n)[..], "at {got}");
        got += n as u64;
    }
    writer.join().unwrap();
}

#[test]
fn the_doorbell_is_wanted_only_by_a_sleeping_consumer_that_no_thread_polls_for() {
    let region = region();
    let (p, _) = ends(region.clone(), Side::Starter);
    let (_, c) = ends(region, Side::Worker);
    let c = c.watch();
    assert!(!p.consumer_asleep());
    c.set_sleeping(true);
    assert!(p.consumer_asleep());
    {
        let _polling = c.poll_guard();
        assert!(!p.consumer_asleep(), "a polling thread will see the data");
    }
    assert!(p.consumer_asleep());
    c.set_sleeping(false);
    assert!(!p.consumer_asleep());
}

#[test]
fn the_region_cannot_be_shrunk_by_whoever_holds_its_descriptor() {
    use std::os::fd::AsRawFd;
    let mut region = SharedRegion::create("ring-test", REGION_BYTES).unwrap();
    let fd = region.take_fd().unwrap();
    // SAFETY (test): ftruncate on an open memfd; it must be refused.
    let shrunk = unsafe { libc::ftruncate(fd.as_raw_fd(), 4096) };
    assert_eq!(shrunk, -1, "a sealed region was shrunk");
    assert_eq!(region.atomic(0).load(Ordering::Relaxed), 0, "the region is still mapped and readable");
}

#[test]
fn the_data_hint_follows_what_this_side_read_not_what_the_peer_wrote_there() {
    let region = region();
    let (mut p, _) = ends(region.clone(), Side::Starter);
    let (_, mut c) = ends(region.clone(), Side::Worker);
    let watch = c.watch();
    assert!(!watch.has_data());
    p.put(b"abc").unwrap();
    assert!(watch.has_data());
    c.take(&mut [0; 3]).unwrap();
    assert!(!watch.has_data());
    // The peer moving the shared read position must not keep pollers busy.
    region.atomic(HEAD).store(0, Ordering::Release);
    assert!(!watch.has_data(), "a scribbled read position made the ring look full");
}
