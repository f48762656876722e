//! SHA-256 of several independent messages of one length at once (the 16 KiB leaves and the
//! 64-byte interior nodes of BEP 52 merkle trees), up to four "lanes" interleaved in one thread.
//!
//! Hand-written for the reason [`crate::sha1_lanes`] is: with the x86 SHA extensions one SHA-256
//! stream is bound by the latency of `sha256rnds2` (each two rounds wait for the two before),
//! not by the SHA unit's throughput, and the `sha2` crate and openssl hash one stream at a time.
//! Interleaving the rounds of independent messages fills the gaps (figures in the commit that
//! brought this module and in README's design notes). Leaves are independent and of one length,
//! so [`crate::merkle::PieceHasher`] (bt-make, bt-verify and the swarm's piece checks) hashes
//! every run of whole blocks this way, and each level of a piece's subtree too. Without the SHA
//! extensions (or off x86-64) every message goes through the `sha2` crate, with the same
//! results. Feature detection and the padding are shared with [`crate::sha1_lanes`].

use sha2::{Digest, Sha256};

pub use crate::sha1_lanes::LANES;

/// Append the SHA-256 of each of `msgs` (all of one length) to `out`, in order.
pub fn digest_each(msgs: &[&[u8]], out: &mut Vec<[u8; 32]>) {
    debug_assert!(msgs.windows(2).all(|w| w[0].len() == w[1].len()));
    #[cfg(target_arch = "x86_64")]
    if crate::sha1_lanes::x86::in_groups(
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
    out.extend(msgs.iter().map(|m| <[u8; 32]>::from(Sha256::digest(m))));
}

/// Append the SHA-256 of every whole `len`-byte chunk at the start of `data` to `out`, in
/// order, [`LANES`] at a time, and return how many bytes that used (a multiple of `len`; a
/// shorter tail is left to the caller). With `len` 64 over a level of a merkle tree (as
/// bytes), this gives the level above.
pub fn digest_chunks(data: &[u8], len: usize, out: &mut Vec<[u8; 32]>) -> usize {
    if len == 0 {
        return 0;
    }
    let n = data.len() / len;
    let mut msgs: [&[u8]; LANES] = [&[]; LANES];
    for group in data[..n * len].chunks(LANES * len) {
        let k = group.len() / len;
        for (m, c) in msgs.iter_mut().zip(group.chunks_exact(len)) {
            *m = c;
        }
        digest_each(&msgs[..k], out);
    }
    n * len
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use crate::sha1_lanes::x86::padded;

    const H0: [u32; 8] = [
        0x6a09_e667,
        0xbb67_ae85,
        0x3c6e_f372,
        0xa54f_f53a,
        0x510e_527f,
        0x9b05_688c,
        0x1f83_d9ab,
        0x5be0_cd19,
    ];

    /// The round constants, four per group of four rounds.
    static K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];

    /// SHA-256 of the `L` messages of `msgs` (one length), appended to `out`.
    ///
    /// # Safety
    /// The CPU must have the SHA, SSE4.1 and SSSE3 extensions.
    #[target_feature(enable = "sha,sse4.1,ssse3")]
    pub(super) unsafe fn digest<const L: usize>(msgs: &[&[u8]], out: &mut Vec<[u8; 32]>) {
        let mut state = [H0; L];
        // SAFETY: the caller vouches for the features; `padded` gives whole blocks.
        padded::<L>(msgs, &mut |d, n| unsafe { compress::<L>(&mut state, d, n) });
        out.extend(state.iter().map(|s| {
            let mut d = [0u8; 32];
            for (c, w) in d.chunks_exact_mut(4).zip(s) {
                c.copy_from_slice(&w.to_be_bytes());
            }
            d
        }));
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
        state: &mut [[u32; 8]; L],
        data: &[&[u8]; L],
        blocks: usize,
    ) {
        for d in data {
            assert!(d.len() >= blocks * 64);
        }
        // Swaps the bytes of each 32-bit word: the message words are big-endian.
        let mask = _mm_set_epi64x(0x0c0d_0e0f_0809_0a0b, 0x0405_0607_0001_0203);
        // The state as `sha256rnds2` takes it: ABEF and CDGH (A in the highest word).
        let mut abef = [_mm_setzero_si128(); L];
        let mut cdgh = [_mm_setzero_si128(); L];
        for l in 0..L {
            // SAFETY: `state[l]` is 8 words; words 0-3 and 4-7 are read.
            let (dcba, hgfe) = unsafe {
                (
                    _mm_loadu_si128(state[l].as_ptr().cast()),
                    _mm_loadu_si128(state[l].as_ptr().add(4).cast()),
                )
            };
            let cdab = _mm_shuffle_epi32(dcba, 0xB1);
            let efgh = _mm_shuffle_epi32(hgfe, 0x1B);
            abef[l] = _mm_alignr_epi8(cdab, efgh, 8);
            cdgh[l] = _mm_blend_epi16(efgh, cdab, 0xF0);
        }
        for b in 0..blocks {
            let (abef_save, cdgh_save) = (abef, cdgh);
            let mut m = [[_mm_setzero_si128(); 4]; L];
            // Rounds 4g..4g+3 of every lane: the message words W[4g..4g+4] (loaded for g < 4,
            // expanded from the sixteen before otherwise) plus their constants, two rounds per
            // `sha256rnds2`.
            macro_rules! group {
                ($g:literal) => {
                    // SAFETY: `K` has 64 words; words 4g..4g+3 are read.
                    let k = unsafe { _mm_loadu_si128(K.as_ptr().add($g * 4).cast()) };
                    for l in 0..L {
                        let w = if $g < 4 {
                            // SAFETY: block `b` lies inside `data[l]` (asserted above).
                            let p = unsafe { data[l].as_ptr().add(b * 64 + $g * 16) };
                            _mm_shuffle_epi8(unsafe { _mm_loadu_si128(p.cast()) }, mask)
                        } else {
                            // W[i-16] + s0(W[i-15]), + W[i-7], + s1(W[i-2]).
                            let t = _mm_sha256msg1_epu32(m[l][$g % 4], m[l][($g + 1) % 4]);
                            let t = _mm_add_epi32(
                                t,
                                _mm_alignr_epi8(m[l][($g + 3) % 4], m[l][($g + 2) % 4], 4),
                            );
                            _mm_sha256msg2_epu32(t, m[l][($g + 3) % 4])
                        };
                        m[l][$g % 4] = w;
                        let wk = _mm_add_epi32(w, k);
                        cdgh[l] = _mm_sha256rnds2_epu32(cdgh[l], abef[l], wk);
                        abef[l] =
                            _mm_sha256rnds2_epu32(abef[l], cdgh[l], _mm_shuffle_epi32(wk, 0x0E));
                    }
                };
            }
            group!(0);
            group!(1);
            group!(2);
            group!(3);
            group!(4);
            group!(5);
            group!(6);
            group!(7);
            group!(8);
            group!(9);
            group!(10);
            group!(11);
            group!(12);
            group!(13);
            group!(14);
            group!(15);
            for l in 0..L {
                abef[l] = _mm_add_epi32(abef[l], abef_save[l]);
                cdgh[l] = _mm_add_epi32(cdgh[l], cdgh_save[l]);
            }
        }
        for l in 0..L {
            let feba = _mm_shuffle_epi32(abef[l], 0x1B);
            let dchg = _mm_shuffle_epi32(cdgh[l], 0xB1);
            let dcba = _mm_blend_epi16(feba, dchg, 0xF0);
            let hgfe = _mm_alignr_epi8(dchg, feba, 8);
            // SAFETY: `state[l]` is 8 words; words 0-3 and 4-7 are written.
            unsafe {
                _mm_storeu_si128(state[l].as_mut_ptr().cast(), dcba);
                _mm_storeu_si128(state[l].as_mut_ptr().add(4).cast(), hgfe);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(data: &[u8]) -> [u8; 32] {
        Sha256::digest(data).into()
    }

    #[test]
    fn same_digests_as_the_sha2_crate() {
        let data: Vec<u8> = (0..(5 * 70_000u32))
            .map(|i| (i * 131 + i / 7) as u8)
            .collect();
        for len in [
            0usize, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 1000, 16383, 16384, 16385,
            70_000,
        ] {
            for count in 1..=5 {
                let msgs: Vec<&[u8]> = (0..count).map(|i| &data[i * len..(i + 1) * len]).collect();
                let mut got = Vec::new();
                digest_each(&msgs, &mut got);
                let want: Vec<[u8; 32]> = msgs.iter().map(|m| sha(m)).collect();
                assert_eq!(got, want, "{count} messages of {len} bytes");
            }
        }
        // FIPS 180-2's "abc".
        let mut abc = Vec::new();
        digest_each(&[b"abc"], &mut abc);
        assert_eq!(abc[0][..4], [0xba, 0x78, 0x16, 0xbf]);
        assert_eq!(abc[0][28..], [0xf2, 0x00, 0x15, 0xad]);
    }

    #[test]
    fn chunks_of_a_merkle_batch_and_the_level_above() {
        // 4 MiB of 16 KiB leaves plus a short tail, then their parents (64-byte messages).
        let data: Vec<u8> = (0..(256 * 16384 + 999u32))
            .map(|i| (i ^ (i >> 9)) as u8)
            .collect();
        let mut leaves = Vec::new();
        let used = digest_chunks(&data, 16384, &mut leaves);
        assert_eq!(used, 256 * 16384);
        let want: Vec<[u8; 32]> = data[..used].chunks(16384).map(sha).collect();
        assert_eq!(leaves, want);
        // Levels of 256, 6 (odd groups of lanes) and 1 node.
        for n in [256usize, 6, 2] {
            let mut up = Vec::new();
            assert_eq!(
                digest_chunks(leaves[..n].as_flattened(), 64, &mut up),
                n * 32
            );
            let want: Vec<[u8; 32]> = leaves[..n].chunks(2).map(|p| sha(&p.concat())).collect();
            assert_eq!(up, want, "{n} nodes");
        }
        let mut none = Vec::new();
        assert_eq!(digest_chunks(&data[..100], 101, &mut none), 0);
        assert_eq!(digest_chunks(&data, 0, &mut none), 0);
        assert!(none.is_empty());
    }
}
