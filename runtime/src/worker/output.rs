//! A worker's stdout and stderr, into the starter's log: whatever a package
//! prints, and what the runtime prints when it dies (a stack overflow, a
//! refused allocation), becomes log lines naming the worker.
//!
//! Lines are cut at [`MAX_LINE`] bytes and held to a budget per second
//! (`remote::budget`); the thread ends when every holder of the pipe's
//! write end (the worker and anything it started) is gone.

use std::io::{BufRead, BufReader, PipeReader};
use std::time::Instant;

use crate::remote::budget::{LINES_PER_SECOND, LineBudget};

/// The longest line logged; the rest of a longer one is dropped.
pub const MAX_LINE: usize = 4096;

/// Logs each line read from `pipe` as output of the worker `pid` of `node`.
pub(crate) fn forward(pipe: PipeReader, pid: u32, node: u32) -> std::io::Result<()> {
    std::thread::Builder::new().name(format!("thespian-stdio-{pid}")).spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut line = Vec::new();
        let mut budget = LineBudget::new(LINES_PER_SECOND, format!("worker {pid} (node {node}): output"));
        loop {
            line.clear();
            match read_line(&mut reader, &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) if budget.admit(Instant::now()) => log_line(pid, node, &line),
                Ok(_) => {}
            }
        }
        budget.finish();
    })?;
    Ok(())
}

fn log_line(pid: u32, node: u32, line: &[u8]) {
    let text = String::from_utf8_lossy(line);
    let text = text.trim_end_matches(['\n', '\r']);
    log::warn!(target: "thespian::worker", "worker {pid} (node {node}): {text}");
}

/// Reads one line into `out`, keeping at most [`MAX_LINE`] bytes of it;
/// returns how many bytes were read (0 at the end).
fn read_line(reader: &mut impl BufRead, out: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut total = 0;
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(total);
        }
        let (take, done) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let room = MAX_LINE.saturating_sub(out.len());
        out.extend_from_slice(&chunk[..take.min(room)]);
        reader.consume(take);
        total += take;
        if done {
            return Ok(total);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_and_cut_at_the_limit() {
        let long = "x".repeat(MAX_LINE * 3);
        let text = format!("first\n{long}\nlast");
        let mut r = BufReader::new(text.as_bytes());
        let mut lines = Vec::new();
        loop {
            let mut line = Vec::new();
            if read_line(&mut r, &mut line).unwrap() == 0 {
                break;
            }
            lines.push(line);
        }
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0], b"first\n");
        assert_eq!(lines[1].len(), MAX_LINE, "a long line is cut");
        assert_eq!(lines[2], b"last");
    }
}
