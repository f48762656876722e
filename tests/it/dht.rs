//! The DHT (issue 13) on a private DHT of loopback nodes: 20 of our nodes (in this process, on
//! 127.0.0.11-30, bootstrapped from a router on 127.0.0.10) and the real tools.
//!
//! Every test here runs inside a network namespace that has only loopback: the test re-runs
//! itself under `unshare --net` (after `ip link set lo up`) and asserts that run passed, and
//! inside it first checks that no route leaves the machine. Every node and tool is given loopback
//! bootstrap nodes; the default routers are never named (and could not be reached).

use crate::common::*;
use crate::harness::*;
use bt::dht::{Config, Node};
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const NETNS: &str = "BT_DHT_NETNS";
/// The router every node and tool bootstraps from.
const ROUTER: &str = "127.0.0.10:6881";
/// Nodes besides the router.
const NODES: usize = 20;

/// Outside the namespace: run `test` of this binary again in a fresh network namespace with
/// only loopback, assert that it passed, and return false. Inside: check that nothing but
/// loopback is reachable and return true.
fn in_netns(test: &str) -> bool {
    if std::env::var_os(NETNS).is_some() {
        let s = UdpSocket::bind("0.0.0.0:0").unwrap();
        // router.bittorrent.com's address: unreachable, there is no route.
        let e = s.connect("67.215.246.10:6881").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENETUNREACH), "{e}");
        return true;
    }
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--net",
        "sh",
        "-c",
        "ip link set lo up && exec \"$0\" \"$@\"",
    ])
    .arg(exe)
    .args([test, "--exact", "--nocapture", "--test-threads=1"])
    .env(NETNS, "1");
    let r = run_cmd(&mut cmd, None, Duration::from_secs(400));
    let out = r.stdout_str();
    assert!(
        r.code == 0 && out.contains("1 passed"),
        "{test} in a network namespace (exit {}):\n{out}\n{}",
        r.code,
        r.stderr
    );
    false
}

/// The private DHT: the router (which bootstraps from nobody) and [`NODES`] nodes.
struct Dht {
    nodes: Vec<Node>,
}

fn node(addr: &str, boot: &[&str]) -> Node {
    Node::start(Config {
        bind: addr.parse().unwrap(),
        bootstrap: boot.iter().map(|s| s.to_string()).collect(),
        state: None,
    })
    .unwrap()
}

impl Dht {
    fn start() -> Dht {
        let mut nodes = vec![node(ROUTER, &[])];
        for i in 0..NODES {
            nodes.push(node(&format!("127.0.0.{}:6881", 11 + i), &[ROUTER]));
        }
        // Two rounds of self-lookups, in parallel, so that the tables know each other.
        for _ in 0..2 {
            std::thread::scope(|sc| {
                for n in &nodes[1..] {
                    sc.spawn(|| n.bootstrap(Duration::from_secs(5)));
                }
            });
        }
        let contacts: Vec<usize> = nodes.iter().map(|n| n.stats().contacts).collect();
        assert!(
            contacts.iter().all(|c| *c >= 5),
            "routing tables: {contacts:?}"
        );
        Dht { nodes }
    }
}

/// One of our tools with the DHT on (the suite's BT_NO_DHT removed), bootstrapping from `boot`
/// with its state in `state`.
fn tool(name: &str, boot: &str, state: &Path) -> Command {
    let mut c = Command::new(bin(name));
    c.env_remove("BT_NO_DHT")
        .args(["--dht-bootstrap", boot, "--dht-state"])
        .arg(state);
    c
}

/// bt-seed of `s` on `ip` announcing into the DHT; returns it and its peer port.
fn dht_seeder(s: &Sample, ip: &str, state: &Path) -> (Bg, u16) {
    let mut cmd = tool("bt-seed", ROUTER, state);
    cmd.arg(&s.torrent)
        .arg("-d")
        .arg(s.seed_dir())
        .args(["--bind", ip, "--port", "0", "--no-announce", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut bg = Bg::spawn(&mut cmd, "bt-seed");
    let lines = Lines::collect(bg.child.stdout.take().unwrap());
    assert!(
        wait_for(30, || !lines.of::<Listening>().is_empty()),
        "bt-seed listening"
    );
    let port = lines.of::<Listening>()[0].port;
    (bg, port)
}

/// `bt-announce --dht` until it names `want` (90 s at most; alone it takes well under a
/// second, but one clean-clone CI run, with the whole suite sharing 2 cores, saw 30 s of 5 s
/// lookups find nothing); the last run.
fn announce_until(target: &str, ip: &str, state: &Path, want: SocketAddr) -> Run {
    let start = Instant::now();
    loop {
        let mut cmd = tool("bt-announce", ROUTER, state);
        cmd.args([target, "--dht", "--json", "--timeout", "10", "--bind", ip]);
        let r = run_cmd(&mut cmd, None, Duration::from_secs(60));
        assert_eq!(r.code, 0, "bt-announce --dht: {}", r.stderr);
        let found = r.peers().iter().any(|p| {
            p.tracker.as_deref() == Some("dht")
                && format!("{}:{}", p.ip, p.port) == want.to_string()
        });
        if found || start.elapsed() > Duration::from_secs(90) {
            assert!(
                found,
                "bt-announce --dht never named {want}: stdout {} stderr {}",
                r.stdout_str(),
                r.stderr
            );
            return r;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The private DHT with a bt-seed of the standard sample on 127.0.0.50 announcing into it.
struct World {
    dht: Dht,
    tmp: tempfile::TempDir,
    s: Sample,
    magnet: String,
    /// bt-seed's peer address.
    seed: SocketAddr,
    _seeder: Bg,
}

impl World {
    fn start() -> World {
        let dht = Dht::start();
        let (tmp, s) = (tempdir(), Sample::standard());
        let (seeder, port) = dht_seeder(&s, "127.0.0.50", &tmp.path().join("seed.json"));
        World {
            dht,
            magnet: magnet_of(&s, &[], &[]),
            seed: format!("127.0.0.50:{port}").parse().unwrap(),
            tmp,
            s,
            _seeder: seeder,
        }
    }
    fn path(&self, name: &str) -> std::path::PathBuf {
        self.tmp.path().join(name)
    }
}

fn fetch_magnet(magnet: &str, dl: &Path, ip: &str, boot: &str, state: &Path) -> Run {
    let mut cmd = tool("bt-fetch", boot, state);
    cmd.arg(magnet)
        .arg("-d")
        .arg(dl)
        .args(["--bind", ip, "--json", "--timeout", "90"]);
    run_cmd(&mut cmd, None, Duration::from_secs(120))
}

#[test]
fn bt_seed_announces_and_bt_fetch_finds_it_by_magnet_alone() {
    if !in_netns("dht::bt_seed_announces_and_bt_fetch_finds_it_by_magnet_alone") {
        return;
    }
    let w = World::start();
    announce_until(&w.magnet, "127.0.0.60", &w.path("a.json"), w.seed);
    let dl = w.path("dl");
    let r = fetch_magnet(&w.magnet, &dl, "127.0.0.70", ROUTER, &w.path("f.json"));
    assert_eq!(r.code, 0, "bt-fetch MAGNET: {}", r.stderr);
    assert_eq!(w.s.verify(&dl).0, 0, "bt-verify");
    // The routing table was saved for the next run.
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(w.path("f.json")).unwrap()).unwrap();
    assert!(saved["nodes"].as_array().unwrap().len() >= 8, "{saved}");
}

#[test]
fn a_second_run_starts_warm_without_the_bootstrap_node() {
    if !in_netns("dht::a_second_run_starts_warm_without_the_bootstrap_node") {
        return;
    }
    let mut w = World::start();
    announce_until(&w.magnet, "127.0.0.60", &w.path("a.json"), w.seed);
    let state = w.path("fetch.json");
    let r = fetch_magnet(&w.magnet, &w.path("dl1"), "127.0.0.70", ROUTER, &state);
    assert_eq!(r.code, 0, "first bt-fetch: {}", r.stderr);
    // Stop the router. The second run names another bootstrap node, a tripwire that counts
    // what reaches it: the saved table must be enough.
    drop(w.dht.nodes.remove(0));
    let tripwire = UdpSocket::bind("127.0.0.9:6881").unwrap();
    tripwire.set_nonblocking(true).unwrap();
    let dl = w.path("dl2");
    let r = fetch_magnet(&w.magnet, &dl, "127.0.0.71", "127.0.0.9:6881", &state);
    assert_eq!(r.code, 0, "warm bt-fetch: {}", r.stderr);
    assert_eq!(w.s.verify(&dl).0, 0, "bt-verify");
    let mut buf = [0u8; 2048];
    let got = tripwire.recv_from(&mut buf);
    assert!(got.is_err(), "the bootstrap node was contacted: {got:?}");
}

#[test]
fn hostile_packets_do_not_stop_a_node_answering() {
    if !in_netns("dht::hostile_packets_do_not_stop_a_node_answering") {
        return;
    }
    use bt::dht::krpc::{self, Body, Msg, NodeId, Query, Response};
    // The node bootstraps from the hostile program, whose answers point at the node itself, at
    // unusable addresses, and at thousands of made-up nodes.
    let evil = UdpSocket::bind("127.0.0.66:6881").unwrap();
    evil.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let n = node("127.0.0.65:6881", &["127.0.0.66:6881"]);
    let me = n.addr();
    let bogus = |i: u32| -> (NodeId, SocketAddr) {
        let mut id = [0u8; 20];
        id[..4].copy_from_slice(&i.to_be_bytes());
        let addrs = [
            me,
            "0.0.0.0:1".parse().unwrap(),
            "224.0.0.1:6881".parse().unwrap(),
            "255.255.255.255:1".parse().unwrap(),
            "127.0.0.77:0".parse().unwrap(),
        ];
        (NodeId(id), addrs[i as usize % addrs.len()])
    };
    let start = Instant::now();
    let mut answered = 0;
    while start.elapsed() < Duration::from_secs(6) {
        let mut buf = [0u8; 4096];
        let Ok((len, from)) = evil.recv_from(&mut buf) else {
            continue;
        };
        let Ok(m) = krpc::decode(&buf[..len]) else {
            continue;
        };
        if let Body::Query { .. } = m.body {
            let nodes = (answered * 20..answered * 20 + 20).map(bogus).collect();
            let r = Msg {
                tid: m.tid,
                body: Body::Response(Response {
                    id: Some(NodeId([0xee; 20])),
                    nodes,
                    values: vec![me],
                    token: Some(vec![1; 8]),
                }),
            };
            evil.send_to(&r.encode(), from).unwrap();
            answered += 1;
        }
    }
    assert!(
        answered > 0,
        "the node never asked the hostile bootstrap node"
    );
    // Only the hostile node itself made it into the table: none of the addresses it named.
    assert_eq!(n.stats().contacts, 1, "{:?}", n.stats());
    // A flood: garbage, oversized and deep packets, forged tokens, thousands of queries.
    let flood = UdpSocket::bind("127.0.0.67:0").unwrap();
    let deep = [&b"d1:ad2:id"[..], &[b'l'; 3000], &[b'e'; 3000]].concat();
    let forged = Msg::query(
        b"ff",
        NodeId([3; 20]),
        Query::AnnouncePeer {
            info_hash: NodeId([4; 20]),
            port: 1,
            implied_port: false,
            token: b"forged".to_vec(),
        },
    )
    .encode();
    let ping = Msg::query(
        b"pp",
        NodeId([5; 20]),
        Query::FindNode {
            target: NodeId([6; 20]),
        },
    )
    .encode();
    let big = vec![b'x'; 60_000];
    for i in 0..20_000 {
        let p: &[u8] = match i % 5 {
            0 => b"d1:ad2:id20:",
            1 => &deep,
            2 => &big,
            3 => &forged,
            _ => &ping,
        };
        let _ = flood.send_to(p, me);
    }
    // An honest node (another address) is still answered, promptly.
    let honest = UdpSocket::bind("127.0.0.68:0").unwrap();
    honest
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    // Five honest queries, each re-sent (at most 10 times, once a second) while the kernel may
    // still drop packets of a socket buffer the flood filled: every one is answered.
    let mut answers = 0;
    for i in 0..5u8 {
        let q = Msg::query(
            &[b'h', i],
            NodeId([9; 20]),
            Query::GetPeers {
                info_hash: NodeId([8; 20]),
            },
        );
        let mut buf = [0u8; 2048];
        'tries: for _ in 0..10 {
            honest.send_to(&q.encode(), me).unwrap();
            // The node may ping us too (a stranger that queries is a possible contact): skip it.
            while let Ok((len, _)) = honest.recv_from(&mut buf) {
                let m = krpc::decode(&buf[..len]).unwrap();
                if let Body::Response(r) = m.body {
                    if m.tid == q.tid {
                        assert!(r.token.is_some());
                        answers += 1;
                        break 'tries;
                    }
                }
            }
        }
    }
    assert_eq!(answers, 5, "honest queries answered");
    let st = n.stats();
    assert!(st.malformed > 100 && st.dropped > 100, "{st:?}");
    // Nothing of the forged announces was stored.
    let lone = node("127.0.0.69:6881", &[&me.to_string()]);
    let f = lone.get_peers([4; 20], None, Duration::from_secs(3));
    assert!(f.answers >= 1 && f.peers.is_empty(), "{f:?}");
}

/// A libtorrent session on `argv[2]:argv[3]` (its DHT on the same port) with the DHT on,
/// bootstrapped from argv[4] only, and LSD, UPnP, NAT-PMP off. `fetch MAGNET SAVE` downloads
/// and prints `complete`; `seed TORRENT SAVE` seeds and prints `seeding` once its DHT knows
/// nodes (then runs until killed).
const LIBTORRENT: &str = r#"
import sys, time, libtorrent as lt
mode, ip, port, boot, what, save = sys.argv[1:7]
s = lt.session({
    'listen_interfaces': '%s:%s' % (ip, port), 'outgoing_interfaces': ip,
    'enable_dht': True, 'dht_bootstrap_nodes': boot,
    'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
    'dht_restrict_routing_ips': False, 'dht_restrict_search_ips': False,
    'dht_ignore_dark_internet': False, 'dht_enforce_node_id': False,
    'dht_prefer_verified_node_ids': False, 'dht_announce_interval': 2,
    'allow_multiple_connections_per_ip': True,
    'alert_mask': lt.alert.category_t.status_notification | lt.alert.category_t.error_notification,
})
if mode == 'fetch':
    p = lt.parse_magnet_uri(what)
else:
    p = lt.add_torrent_params()
    p.ti = lt.torrent_info(what)
p.save_path = save
h = s.add_torrent(p)
h.resume()
deadline = time.time() + 120
said = False
while time.time() < deadline:
    st = h.status()
    if mode == 'fetch' and st.is_seeding:
        print('complete', flush=True)
        sys.exit(0)
    if mode == 'seed' and st.is_seeding and s.status().dht_nodes > 0 and not said:
        print('seeding', flush=True)
        said = True
    time.sleep(0.2)
print('timed out: state %s, %d peers, dht nodes %d' % (st.state, st.num_peers, s.status().dht_nodes), flush=True)
sys.exit(1)
"#;

fn libtorrent(mode: &str, ip: &str, port: u16, what: &str, save: &Path) -> Command {
    let mut c = Command::new("/usr/bin/python3");
    c.args(["-c", LIBTORRENT, mode, ip, &port.to_string(), ROUTER, what])
        .arg(save);
    c
}

#[test]
fn libtorrent_and_bt_find_each_other_through_our_dht() {
    if !in_netns("dht::libtorrent_and_bt_find_each_other_through_our_dht") {
        return;
    }
    // libtorrent finds bt-seed through the DHT and downloads from it.
    let w = World::start();
    let (s, tmp) = (&w.s, &w.tmp);
    let dl = tmp.path().join("lt");
    let mut lt = libtorrent("fetch", "127.0.0.80", 6881, &w.magnet, &dl);
    let r = run_cmd(&mut lt, None, Duration::from_secs(150));
    assert!(
        r.code == 0 && r.stdout_str().contains("complete"),
        "libtorrent: {} {}",
        r.stdout_str(),
        r.stderr
    );
    assert_eq!(s.verify(&dl).0, 0, "bt-verify of libtorrent's download");
    // bt-fetch finds a libtorrent seeder through the DHT.
    let s2 = Sample::data(&[("a.bin", 300_000), ("b.bin", 70_000)]);
    let mut cmd = libtorrent(
        "seed",
        "127.0.0.81",
        6882,
        s2.torrent.to_str().unwrap(),
        &s2.seed_dir(),
    );
    cmd.stdout(Stdio::piped()).stderr(Stdio::null());
    let mut seeder = Bg::spawn(&mut cmd, "libtorrent seeder");
    let (tx, rx) = std::sync::mpsc::channel();
    let out = std::io::BufReader::new(seeder.child.stdout.take().unwrap());
    std::thread::spawn(move || {
        use std::io::BufRead;
        out.lines()
            .map_while(Result::ok)
            .for_each(|l| drop(tx.send(l)))
    });
    let said = rx.recv_timeout(Duration::from_secs(60));
    assert_eq!(said.as_deref(), Ok("seeding"), "libtorrent seeder");
    let dl = tmp.path().join("from-lt");
    let r = fetch_magnet(
        &magnet_of(&s2, &[], &[]),
        &dl,
        "127.0.0.70",
        ROUTER,
        &tmp.path().join("f.json"),
    );
    assert_eq!(r.code, 0, "bt-fetch from libtorrent: {}", r.stderr);
    assert_eq!(s2.verify(&dl).0, 0, "bt-verify");
}

/// aria2c with its DHT on (the later flag wins over the harness's `--enable-dht=false`),
/// entering through our router only; LPD, PEX and IPv6 off.
fn aria2c_dht(ip: &str, dht_port: u16, tmp: &Path) -> Command {
    let mut c = aria2c(ip);
    c.args([
        "--enable-dht=true",
        &format!("--dht-entry-point={ROUTER}"),
        &format!("--dht-listen-port={dht_port}"),
    ])
    .arg(format!(
        "--dht-file-path={}",
        tmp.join(format!("aria2-{ip}.dht")).display()
    ));
    c
}

#[test]
fn aria2c_and_bt_find_each_other_through_our_dht() {
    if !in_netns("dht::aria2c_and_bt_find_each_other_through_our_dht") {
        return;
    }
    // aria2c, entering our DHT, finds bt-seed by magnet and downloads.
    let w = World::start();
    let (s, tmp) = (&w.s, &w.tmp);
    let dl = tmp.path().join("aria2c");
    let mut cmd = aria2c_dht("127.0.0.90", 6891, tmp.path());
    cmd.args(["--listen-port=6892", "--seed-time=0"])
        .arg(format!("--dir={}", dl.display()))
        .arg(&w.magnet);
    let r = run_cmd(&mut cmd, None, Duration::from_secs(150));
    assert_eq!(r.code, 0, "aria2c: {} {}", r.stdout_str(), r.stderr);
    assert_eq!(s.verify(&dl).0, 0, "bt-verify of aria2c's download");
    // bt-fetch finds an aria2c seeder through the DHT.
    let s2 = Sample::data(&[("c.bin", 200_000)]);
    let mut cmd = aria2c_dht("127.0.0.91", 6893, tmp.path());
    cmd.args([
        "--listen-port=6894",
        "--check-integrity=true",
        "--seed-ratio=0.0",
    ])
    .arg(format!("--dir={}", s2.seed_dir().display()))
    .arg(&s2.torrent)
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    let _aria2c = Bg::spawn(&mut cmd, "aria2c seeder");
    let dl = tmp.path().join("from-aria2c");
    let r = fetch_magnet(
        &magnet_of(&s2, &[], &[]),
        &dl,
        "127.0.0.70",
        ROUTER,
        &tmp.path().join("f.json"),
    );
    assert_eq!(r.code, 0, "bt-fetch from aria2c: {}", r.stderr);
    assert_eq!(s2.verify(&dl).0, 0, "bt-verify");
}

/// The `status` records of `bt-ctl -c SOCKET ls --json`.
fn daemon_ls(socket: &Path) -> Vec<bt::record::StatusRecord> {
    let mut cmd = Command::new(bin("bt-ctl"));
    cmd.arg("-c").arg(socket).args(["ls", "--json"]);
    let r = run_cmd(&mut cmd, None, Duration::from_secs(30));
    let text = r.stdout_str();
    let parsed = text.lines().filter_map(|l| serde_json::from_str(l).ok());
    parsed
        .filter_map(|r| match r {
            bt::record::Record::Status(s) => Some(s),
            _ => None,
        })
        .collect()
}

#[test]
fn a_daemon_finds_a_magnets_peers_through_its_dht() {
    if !in_netns("dht::a_daemon_finds_a_magnets_peers_through_its_dht") {
        return;
    }
    let w = World::start();
    announce_until(&w.magnet, "127.0.0.60", &w.path("a.json"), w.seed);
    // One daemon, its one node bootstrapping from the loopback router; the magnet names
    // neither a peer nor a tracker, so only the DHT can find the seeder.
    let socket = w.path("ctl.sock");
    let mut cmd = tool("bt-seed", ROUTER, &w.path("d.json"));
    cmd.arg("--control")
        .arg(&socket)
        .args(["--bind", "127.0.0.80", "--no-announce", "-q"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _daemon = Bg::spawn(&mut cmd, "bt-seed --control");
    assert!(
        wait_for(20, || std::os::unix::net::UnixStream::connect(&socket)
            .is_ok()),
        "the daemon's socket"
    );
    let dl = w.path("dl");
    let mut add = Command::new(bin("bt-ctl"));
    add.arg("-c")
        .arg(&socket)
        .args(["add", &w.magnet, "-d", dl.to_str().unwrap(), "--json"]);
    let r = run_cmd(&mut add, None, Duration::from_secs(30));
    assert_eq!(r.code, 0, "bt-ctl add: {} {}", r.stdout_str(), r.stderr);
    let mut last = None;
    let seeding = wait_for(120, || {
        last = daemon_ls(&socket).pop();
        last.as_ref()
            .is_some_and(|s| s.state == "seeding" && s.progress == 1.0)
    });
    assert!(
        seeding,
        "the daemon never seeded the magnet; last: {last:?}"
    );
    assert!(last.unwrap().downloaded > 0);
    assert_eq!(w.s.verify(&dl).0, 0, "bt-verify");
}
