package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockFile is the data directory's lock, held by the process that uses it.
const lockFile = "lock"

// lockDataDir takes an exclusive flock(2) on DATA_DIR/lock without waiting,
// so that a second process on the same directory fails at once instead of
// waiting on embedded etcd's own lock of its write-ahead log (which blocks,
// deaf to signals). The lock belongs to the open file: the kernel drops it
// when the file is closed or the process ends, however it ends, so a crash
// leaves nothing stale behind.
func lockDataDir(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, dataDirPerm); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, secretFilePerm)
	if err != nil {
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("data directory %s is in use by another cdnd", dir)
		}
		return nil, fmt.Errorf("lock data directory %s: %w", dir, err)
	}
	return f, nil
}
