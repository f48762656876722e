//! Real clients from Debian, set up for loopback (see /work/shared/PEERS.md).

use std::process::Command;
use std::time::Duration;

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

/// aria2c seeding `s` from its seed directory on `ip` with `extra` flags (it listens without a
/// tracker), killed by PID when dropped; and its `ip:port`.
pub fn aria2c_seeder(ip: &str, s: &super::Sample, extra: &[&str]) -> (crate::common::Bg, String) {
    assert!(
        crate::common::have("aria2c"),
        "aria2c is not installed (see README)"
    );
    let port = crate::common::free_port();
    let bg = crate::common::Bg::spawn(
        aria2c(ip)
            .args(["--check-integrity=true", "--seed-ratio=0.0"])
            .args(extra)
            .arg(format!("--listen-port={port}"))
            .arg(format!("--dir={}", s.seed_dir().display()))
            .arg(&s.torrent)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
        "aria2c",
    );
    (bg, format!("{ip}:{port}"))
}

/// qbittorrent-nox on `ip` with encryption "require" (`Session\Encryption=1`), DHT, LSD, PEX,
/// UPnP off, downloading `torrent` into `save` (its WebUI on 127.0.0.1, a free port); killed by
/// PID when dropped. Returns it and its BitTorrent `ip:port`.
pub fn qbittorrent_requiring_rc4(
    ip: &str,
    profile: &std::path::Path,
    torrent: &std::path::Path,
    save: &std::path::Path,
) -> (crate::common::Bg, String) {
    assert!(
        crate::common::have("qbittorrent-nox"),
        "qbittorrent-nox is not installed (see README)"
    );
    let port = crate::common::free_port();
    let webui = crate::common::free_port();
    let conf = profile.join("qBittorrent/config");
    std::fs::create_dir_all(&conf).unwrap();
    let text = format!(
        "[LegalNotice]\nAccepted=true\n\n[BitTorrent]\nSession\\DHTEnabled=false\n\
         Session\\LSDEnabled=false\nSession\\PeXEnabled=false\nSession\\Encryption=1\n\
         Session\\Port={port}\nSession\\InterfaceAddress={ip}\nSession\\AnonymousModeEnabled=false\n\n\
         [Network]\nPortForwardingEnabled=false\n\n[Preferences]\n\
         Connection\\ResolvePeerCountries=false\nWebUI\\Address=127.0.0.1\n\
         WebUI\\LocalHostAuth=false\nGeneral\\Locale=en\n"
    );
    std::fs::write(conf.join("qBittorrent.conf"), text).unwrap();
    let bg = crate::common::Bg::spawn(
        Command::new("qbittorrent-nox")
            .arg(format!("--profile={}", profile.display()))
            .arg(format!("--webui-port={webui}"))
            .arg(format!("--torrenting-port={port}"))
            .arg(format!("--save-path={}", save.display()))
            .arg("--add-paused=false")
            .arg("--skip-dialog=true")
            .arg(torrent)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
        "qbittorrent-nox",
    );
    // A peer that connects before the torrent is loaded sees its MSE handshake closed (qBittorrent
    // cannot match the info hash yet): wait (60 s at most) until the WebUI lists the torrent.
    let hash = bt::metainfo::Torrent::from_bytes(&std::fs::read(torrent).unwrap())
        .unwrap()
        .info_hash
        .unwrap()
        .hex();
    let listed = super::wait_for(60, || {
        use std::io::{Read, Write};
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], webui));
        let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
            std::thread::sleep(Duration::from_millis(200));
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let req =
            "GET /api/v2/torrents/info HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
        // It may keep the connection open: what arrived before the read timeout counts.
        let mut body = Vec::new();
        let found = s.write_all(req.as_bytes()).is_ok() && {
            let _ = s.read_to_end(&mut body);
            String::from_utf8_lossy(&body).contains(&hash)
        };
        if !found {
            std::thread::sleep(Duration::from_millis(200));
        }
        found
    });
    assert!(
        listed,
        "qBittorrent's WebUI never listed the torrent {hash}"
    );
    (bg, format!("{ip}:{port}"))
}

/// transmission-daemon on `ip` (its peer port free, its RPC on 127.0.0.1) with `encryption`
/// (0 tolerated, 1 preferred: its default, 2 required), DHT, LSD, uTP, PEX and port forwarding
/// off, downloading into `save`; its config under `conf`. Killed by PID when dropped.
pub struct TransmissionDaemon {
    _bg: crate::common::Bg,
    rpc: String,
}

impl TransmissionDaemon {
    pub fn start(
        ip: &str,
        conf: &std::path::Path,
        save: &std::path::Path,
        encryption: u8,
    ) -> TransmissionDaemon {
        assert!(
            crate::common::have("transmission-daemon")
                && crate::common::have("transmission-remote"),
            "transmission-daemon or transmission-remote is not installed (see README)"
        );
        let rpc_port = crate::common::free_port();
        std::fs::create_dir_all(conf).unwrap();
        std::fs::create_dir_all(save).unwrap();
        let settings = serde_json::json!({
            "dht-enabled": false, "lpd-enabled": false, "pex-enabled": false,
            "utp-enabled": false, "port-forwarding-enabled": false,
            "bind-address-ipv4": ip, "bind-address-ipv6": "::1",
            "peer-port": crate::common::free_port(), "peer-port-random-on-start": false,
            "encryption": encryption,
            "rpc-enabled": true, "rpc-bind-address": "127.0.0.1", "rpc-port": rpc_port,
            "rpc-authentication-required": false, "rpc-whitelist-enabled": false,
            "download-dir": save, "incomplete-dir-enabled": false,
            "start-added-torrents": true, "speed-limit-up-enabled": false,
            "speed-limit-down-enabled": false, "ratio-limit-enabled": false,
        });
        std::fs::write(conf.join("settings.json"), settings.to_string()).unwrap();
        let bg = crate::common::Bg::spawn(
            Command::new("transmission-daemon")
                .arg("-f")
                .arg("-g")
                .arg(conf)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null()),
            "transmission-daemon",
        );
        TransmissionDaemon {
            _bg: bg,
            rpc: format!("127.0.0.1:{rpc_port}"),
        }
    }

    /// Add `torrent` through its RPC (`transmission-remote -a`), retried until the RPC listens
    /// (20 s at most).
    pub fn add(&self, torrent: &std::path::Path) {
        let mut last = String::new();
        let added = super::wait_for(20, || {
            let r = crate::common::run_cmd(
                Command::new("transmission-remote")
                    .arg(&self.rpc)
                    .arg("-a")
                    .arg(torrent),
                None,
                std::time::Duration::from_secs(10),
            );
            last = format!("{}{}", r.stdout_str(), r.stderr);
            let ok = r.code == 0 && last.contains("success");
            if !ok {
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            ok
        });
        assert!(added, "transmission-remote -a: {last}");
    }
}
