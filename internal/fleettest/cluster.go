package fleettest

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// Cluster is three `cdnd etcd` members on loopback: the smallest cluster
// that keeps its quorum when one member dies.
type Cluster struct {
	Members []*Member
	// Endpoints are the members' client URLs, in the order of Members.
	Endpoints []string
}

// Member is one member of a Cluster.
type Member struct {
	*Proc
	ClientURL string
}

// MemberTLS are the PEM files of a cluster that speaks TLS to clients and
// between members, and requires a certificate signed by CA of both.
type MemberTLS struct {
	CA, Cert, Key string
}

// NewCluster prepares the three members n1, n2, n3 of a new cluster, with
// their data directories DIR/etcd-n1... and logs DIR/etcd-n1.log...; tls
// may be nil. StartMembers starts them.
func (l Launcher) NewCluster(tls *MemberTLS) (*Cluster, error) {
	const size = 3
	scheme := "http"
	if tls != nil {
		scheme = "https"
	}
	c := &Cluster{}
	var peerURLs, initial []string
	for i := range size {
		client, err := freePort()
		if err != nil {
			return nil, err
		}
		peer, err := freePort()
		if err != nil {
			return nil, err
		}
		c.Endpoints = append(c.Endpoints, fmt.Sprintf("%s://127.0.0.1:%d", scheme, client))
		peerURLs = append(peerURLs, fmt.Sprintf("%s://127.0.0.1:%d", scheme, peer))
		initial = append(initial, fmt.Sprintf("n%d=%s", i+1, peerURLs[i]))
	}
	for i := range size {
		name := fmt.Sprintf("n%d", i+1)
		args := []string{"etcd", "--name", name,
			"--data-dir", filepath.Join(l.Dir, "etcd-"+name),
			"--listen-client-urls", c.Endpoints[i], "--advertise-client-urls", c.Endpoints[i],
			"--listen-peer-urls", peerURLs[i], "--initial-advertise-peer-urls", peerURLs[i],
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-state", "new",
			// Unique to this cluster: a member must not join another
			// that once had its ports, such as one of an earlier run.
			"--initial-cluster-token", "fleet-" + l.Dir, "--log-level", "info"}
		if tls != nil {
			args = append(args, "--cert-file", tls.Cert, "--key-file", tls.Key, "--trusted-ca-file", tls.CA, "--client-cert-auth",
				"--peer-cert-file", tls.Cert, "--peer-key-file", tls.Key, "--peer-trusted-ca-file", tls.CA, "--peer-client-cert-auth")
		}
		p, err := newProc("etcd-"+name, l.Bin, filepath.Join(l.Dir, "etcd-"+name+".log"), nil, args...)
		if err != nil {
			for _, m := range c.Members {
				m.Close()
			}
			return nil, err
		}
		c.Members = append(c.Members, &Member{Proc: p, ClientURL: c.Endpoints[i]})
	}
	return c, nil
}

// StartMembers launches the given members (all of a new cluster, or the
// ones killed) on their data directories and waits until each is ready.
// They are launched together because a member is not ready until a quorum
// of the cluster is up.
func (c *Cluster) StartMembers(within time.Duration, ms ...*Member) error {
	for _, m := range ms {
		if err := m.Launch(); err != nil {
			return err
		}
	}
	for _, m := range ms {
		if err := m.WaitReady(within); err != nil {
			return err
		}
	}
	return nil
}
