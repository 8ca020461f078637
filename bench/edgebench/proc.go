package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/cdnd/cdnd/bench/internal/procstat"
)

// pinning runs processes on fixed cores with taskset, so that the server
// under test and the load generator never compete for a core. Without
// taskset (util-linux) commands run unpinned and the report says so.
type pinning struct {
	taskset string // path, or "" when missing
}

func detectPinning() pinning {
	p, err := exec.LookPath("taskset")
	if err != nil {
		return pinning{}
	}
	return pinning{taskset: p}
}

// command returns a command that runs name on core (or unpinned).
func (p pinning) command(core int, name string, args ...string) *exec.Cmd {
	if p.taskset == "" {
		return exec.Command(name, args...)
	}
	return exec.Command(p.taskset, append([]string{"-c", strconv.Itoa(core), name}, args...)...)
}

// pinSelf moves every thread of this process to core, so that the
// benchmark's own work (API calls, propagation polling) stays off the
// server's core. Threads created later inherit the affinity.
func (p pinning) pinSelf(core int) error {
	if p.taskset == "" {
		return nil
	}
	out, err := exec.Command(p.taskset, "-a", "-p", "-c", strconv.Itoa(core), strconv.Itoa(os.Getpid())).CombinedOutput()
	if err != nil {
		return fmt.Errorf("taskset: %v: %s", err, out)
	}
	return nil
}

func (p pinning) describe() string {
	if p.taskset == "" {
		return "NOT pinned (taskset from util-linux is missing): server and load generator share the cores"
	}
	return "server (cdnd serve / nginx master+worker) on core 0 (`taskset -c 0`); load generator, SDK calls and polling on core 1 (`taskset -c 1`)"
}

// machineCPU is the CPU time all processes on the machine have used (user,
// nice and system of the "cpu" line of /proc/stat): with the CPU times of
// the processes under test it tells how much else was running.
func machineCPU() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 4 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: unexpected format")
	}
	var sum int64
	for _, s := range f[1:4] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, err
		}
		sum += v
	}
	return time.Duration(sum) * time.Second / procstat.ClockTicks, nil
}

// otherLoad is the CPU (in cores) used over window by processes other than
// pids, measured by sleeping through it.
func otherLoad(pids []int, window time.Duration) (float64, error) {
	m0, err := machineCPU()
	if err != nil {
		return 0, err
	}
	p0, err := procstat.CPUTimes(pids)
	if err != nil {
		return 0, err
	}
	time.Sleep(window)
	m1, err := machineCPU()
	if err != nil {
		return 0, err
	}
	p1, err := procstat.CPUTimes(pids)
	if err != nil {
		return 0, err
	}
	return ((m1 - m0) - (p1 - p0)).Seconds() / window.Seconds(), nil
}

// waitQuiet waits, up to within, until processes other than pids (and this
// one) use less than a tenth of a core, so that a measurement does not
// start while something else (a build, a test) runs on the machine. It
// returns how long it waited and the load last seen.
func waitQuiet(pids []int, within time.Duration) (time.Duration, float64, error) {
	start := time.Now()
	pids = append(pids, os.Getpid())
	for {
		load, err := otherLoad(pids, time.Second)
		if err != nil || load < 0.1 || time.Since(start) >= within {
			return time.Since(start), load, err
		}
	}
}
