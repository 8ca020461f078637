package main

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// byteSize is a flag holding a number of bytes: digits with an optional
// suffix K, M, G or T (powers of 1024; "KiB", "MB" and lower case read the
// same).
type byteSize int64

var byteSuffixes = []struct {
	suffix string
	shift  uint
}{{"T", 40}, {"G", 30}, {"M", 20}, {"K", 10}}

var errByteSize = errors.New("want a number of bytes like 512M or 10G")

func (b *byteSize) Set(s string) error {
	v := strings.ToUpper(strings.TrimSpace(s))
	v = strings.TrimSuffix(strings.TrimSuffix(v, "B"), "I")
	var shift uint
	for _, u := range byteSuffixes {
		if strings.HasSuffix(v, u.suffix) {
			v, shift = strings.TrimSuffix(v, u.suffix), u.shift
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64>>shift {
		return errByteSize
	}
	*b = byteSize(n << shift)
	return nil
}

func (b *byteSize) String() string { return strconv.FormatInt(int64(*b), 10) }

func (b *byteSize) Type() string { return "bytes" }
