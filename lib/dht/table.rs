//! The Kademlia routing table: 160 buckets of at most [`K`] contacts, bucket `i` holding the
//! nodes whose ids share exactly `i` leading bits with ours. Pure data, no I/O.
//!
//! Bucket rules: a node that answers is inserted or refreshed; a full bucket takes a newcomer
//! only in place of a contact that has failed at least [`BAD_AFTER`] times in a row (the
//! longest-known good contacts stay, as Kademlia prefers). A contact that fails [`DROP_AFTER`]
//! times is removed. Invariants: no contact has our own id, and no id or address appears twice.

use super::krpc::NodeId;
use std::net::SocketAddr;
use std::time::Instant;

/// Contacts per bucket.
pub const K: usize = 8;
/// Consecutive failures after which a contact is replaceable and no longer handed out.
pub const BAD_AFTER: u8 = 2;
/// Consecutive failures after which a contact is removed.
pub const DROP_AFTER: u8 = 4;

/// One contact.
#[derive(Debug, Clone)]
pub struct Contact {
    /// Its id.
    pub id: NodeId,
    /// Its UDP address.
    pub addr: SocketAddr,
    /// When it last answered (or was loaded).
    pub seen: Instant,
    /// Failures in a row since it last answered.
    pub failures: u8,
}

/// The routing table of the node with id `own`.
pub struct Table {
    own: NodeId,
    buckets: Vec<Vec<Contact>>,
}

impl Table {
    /// An empty table.
    pub fn new(own: NodeId) -> Table {
        Table {
            own,
            buckets: vec![Vec::new(); 160],
        }
    }

    /// Our id.
    pub fn own(&self) -> NodeId {
        self.own
    }

    /// Number of contacts.
    pub fn len(&self) -> usize {
        self.buckets.iter().map(Vec::len).sum()
    }

    /// Whether the table holds no contact.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn bucket(&self, id: &NodeId) -> Option<usize> {
        let i = self.own.common_prefix(id);
        (i < 160).then_some(i)
    }

    /// Whether `id` at `addr` is already known or would be inserted (used to decide whether a
    /// querying stranger is worth a ping).
    pub fn wants(&self, id: &NodeId, addr: &SocketAddr) -> bool {
        let Some(b) = self.bucket(id) else {
            return false;
        };
        let bucket = &self.buckets[b];
        !bucket.iter().any(|c| c.id == *id || c.addr == *addr)
            && (bucket.len() < K || bucket.iter().any(|c| c.failures >= BAD_AFTER))
    }

    /// `id` answered from `addr`: insert or refresh it. Returns whether it is in the table.
    pub fn seen(&mut self, id: NodeId, addr: SocketAddr, now: Instant) -> bool {
        let Some(b) = self.bucket(&id) else {
            return false;
        };
        let bucket = &mut self.buckets[b];
        if let Some(c) = bucket.iter_mut().find(|c| c.id == id) {
            if c.addr != addr && c.failures < BAD_AFTER {
                return true; // a good contact keeps its address against a claimed move
            }
            c.addr = addr;
            c.seen = now;
            c.failures = 0;
            return true;
        }
        // One address, one contact: a new id at a known address replaces a bad old one only.
        for other in self.buckets.iter_mut() {
            if let Some(i) = other.iter().position(|c| c.addr == addr) {
                if other[i].failures < BAD_AFTER {
                    return false;
                }
                other.remove(i);
            }
        }
        let bucket = &mut self.buckets[b];
        let contact = Contact {
            id,
            addr,
            seen: now,
            failures: 0,
        };
        if bucket.len() < K {
            bucket.push(contact);
            return true;
        }
        match bucket.iter().position(|c| c.failures >= BAD_AFTER) {
            Some(i) => {
                bucket[i] = contact;
                true
            }
            None => false,
        }
    }

    /// The contact at `addr` did not answer.
    pub fn failed(&mut self, addr: &SocketAddr) {
        for bucket in self.buckets.iter_mut() {
            if let Some(c) = bucket.iter_mut().find(|c| c.addr == *addr) {
                c.failures = c.failures.saturating_add(1);
            }
            bucket.retain(|c| c.failures < DROP_AFTER);
        }
    }

    /// Up to `n` good contacts closest to `target`, closest first.
    pub fn closest(&self, target: &NodeId, n: usize) -> Vec<(NodeId, SocketAddr)> {
        let mut all: Vec<_> = self
            .buckets
            .iter()
            .flatten()
            .filter(|c| c.failures < BAD_AFTER)
            .map(|c| (c.id, c.addr))
            .collect();
        all.sort_by_key(|(id, _)| id.distance(target));
        all.truncate(n);
        all
    }

    /// Every contact, for saving.
    pub fn contacts(&self) -> impl Iterator<Item = &Contact> {
        self.buckets.iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(first: u8, last: u8) -> NodeId {
        let mut b = [0u8; 20];
        b[0] = first;
        b[19] = last;
        NodeId(b)
    }

    fn addr(i: u16) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, 1], i))
    }

    #[test]
    fn buckets_fill_to_k_and_replace_only_bad_contacts() {
        let now = Instant::now();
        let mut t = Table::new(id(0, 0));
        assert!(!t.seen(id(0, 0), addr(1), now), "never ourselves");
        // All of these share 0 leading bits with us: one bucket.
        for i in 0..K as u8 {
            assert!(t.seen(id(0x80, i), addr(10 + i as u16), now));
        }
        assert!(!t.wants(&id(0x80, 99), &addr(99)));
        assert!(!t.seen(id(0x80, 99), addr(99), now), "full bucket");
        t.failed(&addr(10));
        t.failed(&addr(10));
        assert!(t.wants(&id(0x80, 99), &addr(99)));
        assert!(t.seen(id(0x80, 99), addr(99), now));
        assert_eq!(t.len(), K);
        assert!(t.contacts().all(|c| c.addr != addr(10)));
    }

    #[test]
    fn closest_sorts_by_distance_and_skips_bad() {
        let now = Instant::now();
        let mut t = Table::new(id(0, 0));
        t.seen(id(0x80, 0), addr(1), now);
        t.seen(id(0x40, 0), addr(2), now);
        t.seen(id(0x01, 0), addr(3), now);
        let c = t.closest(&id(0x41, 0), 2);
        assert_eq!(
            c.iter().map(|x| x.1).collect::<Vec<_>>(),
            [addr(2), addr(3)]
        );
        for _ in 0..BAD_AFTER {
            t.failed(&addr(2));
        }
        assert_eq!(t.closest(&id(0x41, 0), 1)[0].1, addr(3));
        for _ in BAD_AFTER..DROP_AFTER {
            t.failed(&addr(2));
        }
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn one_contact_per_address() {
        let now = Instant::now();
        let mut t = Table::new(id(0, 0));
        assert!(t.seen(id(0x80, 1), addr(1), now));
        assert!(
            !t.seen(id(0x80, 2), addr(1), now),
            "a good contact holds its address"
        );
        assert!(t.seen(id(0x80, 1), addr(2), now));
        assert_eq!(t.closest(&id(0, 0), 8)[0].1, addr(1));
    }
}
