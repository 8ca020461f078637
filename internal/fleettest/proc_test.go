package fleettest

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestProcLogReady: the log keeps every byte and finds the ready line even
// when a write ends in the middle of it, with an empty value (a listener
// the role lacks) as "".
func TestProcLogReady(t *testing.T) {
	path := filepath.Join(t.TempDir(), "e1.log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ready := make(chan map[string]string, 1)
	l := &procLog{f: f, ready: ready}
	out := `time=x level=INFO msg="edge starting"` + "\n" +
		`time=x level=INFO msg="cdnd serving" role=edge api="" https=127.0.0.1:4443 http=127.0.0.1:8080 admin=127.0.0.1:9090 data_dir=/d` + "\n"
	for _, part := range []string{out[:50], out[50:90], out[90:]} {
		if _, err := l.Write([]byte(part)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case got := <-ready:
		want := map[string]string{"role": "edge", "api": "", "https": "127.0.0.1:4443", "http": "127.0.0.1:8080", "admin": "127.0.0.1:9090"}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("announced %v, want %v", got, want)
		}
	default:
		t.Fatal("no ready line found")
	}
	if b, _ := os.ReadFile(path); string(b) != out {
		t.Fatalf("log holds %q, want %q", b, out)
	}
}

func TestReadyLineEtcdMember(t *testing.T) {
	if got := readyLine(`time=x level=INFO msg="etcd member ready" name=n1`); got == nil || len(got) != 0 {
		t.Fatalf("etcd member ready: %v, want an empty map", got)
	}
	if got := readyLine(`time=x level=INFO msg="etcd member starting"`); got != nil {
		t.Fatalf("another line: %v, want nil", got)
	}
}
