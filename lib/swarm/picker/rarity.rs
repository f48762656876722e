//! The wanted pieces in availability buckets: bucket `a` holds the pieces that `a` peers
//! announced one by one, in random order (a piece enters a bucket at a random slot), and `pos`
//! maps a piece to its slot in its bucket. A change of availability by one moves the piece to
//! the next bucket, and removing a piece takes it out of its bucket, both by a swap with the
//! bucket's last slot: O(1). A pick takes the last slot of the lowest bucket the peer has
//! pieces of: a random one among the rarest, and the one whose memory is warm. Peers
//! that have every piece are not counted here (they raise every piece alike and would not change
//! the order), see `Picker`.

/// Not in a bucket: the piece is not wanted.
const NONE: u32 = u32::MAX;

#[derive(Debug)]
pub(super) struct Rarity {
    buckets: Vec<Vec<u32>>,
    pos: Vec<u32>,
    avail: Vec<u32>,
    rng: u64,
}

impl Rarity {
    /// Every piece for which `wanted` is true, all at availability 0.
    pub(super) fn new(n: usize, seed: u64, wanted: impl Fn(usize) -> bool) -> Rarity {
        let mut r = Rarity {
            buckets: vec![Vec::new()],
            pos: vec![NONE; n],
            avail: vec![0; n],
            rng: seed | 1,
        };
        for i in (0..n).filter(|i| wanted(*i)) {
            r.put(i as u32, 0);
        }
        r
    }

    fn random(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    /// Take wanted piece `i` out of bucket `a`.
    fn take(&mut self, i: u32, a: usize) {
        let p = self.pos[i as usize] as usize;
        let bucket = &mut self.buckets[a];
        bucket.swap_remove(p);
        if let Some(&moved) = bucket.get(p) {
            self.pos[moved as usize] = p as u32;
        }
        self.pos[i as usize] = NONE;
        while self.buckets.len() > 1 && self.buckets.last().is_some_and(|b| b.is_empty()) {
            self.buckets.pop();
        }
    }

    /// Put wanted piece `i` into bucket `a`, at a random slot (its occupant moves to the end).
    fn put(&mut self, i: u32, a: usize) {
        if self.buckets.len() <= a {
            self.buckets.resize_with(a + 1, Vec::new);
        }
        let len = self.buckets[a].len();
        let slot = (self.random() % (len as u64 + 1)) as usize;
        let bucket = &mut self.buckets[a];
        bucket.push(i);
        bucket.swap(slot, len);
        let moved = bucket[len];
        self.pos[moved as usize] = len as u32;
        self.pos[i as usize] = slot as u32;
    }

    /// Piece `i` was announced by one more peer.
    pub(super) fn up(&mut self, i: u32) {
        let Some(&a) = self.avail.get(i as usize) else {
            return;
        };
        if a == u32::MAX {
            return;
        }
        self.avail[i as usize] = a + 1;
        if self.pos[i as usize] != NONE {
            self.take(i, a as usize);
            self.put(i, a as usize + 1);
        }
    }

    /// Piece `i` lost a peer.
    pub(super) fn down(&mut self, i: u32) {
        let Some(&a) = self.avail.get(i as usize) else {
            return;
        };
        if a == 0 {
            return;
        }
        self.avail[i as usize] = a - 1;
        if self.pos[i as usize] != NONE {
            self.take(i, a as usize);
            self.put(i, a as usize - 1);
        }
    }

    /// Piece `i` is no longer wanted (started by a peer).
    pub(super) fn remove(&mut self, i: u32) {
        if self.pos.get(i as usize).is_some_and(|p| *p != NONE) {
            self.take(i, self.avail[i as usize] as usize);
        }
    }

    /// The last piece of `bucket` for which `has` holds, at most `budget` slots looked at
    /// (which it counts down).
    fn scan(bucket: &[u32], budget: &mut usize, has: &impl Fn(u32) -> bool) -> Option<u32> {
        for &i in bucket.iter().rev() {
            if *budget == 0 {
                return None;
            }
            *budget -= 1;
            if has(i) {
                return Some(i);
            }
        }
        None
    }

    /// A wanted piece for which `has` holds: any (`random`: from the bucket `r` chooses, then
    /// the others), or a random one of the lowest availability. `Err` when `budget` slots were
    /// looked at without finding one.
    pub(super) fn choose(
        &self,
        random: bool,
        r: u64,
        mut budget: usize,
        has: impl Fn(u32) -> bool,
    ) -> Result<Option<u32>, ()> {
        let n = self.buckets.len();
        let first = if random { r as usize % n } else { 0 };
        let found =
            (0..n).find_map(|k| Self::scan(&self.buckets[(first + k) % n], &mut budget, &has));
        match found {
            None if budget == 0 => Err(()),
            f => Ok(f),
        }
    }

    /// Availability of piece `i` (over peers without every piece).
    pub(super) fn avail(&self, i: u32) -> u32 {
        self.avail[i as usize]
    }

    #[cfg(test)]
    fn check(&self) {
        for (a, bucket) in self.buckets.iter().enumerate() {
            for (s, &i) in bucket.iter().enumerate() {
                assert_eq!(self.pos[i as usize] as usize, s);
                assert_eq!(self.avail[i as usize] as usize, a);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Rarity {
        fn wanted(&self) -> impl Iterator<Item = &u32> {
            self.buckets.iter().flatten()
        }
    }

    #[test]
    fn buckets_follow_every_change() {
        let mut r = Rarity::new(100, 99, |i| i % 7 != 3);
        let mut rng = 12345u64;
        for step in 0..20_000 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let i = (rng % 100) as u32;
            match (rng >> 32) % 9 {
                _ if step % 500 == 0 => r.remove(i),
                0..=4 => r.up(i),
                _ => r.down(i),
            }
            r.check();
        }
        assert!(r.wanted().count() > 20 && r.buckets.len() > 3, "{r:?}");
        let min = r.wanted().map(|i| r.avail[*i as usize]).min();
        let chosen = r.choose(false, 7, usize::MAX, |_| true);
        assert_eq!(chosen.unwrap().map(|i| r.avail(i)), min);
        assert_eq!(r.choose(false, 7, 3, |_| false), Err(()));
        let odd = r.choose(false, 7, usize::MAX, |i| i % 2 == 1).unwrap();
        let min_odd = r
            .wanted()
            .filter(|i| *i % 2 == 1)
            .map(|i| r.avail[*i as usize])
            .min();
        assert_eq!(odd.map(|i| r.avail[i as usize]), min_odd);
    }
}
