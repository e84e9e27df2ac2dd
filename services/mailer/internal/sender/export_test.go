package sender

// IgnoreExtensions makes s act as if its server did not offer the named
// ESMTP extensions (PIPELINING, ...), so that tests reach the
// plainer transactions against a server that offers everything. Call it
// before the first Send.
func IgnoreExtensions(s *SMTP, names ...string) {
	s.ignore = map[string]bool{}
	for _, n := range names {
		s.ignore[n] = true
	}
}
