// Package bench holds what the benchmark commands under tools share:
// latency percentiles, the open-loop load generator that does not
// coordinate with the system under test (Load), and small SVG charts. The
// result line every benchmark prints is libs/benchresult, which the
// benchmarks inside service modules can import too.
package bench
