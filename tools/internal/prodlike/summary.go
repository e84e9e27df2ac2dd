package prodlike

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/acube/platform/tools/internal/stack"
)

// ProcessInfo is one line of the summary.
type ProcessInfo struct {
	Name  string
	Pid   int
	Addrs []string
	Role  string
}

// Processes lists every process and balancer of the topology.
func (t *Topology) Processes() []ProcessInfo {
	out := []ProcessInfo{{Name: "postgres", Addrs: []string{stack.Addr(t.Postgres.Port)},
		Role: "CloudNativePG " + t.manifests.Postgres.Cluster.Metadata.Name + " (-rw, -ro, -r, poolers); data " + t.Postgres.Dir}}
	out = append(out, t.Redis.Processes()...)
	out = append(out, t.NATS.Processes()...)
	if t.mailpit != nil {
		out = append(out, ProcessInfo{Name: "mailpit", Pid: t.mailpit.Pid(), Addrs: []string{stack.Addr(t.smtpPort), strings.TrimPrefix(t.MailpitURL, "http://")},
			Role: "SMTP (STARTTLS, AUTH), UI"})
	}
	for _, d := range t.ordered() {
		if d.lb != nil {
			out = append(out, ProcessInfo{Name: d.Name + " (Service)", Addrs: []string{d.lb.Addr()},
				Role: fmt.Sprintf("balancer, %d of %d pods ready", len(d.lb.Backends()), len(d.Pods()))})
		}
		for _, p := range d.Pods() {
			pi := ProcessInfo{Name: p.Name, Pid: p.Pid(), Addrs: []string{p.Addr}}
			if p.ProbeAddr != p.Addr {
				pi.Addrs, pi.Role = append(pi.Addrs, p.ProbeAddr), "traffic, probes and metrics"
			}
			out = append(out, pi)
		}
	}
	return out
}

// Print writes the summary: where to send requests, where the emails
// are, and every process with its ports.
func (t *Topology) Print(w io.Writer) {
	fmt.Fprintf(w, "gateway   %s   (the seed's curl: replace http://localhost:8001)\n", t.URL("gateway"))
	if t.MailpitURL != "" {
		fmt.Fprintf(w, "mailpit   %s\n", t.MailpitURL)
	}
	if t.Postgres.Legacy {
		fmt.Fprintln(w, "postgres  no bootstrap SQL in cluster.yaml: the service roles got CREATEDB and CREATE on the database (docs/operations.md, Deploy 5)")
	}
	if len(t.Postgres.Skipped) > 0 {
		fmt.Fprintf(w, "postgres  not applied locally: %s\n", strings.Join(t.Postgres.Skipped, ", "))
	}
	fmt.Fprintf(w, "files     %s\n", t.dir)
	if p := t.LogPath(); p != "" {
		fmt.Fprintf(w, "log       %s\n", p)
	}
	for _, p := range t.Processes() {
		pid := "-"
		if p.Pid > 0 {
			pid = strconv.Itoa(p.Pid)
		}
		line := fmt.Sprintf("  %-22s pid %-7s %s", p.Name, pid, strings.Join(p.Addrs, " "))
		if p.Role != "" {
			line += "   (" + p.Role + ")"
		}
		fmt.Fprintln(w, line)
	}
}
