"""A libtorrent peer for the benchmarks (Debian's python3-libtorrent; run it with /usr/bin/python3).

    /usr/bin/python3 scripts/lt-peer.py seed TORRENT DIR ADDR PORT
        Seeds TORRENT from DIR, listening on ADDR:PORT; prints "seeding" once its data is checked,
        then runs until killed.
    /usr/bin/python3 scripts/lt-peer.py fetch TORRENT DIR ADDR PEER TIMEOUT
        Downloads TORRENT into DIR from ADDR, dialling PEER (IP:PORT) and no one else (trackers in
        the file are dropped); prints one line {"secs": S, "cpu": C, "dial": D} and exits 0 once
        the download is complete and written, or exits 1 after TIMEOUT seconds. S, C (user +
        system CPU of the whole process, all threads) and D (when libtorrent first dialled PEER:
        it dials from its once-a-second peer tick, not at connect_peer) count from just before the
        session is created: Python's start-up and the libtorrent import are left out.

Loopback only: DHT, LSD, UPnP, NAT-PMP and uTP off (TCP like every other client in the benchmark),
no rate limits, large send buffers and request queues so that libtorrent is not held back by its
defaults on a fast link. Both roles use the same settings (`session` below); scripts/bench-swarm
starts one seeder and lets every downloader of a case fetch from it, so a seeder setting cannot
favour one downloader. The settings, by the role they matter to:

- seeding: `send_buffer_watermark` 16 MiB (low 1 MiB, factor 150%), how far ahead of the
  socket it reads blocks for one peer; `max_allowed_in_request_queue` 4000, the requests it
  queues from one peer and the `reqq` it advertises (more than either downloader keeps
  outstanding: bt-fetch at most 500 blocks, libtorrent `max_out_request_queue`, 1500);
  `unchoke_slots_limit` -1, every interested peer unchoked at once.
- downloading: `max_out_request_queue` 1500, `max_queued_disk_bytes` 64 MiB, `hashing_threads`
  one per core.
- both: `tick_interval` 100 ms (default 500); `aio_threads` (disk threads) one per core, not the
  default 10, which is sized for seeking disks. With 10 on this 2-core machine libtorrent's
  threads took turns on the cores: libtorrent downloading from libtorrent took 2.65 s per GiB
  against 2.09 s with 2 (6 downloads each, alternating; 1.83 with 2, 2.03 with 1 and 1.97 with 4
  in a second run), and its seeder spent 1.5-1.6 CPU-s per GiB against about 1.1. Its disk
  threads finish reads out of order, so a downloader sees some blocks out of order (about 7% of
  them with 10 threads, measured from bt-fetch).
"""

import json
import os
import resource
import sys
import time

import libtorrent as lt


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def session(addr, port):
    cores = os.cpu_count() or 1
    return lt.session({
        "listen_interfaces": "%s:%s" % (addr, port),
        "outgoing_interfaces": addr,
        "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
        "enable_outgoing_utp": False, "enable_incoming_utp": False,
        "upload_rate_limit": 0, "download_rate_limit": 0,
        "send_buffer_watermark": 16 << 20, "send_buffer_low_watermark": 1 << 20,
        "send_buffer_watermark_factor": 150,
        "max_queued_disk_bytes": 64 << 20,
        "max_out_request_queue": 1500, "max_allowed_in_request_queue": 4000,
        "unchoke_slots_limit": -1, "tick_interval": 100,
        "aio_threads": cores, "hashing_threads": cores,
        "alert_mask": lt.alert.category_t.status_notification
        | lt.alert.category_t.error_notification
        | lt.alert.category_t.storage_notification | lt.alert.category_t.connect_notification,
    })


def add(s, torrent, save):
    p = lt.add_torrent_params()
    p.ti = lt.torrent_info(torrent)
    p.save_path = save
    p.flags &= ~lt.torrent_flags.paused & ~lt.torrent_flags.auto_managed
    h = s.add_torrent(p)
    h.replace_trackers([])
    h.resume()
    return h


def errors(alerts):
    for a in alerts:
        if a.category() & lt.alert.category_t.error_notification:
            print("lt-peer: %s" % a.message(), file=sys.stderr, flush=True)


def seed(torrent, save, addr, port):
    s = session(addr, port)
    h = add(s, torrent, save)
    deadline = time.monotonic() + 600
    while not h.status().is_seeding:
        if time.monotonic() > deadline:
            sys.exit("lt-peer: data not checked as complete in 600 s: %s" % h.status().state)
        s.wait_for_alert(100)
        errors(s.pop_alerts())
    print("seeding", flush=True)
    while True:
        s.wait_for_alert(1000)
        errors(s.pop_alerts())


def fetch(torrent, save, addr, peer, timeout):
    ip, port = peer.rsplit(":", 1)
    t0, c0 = time.monotonic(), cpu()
    s = session(addr, 0)
    h = add(s, torrent, save)
    h.connect_peer((ip, int(port)))
    last_dial = time.monotonic()
    finished = flushed = False
    dialled = None
    while not flushed:
        now = time.monotonic()
        if now - t0 > timeout:
            st = h.status()
            sys.exit("lt-peer: timed out: state %s, %d peers, %.1f%%"
                     % (st.state, st.num_peers, st.progress * 100))
        # A seeder still checking its data may refuse or drop the first connection: dial again.
        if not finished and now - last_dial > 1 and h.status().num_peers == 0:
            h.connect_peer((ip, int(port)))
            last_dial = now
        s.wait_for_alert(50)
        alerts = s.pop_alerts()
        errors(alerts)
        for a in alerts:
            if isinstance(a, lt.peer_connect_alert) and dialled is None:
                dialled = time.monotonic() - t0
            elif isinstance(a, lt.torrent_finished_alert) and not finished:
                # Complete and hash-checked; blocks may still wait in the disk queue.
                finished = True
                h.flush_cache()
            elif isinstance(a, lt.cache_flushed_alert) and finished:
                flushed = True
    print(json.dumps({"secs": round(time.monotonic() - t0, 6), "cpu": round(cpu() - c0, 3),
                      "dial": round(dialled or 0, 6)}), flush=True)
    # Everything is written (flushed above): skip the session's teardown.
    os._exit(0)


def main(argv):
    if len(argv) == 6 and argv[1] == "seed":
        seed(argv[2], argv[3], argv[4], int(argv[5]))
    elif len(argv) == 7 and argv[1] == "fetch":
        fetch(argv[2], argv[3], argv[4], argv[5], float(argv[6]))
    else:
        sys.exit("usage: lt-peer.py seed TORRENT DIR ADDR PORT | fetch TORRENT DIR ADDR PEER TIMEOUT")


if __name__ == "__main__":
    main(sys.argv)
