// Package atomicfile writes files that a crash leaves whole or absent: the
// edge's snapshot and the HTTP cache's disk entries.
package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
)

// Sync makes what was written to a file durable. A variable so that tests
// can make it fail as a full or broken disk would.
var Sync = (*os.File).Sync

// Replace writes a file through write and puts it at path atomically: it
// writes a temporary file (named by tmpPattern, as os.CreateTemp takes it)
// beside path, syncs it, renames it over path and syncs the directory. A
// crash leaves the old file or the new one, never part of one, and once it
// returns the new file survives a crash; a temporary file a crash left
// behind is the caller's to remove. The file (0600) is returned open, at
// its end.
func Replace(path, tmpPattern string, write func(*os.File) error) (*os.File, error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, tmpPattern)
	if err != nil {
		return nil, err
	}
	err = write(f)
	if err == nil {
		err = Sync(f)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err == nil {
		err = SyncDir(dir)
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return f, nil
}

// SyncDir makes the entries of dir durable (a rename, a new file).
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(Sync(d), d.Close())
}
