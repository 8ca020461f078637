package cache

import (
	"net/http"
	"strconv"
	"time"
)

// capture is the ResponseWriter the origin handler writes a fetch into. At
// WriteHeader it decides (decide) what the response is for: streamed to
// the visitor while it is kept for storing, kept only, or absorbed (a 304
// or an error the cache answers from a stale entry).
type capture struct {
	header http.Header
	status int
	decide func(c *capture) captureMode
	mode   captureMode
	// client, when streaming, is the visitor's writer.
	client http.ResponseWriter
	// body is kept up to limit bytes; over says it grew past (not stored).
	body  []byte
	limit int64
	over  bool
	// fromOrigin counts the body bytes the origin sent.
	fromOrigin int64
}

type captureMode int

const (
	modeKeep   captureMode = iota // keep the body (for storing, or to answer from it)
	modeStream                    // and stream it to client
	modeAbsorb                    // discard it
)

func (c *capture) Header() http.Header { return c.header }

func (c *capture) WriteHeader(code int) {
	if c.status != 0 || code < 200 {
		// 1xx (Early Hints) are not forwarded: the visitor's answer may
		// come from the cache.
		return
	}
	c.status = code
	c.mode = c.decide(c)
}

func (c *capture) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.WriteHeader(http.StatusOK)
	}
	c.fromOrigin += int64(len(p))
	if c.mode == modeAbsorb {
		return len(p), nil
	}
	if !c.over {
		if int64(len(c.body)+len(p)) > c.limit {
			c.over, c.body = true, nil
		} else {
			c.body = append(c.body, p...)
		}
	}
	if c.mode == modeStream {
		return c.client.Write(p)
	}
	if c.over {
		// Kept only, and too large to keep: stop the fetch.
		return 0, errTooLarge
	}
	return len(p), nil
}

// Flush passes the origin handler's flushes on while streaming.
func (c *capture) Flush() {
	if c.mode == modeStream {
		_ = http.NewResponseController(c.client).Flush()
	}
}

// declaredLength is the response's Content-Length, or -1.
func declaredLength(h http.Header) int64 {
	n, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// complete reports whether the captured body is the whole response.
func (c *capture) complete() bool {
	if c.over || c.status == 0 {
		return false
	}
	n := declaredLength(c.header)
	return n < 0 || n == int64(len(c.body))
}

// ageSeconds is an Age field value (RFC 9111, Section 5.1).
func ageSeconds(d time.Duration) []string {
	return []string{strconv.FormatInt(int64(d/time.Second), 10)}
}
