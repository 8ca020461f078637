package netlimit

import (
	"net"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Limit returns ln limited to max open connections; open follows how many
// are, refused counts those turned away.
//
// A connection over the limit is accepted and reset at once rather than
// left in the kernel's accept queue, as golang.org/x/net/netutil's
// LimitListener does by not calling Accept: the client learns right away
// that it was refused instead of waiting on a handshake the queue never
// completes, the queue keeps no stale connections that would be served
// long after their client gave up, and accepting goes on, so a connection
// that frees a slot serves the next client without delay. The cost is one
// file descriptor per listener for the instant of the refusal.
//
// Accept errors are returned as they are: net/http's Server retries the
// temporary ones (EMFILE, ENFILE, ECONNABORTED) after a backoff growing to
// a second, so running out of descriptors neither spins nor stops serving.
func Limit(ln net.Listener, max int, open prometheus.Gauge, refused prometheus.Counter) net.Listener {
	return &listener{Listener: ln, max: int64(max), open: open, refused: refused}
}

type listener struct {
	net.Listener
	max     int64
	n       atomic.Int64
	open    prometheus.Gauge
	refused prometheus.Counter
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.n.Add(1) > l.max {
			l.n.Add(-1)
			l.refused.Inc()
			reset(c)
			continue
		}
		l.open.Inc()
		return &conn{Conn: c, l: l}, nil
	}
}

// reset closes c with an RST, leaving no TIME_WAIT state behind for
// connections the node never served.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// conn gives its slot back when it is first closed.
type conn struct {
	net.Conn
	l    *listener
	once sync.Once
}

// CloseWrite keeps net/http's half-close: a FIN before the close, so that
// a client still sending does not lose the answer to an RST.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.n.Add(-1)
		c.l.open.Dec()
	})
	return err
}
