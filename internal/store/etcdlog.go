package store

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// slogCore carries the embedded etcd's zap logging into cdnd's slog logger,
// so one process writes one log, in one format. Once the store is closing,
// etcd's complaints about its own listeners shutting down are dropped: they
// are the shutdown, not a fault.
type slogCore struct {
	log     *slog.Logger
	attrs   []slog.Attr
	closing *atomic.Bool
}

func newEtcdLogger(log *slog.Logger, closing *atomic.Bool) *zap.Logger {
	return zap.New(&slogCore{log: log.With("component", "etcd"), closing: closing})
}

// etcd is chatty at info; only its warnings and errors reach cdnd's log.
func (c *slogCore) Enabled(l zapcore.Level) bool { return l >= zapcore.WarnLevel }

func (c *slogCore) With(fields []zapcore.Field) zapcore.Core {
	return &slogCore{log: c.log, attrs: slices.Concat(c.attrs, attrs(fields)), closing: c.closing}
}

// benignEtcdWarnings are warnings about settings that do not apply to a
// member reached only in-process (no client authentication).
var benignEtcdWarnings = map[string]bool{
	"simple token is not cryptographically signed": true,
	// The embedded member's client port is never used (cdnd talks to it
	// in-process), so sharing it between HTTP and gRPC does not matter.
	"Running http and grpc server on single port. This is not recommended for production.": true,
}

func (c *slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) && !c.closing.Load() && !benignEtcdWarnings[e.Message] {
		return ce.AddCore(e, c)
	}
	return ce
}

// freshMemberNoise are the complaints of a member whose log holds no term
// yet: it cannot tell its storage schema until its first election, which
// on a fresh data directory is what every first start looks like. Only
// that cause is dropped; the same messages for any other reason are kept.
var freshMemberNoise = map[string]bool{
	"Failed to detect schema version":  true,
	"failed to update storage version": true,
}

const missingTerm = "missing term information"

func (c *slogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	if freshMemberNoise[e.Message] && slices.ContainsFunc(fields, func(f zapcore.Field) bool {
		err, ok := f.Interface.(error)
		return f.Key == "error" && ok && strings.Contains(err.Error(), missingTerm)
	}) {
		return nil
	}
	level := slog.LevelWarn
	if e.Level >= zapcore.ErrorLevel {
		level = slog.LevelError
	}
	// A fresh slice: c.attrs may have spare capacity that concurrent
	// writers would otherwise all append into.
	c.log.LogAttrs(context.Background(), level, e.Message, slices.Concat(c.attrs, attrs(fields))...)
	return nil
}

func (c *slogCore) Sync() error { return nil }

func attrs(fields []zapcore.Field) []slog.Attr {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range fields {
		f.AddTo(enc)
	}
	out := make([]slog.Attr, 0, len(enc.Fields))
	for k, v := range enc.Fields {
		out = append(out, slog.Any(k, v))
	}
	return out
}
