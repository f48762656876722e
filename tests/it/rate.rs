//! Rate limits (issue 15, must-show 4): `--max-download-rate` over all peers of bt-fetch and
//! `--max-upload-rate` of bt-seed, each measured over a 10 s window of bt-fetch's `progress`
//! records and held within 10% of the limit.

use crate::harness::*;

/// 1M as the flags read it (K = 1024).
const MIB: f64 = (1 << 20) as f64;

/// Bytes per second over the first window of at least `secs` seconds that starts after
/// `skip` seconds of the run, from `progress` records (panics when the run never gets there).
fn measured(run: &Fetching, skip: f64, secs: f64) -> f64 {
    let window = || {
        let p = run.records::<Progress>();
        let a = p.iter().find(|r| r.seconds >= skip)?;
        let b = p.iter().find(|r| r.seconds >= a.seconds + secs)?;
        Some((b.bytes_downloaded - a.bytes_downloaded) as f64 / (b.seconds - a.seconds))
    };
    assert!(
        wait_for((skip + secs) as u64 + 20, || window().is_some()),
        "no {secs} s window of progress records; stderr: {}",
        run.stderr()
    );
    window().unwrap()
}

fn within_ten_percent(got: f64, want: f64, what: &str) {
    eprintln!("{what}: {got:.0} B/s over 10 s (limit {want:.0} B/s)");
    assert!(
        (got - want).abs() <= want * 0.1,
        "{what}: {got:.0} B/s measured over 10 s for a limit of {want:.0} B/s"
    );
}

#[test]
fn download_limit_of_1m_holds_over_two_unlimited_seeders() {
    // Large enough that the download is still running when the window closes.
    let s = Sample::data(&[("big.bin", 24 << 20)]);
    let a = Seeder::of(&s).start();
    let b = Seeder::of(&s).start();
    let dl = s.path("dl");
    let mut run = Fetcher::new(&s.torrent, &dl)
        .peer(a.peer())
        .peer(b.peer())
        .args(&["--progress-json", "--max-download-rate", "1M"])
        .spawn();
    let rate = measured(&run, 1.5, 10.0);
    run.kill();
    within_ten_percent(rate, MIB, "bt-fetch --max-download-rate 1M");
}

#[test]
fn upload_limit_of_1m_holds_at_the_seeder() {
    let s = Sample::data(&[("big.bin", 24 << 20)]);
    let seed = Seeder::of(&s).rate("1M").start();
    let dl = s.path("dl");
    let mut run = Fetcher::new(&s.torrent, &dl)
        .peer(seed.peer())
        .args(&["--progress-json"])
        .spawn();
    let rate = measured(&run, 1.5, 10.0);
    run.kill();
    within_ten_percent(rate, MIB, "bt-seed --max-upload-rate 1M");
}

#[test]
fn rate_flags_refuse_a_bad_value() {
    let s = Sample::data(&[("small.bin", 1000)]);
    let r = Fetcher::new(&s.torrent, &s.path("dl"))
        .args(&["--max-download-rate", "fast"])
        .run();
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("fast"), "{}", r.stderr);
}
