
use builtin;
use str;

set edit:completion:arg-completer[bt-seed] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'bt-seed'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'bt-seed'= {
            cand -d 'Directory holding DIR/NAME for each torrent'
            cand --dir 'Directory holding DIR/NAME for each torrent'
            cand --port 'Port to listen on (0: any free port)'
            cand --bind 'Address to listen on (and to connect from)'
            cand --max-peers 'Most simultaneous connections per torrent (at least 1)'
            cand --upload-slots 'Peers unchoked at once, per torrent (plus one optimistic unchoke)'
            cand --max-upload-rate 'Upload cap in bytes per second over all peers (and all torrents), e.g. 500K or 10M (K = 1024)'
            cand --peer 'A peer to connect to (repeatable), `ip:port` or `[ipv6]:port`: bt-seed dials it, as it dials the peers its trackers name, while it may lack pieces'
            cand --encryption 'Encryption (MSE/PE): prefer (try it, else plain), require (RC4 only), off (plain only)'
            cand --stats-interval 'Seconds between `stats` records'
            cand --dht-bootstrap 'A DHT bootstrap node, HOST:PORT (repeatable); replaces the default routers (router.bittorrent.com, dht.transmissionbt.com, router.utorrent.com, port 6881)'
            cand --dht-state 'The DHT routing table is loaded from FILE and saved there on exit, so the next run starts warm (default: $XDG_CACHE_HOME/bt/dht.json, else ~/.cache/bt/dht.json; dht6.json for IPv6)'
            cand --control 'Run as a daemon controlled through the Unix socket SOCKET (created mode 0600, only its owner may use it; default $XDG_RUNTIME_DIR/bt-seed.sock): torrents are added, paused, limited and listed with bt-ctl or bt-top. The torrents on the command line are served'
            cand --state 'With --control: keep the torrents added, their directories, pauses and limits in FILE (rewritten atomically) and add them again on start (resuming by verification)'
            cand --watch-dir 'With --control: add each .torrent dropped in DIR (fetched into --dir, then seeded), and remove it when its file is removed'
            cand --watch-interval 'Seconds between two looks at --watch-dir'
            cand --control-tcp 'With --control: also take commands on TCP at ADDR:PORT (or PORT, on 127.0.0.1); each client must send the token of --control-token first (bt-ctl --connect --token-file)'
            cand --control-token 'The file holding the TCP control token; refused unless only its owner may read it (mode 0600)'
            cand --color 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never'
            cand -j 'Worker threads for hashing (default: one per core)'
            cand --jobs 'Worker threads for hashing (default: one per core)'
            cand --skip-verify 'Trust the data without verifying it first'
            cand --no-announce 'Do not announce to the torrents'' trackers'
            cand -v 'Print a line on stderr for each peer that connects or disconnects'
            cand --verbose 'Print a line on stderr for each peer that connects or disconnects'
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
