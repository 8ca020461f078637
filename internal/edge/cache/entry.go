package cache

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"net/http"
	"slices"
	"strings"
	"time"
)

// entry is one stored response: a variant of its primary key (RFC 9111,
// Section 4.1). An entry is never modified once published in a tier; a
// revalidation publishes a new one (refreshed), so a reader holding an
// entry needs no lock.
type entry struct {
	key     string   // primary key (Key.String)
	vary    []string // the response's Vary fields, canonical and sorted; nil without Vary
	variant string   // the request's values of those fields
	status  int
	header  http.Header // as the origin sent it, without Age
	body    []byte
	// respTime is when the response was received or last validated, and
	// initialAge its corrected_initial_age then (RFC 9111, Section 4.2.3).
	respTime   time.Time
	initialAge time.Duration
	pol        policy
	// fetched is when the request that brought the body, or last
	// validated it, was sent: a purge applied after that covers the
	// entry (purge.go).
	fetched time.Time
}

// id is the entry's name in the tiers: the primary key and the variant.
func (e *entry) id() string { return variantID(e.key, e.variant) }

func variantID(key, variant string) string { return key + "\x00" + variant }

// entryOverhead approximates what an entry costs beyond its body and
// header bytes, so that many tiny entries cannot exceed the memory bound.
const entryOverhead = 512

// size is what the entry counts against a tier's bound.
func (e *entry) size() int64 {
	n := int64(len(e.body) + len(e.key) + len(e.variant) + entryOverhead)
	for k, vs := range e.header {
		for _, v := range vs {
			n += int64(len(k) + len(v) + 4)
		}
	}
	return n
}

// age is current_age (RFC 9111, Section 4.2.3) at now.
func (e *entry) age(now time.Time) time.Duration {
	return e.initialAge + max(now.Sub(e.respTime), 0)
}

// staleFor is how long past its lifetime the entry is at now (≤ 0: fresh).
func (e *entry) staleFor(now time.Time) time.Duration { return e.age(now) - e.pol.lifetime }

// fresh reports whether the entry may be used without validation at now
// (RFC 9111, Section 4.2).
func (e *entry) fresh(now time.Time) bool { return !e.pol.validate && e.staleFor(now) <= 0 }

// refreshed is the entry updated by a 304 (RFC 9111, Section 4.3.4): the
// stored header fields are replaced by those the 304 carries, except the
// ones describing the body, and the clock restarts.
// The caller sets the policy the merged header gives.
func (e *entry) refreshed(h http.Header, reqTime, respTime time.Time) *entry {
	n := *e
	n.header = e.header.Clone()
	for k, vs := range h {
		switch k {
		case "Content-Length", "Content-Encoding", "Content-Range", "Transfer-Encoding", "Age":
			continue
		}
		n.header[k] = vs
	}
	n.respTime, n.initialAge, n.fetched = respTime, initialAge(h, reqTime, respTime), reqTime
	return &n
}

// varyFields returns the canonical, sorted field names of h's Vary.
func varyFields(h http.Header) []string {
	var out []string
	for _, v := range h.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				out = append(out, http.CanonicalHeaderKey(f))
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// variantOf is the request's selecting header values for the fields
// (RFC 9111, Section 4.1): each field's values joined, whitespace around
// commas removed, one line per field.
func variantOf(r *http.Request, fields []string) string {
	if len(fields) == 0 {
		return ""
	}
	var b strings.Builder
	for _, f := range fields {
		b.WriteString(f)
		b.WriteByte('=')
		for i, v := range r.Header[f] {
			if i > 0 {
				b.WriteByte(',')
			}
			for j, part := range strings.Split(v, ",") {
				if j > 0 {
					b.WriteByte(',')
				}
				b.WriteString(strings.TrimSpace(part))
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// The disk form of an entry:
//
//	magic (6 bytes) | meta length (4, big endian) | meta (JSON) |
//	CRC-32C of meta (4) | body
//
// The meta names the body's length and CRC-32C: a file shorter or longer
// than they say is torn, one whose body does not match is corrupt; both
// are dropped, never served.
var (
	diskMagic  = []byte("CDNDC\x01")
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
	errCorrupt = errors.New("cache: corrupt entry")
)

const diskHeaderLen = 6 + 4

type diskMeta struct {
	Key        string              `json:"k"`
	Vary       []string            `json:"v,omitempty"`
	Variant    string              `json:"vv,omitempty"`
	Status     int                 `json:"s"`
	Header     map[string][]string `json:"h"`
	RespTime   int64               `json:"t"`
	Fetched    int64               `json:"f"`
	InitialAge time.Duration       `json:"a"`
	Lifetime   time.Duration       `json:"l"`
	Validate   bool                `json:"rv,omitempty"`
	NoStale    bool                `json:"ns,omitempty"`
	SWR        time.Duration       `json:"swr,omitempty"`
	SIE        time.Duration       `json:"sie,omitempty"`
	Follow     bool                `json:"fc,omitempty"`
	BodyLen    int64               `json:"bl"`
	BodyCRC    uint32              `json:"bc"`
}

// encode returns the disk form of e.
func (e *entry) encode() []byte {
	meta, _ := json.Marshal(diskMeta{
		Key: e.key, Vary: e.vary, Variant: e.variant, Status: e.status, Header: e.header,
		RespTime: e.respTime.UnixNano(), Fetched: e.fetched.UnixNano(), InitialAge: e.initialAge,
		Lifetime: e.pol.lifetime, Validate: e.pol.validate, NoStale: e.pol.noStale, SWR: e.pol.swr, SIE: e.pol.sie, Follow: e.pol.follow,
		BodyLen: int64(len(e.body)), BodyCRC: crc32.Checksum(e.body, castagnoli),
	})
	out := make([]byte, 0, diskHeaderLen+len(meta)+4+len(e.body))
	out = append(out, diskMagic...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(meta)))
	out = append(out, meta...)
	out = binary.BigEndian.AppendUint32(out, crc32.Checksum(meta, castagnoli))
	return append(out, e.body...)
}

// decodeMeta reads the meta of a disk entry from its first bytes, given the
// file's size; it returns the meta and where the body starts.
func decodeMeta(b []byte, fileSize int64) (*diskMeta, int, error) {
	if len(b) < diskHeaderLen || string(b[:6]) != string(diskMagic) {
		return nil, 0, errCorrupt
	}
	n := int(binary.BigEndian.Uint32(b[6:10]))
	if n > maxMetaLen || len(b) < diskHeaderLen+n+4 {
		return nil, 0, errCorrupt
	}
	meta := b[diskHeaderLen : diskHeaderLen+n]
	if crc32.Checksum(meta, castagnoli) != binary.BigEndian.Uint32(b[diskHeaderLen+n:]) {
		return nil, 0, errCorrupt
	}
	var m diskMeta
	if err := json.Unmarshal(meta, &m); err != nil || m.Key == "" || m.BodyLen < 0 {
		return nil, 0, errCorrupt
	}
	start := diskHeaderLen + n + 4
	if int64(start)+m.BodyLen != fileSize {
		return nil, 0, errCorrupt // torn: a write that did not finish
	}
	return &m, start, nil
}

// maxMetaLen bounds what a (possibly corrupt) length field makes us read.
const maxMetaLen = 1 << 20

// decodeEntry reads a whole disk entry, checking both checksums.
func decodeEntry(b []byte) (*entry, error) {
	m, start, err := decodeMeta(b, int64(len(b)))
	if err != nil {
		return nil, err
	}
	body := b[start:]
	if crc32.Checksum(body, castagnoli) != m.BodyCRC {
		return nil, errCorrupt
	}
	return m.entry(body), nil
}

func (m *diskMeta) entry(body []byte) *entry {
	return &entry{
		key: m.Key, vary: m.Vary, variant: m.Variant, status: m.Status, header: http.Header(m.Header), body: body,
		respTime: time.Unix(0, m.RespTime), fetched: time.Unix(0, m.Fetched), initialAge: m.InitialAge,
		pol: policy{store: true, lifetime: m.Lifetime, validate: m.Validate, noStale: m.NoStale, swr: m.SWR, sie: m.SIE, follow: m.Follow},
	}
}
