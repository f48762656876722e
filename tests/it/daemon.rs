//! The daemon (issue 16): `bt-seed --control` driven from the shell with `bt-ctl` (add, list,
//! limit, pause, resume, remove, malformed commands, another user refused), restarts with the
//! same `--state` after SIGTERM and after `kill -9`, `--watch-dir`, and `bt-top` under tmux.

use crate::common::*;
use crate::harness::{magnet_of, wait_for, Sample, Seeder};
use bt::record::{Record as R, StatusRecord};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A `bt-seed --control` in the background, killed by PID when dropped.
struct Daemon {
    bg: Bg,
    socket: PathBuf,
}

impl Daemon {
    /// Start a daemon on `root/ctl.sock` with `args`, and wait (20 s at most) for its socket.
    fn start(root: &Path, args: &[&str]) -> Daemon {
        let socket = root.join("ctl.sock");
        let mut cmd = Command::new(bin("bt-seed"));
        cmd.arg("--control")
            .arg(&socket)
            .args(["--bind", "127.0.0.1", "--no-announce", "-q"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut d = Daemon {
            bg: Bg::spawn(&mut cmd, "bt-seed --control"),
            socket,
        };
        let up = wait_for(20, || UnixStream::connect(&d.socket).is_ok());
        if !up {
            let status = d.bg.wait_timeout(Duration::from_millis(10));
            panic!("the daemon's socket never answered (exit: {status:?})");
        }
        d
    }

    /// `bt-ctl -c SOCKET ARGS --json`.
    fn ctl(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new(bin("bt-ctl"));
        cmd.arg("-c").arg(&self.socket).args(args).arg("--json");
        run_cmd(&mut cmd, None, Duration::from_secs(60))
    }

    /// `bt-ctl add` of `s` into `dl`, dialing `seeder`; asserts exit 0.
    fn add(&self, s: &Sample, dl: &Path, seeder: &Seeder) -> Run {
        let (torrent, dir) = (s.torrent.to_str().unwrap(), dl.to_str().unwrap());
        let add = self.ctl(&["add", torrent, "-d", dir, "--peer", &seeder.peer()]);
        assert_eq!(add.code, 0, "add: {} {}", add.stdout_str(), add.stderr);
        add
    }

    /// The `status` records of `bt-ctl ls`.
    fn ls(&self) -> Vec<StatusRecord> {
        let r = self.ctl(&["ls"]);
        assert_eq!(r.code, 0, "bt-ctl ls: {}", r.stderr);
        typed(&r)
            .into_iter()
            .filter_map(|r| match r {
                R::Status(s) => Some(s),
                _ => None,
            })
            .collect()
    }

    /// The one torrent's status (panics unless exactly one is listed).
    fn one(&self) -> StatusRecord {
        let mut l = self.ls();
        assert_eq!(l.len(), 1, "{l:?}");
        l.pop().unwrap()
    }

    /// Wait (`secs` at most) until one torrent is listed and its status satisfies `cond`; the
    /// status.
    fn until(&self, secs: u64, what: &str, cond: impl Fn(&StatusRecord) -> bool) -> StatusRecord {
        let mut last = None;
        let ok = wait_for(secs, || match self.ls().as_slice() {
            [s] => {
                last = Some(s.clone());
                cond(s)
            }
            _ => false,
        });
        assert!(ok, "{what} never happened within {secs} s; last: {last:?}");
        last.unwrap()
    }
}

fn typed(r: &Run) -> Vec<R> {
    let text = r.stdout_str();
    let lines = text.lines().filter(|l| !l.trim().is_empty());
    let parse = |l: &str| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}"));
    lines.map(parse).collect()
}

/// The last record of a bt-ctl answer.
fn last(r: &Run) -> R {
    typed(r)
        .pop()
        .unwrap_or_else(|| panic!("no record; {}", r.stderr))
}

/// The content of `s` fetched into `dl` equals the seed's.
fn same_content(s: &Sample, dl: &Path) -> bool {
    s.files.iter().all(|(p, _)| {
        std::fs::read(dl.join(p)).ok() == Some(std::fs::read(s.seed_dir().join(p)).unwrap())
    })
}

#[test]
fn add_list_limit_pause_resume_remove_from_the_shell() {
    let s = Sample::data(&[("a.bin", 6 << 20), ("b.bin", 2 << 20)]);
    let seeder = Seeder::of(&s).rate("1M").start();
    let root = tempdir();
    let dl = root.path().join("dl");
    let d = Daemon::start(root.path(), &[]);
    let mode = std::fs::metadata(&d.socket).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(mode.permissions().mode() & 0o777, 0o600, "socket mode");

    let add = d.add(&s, &dl, &seeder);
    match last(&add) {
        R::Ok(ok) => assert_eq!(ok.info_hash.as_deref(), Some(&*s.info_hash_hex())),
        other => panic!("add answered {other:?}"),
    }
    let again = d.ctl(&[
        "add",
        s.torrent.to_str().unwrap(),
        "-d",
        dl.to_str().unwrap(),
    ]);
    assert!(matches!(last(&again), R::Error(e) if e.code == "exists"));
    assert_eq!(again.code, 2);

    // Progressing: some but not all of it, a peer, a rate.
    let p = d.until(30, "progress", |st| {
        st.state == "downloading" && st.progress > 0.05 && st.progress < 0.6
    });
    assert_eq!((p.name.as_str(), p.peers), ("data", 1), "{p:?}");

    // A per-torrent download limit of 256 KiB/s, measured over 3 s of the daemon's counters.
    let lim = d.ctl(&["limit", "--down", "256K", &s.info_hash_hex()[..8]]);
    assert_eq!(lim.code, 0, "limit: {}", lim.stderr);
    let limits = typed(&lim);
    assert!(
        matches!(&limits[0], R::Limits(l) if l.down == Some(256 << 10) && l.up.is_none()),
        "{limits:?}"
    );
    std::thread::sleep(Duration::from_millis(1500));
    let (a, t0) = (d.one().downloaded, Instant::now());
    std::thread::sleep(Duration::from_secs(3));
    let (b, secs) = (d.one().downloaded, t0.elapsed().as_secs_f64());
    let rate = (b - a) as f64 / secs;
    eprintln!("limited to 256 KiB/s: {rate:.0} B/s over {secs:.1} s");
    assert!(rate < 400_000.0, "{rate:.0} B/s under a 256 KiB/s limit");
    assert_eq!(d.one().down_limit, Some(256 << 10));

    // Paused: nothing moves, the torrent stays listed.
    let pause = d.ctl(&["pause", "data"]);
    assert_eq!(pause.code, 0, "pause: {}", pause.stderr);
    let paused = d.until(10, "paused", |st| st.state == "paused");
    assert!(
        paused.progress < 1.0,
        "finished before the pause: {paused:?}"
    );
    std::thread::sleep(Duration::from_secs(2));
    let later = d.one();
    assert_eq!(
        (later.downloaded, later.bytes_have, later.peers, later.port),
        (paused.downloaded, paused.bytes_have, 0, None),
        "bytes moved while paused"
    );

    // Resumed without the limit: it verifies what it has and finishes.
    assert_eq!(d.ctl(&["limit", "--down", "0", "data"]).code, 0);
    assert_eq!(d.ctl(&["resume", "data"]).code, 0);
    let done = d.until(60, "seeding", |st| {
        st.state == "seeding" && st.progress == 1.0
    });
    let fetched_after = done.downloaded - paused.downloaded;
    assert!(
        fetched_after <= done.bytes_total - paused.bytes_have,
        "verified data fetched again: {fetched_after} bytes after resuming at {}",
        paused.bytes_have
    );
    assert!(same_content(&s, &dl));

    // Removed: gone from the list, files stay.
    let rm = d.ctl(&["rm", &s.info_hash_hex()]);
    assert_eq!(rm.code, 0, "rm: {}", rm.stderr);
    assert!(d.ls().is_empty());
    assert!(same_content(&s, &dl), "files removed with the torrent");
    let missing = d.ctl(&["pause", "data"]);
    assert_eq!(missing.code, 1, "pause of a removed torrent");
    assert!(matches!(last(&missing), R::Error(e) if e.code == "not_found"));
    drop(seeder);
}

#[test]
fn malformed_commands_get_error_records_and_the_connection_stays_usable() {
    let root = tempdir();
    let d = Daemon::start(root.path(), &[]);
    let mut c = UnixStream::connect(&d.socket).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = BufReader::new(c.try_clone().unwrap());
    let mut answer = |line: &str| -> serde_json::Value {
        c.write_all(format!("{line}\n").as_bytes()).unwrap();
        let mut got = String::new();
        r.read_line(&mut got).unwrap();
        serde_json::from_str(&got).unwrap_or_else(|e| panic!("{got:?}: {e}"))
    };
    for (line, cmd, says) in [
        ("this is not json", None, "not a JSON object"),
        (r#"{"no":"cmd"}"#, None, "no \"cmd\" field"),
        (
            r#"{"cmd":"explode"}"#,
            Some("explode"),
            "unknown command \"explode\"",
        ),
        (
            r#"{"cmd":"pause"}"#,
            Some("pause"),
            "missing field `torrent`",
        ),
        (
            r#"{"cmd":"add","torrent":"rel.torrent","dir":"/x"}"#,
            Some("add"),
            "not an absolute path",
        ),
    ] {
        let e = answer(line);
        assert_eq!(e["type"], "error", "{line}: {e}");
        assert_eq!(e["code"], "bad_command", "{line}: {e}");
        assert_eq!(e["cmd"].as_str(), cmd, "{line}: {e}");
        assert!(e["error"].as_str().unwrap().contains(says), "{line}: {e}");
    }
    let ok = answer(r#"{"cmd":"list"}"#);
    assert_eq!(
        (ok["type"].as_str(), ok["count"].as_u64()),
        (Some("ok"), Some(0))
    );
}

#[test]
fn another_user_is_refused() {
    assert!(have("setpriv"), "setpriv (util-linux) is not installed");
    let root = tempdir();
    let d = Daemon::start(root.path(), &[]);
    let as_nobody = || {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
            .arg(bin("bt-ctl"))
            .arg("-c")
            .arg(&d.socket)
            .args(["ls", "--json"]);
        run_cmd(&mut cmd, None, Duration::from_secs(20))
    };
    // The socket is mode 0600: the kernel refuses the connection.
    let r = as_nobody();
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("cannot connect"), "{}", r.stderr);
    // Opened up by hand, the daemon itself refuses the other uid (SO_PEERCRED).
    use std::os::unix::fs::PermissionsExt;
    let open = |p: &Path, m| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m));
    open(root.path(), 0o755).unwrap();
    open(&d.socket, 0o666).unwrap();
    let r = as_nobody();
    assert_eq!(r.code, 2, "{r:?}");
    match last(&r) {
        R::Error(e) => {
            assert_eq!(e.code, "refused");
            assert!(e.error.contains("uid 65534"), "{}", e.error);
        }
        other => panic!("nobody got {other:?}"),
    }
    assert!(!r.stdout_str().contains("\"ok\""), "{}", r.stdout_str());
    // The owner still can.
    assert!(d.ls().is_empty());
}

#[test]
fn restarts_with_the_same_state_bring_the_torrents_back_without_refetching() {
    let s = Sample::data(&[("big.bin", 8 << 20)]);
    let seeder = Seeder::of(&s).rate("1M").start();
    let root = tempdir();
    let (dl, state) = (root.path().join("dl"), root.path().join("state.json"));
    let args = ["--state", state.to_str().unwrap()];
    let d = Daemon::start(root.path(), &args);
    d.add(&s, &dl, &seeder);
    let mut d = Some(d);
    for (signal_no, name, at) in [(15, "SIGTERM", 0.2), (9, "kill -9", 0.5)] {
        let mut cur = d.take().unwrap();
        let before = cur.until(60, "progress", |st| st.progress >= at);
        assert!(before.progress < 1.0, "finished before {name}");
        signal(cur.bg.pid(), signal_no);
        let status = cur.bg.wait_timeout(Duration::from_secs(15));
        let status = status.unwrap_or_else(|| panic!("the daemon outlived {name}"));
        if signal_no == 15 {
            assert_eq!(status.code(), Some(0), "exit after SIGTERM");
        }
        drop(cur);
        let next = Daemon::start(root.path(), &args);
        let back = next.one();
        assert_eq!(back.info_hash, s.info_hash_hex(), "after {name}");
        assert_eq!(Path::new(&back.dir), dl, "after {name}");
        // Verification finds at least what was verified before, and that is not fetched again.
        let resumed = next.until(30, "verified", |st| st.state == "downloading");
        assert!(
            resumed.bytes_have >= before.bytes_have,
            "after {name}: {} bytes verified, {} before",
            resumed.bytes_have,
            before.bytes_have
        );
        d = Some(next);
        if signal_no == 9 {
            let d = d.as_ref().unwrap();
            let done = d.until(60, "complete", |st| st.progress == 1.0);
            assert!(
                done.downloaded <= done.bytes_total - before.bytes_have,
                "after {name}: fetched {} bytes with {} verified before",
                done.downloaded,
                before.bytes_have
            );
        }
    }
    assert!(same_content(&s, &dl));
}

#[test]
fn a_torrent_dropped_in_the_watch_dir_is_added_and_removed_with_its_file() {
    let s = Sample::data(&[("w.bin", 1 << 20)]);
    let seeder = Seeder::of(&s).start();
    let root = tempdir();
    let (watch, dl) = (root.path().join("watch"), root.path().join("dl"));
    std::fs::create_dir_all(&watch).unwrap();
    let args = [
        "--watch-dir",
        watch.to_str().unwrap(),
        "--watch-interval",
        "0.2",
        "-d",
        dl.to_str().unwrap(),
        "--peer",
        &seeder.peer(),
    ];
    let d = Daemon::start(root.path(), &args);
    assert!(d.ls().is_empty());
    std::fs::write(watch.join("notes.txt"), "not a torrent").unwrap();
    let dropped = watch.join("w.torrent");
    std::fs::copy(&s.torrent, &dropped).unwrap();
    let got = d.until(30, "complete", |st| st.progress == 1.0);
    assert_eq!(got.info_hash, s.info_hash_hex());
    assert!(same_content(&s, &dl));
    std::fs::remove_file(&dropped).unwrap();
    assert!(
        wait_for(10, || d.ls().is_empty()),
        "still listed: {:?}",
        d.ls()
    );
    assert!(same_content(&s, &dl), "files removed with the torrent");
}

/// A private tmux server (`tmux -L NAME`), killed when dropped.
struct Tmux(String);

impl Tmux {
    fn start(cols: u16, rows: u16) -> Tmux {
        assert!(have("tmux"), "tmux is not installed (run ./scripts/test)");
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let t = Tmux(format!("bt-test-{}-{n}", std::process::id()));
        let (x, y) = (cols.to_string(), rows.to_string());
        let r = t.run(&["new-session", "-d", "-x", &x, "-y", &y, "sh"]);
        assert_eq!(r.code, 0, "tmux new-session: {}", r.stderr);
        t
    }
    fn run(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new("tmux");
        cmd.args(["-L", &self.0])
            .args(args)
            .env("TERM", "xterm-256color");
        run_cmd(&mut cmd, None, Duration::from_secs(10))
    }
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "0"];
        args.extend(keys);
        assert_eq!(self.run(&args).code, 0);
    }
    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "0"]).stdout_str()
    }
    /// Wait (`secs` at most) until the screen satisfies `cond`; the screen.
    fn until(&self, secs: u64, what: &str, cond: impl Fn(&str) -> bool) -> String {
        let ok = wait_for(secs, || cond(&self.screen()));
        let screen = self.screen();
        assert!(
            ok,
            "{what} never showed within {secs} s; the screen:\n{screen}"
        );
        screen
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

/// The percentage on the row of the torrent `name` (`… 48.3%`).
fn shown_percent(screen: &str, name: &str) -> Option<f64> {
    let row = screen
        .lines()
        .find(|l| l.contains(name) && l.contains('%'))?;
    let word = row.split_whitespace().find(|w| w.ends_with('%'))?;
    word.trim_end_matches('%').parse().ok()
}

#[test]
fn bt_top_under_tmux_shows_rising_progress_and_pause_and_restores_the_terminal() {
    let s = Sample::data(&[("top.bin", 8 << 20)]);
    let seeder = Seeder::of(&s).rate("1M").start();
    let root = tempdir();
    let dl = root.path().join("dl");
    let d = Daemon::start(root.path(), &[]);
    let t = Tmux::start(120, 40);
    let line = format!(
        "{} -c {}; echo BT-TOP-EXIT $?; stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon -e echo -e -echo | tr '\\n' ' '; echo",
        bin("bt-top").display(),
        d.socket.display()
    );
    t.keys(&[&line, "Enter"]);
    t.until(20, "bt-top", |sc| sc.contains("bt-top  0 torrents"));
    // Added once bt-top is up, so the download starts while it watches.
    d.add(&s, &dl, &seeder);
    let first = t.until(30, "a progress figure above 0", |sc| {
        sc.contains("bt-top") && shown_percent(sc, "data").is_some_and(|p| p > 0.0 && p < 60.0)
    });
    let a = shown_percent(&first, "data").unwrap();
    let later = t.until(30, "a rising progress figure", |sc| {
        shown_percent(sc, "data").is_some_and(|p| p > a)
    });
    eprintln!("bt-top under tmux:\n{later}");
    assert!(later.contains("downloading"), "{later}");
    // The selected torrent's detail: the seeder among its peers, a piece map with verified runs.
    let detail = t.until(20, "the peer and the piece map", |sc| {
        sc.contains(&seeder.peer()) && sc.lines().any(|l| l.contains("map  ") && l.contains('█'))
    });
    eprintln!("detail:\n{detail}");
    // Resized smaller, then larger: redrawn whole, the name and a progress figure still there.
    for (x, y) in [("90", "26"), ("130", "44")] {
        let r = t.run(&["resize-window", "-t", "0", "-x", x, "-y", y]);
        assert_eq!(r.code, 0, "tmux resize-window: {}", r.stderr);
        let sc = t.until(20, "a redraw after the resize", |sc| {
            let width = sc.lines().map(|l| l.chars().count()).max().unwrap_or(0);
            shown_percent(sc, "data").is_some() && width <= x.parse().unwrap()
        });
        let top = sc.lines().next().unwrap_or_default();
        assert!(
            top.starts_with("bt-top  1 torrents"),
            "after resizing to {x}x{y}:\n{sc}"
        );
    }
    t.keys(&["p"]);
    let paused = t.until(20, "the paused state", |sc| {
        sc.lines()
            .any(|l| l.contains("data") && l.contains("paused"))
    });
    eprintln!("after p:\n{paused}");
    assert_eq!(d.one().state, "paused");
    t.keys(&["q"]);
    let modes_of = |sc: &str| {
        let mut after_exit = sc.lines().skip_while(|l| !l.contains("BT-TOP-EXIT 0"));
        after_exit.nth(1).unwrap_or_default().trim().to_string()
    };
    // The modes come on the line after the exit status (stty may print them a moment later).
    let after = t.until(20, "the shell after quitting", |sc| {
        sc.contains("BT-TOP-EXIT 0") && modes_of(sc).contains("echo")
    });
    let modes = modes_of(&after);
    assert_eq!(
        modes.trim(),
        "icanon echo",
        "terminal modes after quitting:\n{after}"
    );
    assert!(
        !after.contains("PROGRESS"),
        "still on the UI's screen:\n{after}"
    );
    // The same under TERM=linux (the console's terminfo: no alternate screen, 8 colours).
    t.keys(&["clear", "Enter"]);
    let line = format!(
        "TERM=linux {} -c {}; echo LINUX-EXIT $?",
        bin("bt-top").display(),
        d.socket.display()
    );
    t.keys(&[&line, "Enter"]);
    let linux = t.until(20, "bt-top under TERM=linux", |sc| {
        sc.contains("bt-top  1 torrents")
            && sc
                .lines()
                .any(|l| l.contains("data") && l.contains("paused"))
    });
    eprintln!("TERM=linux:\n{linux}");
    t.keys(&["q"]);
    t.until(20, "the shell after quitting", |sc| {
        sc.contains("LINUX-EXIT 0")
    });
}

#[test]
fn a_magnet_is_added_fetched_seeded_and_comes_back_after_a_restart() {
    let s = Sample::data(&[("m.bin", 6 << 20)]);
    let seeder = Seeder::of(&s).rate("1M").start();
    let root = tempdir();
    let (dl, state) = (root.path().join("dl"), root.path().join("state.json"));
    let args = ["--state", state.to_str().unwrap()];
    let d = Daemon::start(root.path(), &args);
    let magnet = format!("{}&dn=magnetic", magnet_of(&s, &[], &[&seeder.peer()]));
    let add = d.ctl(&["add", &magnet, "-d", dl.to_str().unwrap()]);
    assert_eq!(add.code, 0, "add: {} {}", add.stdout_str(), add.stderr);
    match last(&add) {
        R::Ok(ok) => assert_eq!(ok.info_hash.as_deref(), Some(&*s.info_hash_hex())),
        other => panic!("add answered {other:?}"),
    }
    // Until the metadata is known, the state file keeps the magnet.
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(saved["torrents"][0]["magnet"].as_str(), Some(&*magnet));
    // Progressing under the torrent's own name, then seeding.
    let p = d.until(30, "progress", |st| {
        st.state == "downloading" && st.progress > 0.0 && st.progress < 0.8
    });
    assert_eq!((p.name.as_str(), p.bytes_total), ("data", 6 << 20), "{p:?}");
    let done = d.until(60, "seeding", |st| {
        st.state == "seeding" && st.progress == 1.0
    });
    assert_eq!(done.info_hash, s.info_hash_hex());
    assert!(same_content(&s, &dl));
    // Now the state file names the .torrent built from the metadata.
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    let kept = saved["torrents"][0]["torrent"]
        .as_str()
        .unwrap()
        .to_string();
    let info = run_cmd(
        Command::new(bin("bt-info")).args([&kept, "--json"]),
        None,
        Duration::from_secs(20),
    );
    assert!(
        info.stdout_str().contains(&s.info_hash_hex()),
        "{kept}: {info:?}"
    );
    drop(d);
    drop(seeder);
    // Restarted with the same state and no seeder: it comes back, complete, from the .torrent.
    let again = Daemon::start(root.path(), &args);
    let back = again.until(30, "verified again", |st| st.state == "seeding");
    assert_eq!((back.name.as_str(), back.progress), ("data", 1.0));
    assert_eq!(back.downloaded, 0, "{back:?}");
}

#[test]
fn tcp_control_takes_only_the_right_token_and_a_readable_token_file_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempdir();
    let token = root.path().join("token");
    std::fs::write(&token, "s3cret-token\n").unwrap();
    let chmod = |m| std::fs::set_permissions(&token, std::fs::Permissions::from_mode(m)).unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let tcp = [
        "--control-tcp",
        &addr,
        "--control-token",
        token.to_str().unwrap(),
    ];

    // A token file others may read: refused at start, exit 2, a one-line error naming it.
    chmod(0o644);
    let mut cmd = Command::new(bin("bt-seed"));
    cmd.arg("--control")
        .arg(root.path().join("refused.sock"))
        .args(["--bind", "127.0.0.1", "--no-announce", "-q"])
        .args(tcp);
    let r = run_cmd(&mut cmd, None, Duration::from_secs(20));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("token") && r.stderr.contains("0644") && r.stderr.contains("chmod 600"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);

    chmod(0o600);
    let d = Daemon::start(root.path(), &tcp);
    // A raw client: its first line is the answer it gets, then the connection is closed.
    let refused = |first: &str| {
        let mut c = std::net::TcpStream::connect(&addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c.write_all(format!("{first}\n{{\"cmd\":\"list\"}}\n").as_bytes())
            .unwrap();
        let mut r = BufReader::new(c);
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        let e: serde_json::Value = serde_json::from_str(&line).unwrap();
        let mut rest = String::new();
        let closed = r.read_line(&mut rest).map(|n| n == 0).unwrap_or(true);
        (e, closed, rest)
    };
    for (first, says) in [
        (r#"{"cmd":"list"}"#, "first line must be"),
        (r#"{"token":"wrong"}"#, "wrong token"),
        (r#"{"token":"s3cret-token-and-more"}"#, "wrong token"),
    ] {
        let (e, closed, rest) = refused(first);
        assert_eq!(
            (e["type"].as_str(), e["code"].as_str()),
            (Some("error"), Some("refused")),
            "{first}: {e}"
        );
        assert!(e["error"].as_str().unwrap().contains(says), "{first}: {e}");
        assert!(
            closed,
            "{first}: the connection stayed open and said {rest:?}"
        );
    }
    // The right token: commands work, over raw TCP and with bt-ctl --connect.
    let mut c = std::net::TcpStream::connect(&addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(b"{\"token\":\"s3cret-token\"}\n{\"cmd\":\"list\"}\n")
        .unwrap();
    let mut line = String::new();
    BufReader::new(c).read_line(&mut line).unwrap();
    assert!(
        line.contains("\"ok\"") && line.contains("\"count\":0"),
        "{line}"
    );
    let ctl = |token: &Path| {
        let mut cmd = Command::new(bin("bt-ctl"));
        cmd.args(["--connect", &addr, "--token-file"])
            .arg(token)
            .args(["ls", "--json"]);
        run_cmd(&mut cmd, None, Duration::from_secs(20))
    };
    let ok = ctl(&token);
    assert_eq!(ok.code, 0, "{ok:?}");
    assert!(
        matches!(last(&ok), R::Ok(o) if o.count == Some(0)),
        "{ok:?}"
    );
    let wrong = root.path().join("wrong");
    std::fs::write(&wrong, "nope").unwrap();
    let no = ctl(&wrong);
    assert_eq!(no.code, 2, "{no:?}");
    assert!(
        matches!(last(&no), R::Error(e) if e.code == "refused"),
        "{no:?}"
    );
    assert!(no.stderr.contains("wrong token"), "{}", no.stderr);
    drop(d);
}
