package fleettest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Admin calls the operator API of a fleet's nodes with the fleet's admin
// token (Secrets.AdminToken).
type Admin struct {
	Token string
}

// adminClient bounds a call: a node that hangs fails the call instead of
// the whole run.
var adminClient = &http.Client{Timeout: 15 * time.Second}

// Call does METHOD PATH on node's admin listener and decodes the JSON
// answer into out. A status of 300 or more is an error that says the body.
func (a Admin) Call(node *Proc, method, path string, out any) error {
	req, err := http.NewRequest(method, "http://"+node.Addr("admin")+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.Token)
	resp, err := adminClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, body)
	}
	return json.Unmarshal(body, out)
}

// EdgeList is GET /admin/v1/edges: the cluster's revision and the edges
// registered, each with the revision it has applied.
type EdgeList struct {
	Revision int64
	Edges    []EdgeView
}

// EdgeView is one edge of an EdgeList.
type EdgeView struct {
	EdgeID  string `json:"EdgeId"`
	Applied int64
	Lag     int64
	Domains int
}

// ByID indexes the edges by their ID.
func (e EdgeList) ByID() map[string]EdgeView {
	m := map[string]EdgeView{}
	for _, v := range e.Edges {
		m[v.EdgeID] = v
	}
	return m
}

// Edges lists the edges an API node sees registered.
func (a Admin) Edges(api *Proc) (EdgeList, error) {
	var out EdgeList
	err := a.Call(api, http.MethodGet, "/admin/v1/edges", &out)
	return out, err
}

// WaitEdges waits until exactly n edges are registered: all of a fleet
// once it has started, or fewer once an edge's lease has expired.
func (a Admin) WaitEdges(api *Proc, n int, within time.Duration) error {
	var got EdgeList
	var err error
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if got, err = a.Edges(api); err == nil && len(got.Edges) == n {
			return nil
		}
	}
	return fmt.Errorf("want %d edges registered, have %+v (%v)", n, got, err)
}
