package store

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync/atomic"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"
)

// MemberConfig describes one member of an etcd cluster run by `cdnd etcd`:
// for a small fleet without an etcd of its own, and for the fault tests,
// which need real members in separate processes.
type MemberConfig struct {
	Name                string
	Dir                 string
	ListenClientURLs    string // comma-separated
	AdvertiseClientURLs string
	ListenPeerURLs      string
	AdvertisePeerURLs   string
	InitialCluster      string // name=peerURL,...
	ClusterState        string // new | existing
	ClusterToken        string
	// TLS for clients and for peers: a certificate and key to serve with,
	// and, when ClientCertAuth is set, the CA whose certificates are
	// required of them. Empty serves plain HTTP (only on a trusted network).
	Client, Peer MemberTLS
	Logger       *slog.Logger
}

// MemberTLS is one side's TLS, in etcd's terms.
type MemberTLS struct {
	CertFile, KeyFile, TrustedCAFile string
	ClientCertAuth                   bool
}

func (m MemberTLS) info() transport.TLSInfo {
	return transport.TLSInfo{CertFile: m.CertFile, KeyFile: m.KeyFile, TrustedCAFile: m.TrustedCAFile, ClientCertAuth: m.ClientCertAuth}
}

func urls(list string) ([]url.URL, error) {
	var out []url.URL
	for _, s := range strings.Split(list, ",") {
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%q: %w", s, err)
		}
		out = append(out, *u)
	}
	return out, nil
}

// RunMember runs an etcd member until ctx ends or it fails.
func RunMember(ctx context.Context, mc MemberConfig) error {
	cfg := embed.NewConfig()
	cfg.Name, cfg.Dir = mc.Name, mc.Dir
	var err error
	for _, u := range []struct {
		list string
		into *[]url.URL
	}{
		{mc.ListenClientURLs, &cfg.ListenClientUrls},
		{mc.AdvertiseClientURLs, &cfg.AdvertiseClientUrls},
		{mc.ListenPeerURLs, &cfg.ListenPeerUrls},
		{mc.AdvertisePeerURLs, &cfg.AdvertisePeerUrls},
	} {
		if *u.into, err = urls(u.list); err != nil {
			return err
		}
	}
	cfg.InitialCluster, cfg.ClusterState, cfg.InitialClusterToken = mc.InitialCluster, mc.ClusterState, mc.ClusterToken
	cfg.ClientTLSInfo, cfg.PeerTLSInfo = mc.Client.info(), mc.Peer.info()
	// As for the embedded member (startEmbedded): embed.NewConfig leaves the
	// slow-request threshold at 0, which logs every request as a warning,
	// and sets no compaction, so history (every edge and API node
	// heartbeat is a revision) grows until the backend quota stops writes.
	cfg.WarningUnaryRequestDuration = embed.DefaultWarningUnaryRequestDuration
	cfg.AutoCompactionMode = embed.CompactorModePeriodic
	cfg.AutoCompactionRetention = "1h"
	if mc.Logger == nil {
		mc.Logger = slog.Default()
	}
	closing := new(atomic.Bool)
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(newEtcdLogger(mc.Logger, closing))
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return err
	}
	defer func() {
		closing.Store(true)
		e.Close()
	}()
	select {
	case <-e.Server.ReadyNotify():
		mc.Logger.Info("etcd member ready", "name", mc.Name, "clients", mc.AdvertiseClientURLs)
	case err := <-e.Err():
		return err
	case <-ctx.Done():
		return nil
	}
	select {
	case err := <-e.Err():
		return err
	case <-ctx.Done():
		return nil
	}
}
