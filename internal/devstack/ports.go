package devstack

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Test stacks run in parallel (go test starts one process per package, each with its own etcd,
// API server, kwok, Prometheus, Jaeger, PostgreSQL and provider), so a port that "was free a
// moment ago" is not enough: the kernel hands the same port to the next program that asks for
// an ephemeral one, and another package's component may bind it first. ReservePorts avoids
// both races:
//
//   - ports come from a range below the kernel's ephemeral range (ip_local_port_range), which
//     the kernel never hands out for port 0 or for outgoing connections;
//   - each port is claimed with an exclusive flock on a file shared by every process of the
//     machine; the lock lives as long as the reserving process (the kernel drops it when the
//     process exits, even on a crash), so two test packages can never claim the same port;
//   - a port someone else listens on (a make dev stack, any other program) is skipped.
//
// The make dev stack keeps its fixed, documented ports, all outside the reserved range.

// reservedRange is where test ports come from: above the developer stack's fixed ports
// (the highest is etcd's 23801) and below Linux's default ephemeral range (32768–60999).
const reservedLow, reservedHigh = 24000, 32768

var reservations struct {
	sync.Mutex
	held map[int]*os.File // port → lock file, open for the life of the process
}

// ReservePorts claims n distinct ports on 127.0.0.1 for this process's lifetime; no other
// process that reserves ports through this function can get them, and the kernel does not
// hand them out as ephemeral ports.
func ReservePorts(n int) ([]int, error) {
	low, high := reservableRange()
	dir := filepath.Join(os.TempDir(), "portico-ports")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, fmt.Errorf("reserve ports: %w", err)
	}
	reservations.Lock()
	defer reservations.Unlock()
	if reservations.held == nil {
		reservations.held = map[int]*os.File{}
	}
	span := high - low
	start := rand.IntN(span) // spread processes over the range so they rarely contend
	var ports []int
	for i := 0; i < span && len(ports) < n; i++ {
		port := low + (start+i)%span
		if _, mine := reservations.held[port]; mine {
			continue
		}
		f, ok := lockPort(dir, port)
		if !ok {
			continue
		}
		if !bindable(port) {
			f.Close() // someone else's listener: leave it alone
			continue
		}
		reservations.held[port] = f
		ports = append(ports, port)
	}
	if len(ports) < n {
		for _, p := range ports {
			reservations.held[p].Close()
			delete(reservations.held, p)
		}
		return nil, fmt.Errorf("reserve ports: only %d of %d free ports in 127.0.0.1:%d-%d", len(ports), n, low, high-1)
	}
	return ports, nil
}

// ReservePort is ReservePorts(1).
func ReservePort() (int, error) {
	p, err := ReservePorts(1)
	if err != nil {
		return 0, err
	}
	return p[0], nil
}

// lockPort takes the machine-wide lock of a port without waiting.
func lockPort(dir string, port int) (*os.File, bool) {
	f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(port)+".lock"), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, false
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, false
	}
	return f, true
}

func bindable(port int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// reservableRange is the reserved range, moved below the kernel's ephemeral range when a
// machine's ip_local_port_range starts lower than usual.
func reservableRange() (int, int) {
	low, high := reservedLow, reservedHigh
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return low, high
	}
	f := strings.Fields(string(b))
	if len(f) == 2 {
		if eph, err := strconv.Atoi(f[0]); err == nil && eph < high {
			high = eph
			if low > high-2000 {
				low = max(1024, high-8000)
			}
		}
	}
	return low, high
}

// PortInUseError says that a component could not bind its port, and what holds it.
type PortInUseError struct {
	Component string
	Port      int
	Holder    string // "pid 123 (etcd --name …)", or what is known
}

func (e *PortInUseError) Error() string {
	return fmt.Sprintf("%s could not bind 127.0.0.1:%d: it is taken by %s", e.Component, e.Port, e.Holder)
}

// IsPortInUse reports whether err is (or wraps) a PortInUseError.
func IsPortInUse(err error) bool {
	var p *PortInUseError
	return errors.As(err, &p)
}

// bindFailure finds an "address already in use" in a component's log, the way each program
// words it ("listen tcp 127.0.0.1:37937: bind: address already in use").
var bindFailure = regexp.MustCompile(`(?:127\.0\.0\.1|localhost|0\.0\.0\.0|\[::\]|::):(\d+)[^\n]{0,80}?address already in use`)

// portClash turns a start-up failure into a PortInUseError when the log says the component
// could not bind; otherwise nil.
func portClash(component, logPath string) *PortInUseError {
	b, err := os.ReadFile(logPath)
	if err != nil {
		return nil
	}
	m := bindFailure.FindSubmatch(b)
	if m == nil {
		return nil
	}
	port, _ := strconv.Atoi(string(m[1]))
	return &PortInUseError{Component: component, Port: port, Holder: PortHolder(port)}
}

// PortHolder names the process listening on 127.0.0.1:port, as ss -ltnp would: from
// /proc/net/tcp{,6} (the socket's inode) and the /proc/<pid>/fd links that point at it.
func PortHolder(port int) string {
	inodes := listeningInodes(port)
	if len(inodes) == 0 {
		return "a program that has already let it go (a short-lived listener or connection)"
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range procs {
		target, err := os.Readlink(fd)
		if err != nil || !strings.HasPrefix(target, "socket:[") {
			continue
		}
		if inodes[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")] {
			pidDir := filepath.Dir(filepath.Dir(fd))
			pid := filepath.Base(pidDir)
			cmd, _ := os.ReadFile(filepath.Join(pidDir, "cmdline"))
			line := strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " "))
			if len(line) > 120 {
				line = line[:120] + "…"
			}
			return fmt.Sprintf("pid %s (%s)", pid, line)
		}
	}
	return "a process this user cannot see (another user's program)"
}

// listeningInodes are the inodes of sockets listening on port (state 0A in /proc/net/tcp).
func listeningInodes(port int) map[string]bool {
	want := fmt.Sprintf(":%04X", port)
	out := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "0A" || !strings.HasSuffix(fields[1], want) {
				continue
			}
			out[fields[9]] = true
		}
		f.Close()
	}
	return out
}
