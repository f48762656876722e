//! In-process benchmark of the piece picker (issue 11 #4): blocks per second through
//! [`Picker`] for a torrent of 16 KiB pieces (one block per piece, so every block starts a new
//! piece: the picker's worst case), 16,384 and 1,048,576 pieces by default.
//!
//! `cargo run --release --example bench-picker [PIECES...]`, or `scripts/bench-picker`.
//! Twelve peers have every piece (HaveAll), four have a random half (a bitfield, so
//! availability differs between pieces and rarest-first has work to do). Each round every peer
//! asks for up to 16 blocks, which then arrive, are written and hash well. A run stops when the
//! download is complete or after 5 seconds; whole downloads are repeated until a second has
//! been timed (set-up excluded), and blocks per second printed.

use bt::peer::Limits;
use bt::swarm::picker::{Arrival, PeerPieces, Picker};
use std::time::{Duration, Instant};

const SEEDS: u64 = 12;
const HALVES: u64 = 4;
const PER_PICK: usize = 16;
const BUDGET: Duration = Duration::from_secs(5);

fn run(pieces: u32) -> (u64, f64, bool) {
    let limits = Limits::new(16384, pieces as u64 * 16384);
    let mut p = Picker::new(limits, &[]);
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut peers: Vec<PeerPieces> = Vec::new();
    for k in 0..SEEDS + HALVES {
        let mut peer = PeerPieces::new(pieces);
        if k < SEEDS {
            p.peer_have_all(&mut peer);
        } else {
            let bits: Vec<u8> = (0..pieces.div_ceil(8))
                .map(|_| {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    rng as u8
                })
                .collect();
            p.peer_bitfield(&mut peer, &bits);
        }
        peers.push(peer);
    }
    let start = Instant::now();
    let mut blocks = 0u64;
    let mut out = Vec::new();
    while !p.complete() && start.elapsed() < BUDGET {
        for (k, peer) in peers.iter().enumerate() {
            out.clear();
            p.pick(k as u64, peer, PER_PICK, &mut out);
            for b in &out {
                if matches!(p.arrived(k as u64, b), Arrival::Write { .. }) && p.written(b, true) {
                    p.hashed(b.piece, true);
                }
            }
            blocks += out.len() as u64;
        }
    }
    (blocks, start.elapsed().as_secs_f64(), p.complete())
}

fn main() {
    let sizes: Vec<u32> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("piece count"))
        .collect();
    let sizes = if sizes.is_empty() {
        vec![16_384, 1_048_576]
    } else {
        sizes
    };
    for pieces in sizes {
        // Whole downloads, repeated for at least a second so that small torrents are timed too.
        let (mut blocks, mut secs, mut complete) = (0, 0.0, true);
        while secs < 1.0 && complete {
            let (b, s, c) = run(pieces);
            (blocks, secs, complete) = (blocks + b, secs + s, c);
        }
        println!(
            "{pieces:>9} pieces: {blocks:>9} blocks in {secs:6.2} s = {:>10.0} blocks/s{}",
            blocks as f64 / secs,
            if complete {
                ""
            } else {
                " (stopped at the time budget)"
            }
        );
    }
}
