complete -c bt-seed -s d -l dir -d 'Directory holding DIR/NAME for each torrent' -r -F
complete -c bt-seed -l port -d 'Port to listen on (0: any free port)' -r
complete -c bt-seed -l bind -d 'Address to listen on (and to connect from)' -r
complete -c bt-seed -l max-peers -d 'Most simultaneous connections per torrent (at least 1)' -r
complete -c bt-seed -l upload-slots -d 'Peers unchoked at once, per torrent (plus one optimistic unchoke)' -r
complete -c bt-seed -l max-upload-rate -d 'Upload cap in bytes per second over all peers (and all torrents), e.g. 500K or 10M (K = 1024)' -r
complete -c bt-seed -l peer -d 'A peer to connect to (repeatable), `ip:port` or `[ipv6]:port`: bt-seed dials it, as it dials the peers its trackers name, while it may lack pieces' -r
complete -c bt-seed -l encryption -d 'Encryption (MSE/PE): prefer (try it, else plain), require (RC4 only), off (plain only)' -r
complete -c bt-seed -l stats-interval -d 'Seconds between `stats` records' -r
complete -c bt-seed -l dht-bootstrap -d 'A DHT bootstrap node, HOST:PORT (repeatable); replaces the default routers (router.bittorrent.com, dht.transmissionbt.com, router.utorrent.com, port 6881)' -r
complete -c bt-seed -l dht-state -d 'The DHT routing table is loaded from FILE and saved there on exit, so the next run starts warm (default: $XDG_CACHE_HOME/bt/dht.json, else ~/.cache/bt/dht.json; dht6.json for IPv6)' -r -F
complete -c bt-seed -l control -d 'Run as a daemon controlled through the Unix socket SOCKET (created mode 0600, only its owner may use it; default $XDG_RUNTIME_DIR/bt-seed.sock): torrents are added, paused, limited and listed with bt-ctl or bt-top. The torrents on the command line are served' -r -F
complete -c bt-seed -l state -d 'With --control: keep the torrents added, their directories, pauses and limits in FILE (rewritten atomically) and add them again on start (resuming by verification)' -r -F
complete -c bt-seed -l watch-dir -d 'With --control: add each .torrent dropped in DIR (fetched into --dir, then seeded), and remove it when its file is removed' -r -F
complete -c bt-seed -l watch-interval -d 'Seconds between two looks at --watch-dir' -r
complete -c bt-seed -l control-tcp -d 'With --control: also take commands on TCP at ADDR:PORT (or PORT, on 127.0.0.1); each client must send the token of --control-token first (bt-ctl --connect --token-file)' -r
complete -c bt-seed -l control-token -d 'The file holding the TCP control token; refused unless only its owner may read it (mode 0600)' -r -F
complete -c bt-seed -l color -d 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never' -r -f -a "auto\t'Color when the stream is a terminal, `NO_COLOR` is unset and `TERM` is not `dumb`'
always\t'Always color (even with `NO_COLOR`)'
never\t'Never color'"
complete -c bt-seed -s j -l jobs -d 'Worker threads for hashing (default: one per core)' -r
complete -c bt-seed -l skip-verify -d 'Trust the data without verifying it first'
complete -c bt-seed -l no-announce -d 'Do not announce to the torrents\' trackers'
complete -c bt-seed -s v -l verbose -d 'Print a line on stderr for each peer that connects or disconnects'
complete -c bt-seed -l no-dht -d 'Do not use the DHT (private torrents never do). The environment variable BT_NO_DHT=1 does the same (the test suite and the scripts set it for every run that is not a DHT test, so nothing reaches the default routers)'
complete -c bt-seed -l json -d 'Write JSON records (one object per line), even on a terminal'
complete -c bt-seed -l human -d 'Write human-readable output, even on a pipe'
complete -c bt-seed -s q -l quiet -d 'No progress bars and no diagnostics on stderr except errors'
complete -c bt-seed -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bt-seed -s V -l version -d 'Print version'
