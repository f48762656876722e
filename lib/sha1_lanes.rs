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
    len: u64,
    #[cfg(target_arch = "x86_64")]
    ni: Option<[[u32; 5]; LANES]>,
    soft: Vec<Sha1>,
}

impl Lanes {
    /// A hasher of `n` messages (1 to [`LANES`]).
    pub fn new(n: usize) -> Lanes {
        assert!((1..=LANES).contains(&n), "1 to {LANES} lanes");
        #[cfg(target_arch = "x86_64")]
        if x86::available() {
            return Lanes {
                n,
                len: 0,
                ni: Some([x86::H0; LANES]),
                soft: Vec::new(),
            };
        }
        Lanes {
            n,
            len: 0,
            #[cfg(target_arch = "x86_64")]
            ni: None,
            soft: vec![Sha1::new(); n],
        }
    }

    /// Feed the next slice of every message: `parts[l]` to lane `l`, all of one length, a
    /// multiple of 64.
    pub fn update(&mut self, parts: &[&[u8]]) {
        assert!(parts.len() == self.n && parts.iter().all(|p| p.len() == parts[0].len()));
        assert!(parts[0].len().is_multiple_of(64), "whole blocks only");
        self.len += parts[0].len() as u64;
        #[cfg(target_arch = "x86_64")]
        if let Some(state) = &mut self.ni {
            // SAFETY: `ni` is only set when the CPU has the features (see `new`).
            unsafe { x86::update(&mut state[..self.n], parts) };
            return;
        }
        for (h, p) in self.soft.iter_mut().zip(parts) {
            h.update(p);
        }
    }

    /// Append the digests of the messages to `out`, in lane order.
    pub fn finish(self, out: &mut Vec<[u8; 20]>) {
        #[cfg(target_arch = "x86_64")]
        if let Some(mut state) = self.ni {
            // The padding block of a message of whole blocks: 0x80, zeros, the length in bits.
            let mut pad = [0u8; 64];
            pad[0] = 0x80;
            pad[56..].copy_from_slice(&(self.len * 8).to_be_bytes());
            let parts = [&pad[..]; LANES];
            // SAFETY: as in `update`.
            unsafe { x86::update(&mut state[..self.n], &parts[..self.n]) };
            out.extend(state[..self.n].iter().map(x86::bytes));
            return;
        }
        out.extend(
            self.soft
                .into_iter()
                .map(|h| <[u8; 20]>::from(h.finalize())),
        );
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod x86 {
    use std::arch::x86_64::*;

    pub(super) const H0: [u32; 5] = [
        0x6745_2301,
        0xEFCD_AB89,
        0x98BA_DCFE,
        0x1032_5476,
        0xC3D2_E1F0,
    ];

    /// The digest of a final state.
    pub(super) fn bytes(s: &[u32; 5]) -> [u8; 20] {
        let mut d = [0u8; 20];
        for (c, w) in d.chunks_exact_mut(4).zip(s) {
            c.copy_from_slice(&w.to_be_bytes());
        }
        d
    }

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
}
