package edge

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"github.com/cdnd/cdnd/internal/atomicfile"
	"github.com/cdnd/cdnd/internal/store"
)

// The journal extends a base (snapshotbase.go) with the revisions applied
// since, so that a change costs one small append instead of a rewrite of
// the whole served set. Layout:
//
//	journalMagic
//	frame(header)   JSON journalHeader: the base it extends
//	frame(record)*  JSON journalRecord: one applied revision each
//
// where frame(p) is len(p) and the CRC-32C of p (both uint32, little
// endian), then p. A crash may leave the last frame torn; the checksum
// tells a torn or damaged frame from a whole one, and reading stops at the
// first such frame, keeping the records before it: each record is a whole
// revision and they are in order, so any prefix is a state the edge served.
const journalMagic = "cdnd edge journal 1\n"

// frameHeaderLen is a frame's length and checksum.
const frameHeaderLen = 8

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// journalHeader names the base a journal extends. A journal is replayed
// only onto that base: after a crash between writing a new base and
// starting its journal, the old journal does not match the new base, and a
// base from another etcd cluster matches no journal of the old one.
type journalHeader struct {
	ClusterID    uint64 `json:"cluster"`
	BaseRevision int64  `json:"base"`
}

// journalRecord is one applied revision that changed what is served, with
// its changes as the store delivered them (certificate keys still sealed).
type journalRecord struct {
	Revision int64          `json:"rev"`
	Changes  []store.Change `json:"changes"`
}

// errOtherBase is a journal that does not extend the base it is read with
// (or whose header is torn): none of it applies.
var errOtherBase = errors.New("the journal does not extend this base")

// journal is an open journal. Only the snapshot writer appends to it.
type journal struct {
	f    *os.File
	size int64  // bytes written and synced: the consistent prefix
	last int64  // the last revision recorded (the base's when none)
	buf  []byte // frames being appended, reused between appends
}

// createJournal starts the journal of a base, replacing any journal at
// path: a new base makes the old journal useless.
func createJournal(path string, h journalHeader) (*journal, error) {
	j := &journal{last: h.BaseRevision}
	j.buf = append(j.buf, journalMagic...)
	if err := j.frame(h); err != nil {
		return nil, err
	}
	f, err := replaceFile(path, func(f *os.File) error {
		_, err := f.Write(j.buf)
		return err
	})
	if err != nil {
		return nil, err
	}
	j.f, j.size = f, int64(len(j.buf))
	return j, nil
}

// openJournal continues a journal whose consistent prefix readJournal
// found to be prefix bytes long, ending at revision last. A torn tail is
// cut off first: a record appended after it would never be reached.
func openJournal(path string, prefix, last int64) (*journal, error) {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	if err := f.Truncate(prefix); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := f.Seek(prefix, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	return &journal{f: f, size: prefix, last: last}, nil
}

// append records the revisions after the last one recorded (those up to
// it are in the base or already here), in order, and syncs them once: one
// fsync for everything the writer had pending. After an error the file may
// end in a torn frame; the journal must not be appended to again.
func (j *journal) append(records []journalRecord) (int, error) {
	j.buf = j.buf[:0]
	last := j.last
	for i := range records {
		if records[i].Revision <= last {
			continue
		}
		last = records[i].Revision
		if err := j.frame(&records[i]); err != nil {
			return 0, err
		}
	}
	if len(j.buf) == 0 {
		return 0, nil
	}
	if _, err := j.f.Write(j.buf); err != nil {
		return 0, err
	}
	if err := atomicfile.Sync(j.f); err != nil {
		return 0, err
	}
	j.size += int64(len(j.buf))
	j.last = last
	return len(j.buf), nil
}

// frame appends v, as JSON, framed, to j.buf.
func (j *journal) frame(v any) error {
	p, err := json.Marshal(v)
	if err != nil {
		return err
	}
	j.buf = binary.LittleEndian.AppendUint32(j.buf, uint32(len(p)))
	j.buf = binary.LittleEndian.AppendUint32(j.buf, crc32.Checksum(p, crc32c))
	j.buf = append(j.buf, p...)
	return nil
}

// close closes the file; what was appended is synced already.
func (j *journal) close() { j.f.Close() }

// readJournal reads a journal of size bytes from r and calls apply with
// each record, in order, while the records are whole and extend base. It
// returns the length of that consistent prefix and what ended it: nil at a
// clean end, errOtherBase (prefix 0) when the journal is not base's, or the
// damage found.
func readJournal(r io.Reader, size int64, base journalHeader, apply func(*journalRecord)) (prefix, last int64, err error) {
	br := bufio.NewReaderSize(r, 1<<16)
	magic := make([]byte, len(journalMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != journalMagic {
		return 0, 0, errOtherBase
	}
	offset := int64(len(magic))
	var h journalHeader
	n, err := readFrame(br, size-offset, &h)
	if err != nil || h != base {
		return 0, 0, errOtherBase
	}
	offset += n
	last = base.BaseRevision
	for offset < size {
		var rec journalRecord
		n, err := readFrame(br, size-offset, &rec)
		if err != nil {
			return offset, last, fmt.Errorf("at byte %d: %w", offset, err)
		}
		if rec.Revision <= last {
			return offset, last, fmt.Errorf("at byte %d: revision %d after %d", offset, rec.Revision, last)
		}
		apply(&rec)
		offset, last = offset+n, rec.Revision
	}
	return offset, last, nil
}

// readFrame decodes the next frame, of at most remaining bytes, into v and
// returns its length.
func readFrame(r io.Reader, remaining int64, v any) (int64, error) {
	var hdr [frameHeaderLen]byte
	if remaining < frameHeaderLen {
		return 0, errors.New("torn frame")
	}
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, err
	}
	n := int64(binary.LittleEndian.Uint32(hdr[:]))
	if n > remaining-frameHeaderLen {
		return 0, errors.New("torn frame")
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, err
	}
	if crc32.Checksum(payload, crc32c) != binary.LittleEndian.Uint32(hdr[4:]) {
		return 0, errors.New("checksum mismatch")
	}
	if err := json.Unmarshal(payload, v); err != nil {
		return 0, err
	}
	return frameHeaderLen + n, nil
}
