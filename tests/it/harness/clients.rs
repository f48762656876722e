//! Real clients from Debian, set up for loopback (see /work/shared/PEERS.md).

use std::process::Command;

/// aria2c's flags for loopback: no DHT, LPD, PEX or IPv6, quiet, from `ip`.
pub fn aria2c(ip: &str) -> Command {
    let mut cmd = Command::new("aria2c");
    cmd.args([
        "--enable-dht=false",
        "--enable-dht6=false",
        "--bt-enable-lpd=false",
        "--enable-peer-exchange=false",
        "--disable-ipv6=true",
        "--console-log-level=warn",
        "--summary-interval=0",
        "--file-allocation=none",
    ])
    .arg(format!("--interface={ip}"));
    cmd
}

/// aria2c's flags that make it accept nothing but RC4-encrypted connections.
pub const ARIA2C_REQUIRE_RC4: [&str; 2] =
    ["--bt-require-crypto=true", "--bt-min-crypto-level=arc4"];
