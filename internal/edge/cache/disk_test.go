package cache

import (
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// reopen closes hs's cache (writing what is queued) and puts a new one on
// the same directory in its place, as a restart does.
func (hs *harness) reopen(cfg Config) {
	hs.t.Helper()
	hs.c.Close()
	c, err := New(cfg)
	if err != nil {
		hs.t.Fatal(err)
	}
	c.now = hs.clk.now
	hs.c = c
	hs.t.Cleanup(c.Close)
}

// diskFiles lists the entry files under dir.
func diskFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDiskTierServesAfterRestart(t *testing.T) {
	cfg := Config{Dir: t.TempDir()}
	hs := newHarness(t, cfg, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=100")
		w.Header().Set("Vary", "Accept-Language")
		_, _ = w.Write([]byte("lang " + r.Header.Get("Accept-Language")))
	})
	hs.get("/a", "Accept-Language", "en")
	hs.get("/a", "Accept-Language", "fr")
	hs.reopen(cfg)
	for _, lang := range []string{"en", "fr"} {
		resp, body := hs.get("/a", "Accept-Language", lang)
		hs.want(resp, hitDisk, 2)
		if body != "lang "+lang {
			t.Errorf("body %q", body)
		}
	}
	resp, _ := hs.get("/a", "Accept-Language", "en")
	hs.want(resp, hitMem, 2)
}

func TestDiskTierDropsTornAndCorruptEntries(t *testing.T) {
	for _, tt := range []struct {
		name   string
		damage func(t *testing.T, p string)
	}{
		{"torn", func(t *testing.T, p string) {
			fi, _ := os.Stat(p)
			if err := os.Truncate(p, fi.Size()-3); err != nil {
				t.Fatal(err)
			}
		}},
		{"body flipped", func(t *testing.T, p string) {
			b, _ := os.ReadFile(p)
			b[len(b)-1] ^= 1
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"meta flipped", func(t *testing.T, p string) {
			b, _ := os.ReadFile(p)
			b[diskHeaderLen+2] ^= 1
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"garbage", func(t *testing.T, p string) {
			if err := os.WriteFile(p, []byte("not an entry"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Dir: t.TempDir()}
			hs := newHarness(t, cfg, fixed("the body", "Cache-Control", "max-age=100"))
			hs.get("/a")
			hs.c.Close()
			files := diskFiles(t, cfg.Dir)
			if len(files) != 1 {
				t.Fatalf("%d files", len(files))
			}
			tt.damage(t, files[0])
			// A stray temporary file of an interrupted write, too.
			if err := os.WriteFile(filepath.Join(filepath.Dir(files[0]), tmpPrefix+"x"), []byte("half"), 0o600); err != nil {
				t.Fatal(err)
			}
			hs.reopen(cfg)
			resp, body := hs.get("/a")
			hs.want(resp, miss, 2)
			if body != "the body" {
				t.Errorf("body %q", body)
			}
			hs.c.Close()
			for _, f := range diskFiles(t, cfg.Dir) {
				if strings.HasPrefix(filepath.Base(f), tmpPrefix) {
					t.Errorf("temporary file %s kept", f)
				}
			}
		})
	}
}

func TestTiersStayWithinBoundsUnderLargeWorkingSet(t *testing.T) {
	const (
		memBytes  = 64 << 10
		diskBytes = 256 << 10
		objSize   = 4 << 10
	)
	cfg := Config{MemoryBytes: memBytes, Dir: t.TempDir(), DiskBytes: diskBytes}
	body := strings.Repeat("b", objSize)
	hs := newHarness(t, cfg, fixed(body, "Cache-Control", "max-age=1000"))
	// A working set ten times the disk tier (and forty times memory).
	n := 10 * diskBytes / objSize
	for i := range n {
		rec := httptest.NewRecorder()
		hs.serve(rec, httptest.NewRequest(http.MethodGet, fmt.Sprintf("/o/%d", i), nil))
		if rec.Body.Len() != objSize {
			t.Fatalf("object %d: %d bytes", i, rec.Body.Len())
		}
		if mem, disk := hs.c.Usage(); mem > memBytes || disk > diskBytes {
			t.Fatalf("after %d objects: memory %d (limit %d), disk %d (limit %d)", i+1, mem, memBytes, disk, diskBytes)
		}
	}
	hs.c.Close()
	var onDisk int64
	for _, f := range diskFiles(t, cfg.Dir) {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		onDisk += fi.Size()
	}
	if onDisk > diskBytes {
		t.Errorf("files on disk hold %d bytes, limit %d", onDisk, diskBytes)
	}
	if onDisk < diskBytes/2 {
		t.Errorf("files on disk hold %d bytes: the tier is not used", onDisk)
	}
	// The most recent objects are still served from the cache; the
	// oldest are gone.
	hs.reopen(cfg)
	hits := hs.o.hits.Load()
	rec := httptest.NewRecorder()
	hs.serve(rec, httptest.NewRequest(http.MethodGet, fmt.Sprintf("/o/%d", n-1), nil))
	if rec.Header().Get("X-Cache") != hitDisk || hs.o.hits.Load() != hits {
		t.Errorf("newest object after restart: X-Cache %q", rec.Header().Get("X-Cache"))
	}
	rec = httptest.NewRecorder()
	hs.serve(rec, httptest.NewRequest(http.MethodGet, "/o/0", nil))
	if rec.Header().Get("X-Cache") != miss {
		t.Errorf("oldest object after restart: X-Cache %q, want a miss", rec.Header().Get("X-Cache"))
	}
}

func FuzzDecodeEntry(f *testing.F) {
	e := &entry{key: "d/p", status: 200, header: http.Header{"A": {"b"}}, body: []byte("body")}
	f.Add(e.encode())
	f.Add([]byte("CDNDC\x01\x00\x00\x00\x02{}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeEntry(b)
		if err != nil {
			return
		}
		// Whatever decodes encodes back to something that decodes alike.
		again, err := decodeEntry(got.encode())
		if err != nil || again.key != got.key || string(again.body) != string(got.body) {
			t.Errorf("round trip: %v", err)
		}
	})
}

// TestEntryDiskFormKeepsEveryField: what a restart reads back is the entry
// as stored, its policy whole (a field left out of the disk form changes
// how the object is served after a restart).
func TestEntryDiskFormKeepsEveryField(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	e := &entry{key: "example.com/a", vary: []string{"Accept-Language"}, variant: "en", status: 200,
		header: http.Header{"Etag": {`"1"`}}, body: []byte("body"), respTime: now, fetched: now.Add(-time.Second),
		initialAge: 3 * time.Second,
		pol:        policy{store: true, lifetime: time.Hour, validate: true, noStale: true, swr: time.Minute, sie: 2 * time.Minute, follow: true}}
	got, err := decodeEntry(e.encode())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, e) {
		t.Errorf("decoded\n%+v\nwant\n%+v", got, e)
	}
}
