//! A private DHT for benchmarks: a router on 127.0.0.10:6881 (bootstrapping from nobody) and N
//! nodes on 127.0.0.11, 127.0.0.12, ... port 6881, all bootstrapped from the router only. Prints
//! `ready` once their routing tables know each other, then runs until standard input closes.
//! Run it only inside a network namespace with nothing but loopback (scripts/bench-dht does).
//!
//!   cargo run --example dht-nodes -- 20

use bt::dht::{Config, Node};
use std::time::Duration;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .filter(|n| (1..=200).contains(n))
        .unwrap_or_else(|| {
            eprintln!("usage: dht-nodes N (1 to 200)");
            std::process::exit(2)
        });
    let start = |addr: String, boot: Vec<String>| {
        let bind = addr.parse().expect("an address");
        Node::start(Config {
            bind,
            bootstrap: boot,
            state: None,
        })
        .unwrap_or_else(|e| {
            eprintln!("dht-nodes: {addr}: {e}");
            std::process::exit(2)
        })
    };
    let router = "127.0.0.10:6881".to_string();
    let mut nodes = vec![start(router.clone(), Vec::new())];
    for i in 0..n {
        nodes.push(start(
            format!("127.0.0.{}:6881", 11 + i),
            vec![router.clone()],
        ));
    }
    for _ in 0..2 {
        std::thread::scope(|s| {
            for node in &nodes[1..] {
                s.spawn(|| node.bootstrap(Duration::from_secs(5)));
            }
        });
    }
    println!("ready");
    let _ = std::io::stdin().read_line(&mut String::new());
}
