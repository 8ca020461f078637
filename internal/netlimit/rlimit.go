package netlimit

import "syscall"

// FileLimit is the process's limit on open files (the soft RLIMIT_NOFILE).
// Go's syscall package raises the soft limit to the hard one when the
// process starts (go.dev/issue/46279), so this is as high as it can be
// without privileges.
func FileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	return lim.Cur, nil
}

// Headroom kept out of every listener's share of the file limit: embedded
// etcd's write-ahead log, snapshots and database, its gRPC connections,
// the edge's snapshot files and idle origin connections, logs. A quarter
// of the limit, at most reservedMax descriptors.
const reservedMax = 1024

// MinConns is the least DefaultMaxConns gives a listener, however low the
// file limit.
const MinConns = 16

// DefaultMaxConns is a per-listener connection limit that keeps the
// process within fileLimit with every listener full: listeners share what
// the headroom leaves, and each connection of a proxying listener counts
// twice, for the origin connection it may hold.
func DefaultMaxConns(fileLimit uint64, listeners, proxying int) int {
	fileLimit = min(fileLimit, maxFileLimit) // RLIM_INFINITY
	reserve := min(reservedMax, fileLimit/4)
	shares := uint64(max(listeners+proxying, 1))
	return max(int((fileLimit-reserve)/shares), MinConns)
}

// maxFileLimit is as many descriptors as DefaultMaxConns counts on, which
// also keeps an unlimited RLIMIT_NOFILE from overflowing an int.
const maxFileLimit = 1 << 24
