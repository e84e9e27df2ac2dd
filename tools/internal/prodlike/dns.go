package prodlike

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// DNS stands in for cluster DNS: it knows which local address serves each
// Service (or pod, for headless Services) and port, and rewrites the
// cluster names in a setting to those addresses. Every form a pod may use
// is understood — name.ns.svc, name.ns.svc.cluster.local, and
// pod.name.ns.svc for a headless Service's pods — with the port written
// or, when the name has one port only, without.
type DNS struct {
	mu sync.Mutex
	// addrs maps "host|port" (host as name.ns or pod.name.ns) to
	// 127.0.0.1:port.
	addrs map[string]string
}

// NewDNS returns an empty DNS.
func NewDNS() *DNS { return &DNS{addrs: map[string]string{}} }

// Add makes host (name.namespace, or pod.name.namespace) and port resolve
// to local, a host:port; Add again replaces it.
func (d *DNS) Add(host string, port int, local string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.addrs[host+"|"+strconv.Itoa(port)] = local
}

// clusterName matches a cluster DNS name and an optional port.
var clusterName = regexp.MustCompile(`([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+)\.svc(\.cluster\.local)?(:([0-9]+))?`)

// Rewrite replaces every cluster name in s by the local address standing
// in for it. A name nothing stands in for is an error: the manifests
// address something the topology (and so, likely, the cluster) lacks.
func (d *DNS) Rewrite(s string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var errs []string
	out := clusterName.ReplaceAllStringFunc(s, func(m string) string {
		sub := clusterName.FindStringSubmatch(m)
		host, port := sub[1], sub[7]
		if port != "" {
			if local, ok := d.addrs[host+"|"+port]; ok {
				return local
			}
			errs = append(errs, host+".svc:"+port)
			return m
		}
		var found []string
		for k, local := range d.addrs {
			if h, _, _ := strings.Cut(k, "|"); h == host {
				found = append(found, local)
			}
		}
		if len(found) == 1 {
			return found[0]
		}
		errs = append(errs, host+".svc (no port, and it has "+strconv.Itoa(len(found))+")")
		return m
	})
	if len(errs) > 0 {
		slices.Sort(errs)
		return "", fmt.Errorf("cluster DNS: nothing in the topology answers for %s", strings.Join(slices.Compact(errs), ", "))
	}
	return out, nil
}
