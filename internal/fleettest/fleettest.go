// Package fleettest runs a cdnd fleet on one machine the way it runs on
// many: a three-member etcd cluster of `cdnd etcd` processes, and `cdnd api`
// and `cdnd edge` processes pointed at it, every one a process of the real
// binary on loopback with its own data directory and log file, which can be
// killed, frozen and started again.
//
// The e2e fleet tests inject faults into such a fleet and
// bench/fleetbench measures one; both start it with this package. It is an
// ordinary package, returning errors rather than failing a test, because
// the benchmark is a command, not a test; nothing else should import it.
package fleettest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// BuildBinary builds cmd/cdnd into dir and returns the binary's path. The
// fleet runs the real binary, not an in-process server, so that what is
// tested and measured is what an operator runs. It must run inside the
// module, whose cmd/cdnd it builds.
func BuildBinary(dir string) (string, error) {
	bin := filepath.Join(dir, "cdnd")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/cdnd/cdnd/cmd/cdnd").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build cmd/cdnd: %v\n%s", err, out)
	}
	return bin, nil
}

// Launcher prepares the processes of one fleet: of the binary Bin, each
// with its data directory and its log file in Dir.
type Launcher struct {
	Bin, Dir string
	// Secrets are given to every API node and edge.
	Secrets Secrets
}

// Secrets are what every node of a fleet must share. cdnd reads them from
// its environment, which keeps them off command lines, where any user of
// the machine can read them.
type Secrets struct {
	MasterKey                            string // CDND_MASTER_KEY, base64 of 32 bytes
	RootAccessKeyID, RootAccessKeySecret string
	AdminToken                           string // for the operator API: see Admin
}

func (s Secrets) env() []string {
	return []string{
		"CDND_MASTER_KEY=" + s.MasterKey,
		"CDND_ROOT_ACCESS_KEY_ID=" + s.RootAccessKeyID,
		"CDND_ROOT_ACCESS_KEY_SECRET=" + s.RootAccessKeySecret,
		"CDND_ADMIN_TOKEN=" + s.AdminToken,
	}
}

// Node is an API node or an edge.
type Node struct {
	Role string // the subcommand: "api" or "edge"
	// Name is an edge's ID, and names the data directory DIR/NAME and the
	// log DIR/NAME.log.
	Name string
	// Endpoints are the etcd client URLs the node uses: the cluster's, or
	// a proxy's in front of them.
	Endpoints []string
	Args      []string // flags beyond the store's and the listeners': etcd TLS, an etcd user
	Env       []string // beyond the Secrets: an etcd password
}

// NewNode prepares a node that listens on ephemeral loopback ports (Addr
// tells which after each start); Start runs it, and runs it again after a
// kill.
func (l Launcher) NewNode(n Node) (*Proc, error) {
	args := []string{n.Role, "--etcd-endpoints", strings.Join(n.Endpoints, ","), "--data-dir", filepath.Join(l.Dir, n.Name),
		"--admin-addr", "127.0.0.1:0",
		// The tests' origins listen on loopback.
		"--allow-origin-cidrs", "127.0.0.0/8"}
	switch n.Role {
	case "api":
		args = append(args, "--api-addr", "127.0.0.1:0")
	case "edge":
		args = append(args, "--edge-id", n.Name, "--https-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0")
	default:
		return nil, fmt.Errorf("node %s: role %q is neither api nor edge", n.Name, n.Role)
	}
	return newProc(n.Name, l.Bin, filepath.Join(l.Dir, n.Name+".log"), append(l.Secrets.env(), n.Env...), append(args, n.Args...)...)
}

var (
	portMu     sync.Mutex
	portsGiven = map[int]bool{}
)

// freePort picks a free loopback port for an etcd member. A member's ports
// must survive its restart (its peers and the nodes know it by them), so
// they are chosen here rather than by a ":0" listener, and below Linux's
// ephemeral range (32768 up), where no ":0" listener or outgoing connection
// takes them while the member is down. A port is given out once per
// process: clusters started in parallel would otherwise both find it free.
func freePort() (int, error) {
	portMu.Lock()
	defer portMu.Unlock()
	for range 1000 {
		port := 20000 + rand.IntN(12000)
		if portsGiven[port] {
			continue
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		ln.Close()
		portsGiven[port] = true
		return port, nil
	}
	return 0, errors.New("no free port")
}
