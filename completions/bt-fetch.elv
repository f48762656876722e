
use builtin;
use str;

set edit:completion:arg-completer[bt-fetch] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'bt-fetch'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'bt-fetch'= {
            cand -d 'Download directory; the data goes to DIR/NAME'
            cand --dir 'Download directory; the data goes to DIR/NAME'
            cand --peer 'A peer to connect to (repeatable), `ip:port` or `[ipv6]:port`'
            cand --max-peers 'Most simultaneous connections (at least 1)'
            cand --timeout 'Give up (exit 1) after this many seconds'
            cand --port 'Port to accept connections on (0: any free port)'
            cand --bind 'Address to accept connections on (and to connect from)'
            cand --upload-slots 'Peers unchoked at once when uploading'
            cand --max-download-rate 'Download cap in bytes per second over all peers and web seeds, e.g. 500K or 10M (K = 1024)'
            cand --max-upload-rate 'Upload cap in bytes per second over all peers (and all torrents), e.g. 500K or 10M (K = 1024)'
            cand --web-seed 'An HTTP(S) mirror of the content (BEP 19; repeatable), fetched from besides the torrent''s own `url-list`: a file URL, or a directory URL ending in `/`'
            cand --encryption 'Encryption (MSE/PE): prefer (try it, else plain), require (RC4 only), off (plain only)'
            cand --snub-timeout 'Drop a peer that sends no requested block for this many seconds'
            cand --file 'Only this file: its path as bt-info shows it (below the torrent''s directory) or its index there (repeatable)'
            cand --only 'Only the files this glob matches (repeatable; bt-make''s glob rules: `*` never crosses `/`, a glob without `/` matches a file name at any depth)'
            cand --skip 'Leave out the files this glob matches (repeatable)'
            cand --torrent-out 'With a magnet link: write the complete .torrent to FILE once the metadata arrived'
            cand --dht-bootstrap 'A DHT bootstrap node, HOST:PORT (repeatable); replaces the default routers (router.bittorrent.com, dht.transmissionbt.com, router.utorrent.com, port 6881)'
            cand --dht-state 'The DHT routing table is loaded from FILE and saved there on exit, so the next run starts warm (default: $XDG_CACHE_HOME/bt/dht.json, else ~/.cache/bt/dht.json; dht6.json for IPv6)'
            cand --color 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never'
            cand -j 'Worker threads for hashing (default: one per core)'
            cand --jobs 'Worker threads for hashing (default: one per core)'
            cand --no-announce 'Do not announce to the torrent''s trackers'
            cand --seed 'Keep running as a seeder after the download completes (until SIGINT/SIGTERM)'
            cand --peer-records 'Write `peer` connect/disconnect records'
            cand --stdout 'Write the content (a single-file torrent, or the one --file) to stdout in order while it downloads, each byte once its piece is verified; records then go to stderr'
            cand --no-store 'With --stdout: write nothing under DIR; keep only a window of 32 MiB (at least two pieces) of data in memory'
            cand --sequential 'Request pieces in order (the streaming picker, without --stdout)'
            cand --keep-going 'With --stdout: keep downloading after stdout is closed (exit 0 otherwise)'
            cand --progress-json 'Write a `progress` record about once per second (on stderr with --stdout)'
            cand --force 'Let --torrent-out replace an existing file'
            cand --metadata-only 'With a magnet link: stop (exit 0) once the metadata is fetched (and written)'
            cand --no-dht 'Do not use the DHT (private torrents never do). The environment variable BT_NO_DHT=1 does the same (the test suite and the scripts set it for every run that is not a DHT test, so nothing reaches the default routers)'
            cand --json 'Write JSON records (one object per line), even on a terminal'
            cand --human 'Write human-readable output, even on a pipe'
            cand -q 'No progress bars and no diagnostics on stderr except errors'
            cand --quiet 'No progress bars and no diagnostics on stderr except errors'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
    ]
    $completions[$command]
}
