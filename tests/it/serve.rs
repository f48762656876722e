//! Integration tests: how bt-seed serves blocks, seen byte for byte by a raw peer speaking the
//! wire protocol ([`Wire`]): batches of blocks across file boundaries, and cancels.

use crate::harness::*;
use bt::peer::{Block, Message};
use std::time::{Duration, Instant};

/// The next `piece` message (other messages skipped); None on a close or after `secs`.
fn next_piece(w: &mut Wire, secs: u64) -> Option<(Block, Vec<u8>)> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Message::Piece {
            piece,
            offset,
            data,
        } = w.recv(deadline)?
        {
            let length = data.len() as u32;
            return Some((
                Block {
                    piece,
                    offset,
                    length,
                },
                data,
            ));
        }
    }
}

/// A peer of bt-seed, interested and unchoked.
fn unchoked(seed: &Seeder, s: &Sample) -> Wire {
    let mut w = Wire::dial(seed.addr, s);
    w.send(&Message::Interested);
    assert!(
        w.wait_for(10, |m| *m == Message::Unchoke),
        "bt-seed never unchoked us"
    );
    w
}

/// Every block of a multi-file torrent (files of odd lengths, an empty one, one shorter than a
/// block), requested at once in a scrambled order, comes back as asked: each `piece` message
/// in the order of the requests, with its own header and the bytes at its place in the files.
/// bt-seed sends such runs of requests in batches (header, data, header, data... in one
/// write), so a block or header out of place would show here.
#[test]
fn many_requests_across_files_are_answered_in_order_byte_for_byte() {
    let s = Sample::data(&[
        ("a.bin", 700_001),
        ("b.bin", 3),
        ("c/empty", 0),
        ("c/d.bin", 1_000_000),
        ("e.bin", 20_000),
    ]);
    let seed = Seeder::of(&s).start();
    let stream = s.stream();
    let mut blocks = all_blocks(&s.limits);
    // A fixed scramble: a step prime to the block count visits each block once.
    let n = blocks.len();
    let step = [7, 11, 13, 17]
        .into_iter()
        .find(|k| !n.is_multiple_of(*k))
        .unwrap();
    blocks = (0..n).map(|i| blocks[i * step % n]).collect();
    let mut w = unchoked(&seed, &s);
    let mut raw = Vec::new();
    for b in &blocks {
        Message::Request(*b).encode(&mut raw);
    }
    assert!(w.send_raw(&raw));
    for (i, want) in blocks.iter().enumerate() {
        let (got, data) =
            next_piece(&mut w, 20).unwrap_or_else(|| panic!("block {i} of {n} never came"));
        assert_eq!(got, *want, "block {i} of {n}: another block than asked for");
        let at = want.piece as usize * s.limits.piece_length as usize + want.offset as usize;
        assert!(
            data == stream[at..at + want.length as usize],
            "block {i} of {n} ({want:?}): other bytes than the files hold"
        );
    }
}

/// A cancel that arrives in the same read as its request withdraws it: that block is never
/// sent, while the request next to it is answered.
#[test]
fn a_cancel_read_together_with_its_request_is_not_served() {
    let s = Sample::data(&[("a.bin", 1 << 20)]);
    let seed = Seeder::of(&s).start();
    let mut w = unchoked(&seed, &s);
    let block = |piece, offset| Block {
        piece,
        offset,
        length: 16384,
    };
    let (kept, cancelled, last) = (block(1, 0), block(2, 16384), block(3, 32768));
    // One write, small enough to be read at once: request, request, cancel of the first.
    let mut raw = Vec::new();
    Message::Request(cancelled).encode(&mut raw);
    Message::Request(kept).encode(&mut raw);
    Message::Cancel(cancelled).encode(&mut raw);
    assert!(w.send_raw(&raw));
    let (got, _) = next_piece(&mut w, 10).expect("the kept block never came");
    assert_eq!(got, kept, "the cancelled block was sent");
    // Blocks are sent in the order asked: one more request, answered next, shows that the
    // cancelled block did not come late either.
    assert!(w.send(&Message::Request(last)));
    let (got, _) = next_piece(&mut w, 10).expect("the last block never came");
    assert_eq!(got, last, "the cancelled block was sent");
}
