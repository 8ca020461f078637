package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockFile is held, with an exclusive flock(2), for as long as a process
// uses the data directory. Without it a second cdnd on the same directory
// waited forever on embedded etcd's own lock, deaf to SIGTERM, and could
// overwrite generated secrets; the kernel drops the lock when the process
// ends, however it ends, so a stale lock file never blocks a restart.
const lockFile = "lock"

// errDataDirInUse is what a second process on a data directory reports.
func errDataDirInUse(dir string) error {
	return fmt.Errorf("data directory %s is in use by another cdnd", dir)
}

// lockDataDir takes the data directory's lock without waiting.
func lockDataDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errDataDirInUse(dir)
		}
		return nil, fmt.Errorf("lock data directory %s: %w", dir, err)
	}
	return f, nil
}
