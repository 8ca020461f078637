package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/cdnd/cdnd/internal/store"
	"github.com/spf13/cobra"
)

// etcdCommand runs one member of an etcd cluster with the etcd compiled into
// cdnd, for fleets without a cluster of their own (and for the fault tests).
func etcdCommand() *cobra.Command {
	var mc store.MemberConfig
	var logLevel string
	cmd := &cobra.Command{
		Use:   "etcd",
		Short: "Run one member of an etcd cluster (the etcd built into cdnd)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(logLevel, "text")
			if err != nil {
				return err
			}
			mc.Logger = log
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return store.RunMember(ctx, mc)
		},
	}
	f := cmd.Flags()
	f.StringVar(&mc.Name, "name", "default", "member name")
	f.StringVar(&mc.Dir, "data-dir", "etcd-data", "member data directory")
	f.StringVar(&mc.ListenClientURLs, "listen-client-urls", "http://127.0.0.1:2379", "URLs to serve clients on")
	f.StringVar(&mc.AdvertiseClientURLs, "advertise-client-urls", "http://127.0.0.1:2379", "client URLs told to the cluster")
	f.StringVar(&mc.ListenPeerURLs, "listen-peer-urls", "http://127.0.0.1:2380", "URLs to serve peers on")
	f.StringVar(&mc.AdvertisePeerURLs, "initial-advertise-peer-urls", "http://127.0.0.1:2380", "peer URLs told to the cluster")
	f.StringVar(&mc.InitialCluster, "initial-cluster", "default=http://127.0.0.1:2380", "name=peerURL,... of every member")
	f.StringVar(&mc.ClusterState, "initial-cluster-state", "new", "new or existing")
	f.StringVar(&mc.ClusterToken, "initial-cluster-token", "cdnd", "token that keeps clusters apart")
	f.StringVar(&mc.Client.CertFile, "cert-file", "", "TLS certificate served to clients (the client URLs must be https)")
	f.StringVar(&mc.Client.KeyFile, "key-file", "", "key of --cert-file")
	f.StringVar(&mc.Client.TrustedCAFile, "trusted-ca-file", "", "CA that signs the certificates clients must present")
	f.BoolVar(&mc.Client.ClientCertAuth, "client-cert-auth", false, "require a client certificate signed by --trusted-ca-file")
	f.StringVar(&mc.Peer.CertFile, "peer-cert-file", "", "TLS certificate for peer traffic (the peer URLs must be https)")
	f.StringVar(&mc.Peer.KeyFile, "peer-key-file", "", "key of --peer-cert-file")
	f.StringVar(&mc.Peer.TrustedCAFile, "peer-trusted-ca-file", "", "CA that signs the peers' certificates")
	f.BoolVar(&mc.Peer.ClientCertAuth, "peer-client-cert-auth", false, "require peers to present a certificate signed by --peer-trusted-ca-file")
	f.StringVar(&logLevel, "log-level", "warn", "debug, info, warn or error")
	return cmd
}
