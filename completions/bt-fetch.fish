complete -c bt-fetch -s d -l dir -d 'Download directory; the data goes to DIR/NAME' -r -F
complete -c bt-fetch -l peer -d 'A peer to connect to (repeatable), `ip:port` or `[ipv6]:port`' -r
complete -c bt-fetch -l max-peers -d 'Most simultaneous connections (at least 1)' -r
complete -c bt-fetch -l timeout -d 'Give up (exit 1) after this many seconds' -r
complete -c bt-fetch -l port -d 'Port to accept connections on (0: any free port)' -r
complete -c bt-fetch -l bind -d 'Address to accept connections on (and to connect from)' -r
complete -c bt-fetch -l upload-slots -d 'Peers unchoked at once when uploading' -r
complete -c bt-fetch -l max-download-rate -d 'Download cap in bytes per second over all peers and web seeds, e.g. 500K or 10M (K = 1024)' -r
complete -c bt-fetch -l max-upload-rate -d 'Upload cap in bytes per second over all peers (and all torrents), e.g. 500K or 10M (K = 1024)' -r
complete -c bt-fetch -l web-seed -d 'An HTTP(S) mirror of the content (BEP 19; repeatable), fetched from besides the torrent\'s own `url-list`: a file URL, or a directory URL ending in `/`' -r
complete -c bt-fetch -l encryption -d 'Encryption (MSE/PE): prefer (try it, else plain), require (RC4 only), off (plain only)' -r
complete -c bt-fetch -l snub-timeout -d 'Drop a peer that sends no requested block for this many seconds' -r
complete -c bt-fetch -l file -d 'Only this file: its path as bt-info shows it (below the torrent\'s directory) or its index there (repeatable)' -r
complete -c bt-fetch -l only -d 'Only the files this glob matches (repeatable; bt-make\'s glob rules: `*` never crosses `/`, a glob without `/` matches a file name at any depth)' -r
complete -c bt-fetch -l skip -d 'Leave out the files this glob matches (repeatable)' -r
complete -c bt-fetch -l torrent-out -d 'With a magnet link: write the complete .torrent to FILE once the metadata arrived' -r -F
complete -c bt-fetch -l dht-bootstrap -d 'A DHT bootstrap node, HOST:PORT (repeatable); replaces the default routers (router.bittorrent.com, dht.transmissionbt.com, router.utorrent.com, port 6881)' -r
complete -c bt-fetch -l dht-state -d 'The DHT routing table is loaded from FILE and saved there on exit, so the next run starts warm (default: $XDG_CACHE_HOME/bt/dht.json, else ~/.cache/bt/dht.json; dht6.json for IPv6)' -r -F
complete -c bt-fetch -l color -d 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never' -r -f -a "auto\t'Color when the stream is a terminal, `NO_COLOR` is unset and `TERM` is not `dumb`'
always\t'Always color (even with `NO_COLOR`)'
never\t'Never color'"
complete -c bt-fetch -s j -l jobs -d 'Worker threads for hashing (default: one per core)' -r
complete -c bt-fetch -l no-announce -d 'Do not announce to the torrent\'s trackers'
complete -c bt-fetch -l seed -d 'Keep running as a seeder after the download completes (until SIGINT/SIGTERM)'
complete -c bt-fetch -l peer-records -d 'Write `peer` connect/disconnect records'
complete -c bt-fetch -l stdout -d 'Write the content (a single-file torrent, or the one --file) to stdout in order while it downloads, each byte once its piece is verified; records then go to stderr'
complete -c bt-fetch -l no-store -d 'With --stdout: write nothing under DIR; keep only a window of 32 MiB (at least two pieces) of data in memory'
complete -c bt-fetch -l sequential -d 'Request pieces in order (the streaming picker, without --stdout)'
complete -c bt-fetch -l keep-going -d 'With --stdout: keep downloading after stdout is closed (exit 0 otherwise)'
complete -c bt-fetch -l progress-json -d 'Write a `progress` record about once per second (on stderr with --stdout)'
complete -c bt-fetch -l force -d 'Let --torrent-out replace an existing file'
complete -c bt-fetch -l metadata-only -d 'With a magnet link: stop (exit 0) once the metadata is fetched (and written)'
complete -c bt-fetch -l no-dht -d 'Do not use the DHT (private torrents never do). The environment variable BT_NO_DHT=1 does the same (the test suite and the scripts set it for every run that is not a DHT test, so nothing reaches the default routers)'
complete -c bt-fetch -l json -d 'Write JSON records (one object per line), even on a terminal'
complete -c bt-fetch -l human -d 'Write human-readable output, even on a pipe'
complete -c bt-fetch -s q -l quiet -d 'No progress bars and no diagnostics on stderr except errors'
complete -c bt-fetch -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bt-fetch -s V -l version -d 'Print version'
