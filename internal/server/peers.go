package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/cdnd/cdnd/internal/store"
)

// peerCount keeps this API node registered and counts the live API nodes,
// so that each takes 1/n of every account's throttling budget.
type peerCount struct {
	st    *store.Store
	log   *slog.Logger
	lease *store.EdgeLease
	n     atomic.Int64
}

func newPeerCount(st *store.Store, log *slog.Logger) *peerCount {
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	p := &peerCount{st: st, log: log, lease: st.RegisterAPINode(hex.EncodeToString(id))}
	p.n.Store(1)
	return p
}

func (p *peerCount) share() float64 { return 1 / float64(p.n.Load()) }

// run re-announces this node and recounts every few seconds, well inside
// the lease, until ctx ends.
func (p *peerCount) run(ctx context.Context) {
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		p.lease.Close(cctx)
		cancel()
	}()
	for {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if err := p.lease.Report(rctx, store.Edge{}); err == nil {
			if n, err := p.st.APINodes(rctx); err == nil && n > 0 {
				p.n.Store(n)
			}
		} else if ctx.Err() == nil {
			p.log.Debug("api node: announcing failed", "err", err)
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
	}
}
