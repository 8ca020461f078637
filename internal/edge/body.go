package edge

import (
	"errors"
	"io"
	"net/http"
	"os"
	"sync"
	"time"
)

// bodyIdleTimeout is how long a visitor may pause while sending a request
// body (the time between two reads, as nginx's client_body_timeout):
// someone trickling a body must not hold the connection, and the origin
// connection it feeds, forever.
const bodyIdleTimeout = 30 * time.Second

// idleBody is a visitor's request body with a read deadline renewed at
// every read, through the connection (http.ResponseController).
type idleBody struct {
	rc   io.ReadCloser
	ctl  *http.ResponseController
	idle time.Duration

	mu sync.Mutex
	// done: the handler has returned, after which the ResponseController
	// must not be used (the transport may still be reading the body).
	done     bool
	timedOut bool
}

// idleBodyKey carries a request's idleBody in its context, for the error
// handler (net/http/httputil's ReverseProxy hands it the body wrapped).
type idleBodyKey struct{}

// stalledBody reports whether the request's body stalled.
func stalledBody(r *http.Request) bool {
	b, _ := r.Context().Value(idleBodyKey{}).(*idleBody)
	return b != nil && b.stalled()
}

func newIdleBody(rc io.ReadCloser, w http.ResponseWriter, idle time.Duration) *idleBody {
	return &idleBody{rc: rc, ctl: http.NewResponseController(w), idle: idle}
}

func (b *idleBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	if !b.done {
		_ = b.ctl.SetReadDeadline(time.Now().Add(b.idle))
	}
	b.mu.Unlock()
	n, err := b.rc.Read(p)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		b.mu.Lock()
		b.timedOut = true
		b.mu.Unlock()
	}
	return n, err
}

func (b *idleBody) Close() error { return b.rc.Close() }

// handlerDone is called when the handler returns.
func (b *idleBody) handlerDone() {
	b.mu.Lock()
	b.done = true
	b.mu.Unlock()
}

// stalled reports whether the visitor paused longer than the idle time.
func (b *idleBody) stalled() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.timedOut
}
