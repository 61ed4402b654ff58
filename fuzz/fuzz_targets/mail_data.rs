//! `DATA` transparency on any bytes (`smtp::Unstuffer` and `smtp::stuff`: the `smtp::data`
//! module is private, both are re-exported from `smtp`). The first byte picks the limits
//! (none, or small ones), the next three the sizes of the pieces the rest is fed in, in turn
//! (0 feeds an empty piece).
//!
//! - Fed in pieces, the unstuffer uses as many bytes, finds the end of data at the same place
//!   and rejects a line or a message as fed the whole at once; with no limit reached it yields
//!   the same message, in which every LF follows a CR and which ends in CRLF (or is empty)
//!   once the end of data was read.
//! - `stuff` of the rest, unstuffed in the same pieces, gives the rest back with every line
//!   ending in CRLF (a bare LF becomes CRLF, a final line without LF gets one, after its CR
//!   if it ends in one), and the unstuffer stops right after stuff's `.` CRLF whatever
//!   follows. Stuffing the rest in two parts split after a LF gives the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_mailguard::smtp::{Unstuffer, stuff};

const UNLIMITED: (usize, usize) = (usize::MAX, usize::MAX);

fuzz_target!(|data: &[u8]| {
    let Some((selector, rest)) = data.split_first() else {
        return;
    };
    let (sizes, body) = rest.split_at(rest.len().min(3));
    let limits = if selector & 1 == 0 {
        UNLIMITED
    } else {
        // Message 0–120 bytes, line 1–29 bytes (CRLF included).
        (
            usize::from(selector >> 4) * 8,
            usize::from(selector >> 1 & 7) * 4 + 1,
        )
    };

    let whole = unstuff(body, &[], limits);
    let pieces = unstuff(body, sizes, limits);
    assert_eq!(pieces.used, whole.used, "bytes used");
    assert_eq!(pieces.done, whole.done, "end of data found");
    assert_eq!(pieces.line_too_long, whole.line_too_long, "line too long");
    // Once a line is too long no byte is kept, so whether the size limit is reached after
    // that depends on the pieces: only "rejected" is the same.
    assert_eq!(
        pieces.too_big || pieces.line_too_long,
        whole.too_big || whole.line_too_long,
        "rejected"
    );
    if limits == UNLIMITED {
        assert!(!whole.too_big && !whole.line_too_long);
    }
    if !whole.too_big && !whole.line_too_long {
        assert_eq!(pieces.out, whole.out, "message");
        let out = &whole.out;
        for (i, &byte) in out.iter().enumerate() {
            assert!(
                byte != b'\n' || (i > 0 && out[i - 1] == b'\r'),
                "bare LF at {i}"
            );
        }
        if whole.done {
            assert!(out.is_empty() || out.ends_with(b"\r\n"));
        }
    }

    let mut wire = stuff(&[body]);
    let stuffed = wire.len();
    assert!(wire.ends_with(b".\r\n"));
    if let Some(newline) = body.iter().position(|&b| b == b'\n') {
        let (first, second) = body.split_at(newline + 1);
        assert_eq!(stuff(&[first, second]), wire, "stuffed in two parts");
    }
    wire.extend_from_slice(body);
    let back = unstuff(&wire, sizes, UNLIMITED);
    assert!(back.done, "stuffed data has no end");
    assert_eq!(back.used, stuffed, "end of stuffed data");
    assert_eq!(back.out, crlf(body), "stuffed and unstuffed");
});

struct Fed {
    out: Vec<u8>,
    used: usize,
    done: bool,
    too_big: bool,
    line_too_long: bool,
}

/// Feeds `wire` to a new unstuffer in pieces of the given sizes in turn (all of it at once
/// when none is above 0) until the end of data or of `wire`.
fn unstuff(wire: &[u8], sizes: &[u8], (max_bytes, max_line): (usize, usize)) -> Fed {
    let mut unstuffer = Unstuffer::new(max_bytes, max_line);
    let mut out = Vec::new();
    let mut used = 0;
    let mut rest = wire;
    let whole = sizes.iter().all(|&size| size == 0);
    let mut sizes = sizes.iter().cycle();
    loop {
        let size = if whole {
            rest.len()
        } else {
            sizes.next().map_or(1, |&size| usize::from(size))
        };
        let (piece, after) = rest.split_at(size.min(rest.len()));
        let consumed = unstuffer.feed(piece, &mut out);
        assert!(consumed <= piece.len());
        used += consumed;
        if unstuffer.is_done() {
            break;
        }
        assert_eq!(consumed, piece.len(), "stopped before the end of data");
        rest = after;
        if rest.is_empty() {
            break;
        }
    }
    Fed {
        out,
        used,
        done: unstuffer.is_done(),
        too_big: unstuffer.too_big(),
        line_too_long: unstuffer.line_too_long(),
    }
}

/// `text` with every line ending in CRLF: a bare LF becomes CRLF, a last line without LF
/// gets one (after its CR if it ends in one, else with one).
fn crlf(text: &[u8]) -> Vec<u8> {
    let mut lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
    if text.is_empty() || text.ends_with(b"\n") {
        lines.pop();
    }
    let mut out = Vec::with_capacity(text.len() + lines.len());
    for line in lines {
        out.extend_from_slice(line);
        if !line.ends_with(b"\r") {
            out.push(b'\r');
        }
        out.push(b'\n');
    }
    out
}
