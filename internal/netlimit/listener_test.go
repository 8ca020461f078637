package netlimit_test

import (
	"errors"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/cdnd/cdnd/internal/netlimit"
)

// TestLimit: at the limit a new connection is accepted and reset, the
// listener keeps accepting, and a closed connection frees its slot.
func TestLimit(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	open := prometheus.NewGauge(prometheus.GaugeOpts{Name: "open"})
	refused := prometheus.NewCounter(prometheus.CounterOpts{Name: "refused"})
	ln := netlimit.Limit(raw, 2, open, refused)
	defer ln.Close()
	accepted := make(chan net.Conn)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	dial()
	dial()
	served := []net.Conn{<-accepted, <-accepted}
	if got := value(t, open); got != 2 {
		t.Fatalf("open = %v, want 2", got)
	}

	// The reset can reach the client before its dial has looked at the
	// socket's state: the dial then fails with it, which is as much a
	// refusal as a read that fails.
	if over, err := net.Dial("tcp", raw.Addr().String()); err == nil {
		defer over.Close()
		if _, err := over.Read(make([]byte, 1)); err == nil {
			t.Fatal("a connection over the limit was kept")
		}
	} else if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("dial over the limit: %v", err)
	}
	if got := value(t, refused); got != 1 {
		t.Fatalf("refused = %v, want 1", got)
	}

	// Closing twice gives back one slot.
	served[0].Close()
	served[0].Close()
	if got := value(t, open); got != 1 {
		t.Fatalf("open after a close = %v, want 1", got)
	}
	next := dial()
	c := <-accepted
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(next, make([]byte, 1)); err != nil {
		t.Fatalf("a connection under the limit again: %v", err)
	}
	if got := value(t, refused); got != 1 {
		t.Fatalf("refused = %v, want still 1", got)
	}
}

// value reads a gauge or a counter.
func value(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	if d.Gauge != nil {
		return d.Gauge.GetValue()
	}
	return d.Counter.GetValue()
}

func TestDefaultMaxConns(t *testing.T) {
	for _, tc := range []struct {
		limit               uint64
		listeners, proxying int
		want                int
	}{
		{20000, 4, 2, (20000 - 1024) / 6},
		{1 << 20, 4, 2, (1<<20 - 1024) / 6},
		{1024, 4, 2, (1024 - 256) / 6},
		{64, 4, 2, netlimit.MinConns},
		{0, 4, 2, netlimit.MinConns},
		{20000, 2, 0, (20000 - 1024) / 2},
		{^uint64(0), 1, 0, 1<<24 - 1024},
	} {
		if got := netlimit.DefaultMaxConns(tc.limit, tc.listeners, tc.proxying); got != tc.want {
			t.Errorf("DefaultMaxConns(%d, %d, %d) = %d, want %d", tc.limit, tc.listeners, tc.proxying, got, tc.want)
		}
	}
}

func TestFileLimit(t *testing.T) {
	n, err := netlimit.FileLimit()
	if err != nil || n == 0 {
		t.Fatalf("FileLimit() = %d, %v", n, err)
	}
}
