# shellcheck shell=bash
# Sourced by scripts/bench-make and scripts/bench-verify: put a file's pages in a known
# page-cache state before a round, since hashing from the cache costs more kernel time on small
# folios than on large ones and the state otherwise drifts with whatever read or wrote the file
# last (memory pressure, an earlier cold run, another tool's reads).
#
#   drop FILE            evict FILE from the page cache (written back first: dirty pages stay)
#   cache_large FILE     drop it, then read it back with 4 MiB reads: readahead's large folios
#   cache_small SRC DST  drop DST, then rewrite it in place from SRC in 16 KiB writes (as a
#                        download writes its blocks), synced: small folios
#   CACHE_STATES         one line saying the above, for the benchmarks' output

drop() {
    /usr/bin/python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.fsync(fd)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)' "$1"
}

cache_large() {
    drop "$1"
    dd if="$1" of=/dev/null bs=4M status=none
}

cache_small() {
    drop "$2"
    dd if="$1" of="$2" bs=16K conv=notrunc,fsync status=none
}

# shellcheck disable=SC2034 # used by the scripts that source this file
CACHE_STATES="page cache set before every round: the data file dropped (fadvise DONTNEED) and read back with dd bs=4M (large folios); the w16K copy dropped and rewritten in place with dd bs=16K conv=notrunc,fsync (small folios)"
