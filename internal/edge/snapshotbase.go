package edge

import (
	"bufio"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/cdnd/cdnd/internal/store"
)

// The base is the whole served set at one revision: baseMagic, then a gob
// stream of a baseHeader and baseChunks until the header's counts are
// reached. gob because at 100k domains it writes and reads several times
// faster than JSON (gzip JSON took ~2 s to write and ~3 s to read there),
// and it follows store.Domain and store.Cert as they gain fields.
const baseMagic = "cdnd edge base 1\n"

// baseChunkLen bounds the records per gob message: gob buffers a message
// whole on both sides, and one message for 100k domains (over 100 MB) would
// be copied over and over as its buffer grows.
const baseChunkLen = 1024

type baseHeader struct {
	Revision  int64
	ClusterID uint64
	Domains   int
	Configs   int
	Certs     int
	Purges    int
}

type baseChunk struct {
	Domains []store.Domain
	Configs []store.DomainConfigs
	Certs   []baseCert
	Purges  []store.Purge
	// Intermediates are the runs of intermediates (a chain minus its leaf)
	// that this chunk's certificates use first. Every certificate of a CA
	// carries the same ones, so they are written once per file, not once
	// per certificate: a third of the file at 100k domains otherwise.
	Intermediates []string
}

// baseCert is a certificate record whose ChainPEM holds only the leaf; the
// rest of the chain is the file's Intermediates-th run.
type baseCert struct {
	store.Cert
	Intermediates int
}

// writeBase writes s as the base at path, atomically, and returns the
// file's size.
func writeBase(path string, s *store.Served) (int64, error) {
	f, err := replaceFile(path, func(f *os.File) error {
		bw := bufio.NewWriterSize(f, 1<<16)
		bw.WriteString(baseMagic)
		if err := encodeBase(bw, s); err != nil {
			return err
		}
		return bw.Flush()
	})
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

func encodeBase(w io.Writer, s *store.Served) error {
	enc := gob.NewEncoder(w)
	if err := enc.Encode(baseHeader{Revision: s.Revision, ClusterID: s.ClusterID, Domains: len(s.Domains), Configs: len(s.Configs), Certs: len(s.Certs), Purges: len(s.Purges)}); err != nil {
		return err
	}
	for i := 0; i < len(s.Purges); i += baseChunkLen {
		if err := enc.Encode(baseChunk{Purges: s.Purges[i:min(i+baseChunkLen, len(s.Purges))]}); err != nil {
			return err
		}
	}
	for i := 0; i < len(s.Domains); i += baseChunkLen {
		if err := enc.Encode(baseChunk{Domains: s.Domains[i:min(i+baseChunkLen, len(s.Domains))]}); err != nil {
			return err
		}
	}
	for i := 0; i < len(s.Configs); i += baseChunkLen {
		if err := enc.Encode(baseChunk{Configs: s.Configs[i:min(i+baseChunkLen, len(s.Configs))]}); err != nil {
			return err
		}
	}
	runs := map[string]int{}
	var chunk baseChunk
	for i := range s.Certs {
		c := s.Certs[i]
		leaf, rest := splitChain(c.ChainPEM)
		run, ok := runs[rest]
		if !ok {
			run = len(runs)
			runs[rest] = run
			chunk.Intermediates = append(chunk.Intermediates, rest)
		}
		c.ChainPEM = leaf
		chunk.Certs = append(chunk.Certs, baseCert{Cert: c, Intermediates: run})
		if len(chunk.Certs) == baseChunkLen || i == len(s.Certs)-1 {
			if err := enc.Encode(chunk); err != nil {
				return err
			}
			chunk = baseChunk{Certs: chunk.Certs[:0]}
		}
	}
	return nil
}

// readBase reads the base at path and returns it with the file's size.
func readBase(path string) (*store.Served, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	br := bufio.NewReaderSize(f, 1<<16)
	magic := make([]byte, len(baseMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != baseMagic {
		return nil, 0, fmt.Errorf("edge: %s is not a snapshot base", path)
	}
	s, err := decodeBase(br)
	if err != nil {
		return nil, 0, fmt.Errorf("edge: snapshot base %s: %w", path, err)
	}
	return s, fi.Size(), nil
}

func decodeBase(r io.Reader) (*store.Served, error) {
	dec := gob.NewDecoder(r)
	var h baseHeader
	if err := dec.Decode(&h); err != nil {
		return nil, err
	}
	s := &store.Served{Revision: h.Revision, ClusterID: h.ClusterID}
	var runs []string
	for len(s.Domains) < h.Domains || len(s.Configs) < h.Configs || len(s.Certs) < h.Certs || len(s.Purges) < h.Purges {
		var chunk baseChunk
		if err := dec.Decode(&chunk); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		s.Domains = append(s.Domains, chunk.Domains...)
		s.Configs = append(s.Configs, chunk.Configs...)
		s.Purges = append(s.Purges, chunk.Purges...)
		runs = append(runs, chunk.Intermediates...)
		for _, c := range chunk.Certs {
			if c.Intermediates < 0 || c.Intermediates >= len(runs) {
				return nil, fmt.Errorf("certificate %s/%s: no intermediates #%d", c.AccountID, c.Name, c.Intermediates)
			}
			c.ChainPEM += runs[c.Intermediates]
			s.Certs = append(s.Certs, c.Cert)
		}
	}
	if len(s.Purges) != h.Purges {
		return nil, fmt.Errorf("%d purges, the header says %d", len(s.Purges), h.Purges)
	}
	if len(s.Domains) != h.Domains || len(s.Configs) != h.Configs || len(s.Certs) != h.Certs {
		return nil, fmt.Errorf("%d domains, %d configs and %d certificates, the header says %d, %d and %d", len(s.Domains), len(s.Configs), len(s.Certs), h.Domains, h.Configs, h.Certs)
	}
	return s, nil
}
