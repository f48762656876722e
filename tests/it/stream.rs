//! Streaming: `bt-fetch --stdout` in order while downloading, a closed stdout, `--keep-going`,
//! `--no-store` in bounded memory, `--sequential`.

use crate::common::*;
use crate::harness::*;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a streaming bt-fetch did.
struct Streamed {
    /// Time from the start to the first byte on stdout, and to the end of stdout.
    first: Option<Duration>,
    last: Duration,
    bytes: u64,
    /// `sha1sum`'s answer for the bytes read (all of them, or up to `close_after`).
    sha1sum: String,
    code: i32,
    stderr: String,
    /// bt-fetch's peak RSS in kB.
    peak_kb: u64,
}

/// Run `cmd` (a bt-fetch with `--stdout`), piping its stdout into `sha1sum`; with
/// `close_after`, close the pipe after that many bytes. Killed after `secs`.
fn stream(mut cmd: Command, close_after: Option<u64>, secs: u64) -> Streamed {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut fetch = Bg::spawn(&mut cmd, "bt-fetch");
    let pid = fetch.pid();
    let watch = Watch::start(pid);
    let mut out = fetch.child.stdout.take().unwrap();
    let mut err = fetch.child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let mut sum = Bg::spawn(
        Command::new("sha1sum")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped()),
        "sha1sum",
    );
    let mut sum_in = sum.child.stdin.take().unwrap();
    // A watchdog: the reads below block, so a hung bt-fetch is killed by PID.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let d2 = done.clone();
    std::thread::spawn(move || {
        let end = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < end && !d2.load(std::sync::atomic::Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
        }
        if !d2.load(std::sync::atomic::Ordering::Relaxed) {
            signal(pid, 9);
        }
    });
    let (mut first, mut bytes) = (None, 0u64);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let want = close_after.map_or(buf.len() as u64, |c| (c - bytes).min(buf.len() as u64));
        if want == 0 {
            break;
        }
        let n = out.read(&mut buf[..want as usize]).unwrap_or(0);
        if n == 0 {
            break;
        }
        first.get_or_insert_with(|| start.elapsed());
        bytes += n as u64;
        sum_in.write_all(&buf[..n]).unwrap();
    }
    let last = start.elapsed();
    drop(out);
    drop(sum_in);
    let status = fetch.wait_timeout(Duration::from_secs(secs));
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let (_, peak_kb) = watch.stop();
    let mut sha1sum = String::new();
    sum.child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut sha1sum)
        .unwrap();
    Streamed {
        first,
        last,
        bytes,
        sha1sum: sha1sum.split_whitespace().next().unwrap_or("").to_string(),
        code: status.and_then(|s| s.code()).unwrap_or(-1),
        stderr: stderr.join().unwrap(),
        peak_kb,
    }
}

fn sha1sum_of(path: &std::path::Path) -> String {
    let r = run_cmd(
        Command::new("sha1sum").arg(path),
        None,
        Duration::from_secs(60),
    );
    r.stdout_str()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// The one summary record bt-fetch wrote on stderr.
fn stderr_summary(s: &Streamed) -> Summary {
    let recs = of::<Summary>(&s.stderr);
    assert_eq!(recs.len(), 1, "one summary on stderr: {}", s.stderr);
    recs[0].clone()
}

#[test]
fn stdout_of_64_mib_is_the_source_in_order_while_it_downloads() {
    // One 64 MiB file in 256 KiB pieces, served at a bounded rate so the download takes a
    // few seconds and streaming can be seen (only ordering is asserted, never speed).
    let s = Sample::new(Maker::BtMake, "movie", &[("movie.bin", 64 << 20)], 18);
    let seeder = Seeder::of(&s).rate("32M").start();
    let out = tempdir();
    let dl = out.path().join("dl");
    let mut cmd = Fetcher::new(&s.torrent, &dl)
        .peer(seeder.peer())
        .args(&["--stdout", "--progress-json"])
        .command();
    cmd.stdout(Stdio::piped());
    let st = stream(cmd, None, 120);
    let source = s.seed_dir().join("movie/movie.bin");
    assert_eq!(st.code, 0, "{}", st.stderr);
    assert_eq!(st.bytes, 64 << 20);
    assert_eq!(st.sha1sum, sha1sum_of(&source), "the stream is the source");
    let first = st.first.expect("a first byte");
    eprintln!(
        "64 MiB --stdout: first byte {:.3} s, last byte {:.3} s",
        first.as_secs_f64(),
        st.last.as_secs_f64()
    );
    assert!(first < st.last);
    // Records went to stderr as JSON lines; progress came while the stream was flowing.
    let sum = stderr_summary(&st);
    assert!(sum.complete, "{sum:?}");
    assert!(!of::<Progress>(&st.stderr).is_empty(), "{}", st.stderr);
    // The data landed on disk too.
    s.assert_same(&dl);
}

#[test]
fn a_closed_stdout_ends_the_download_cleanly_unless_keep_going() {
    let s = Sample::new(Maker::BtMake, "clip", &[("clip.bin", 8 << 20)], 16);
    let seeder = Seeder::of(&s).rate("2M").start();
    let out = tempdir();

    // The reader quits after 100 kB: exit 0, an incomplete summary saying why.
    let dl = out.path().join("quit");
    let cmd = Fetcher::new(&s.torrent, &dl)
        .peer(seeder.peer())
        .args(&["--stdout"])
        .command();
    let st = stream(cmd, Some(100_000), 60);
    assert_eq!(st.code, 0, "{}", st.stderr);
    let sum = stderr_summary(&st);
    assert!(!sum.complete, "{sum:?}");
    assert_eq!(sum.reason.as_deref(), Some("output closed"), "{sum:?}");

    // --keep-going: the download goes on to the end on disk.
    let dl = out.path().join("keep");
    let cmd = Fetcher::new(&s.torrent, &dl)
        .peer(seeder.peer())
        .args(&["--stdout", "--keep-going"])
        .command();
    let st = stream(cmd, Some(100_000), 60);
    assert_eq!(st.code, 0, "{}", st.stderr);
    assert!(stderr_summary(&st).complete);
    s.assert_same(&dl);
}

#[test]
fn no_store_streams_a_1_gib_torrent_in_bounded_memory_and_writes_nothing() {
    // A sparse 1 GiB file (zeros): cheap to make and serve, 1 GiB on the wire all the same.
    let out = tempdir();
    let src = out.path().join("seed/big.bin");
    std::fs::create_dir_all(src.parent().unwrap()).unwrap();
    std::fs::File::create(&src)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let torrent = out.path().join("big.torrent");
    make_torrent(Maker::BtMake, &src, &torrent, 20, NO_TRACKER);
    let seeder = Seeder::of_torrent(&torrent, &out.path().join("seed"))
        .args(&["--skip-verify"])
        .start();
    let dl = out.path().join("dl");
    let cmd = Fetcher::new(&torrent, &dl)
        .peer(seeder.peer())
        .timeout(300)
        .args(&["--stdout", "--no-store"])
        .command();
    let st = stream(cmd, None, 330);
    assert_eq!(st.code, 0, "{}", st.stderr);
    assert_eq!(st.bytes, 1 << 30);
    assert_eq!(st.sha1sum, sha1sum_of(&src));
    assert!(stderr_summary(&st).complete);
    assert!(!dl.exists(), "nothing under -d");
    eprintln!("1 GiB --no-store: peak RSS {} kB", st.peak_kb);
    assert!(st.peak_kb > 0, "RSS was read");
    assert!(st.peak_kb < 100 * 1024, "peak RSS {} kB", st.peak_kb);
}

#[test]
fn stdout_needs_one_file_and_sequential_completes() {
    let s = Sample::data(&[("a.bin", 300_001), ("b.bin", 200_000)]);
    let out = tempdir();
    let r = Fetcher::new(&s.torrent, out.path())
        .peer("127.0.0.1:9")
        .args(&["--stdout"])
        .run();
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--file"), "{}", r.stderr);

    // One file of a multi-file torrent streams; --sequential alone downloads everything.
    let seeder = Seeder::of(&s).start();
    let cmd = Fetcher::new(&s.torrent, &out.path().join("one"))
        .peer(seeder.peer())
        .args(&["--stdout", "--file", "b.bin"])
        .command();
    let st = stream(cmd, None, 60);
    assert_eq!(st.code, 0, "{}", st.stderr);
    assert_eq!(st.sha1sum, sha1sum_of(&s.seed_dir().join("data/b.bin")));
    let r = Fetcher::new(&s.torrent, &out.path().join("seq"))
        .peer(seeder.peer())
        .args(&["--sequential"])
        .run();
    assert_eq!(r.code, 0, "{}", r.stderr);
    s.assert_same(&out.path().join("seq"));
}
