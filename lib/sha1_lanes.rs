//! SHA-1 of several independent messages of one length at once (pieces of a torrent), up to
//! four "lanes" interleaved in one thread.
//!
//! With the x86 SHA extensions one SHA-1 stream is bound by the latency of `sha1rnds4` (each
//! group of four rounds waits for the previous one), not by the SHA unit's throughput: one
//! stream runs at about 1.9 bytes per cycle on this machine's cores, which is what `openssl
//! speed -evp sha1` and the `sha1` crate reach. Interleaving the rounds of independent messages
//! fills the gaps: measured 1.85 GB/s per CPU-second for one lane, 3.15 for two, 3.9-4.5 for
//! four (AMD EPYC, CPU time). Pieces are independent and of one length, so bt-make and
//! bt-verify hash every run of whole pieces this way. Without the SHA extensions (or off
//! x86-64) every message goes through the `sha1` crate, with the same results.

use sha1::{Digest, Sha1};

/// Most messages hashed together.
pub const LANES: usize = 4;

/// Whether pieces of `piece_length` bytes are too long for [`LANES`] of them to lie whole in one
/// `window`, so that they are hashed side by side, a [`slice()`] of each per window ([`Lanes`]);
/// slices stay whole SHA-1 blocks, so the length must be a multiple of 64.
pub fn side_by_side(piece_length: u64, window: u64) -> bool {
    piece_length * LANES as u64 > window && piece_length.is_multiple_of(64)
}

/// The bytes of each piece hashed per window when pieces go [`side_by_side`].
pub fn slice(window: u64) -> u64 {
    (window / LANES as u64).max(64)
}

/// Append the SHA-1 of each of `msgs` (all of one length) to `out`, in order.
pub fn digest_each(msgs: &[&[u8]], out: &mut Vec<[u8; 20]>) {
    debug_assert!(msgs.windows(2).all(|w| w[0].len() == w[1].len()));
    #[cfg(target_arch = "x86_64")]
    if x86::in_groups(
        msgs,
        out,
        [
            x86::digest::<1>,
            x86::digest::<2>,
            x86::digest::<3>,
            x86::digest::<4>,
        ],
    ) {
        return;
    }
    out.extend(msgs.iter().map(|m| <[u8; 20]>::from(Sha1::digest(m))));
}

/// Call `each` with the SHA-1 of every whole `piece_len`-byte piece at the start of `data`, in
/// order, and return how many bytes that used (a multiple of `piece_len`; a shorter tail is
/// left to the caller's streaming hasher).
pub fn whole_pieces(data: &[u8], piece_len: usize, each: &mut dyn FnMut([u8; 20])) -> usize {
    if piece_len == 0 {
        return 0;
    }
    let n = data.len() / piece_len;
    let mut msgs: [&[u8]; LANES] = [&[]; LANES];
    let mut out = Vec::with_capacity(LANES);
    let mut i = 0;
    while i < n {
        let k = (n - i).min(LANES);
        for (l, m) in msgs.iter_mut().take(k).enumerate() {
            let at = (i + l) * piece_len;
            *m = &data[at..at + piece_len];
        }
        out.clear();
        digest_each(&msgs[..k], &mut out);
        for d in out.drain(..) {
            each(d);
        }
        i += k;
    }
    n * piece_len
}

/// SHA-1 of up to [`LANES`] messages fed side by side, in equal slices whose length is a
/// multiple of 64 bytes: for pieces too long for several to lie whole in one window.
pub struct Lanes {
    n: usize,
    states: [State; LANES],
}

impl Lanes {
    /// A hasher of `n` messages (1 to [`LANES`]).
    pub fn new(n: usize) -> Lanes {
        assert!((1..=LANES).contains(&n), "1 to {LANES} lanes");
        Lanes {
            n,
            states: [State::default(); LANES],
        }
    }

    /// Feed the next slice of every message: `parts[l]` to lane `l`, all of one length, a
    /// multiple of 64.
    pub fn update(&mut self, parts: &[&[u8]]) {
        assert!(parts.len() == self.n);
        let mut states: Vec<&mut State> = self.states[..self.n].iter_mut().collect();
        update_each(&mut states, parts);
    }

    /// Append the digests of the messages to `out`, in lane order.
    pub fn finish(self, out: &mut Vec<[u8; 20]>) {
        out.extend(self.states[..self.n].iter().map(|s| s.finish(&[])));
    }
}

/// The SHA-1 state of one message after a whole number of 64-byte blocks: resumable, and
/// advanced side by side with other messages' states by [`update_each`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct State {
    h: [u32; 5],
    /// Bytes compressed so far (a multiple of 64).
    len: u64,
}

impl Default for State {
    fn default() -> State {
        State { h: H0, len: 0 }
    }
}

impl State {
    /// Compress `blocks` (a multiple of 64 bytes) into the state.
    pub fn update(&mut self, blocks: &[u8]) {
        assert!(blocks.len().is_multiple_of(64), "whole blocks only");
        self.len += blocks.len() as u64;
        one(&mut self.h, blocks);
    }

    /// Bytes compressed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was compressed yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The digest of the message: the bytes compressed so far, then `tail` (any length).
    pub fn finish(mut self, tail: &[u8]) -> [u8; 20] {
        let whole = tail.len() / 64 * 64;
        self.update(&tail[..whole]);
        let rem = &tail[whole..];
        // The padded end: the last partial block, 0x80, zeros, the length in bits (one or two
        // blocks).
        let mut pad = [0u8; 128];
        pad[..rem.len()].copy_from_slice(rem);
        pad[rem.len()] = 0x80;
        let end = if rem.len() < 56 { 64 } else { 128 };
        let bits = (self.len + rem.len() as u64) * 8;
        pad[end - 8..end].copy_from_slice(&bits.to_be_bytes());
        one(&mut self.h, &pad[..end]);
        bytes(&self.h)
    }
}

/// Advance each of `states` (at most [`LANES`]) by its part of `parts` (`parts[l]` to
/// `states[l]`, all of one length, a multiple of 64), interleaved when the CPU allows.
pub fn update_each(states: &mut [&mut State], parts: &[&[u8]]) {
    let n = states.len();
    assert!(n <= LANES && parts.len() == n);
    let Some(first) = parts.first() else { return };
    assert!(parts.iter().all(|p| p.len() == first.len()));
    assert!(first.len().is_multiple_of(64), "whole blocks only");
    #[cfg(target_arch = "x86_64")]
    if n > 1 && x86::available() {
        let mut h = [H0; LANES];
        for (h, s) in h.iter_mut().zip(states.iter()) {
            *h = s.h;
        }
        // SAFETY: the CPU has the features `x86::update` is compiled for (checked above).
        unsafe { x86::update(&mut h[..n], parts) };
        for (s, h) in states.iter_mut().zip(h) {
            s.h = h;
            s.len += first.len() as u64;
        }
        return;
    }
    for (s, p) in states.iter_mut().zip(parts) {
        s.update(p);
    }
}

/// The `sha1` crate's compression function over whole blocks (it picks the SHA extensions
/// itself when the CPU has them).
fn one(h: &mut [u32; 5], blocks: &[u8]) {
    let (blocks, rest) = blocks.as_chunks::<64>();
    debug_assert!(rest.is_empty());
    // SAFETY: `GenericArray<u8, U64>` is `repr(transparent)` over an array of 64 bytes (the
    // `sha1` crate makes the same cast the other way inside `compress`).
    let blocks: &[sha1::digest::generic_array::GenericArray<u8, sha1::digest::consts::U64>] =
        unsafe { &*(blocks as *const [[u8; 64]] as *const _) };
    sha1::compress(h, blocks);
}

/// A streaming SHA-1 over [`State`]: bytes of any length, with the state reachable at block
/// boundaries so that it can be advanced side by side with others ([`Stream::blocks`]).
#[derive(Clone, Debug)]
pub struct Stream {
    state: State,
    buf: [u8; 64],
    /// Bytes of `buf` waiting for the rest of their block.
    fill: usize,
}

impl Default for Stream {
    fn default() -> Stream {
        Stream {
            state: State::default(),
            buf: [0; 64],
            fill: 0,
        }
    }
}

impl Stream {
    /// A fresh hasher.
    pub fn new() -> Stream {
        Stream::default()
    }

    /// The next bytes of the message.
    pub fn update(&mut self, mut data: &[u8]) {
        if self.fill > 0 {
            let k = (64 - self.fill).min(data.len());
            self.buf[self.fill..self.fill + k].copy_from_slice(&data[..k]);
            self.fill += k;
            data = &data[k..];
            if self.fill < 64 {
                return;
            }
            let buf = self.buf;
            self.state.update(&buf);
            self.fill = 0;
        }
        let whole = data.len() / 64 * 64;
        self.state.update(&data[..whole]);
        let rest = &data[whole..];
        self.buf[..rest.len()].copy_from_slice(rest);
        self.fill = rest.len();
    }

    /// The state, when the bytes so far are whole blocks (none wait in the buffer).
    pub fn blocks(&mut self) -> Option<&mut State> {
        (self.fill == 0).then_some(&mut self.state)
    }

    /// The digest of the bytes fed.
    pub fn finish(self) -> [u8; 20] {
        self.state.finish(&self.buf[..self.fill])
    }
}

const H0: [u32; 5] = [
    0x6745_2301,
    0xEFCD_AB89,
    0x98BA_DCFE,
    0x1032_5476,
    0xC3D2_E1F0,
];

/// The digest of a final state.
fn bytes(s: &[u32; 5]) -> [u8; 20] {
    let mut d = [0u8; 20];
    for (c, w) in d.chunks_exact_mut(4).zip(s) {
        c.copy_from_slice(&w.to_be_bytes());
    }
    d
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod x86 {
    use super::{bytes, H0};
    use std::arch::x86_64::*;

    /// Compress the whole blocks of `parts` (one per lane, one length) into `state`.
    ///
    /// # Safety
    /// The CPU must have the SHA, SSE4.1 and SSSE3 extensions.
    #[target_feature(enable = "sha,sse4.1,ssse3")]
    pub(super) unsafe fn update(state: &mut [[u32; 5]], parts: &[&[u8]]) {
        let blocks = parts[0].len() / 64;
        macro_rules! lanes {
            ($l:literal) => {{
                let mut s = [[0u32; 5]; $l];
                s.copy_from_slice(state);
                let mut d: [&[u8]; $l] = [&[]; $l];
                d.copy_from_slice(parts);
                // SAFETY: the caller vouches for the features; `compress` checks the lengths.
                unsafe { compress::<$l>(&mut s, &d, blocks) };
                state.copy_from_slice(&s);
            }};
        }
        match state.len() {
            4 => lanes!(4),
            3 => lanes!(3),
            2 => lanes!(2),
            _ => lanes!(1),
        }
    }

    /// Whether the CPU has the SHA, SSE4.1 and SSSE3 extensions that the SHA-1 code here and the
    /// SHA-256 code of [`crate::sha256_lanes`] are compiled for.
    pub(crate) fn available() -> bool {
        is_x86_feature_detected!("sha")
            && is_x86_feature_detected!("sse4.1")
            && is_x86_feature_detected!("ssse3")
    }

    /// Digests a group of messages into `out`; unsafe: compiled for the features [`available`].
    pub(crate) type DigestFn<T> = unsafe fn(&[&[u8]], &mut Vec<T>);

    /// With the CPU features [`available`], digest `msgs` in groups of up to [`LANES`](super::LANES):
    /// `digest[k - 1]` (compiled for those features) takes each group of `k`; false without them.
    pub(crate) fn in_groups<T>(
        msgs: &[&[u8]],
        out: &mut Vec<T>,
        digest: [DigestFn<T>; super::LANES],
    ) -> bool {
        if !available() {
            return false;
        }
        for group in msgs.chunks(super::LANES) {
            // SAFETY: the CPU has the features (checked above).
            unsafe { digest[group.len() - 1](group, out) };
        }
        true
    }

    /// Run `compress(parts, blocks)` over the `L` messages of `msgs` (one length) and then over
    /// their padded ends (SHA-1 and SHA-256 pad alike): the bytes after the last whole block,
    /// 0x80, zeros, the length in bits, big-endian (one or two blocks).
    pub(crate) fn padded<const L: usize>(
        msgs: &[&[u8]],
        compress: &mut dyn FnMut(&[&[u8]; L], usize),
    ) {
        let data: [&[u8]; L] = std::array::from_fn(|l| msgs[l]);
        let len = data[0].len();
        compress(&data, len / 64);
        let rem = len % 64;
        let blocks = if rem < 56 { 1 } else { 2 };
        let mut tails = [[0u8; 128]; L];
        for (t, m) in tails.iter_mut().zip(&data) {
            t[..rem].copy_from_slice(&m[len - rem..]);
            t[rem] = 0x80;
            let end = blocks * 64;
            t[end - 8..end].copy_from_slice(&((len as u64) * 8).to_be_bytes());
        }
        compress(&std::array::from_fn(|l| &tails[l][..]), blocks);
    }

    /// SHA-1 of the `L` messages of `msgs` (one length), appended to `out`.
    ///
    /// # Safety
    /// The CPU must have the SHA, SSE4.1 and SSSE3 extensions.
    #[target_feature(enable = "sha,sse4.1,ssse3")]
    pub(super) unsafe fn digest<const L: usize>(msgs: &[&[u8]], out: &mut Vec<[u8; 20]>) {
        let mut state = [H0; L];
        // SAFETY: the caller vouches for the features; `padded` gives whole blocks.
        padded::<L>(msgs, &mut |d, n| unsafe { compress::<L>(&mut state, d, n) });
        out.extend(state.iter().map(bytes));
    }

    /// Run the compression function over the first `blocks` 64-byte blocks of each lane's
    /// data, rounds of the lanes interleaved.
    ///
    /// # Safety
    /// The CPU must have the SHA, SSE4.1 and SSSE3 extensions, and every `data[l]` must hold
    /// at least `blocks * 64` bytes.
    #[target_feature(enable = "sha,sse4.1,ssse3")]
    #[inline]
    unsafe fn compress<const L: usize>(
        state: &mut [[u32; 5]; L],
        data: &[&[u8]; L],
        blocks: usize,
    ) {
        for d in data {
            assert!(d.len() >= blocks * 64);
        }
        // Reverses the 16 bytes: big-endian words, W0 in the highest lane.
        let mask = _mm_set_epi64x(0x0001_0203_0405_0607, 0x0809_0a0b_0c0d_0e0f);
        let mut abcd = [_mm_setzero_si128(); L];
        let mut e0 = [_mm_setzero_si128(); L];
        for l in 0..L {
            // SAFETY: `state[l]` is 5 words; the first 4 are read.
            abcd[l] = _mm_shuffle_epi32(unsafe { _mm_loadu_si128(state[l].as_ptr().cast()) }, 0x1B);
            e0[l] = _mm_set_epi32(state[l][4] as i32, 0, 0, 0);
        }
        for b in 0..blocks {
            let abcd_save = abcd;
            let e_save = e0;
            let mut m = [[_mm_setzero_si128(); 4]; L];
            let mut prev = [_mm_setzero_si128(); L];
            // Rounds 4g..4g+3 of every lane: the message words W[4g..4g+4] (loaded for g < 4,
            // expanded from the four before otherwise), E from the A of four rounds back.
            macro_rules! group {
                ($g:literal, $f:literal) => {
                    for l in 0..L {
                        let mg = if $g < 4 {
                            // SAFETY: block `b` lies inside `data[l]` (asserted above).
                            let p = unsafe { data[l].as_ptr().add(b * 64 + $g * 16) };
                            _mm_shuffle_epi8(unsafe { _mm_loadu_si128(p.cast()) }, mask)
                        } else {
                            _mm_sha1msg2_epu32(
                                _mm_xor_si128(
                                    _mm_sha1msg1_epu32(m[l][$g % 4], m[l][($g + 1) % 4]),
                                    m[l][($g + 2) % 4],
                                ),
                                m[l][($g + 3) % 4],
                            )
                        };
                        m[l][$g % 4] = mg;
                        let e = if $g == 0 {
                            _mm_add_epi32(e0[l], mg)
                        } else {
                            _mm_sha1nexte_epu32(prev[l], mg)
                        };
                        prev[l] = abcd[l];
                        abcd[l] = _mm_sha1rnds4_epu32(abcd[l], e, $f);
                    }
                };
            }
            group!(0, 0);
            group!(1, 0);
            group!(2, 0);
            group!(3, 0);
            group!(4, 0);
            group!(5, 1);
            group!(6, 1);
            group!(7, 1);
            group!(8, 1);
            group!(9, 1);
            group!(10, 2);
            group!(11, 2);
            group!(12, 2);
            group!(13, 2);
            group!(14, 2);
            group!(15, 3);
            group!(16, 3);
            group!(17, 3);
            group!(18, 3);
            group!(19, 3);
            for l in 0..L {
                e0[l] = _mm_sha1nexte_epu32(prev[l], e_save[l]);
                abcd[l] = _mm_add_epi32(abcd[l], abcd_save[l]);
            }
        }
        for l in 0..L {
            // SAFETY: `state[l]` is 5 words; the first 4 are written.
            unsafe {
                _mm_storeu_si128(
                    state[l].as_mut_ptr().cast(),
                    _mm_shuffle_epi32(abcd[l], 0x1B),
                )
            };
            state[l][4] = _mm_extract_epi32(e0[l], 3) as u32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(data: &[u8]) -> [u8; 20] {
        Sha1::digest(data).into()
    }

    #[test]
    fn same_digests_as_the_sha1_crate() {
        let data: Vec<u8> = (0..(5 * 70_000u32))
            .map(|i| (i * 131 + i / 7) as u8)
            .collect();
        for len in [
            0usize, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 16384, 70_000,
        ] {
            for count in 1..=5 {
                let msgs: Vec<&[u8]> = (0..count).map(|i| &data[i * len..(i + 1) * len]).collect();
                let mut got = Vec::new();
                digest_each(&msgs, &mut got);
                let want: Vec<[u8; 20]> = msgs.iter().map(|m| sha(m)).collect();
                assert_eq!(got, want, "{count} messages of {len} bytes");
            }
        }
        let mut abc = Vec::new();
        digest_each(&[b"abc"], &mut abc);
        assert_eq!(abc[0][..4], [0xa9, 0x99, 0x3e, 0x36]);
    }

    #[test]
    fn lanes_fed_in_slices() {
        let data: Vec<u8> = (0..(4 * 8192u32)).map(|i| (i * 17 + i / 3) as u8).collect();
        for n in 1..=LANES {
            let msgs: Vec<&[u8]> = (0..n).map(|i| &data[i * 8192..(i + 1) * 8192]).collect();
            let mut lanes = Lanes::new(n);
            // Slices of 64, 1024 and 7104 bytes: 8192 in all.
            for (at, step) in [(0usize, 64usize), (64, 1024), (1088, 7104)] {
                let parts: Vec<&[u8]> = msgs.iter().map(|m| &m[at..at + step]).collect();
                lanes.update(&parts);
            }
            let mut got = Vec::new();
            lanes.finish(&mut got);
            let want: Vec<[u8; 20]> = msgs.iter().map(|m| sha(m)).collect();
            assert_eq!(got, want, "{n} lanes");
        }
    }

    #[test]
    fn whole_pieces_leaves_the_tail() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i ^ (i >> 5)) as u8).collect();
        for pl in [1usize, 64, 1000, 16384, 99_999, 100_000, 100_001] {
            let mut got = Vec::new();
            let used = whole_pieces(&data, pl, &mut |d| got.push(d));
            assert_eq!(used, data.len() / pl * pl);
            let want: Vec<[u8; 20]> = data[..used].chunks(pl).map(sha).collect();
            assert_eq!(got, want, "piece length {pl}");
        }
        assert_eq!(whole_pieces(&data, 0, &mut |_| panic!()), 0);
    }

    #[test]
    fn stream_in_any_split_matches_the_sha1_crate() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 29 + i / 11) as u8).collect();
        for len in [0usize, 1, 55, 56, 63, 64, 65, 127, 128, 1000, 4999] {
            let msg = &data[..len];
            for step in [1usize, 7, 63, 64, 65, 200, 5000] {
                let mut st = Stream::new();
                for c in msg.chunks(step) {
                    st.update(c);
                }
                assert_eq!(st.finish(), sha(msg), "{len} bytes in steps of {step}");
            }
        }
    }

    #[test]
    fn states_advanced_side_by_side_match_one_by_one() {
        let data: Vec<u8> = (0..(4 * 9000u32)).map(|i| (i * 7 + i / 13) as u8).collect();
        let msg = |l: usize, len: usize| &data[l * 9000..l * 9000 + len];
        for n in 0..=LANES {
            // Streams at block boundaries advanced together by runs of 64, 1024 and 4096
            // bytes, then each finished on its own (odd) tail.
            let mut streams: Vec<Stream> = (0..n).map(|_| Stream::new()).collect();
            let mut at = 0;
            for run in [64usize, 1024, 4096] {
                let parts: Vec<&[u8]> = (0..n).map(|l| &msg(l, at + run)[at..]).collect();
                let mut states: Vec<&mut State> =
                    streams.iter_mut().map(|s| s.blocks().unwrap()).collect();
                update_each(&mut states, &parts);
                at += run;
            }
            for (l, mut st) in streams.into_iter().enumerate() {
                assert_eq!(st.blocks().unwrap().len(), at as u64);
                let len = at + 1 + 3 * l;
                st.update(&msg(l, len)[at..]);
                assert!(st.blocks().is_none());
                assert_eq!(st.finish(), sha(msg(l, len)), "lane {l} of {n}");
            }
        }
        // A state finished on a tail longer than a block.
        let mut s = State::default();
        s.update(&data[..128]);
        assert_eq!(s.finish(&data[128..1000]), sha(&data[..1000]));
        assert!(State::default().is_empty());
    }
}
