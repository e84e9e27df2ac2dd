//go:build race

package fastpath

// raceBuild: the race detector's instrumentation allocates, so
// allocation counts are not the program's.
const raceBuild = true
