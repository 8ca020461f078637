package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cdnd/cdnd/internal/atomicfile"
	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// diskTier keeps entries as files under dir, one per variant, at most max
// bytes of them, evicting the least recently used first (after a restart:
// the least recently written). Its index lives in memory and is rebuilt
// from the files' metadata at start; bodies are read, and their checksum
// checked, on use. Writes are queued and done by one goroutine, so a miss
// never waits for the disk. Safe for concurrent use.
type diskTier struct {
	dir string
	max int64
	log *slog.Logger

	mu    sync.Mutex
	lru   *simplelru.LRU[string, diskItem]
	bytes int64
	// doomed are files evicted under mu, removed once it is released.
	doomed []string
	// added and gone are told of every entry that enters or leaves the
	// index, under mu (for the Vary index).
	added, gone func(key string, vary []string)
	// admit says whether a queued entry is still worth writing (purge.go).
	admit func(*entry) bool

	// queueMu guards closing queue against a late put.
	queueMu sync.RWMutex
	closed  bool
	queue   chan *entry
	done    chan struct{}
}

// diskItem is what the index knows of a file.
type diskItem struct {
	file    string
	size    int64
	key     string
	vary    []string
	fetched time.Time
}

// diskQueue bounds the writes waiting: when the disk cannot keep up, the
// oldest waiting are kept in memory only.
const diskQueue = 256

const tmpPrefix = ".tmp-"

func openDiskTier(dir string, max int64, log *slog.Logger, added, gone func(string, []string), admit func(*entry) bool) (*diskTier, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	d := &diskTier{dir: dir, max: max, log: log, added: added, gone: gone, admit: admit,
		queue: make(chan *entry, diskQueue), done: make(chan struct{})}
	d.lru, _ = simplelru.NewLRU[string, diskItem](math.MaxInt32, func(_ string, it diskItem) {
		d.bytes -= it.size
		d.doomed = append(d.doomed, it.file)
		d.gone(it.key, it.vary)
	})
	if err := d.rebuild(); err != nil {
		return nil, err
	}
	go d.writer()
	return d, nil
}

// fileOf names the file of an entry id: a hash, so that any key is a
// safe file name, spread over 256 directories.
func (d *diskTier) fileOf(id string) string {
	sum := sha256.Sum256([]byte(id))
	h := hex.EncodeToString(sum[:])
	return filepath.Join(d.dir, h[:2], h[2:])
}

// rebuild reads the metadata of every file into the index, oldest write
// first so that the most recently written are evicted last. Files that are
// torn or corrupt, and temporary files of writes a crash interrupted, are
// removed.
func (d *diskTier) rebuild() error {
	type found struct {
		id    string
		item  diskItem
		mtime time.Time
	}
	var all []found
	err := filepath.WalkDir(d.dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		if strings.HasPrefix(de.Name(), tmpPrefix) {
			return os.Remove(p)
		}
		m, size, mtime, err := readMeta(p)
		if err != nil {
			d.log.Warn("cache: dropping unreadable disk entry", "file", p, "err", err)
			return os.Remove(p)
		}
		id := variantID(m.Key, m.Variant)
		if d.fileOf(id) != p {
			return os.Remove(p) // not where its key puts it: not ours
		}
		all = append(all, found{id, diskItem{file: p, size: size, key: m.Key, vary: m.Vary, fetched: time.Unix(0, m.Fetched)}, mtime})
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortFunc(all, func(a, b found) int { return a.mtime.Compare(b.mtime) })
	d.mu.Lock()
	for _, f := range all {
		d.addLocked(f.id, f.item)
	}
	doomed := d.takeDoomedLocked()
	d.mu.Unlock()
	removeAll(doomed)
	return nil
}

// readMeta reads and checks the metadata of the file at p.
func readMeta(p string) (*diskMeta, int64, time.Time, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, 0, time.Time{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, time.Time{}, err
	}
	head := make([]byte, diskHeaderLen)
	if _, err := io.ReadFull(f, head); err != nil {
		return nil, 0, time.Time{}, errCorrupt
	}
	n := int64(head[6])<<24 | int64(head[7])<<16 | int64(head[8])<<8 | int64(head[9])
	if n > maxMetaLen || diskHeaderLen+n+4 > fi.Size() {
		return nil, 0, time.Time{}, errCorrupt
	}
	buf := make([]byte, diskHeaderLen+n+4)
	copy(buf, head)
	if _, err := io.ReadFull(f, buf[diskHeaderLen:]); err != nil {
		return nil, 0, time.Time{}, errCorrupt
	}
	m, _, err := decodeMeta(buf, fi.Size())
	return m, fi.Size(), fi.ModTime(), err
}

func (d *diskTier) addLocked(id string, it diskItem) {
	d.lru.Remove(id)
	d.lru.Add(id, it)
	d.bytes += it.size
	d.added(it.key, it.vary)
	for d.bytes > d.max {
		d.lru.RemoveOldest()
	}
}

func (d *diskTier) takeDoomedLocked() []string {
	out := d.doomed
	d.doomed = nil
	return out
}

func removeAll(files []string) {
	for _, f := range files {
		_ = os.Remove(f)
	}
}

// get reads the entry id, or returns nil. A file that fails its checksum is
// removed and reported absent: a corrupt entry is never served.
func (d *diskTier) get(id string) *entry {
	d.mu.Lock()
	it, ok := d.lru.Get(id)
	d.mu.Unlock()
	if !ok {
		return nil
	}
	b, err := os.ReadFile(it.file)
	if err == nil {
		var e *entry
		if e, err = decodeEntry(b); err == nil && e.id() == id {
			return e
		}
	}
	if !errors.Is(err, fs.ErrNotExist) {
		d.log.Warn("cache: dropping corrupt disk entry", "file", it.file, "err", err)
	}
	d.remove(id)
	return nil
}

func (d *diskTier) remove(id string) {
	d.mu.Lock()
	d.lru.Remove(id)
	doomed := d.takeDoomedLocked()
	d.mu.Unlock()
	removeAll(doomed)
}

// put queues e to be written. When the disk cannot keep up and the queue
// is full, the oldest write waiting is dropped rather than e: the disk
// tier then holds the most recent objects, as its recency order promises,
// instead of freezing at whatever got there before the burst.
func (d *diskTier) put(e *entry) {
	d.queueMu.RLock()
	defer d.queueMu.RUnlock()
	if d.closed {
		return
	}
	for {
		select {
		case d.queue <- e:
			return
		default:
		}
		select {
		case <-d.queue:
		default:
		}
	}
}

// close writes what is queued and stops the writer; later puts are
// dropped. It may be called more than once.
func (d *diskTier) close() {
	d.queueMu.Lock()
	if !d.closed {
		d.closed = true
		close(d.queue)
	}
	d.queueMu.Unlock()
	<-d.done
}

func (d *diskTier) writer() {
	defer close(d.done)
	for e := range d.queue {
		if !d.admit(e) {
			continue
		}
		if err := d.write(e); err != nil {
			d.log.Warn("cache: disk write failed", "err", err)
		}
	}
}

// write puts e's file in place atomically (atomicfile.Replace): a crash
// leaves the old file or the new one, and a torn temporary file is removed
// by the next rebuild.
func (d *diskTier) write(e *entry) error {
	b := e.encode()
	if int64(len(b)) > d.max {
		return nil
	}
	p := d.fileOf(e.id())
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := atomicfile.Replace(p, tmpPrefix+"*", func(f *os.File) error {
		_, err := f.Write(b)
		return err
	})
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	d.mu.Lock()
	d.addLocked(e.id(), diskItem{file: p, size: int64(len(b)), key: e.key, vary: e.vary, fetched: e.fetched})
	doomed := d.takeDoomedLocked()
	d.mu.Unlock()
	// An entry evicted now may share its file with the one just written
	// only if it is the same id, which addLocked removed first.
	removeAll(slices.DeleteFunc(doomed, func(f string) bool { return f == p }))
	return nil
}

// sweep removes every entry keep refuses (purge.go).
func (d *diskTier) sweep(keep func(key string, fetched time.Time) bool) {
	d.mu.Lock()
	ids := d.lru.Keys()
	d.mu.Unlock()
	for _, id := range ids {
		d.mu.Lock()
		if it, ok := d.lru.Peek(id); ok && !keep(it.key, it.fetched) {
			d.lru.Remove(id)
		}
		doomed := d.takeDoomedLocked()
		d.mu.Unlock()
		removeAll(doomed)
	}
}

func (d *diskTier) used() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.bytes
}
