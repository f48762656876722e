//! An iterative Kademlia lookup as a pure state machine: which nodes to ask next, what their
//! answers teach, when it is done. The caller sends the queries and feeds the answers back.
//!
//! Invariants: at most [`Lookup::alpha`] queries are in flight; at most [`MAX_CANDIDATES`]
//! candidates are kept (the closest) and at most [`MAX_QUERIES`] are ever asked, so a hostile
//! node that answers with endless fresh contacts cannot stretch a lookup. A lookup is done when
//! the [`K`] closest live candidates have all answered, or nothing is left to ask.

use super::krpc::NodeId;
use super::table::K;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Most candidates kept.
pub const MAX_CANDIDATES: usize = 64;
/// Most queries one lookup sends.
pub const MAX_QUERIES: usize = 128;
/// Time after which an unanswered query counts as failed.
pub const QUERY_TIMEOUT: Duration = Duration::from_millis(1500);

#[derive(Debug, Clone, PartialEq)]
enum State {
    Fresh,
    Asked(Instant),
    Answered(Option<Vec<u8>>),
    Failed,
}

#[derive(Debug, Clone)]
struct Candidate {
    id: Option<NodeId>,
    addr: SocketAddr,
    state: State,
}

/// One lookup of `target`.
pub struct Lookup {
    target: NodeId,
    /// Queries in flight at most.
    pub alpha: usize,
    cands: Vec<Candidate>,
    asked: usize,
}

impl Lookup {
    /// A lookup starting from `seeds` (bootstrap addresses have no known id).
    pub fn new(
        target: NodeId,
        seeds: impl IntoIterator<Item = (Option<NodeId>, SocketAddr)>,
    ) -> Self {
        let mut l = Lookup {
            target,
            alpha: 4,
            cands: Vec::new(),
            asked: 0,
        };
        for (id, addr) in seeds {
            l.add(id, addr);
        }
        l
    }

    fn key(&self, id: &Option<NodeId>) -> [u8; 20] {
        id.map_or([0xff; 20], |id| id.distance(&self.target))
    }

    fn add(&mut self, id: Option<NodeId>, addr: SocketAddr) {
        if self
            .cands
            .iter()
            .any(|c| c.addr == addr || (id.is_some() && c.id == id))
        {
            return;
        }
        let key = self.key(&id);
        let at = self.cands.partition_point(|c| self.key(&c.id) <= key);
        if at >= MAX_CANDIDATES {
            return;
        }
        self.cands.insert(
            at,
            Candidate {
                id,
                addr,
                state: State::Fresh,
            },
        );
        // Drop the farthest never-asked candidate beyond the cap.
        if self.cands.len() > MAX_CANDIDATES {
            if let Some(i) = self.cands.iter().rposition(|c| c.state == State::Fresh) {
                self.cands.remove(i);
            }
        }
    }

    /// Time out old queries and pick the next addresses to ask (marked as asked at `now`).
    pub fn next(&mut self, now: Instant) -> Vec<SocketAddr> {
        for c in &mut self.cands {
            if matches!(c.state, State::Asked(t) if now.duration_since(t) >= QUERY_TIMEOUT) {
                c.state = State::Failed;
            }
        }
        let mut inflight = self.inflight();
        let mut out = Vec::new();
        let mut live = 0;
        for c in &mut self.cands {
            if live >= K || inflight >= self.alpha || self.asked >= MAX_QUERIES {
                break;
            }
            match c.state {
                State::Failed => continue,
                State::Fresh => {
                    c.state = State::Asked(now);
                    self.asked += 1;
                    inflight += 1;
                    out.push(c.addr);
                }
                _ => {}
            }
            live += 1;
        }
        out
    }

    fn inflight(&self) -> usize {
        self.cands
            .iter()
            .filter(|c| matches!(c.state, State::Asked(_)))
            .count()
    }

    /// `addr` answered as `id` with closer `nodes` and maybe a write token.
    pub fn answered(
        &mut self,
        addr: SocketAddr,
        id: NodeId,
        nodes: &[(NodeId, SocketAddr)],
        token: Option<Vec<u8>>,
    ) {
        if let Some(i) = self.cands.iter().position(|c| c.addr == addr) {
            let mut c = self.cands.remove(i);
            if !matches!(c.state, State::Asked(_)) {
                self.cands.insert(i, c);
                return;
            }
            c.id = Some(id);
            c.state = State::Answered(token);
            let key = self.key(&c.id);
            let at = self.cands.partition_point(|x| self.key(&x.id) <= key);
            self.cands.insert(at, c);
        }
        for (id, a) in nodes {
            self.add(Some(*id), *a);
        }
    }

    /// `addr` did not answer (an error, or the socket said so).
    pub fn failed(&mut self, addr: SocketAddr) {
        if let Some(c) = self.cands.iter_mut().find(|c| c.addr == addr) {
            c.state = State::Failed;
        }
    }

    /// Whether the lookup is over.
    pub fn done(&self) -> bool {
        if self.inflight() > 0 {
            return false;
        }
        let live = self.cands.iter().filter(|c| c.state != State::Failed);
        live.take(K).all(|c| matches!(c.state, State::Answered(_))) || self.asked >= MAX_QUERIES
    }

    /// How many nodes answered.
    pub fn answers(&self) -> usize {
        let answered = |c: &&Candidate| matches!(c.state, State::Answered(_));
        self.cands.iter().filter(answered).count()
    }

    /// The up to `n` closest nodes that answered with a write token, closest first.
    pub fn tokens(&self, n: usize) -> Vec<(SocketAddr, Vec<u8>)> {
        self.cands
            .iter()
            .filter_map(|c| match &c.state {
                State::Answered(Some(t)) => Some((c.addr, t.clone())),
                _ => None,
            })
            .take(n)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(b: u8) -> NodeId {
        let mut x = [0u8; 20];
        x[0] = b;
        NodeId(x)
    }
    fn addr(i: u8) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, i], 1000))
    }

    #[test]
    fn converges_on_the_closest_and_bounds_parallelism() {
        let now = Instant::now();
        let mut l = Lookup::new(id(0), (1..=10).map(|i| (Some(id(100 + i)), addr(i))));
        let first = l.next(now);
        assert_eq!(first.len(), l.alpha);
        assert_eq!(first[0], addr(1));
        assert!(l.next(now).is_empty(), "alpha in flight");
        // The first answer names closer nodes: they are asked next.
        l.answered(
            addr(1),
            id(101),
            &[(id(1), addr(50)), (id(2), addr(51))],
            None,
        );
        assert_eq!(l.next(now), [addr(50)]);
        l.answered(addr(50), id(1), &[], Some(vec![50]));
        for a in first.iter().skip(1) {
            l.failed(*a);
        }
        let mut rounds = 0;
        while !l.done() && rounds < 100 {
            rounds += 1;
            for a in l.next(now) {
                let i = a
                    .ip()
                    .to_string()
                    .rsplit('.')
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap();
                l.answered(
                    a,
                    if i >= 50 { id(i - 49) } else { id(100 + i) },
                    &[],
                    Some(vec![i]),
                );
            }
        }
        assert!(l.done());
        let t = l.tokens(2);
        assert_eq!(t[0].0, addr(50));
        assert_eq!(t[1].0, addr(51));
    }

    #[test]
    fn silent_nodes_time_out_and_the_lookup_ends() {
        let now = Instant::now();
        let mut l = Lookup::new(id(0), [(None, addr(1))]);
        assert_eq!(l.next(now).len(), 1);
        assert!(!l.done());
        assert!(l.next(now + QUERY_TIMEOUT).is_empty());
        assert!(l.done());
        assert_eq!(l.answers(), 0);
    }

    #[test]
    fn endless_contacts_are_capped() {
        let now = Instant::now();
        let mut l = Lookup::new(id(0), [(None, addr(1))]);
        l.next(now);
        let flood: Vec<_> = (0..=255u8)
            .map(|i| (id(i), SocketAddr::from(([10, 1, 0, i], 1))))
            .collect();
        l.answered(addr(1), id(200), &flood, None);
        assert!(l.cands.len() <= MAX_CANDIDATES);
    }
}
