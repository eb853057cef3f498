package devstack_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/portico-dev/portico/internal/devstack"
)

// TestReservePortsAcrossProcesses: ports reserved by concurrent processes (as go test runs
// packages) never overlap, lie outside the kernel's ephemeral range, and are bindable.
func TestReservePortsAcrossProcesses(t *testing.T) {
	const procs, each = 4, 40
	var children []*exec.Cmd
	var outs []*bufio.Scanner
	for range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestReservePortsChild$")
		cmd.Env = append(os.Environ(), "PORTICO_RESERVE_CHILD="+strconv.Itoa(each))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdin, err := cmd.StdinPipe() // the child holds its ports until stdin closes
		if err != nil {
			t.Fatal(err)
		}
		defer stdin.Close()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		children = append(children, cmd)
		outs = append(outs, bufio.NewScanner(out))
	}
	mine, err := devstack.ReservePorts(each)
	if err != nil {
		t.Fatal(err)
	}
	owner := map[int]string{}
	for _, p := range mine {
		owner[p] = "parent"
	}
	ephemeral := ephemeralLow(t)
	for i, sc := range outs {
		got := 0
		for sc.Scan() {
			line := sc.Text()
			if !strings.HasPrefix(line, "port ") {
				continue
			}
			p, _ := strconv.Atoi(strings.TrimPrefix(line, "port "))
			got++
			if prev, dup := owner[p]; dup {
				t.Errorf("port %d reserved by child %d and by %s", p, i, prev)
			}
			owner[p] = fmt.Sprint("child ", i)
			if p >= ephemeral {
				t.Errorf("port %d is in the ephemeral range (from %d)", p, ephemeral)
			}
			if got == each {
				break
			}
		}
		if got != each {
			t.Errorf("child %d reserved %d ports, want %d", i, got, each)
		}
	}
	for _, p := range mine {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			t.Errorf("reserved port %d is not bindable: %v", p, err)
			continue
		}
		l.Close()
	}
	for _, c := range children {
		c.Process.Kill()
		c.Wait()
	}
}

// TestReservePortsChild is the child of TestReservePortsAcrossProcesses: it reserves ports,
// prints them, and holds them until its parent is done.
func TestReservePortsChild(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("PORTICO_RESERVE_CHILD"))
	if n == 0 {
		t.Skip("helper process of TestReservePortsAcrossProcesses")
	}
	ports, err := devstack.ReservePorts(n)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ports {
		fmt.Printf("port %d\n", p)
	}
	buf := make([]byte, 1)
	os.Stdin.Read(buf) // until the parent closes stdin or kills us
}

// TestReserveSkipsListenedPorts: a port someone listens on is never handed out.
func TestReserveSkipsListenedPorts(t *testing.T) {
	ports, err := devstack.ReservePorts(50)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ports {
		if holder := devstack.PortHolder(p); !strings.Contains(holder, "already let it go") {
			t.Errorf("reserved port %d has a listener: %s", p, holder)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	if got, want := devstack.PortHolder(port), fmt.Sprintf("pid %d (", os.Getpid()); !strings.HasPrefix(got, want) {
		t.Errorf("PortHolder(%d) = %q, want it to start with %q", port, got, want)
	}
}

func ephemeralLow(t *testing.T) int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(strings.Fields(string(b))[0])
	return n
}
