package main

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/acube/platform/libs/benchresult"
	"github.com/acube/platform/tools/internal/bench"
)

// outputTail is how many lines of each target's own output the report keeps.
const outputTail = 40

// writeReport writes the markdown report and its charts.
func writeReport(root string, o options, m machine, runs []targetRun) error {
	chartDir := filepath.Join(root, o.charts)
	if err := os.MkdirAll(chartDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", chartDir, err)
	}
	rel, err := filepath.Rel(filepath.Dir(filepath.Join(root, o.out)), chartDir)
	if err != nil {
		return fmt.Errorf("chart path: %w", err)
	}
	var comparisons, absolutes, points []benchresult.Result
	for _, r := range runs {
		for _, res := range r.results {
			switch {
			case res.Series != "":
				points = append(points, res)
			case res.RefValue != 0:
				comparisons = append(comparisons, res)
			default:
				absolutes = append(absolutes, res)
			}
		}
	}

	var b strings.Builder
	b.WriteString("# Benchmarks\n\n")
	b.WriteString("Written by `make bench` (`tools/cmd/benchreport`); do not edit, run it again. Each figure below\n")
	b.WriteString("comes from this one run: every comparison is a ratio against its reference measured in the same\n")
	b.WriteString("invocation on the same machine (DESIGN §7). Compare ratios, not absolute numbers across machines.\n\n")
	fmt.Fprintf(&b, "- **Date:** %s to %s (UTC)\n", m.started.Format(time.DateTime), m.finished.Format(time.DateTime))
	fmt.Fprintf(&b, "- **Commit:** `%s` (the working tree may hold changes not yet committed)\n", m.commit)
	fmt.Fprintf(&b, "- **Machine:** %s, %d CPUs, %s memory, %s, %s\n", m.cpu, m.cpus, m.memory, m.kernel, m.goVersion)
	fmt.Fprintf(&b, "- **Load average** (1, 5, 15 min): %s at the start, %s at the end", m.loadStart, m.loadEnd)
	if loaded(m.loadStart, m.cpus) || loaded(m.loadEnd, m.cpus) {
		b.WriteString(" — the machine was busy with other work, so the figures swing; re-run on a quiet machine before trusting a single ratio")
	}
	b.WriteString("\n- **Targets:** ")
	for i, r := range runs {
		if i > 0 {
			b.WriteString(", ")
		}
		status := "ok"
		if r.err != nil {
			status = "**failed**"
		}
		fmt.Fprintf(&b, "`%s` %s in %s", r.name, status, r.took.Round(time.Second))
	}
	b.WriteString("\n\n")

	b.WriteString("## Comparisons against a reference (same run)\n\n")
	if len(comparisons) == 0 {
		b.WriteString("No comparison was measured in this run.\n\n")
	} else {
		b.WriteString("Measured and reference figures are each side's median over the rounds; the ratio is the median of the\n")
		b.WriteString("per-round ratios (system and reference measured one right after the other, in alternating order), and\n")
		fmt.Fprintf(&b, "the spread their min–max. A spread wider than ±%.0f %% is marked ⚠ and listed below with the target to re-run.\n\n", benchresult.SpreadLimit*100)
		b.WriteString("| area | what | measured | reference | reference measured | ratio (median) | spread (min–max) | target | |\n|---|---|---:|---|---:|---:|---|---|---|\n")
		var bars []bench.Bar
		for _, c := range comparisons {
			spread := c.SpreadText()
			if spread == "" {
				spread = "one round"
			}
			if c.Unsteady() {
				spread += " ⚠"
			}
			fmt.Fprintf(&b, "| %s | %s | %s %s | %s | %s %s | %.2f× | %s | %s | %s |\n", c.Area, cell(c.Name, c.Note), fig(c.Value), c.Unit,
				c.Ref, fig(c.RefValue), c.Unit, c.Ratio(), spread, c.Target(), c.Verdict())
			target := c.Min
			if target == 0 {
				target = c.Max
			}
			bars = append(bars, bench.Bar{Label: c.Area + ": " + shorten(c.Name, 40), Value: c.Ratio(), Target: target, Pass: c.Verdict() != "FAIL"})
		}
		chart := bench.BarChart{Title: "Ratio against the reference measured in the same run (black mark: target)", XLabel: "ratio (×)", Bars: bars}
		if err := writeChart(chartDir, "ratios.svg", chart.SVG()); err != nil {
			return err
		}
		fmt.Fprintf(&b, "\n![ratios against their references](%s)\n\n", filepath.ToSlash(filepath.Join(rel, "ratios.svg")))
		if warnings := unsteady(runs); len(warnings) > 0 {
			b.WriteString("### ⚠ Ratios to measure again\n\n")
			for _, w := range warnings {
				b.WriteString("- " + w + "\n")
			}
			b.WriteString("\n")
		}
	}

	if len(absolutes) > 0 {
		b.WriteString("## Absolute targets\n\n| area | what | measured | target | |\n|---|---|---:|---|---|\n")
		for _, a := range absolutes {
			fmt.Fprintf(&b, "| %s | %s | %s %s | %s | %s |\n", a.Area, cell(a.Name, a.Note), fig(a.Value), a.Unit, a.Target(), a.Verdict())
		}
		b.WriteString("\n")
	}

	if len(points) > 0 {
		if err := writeSeries(&b, chartDir, rel, points); err != nil {
			return err
		}
	}

	b.WriteString("## Each target's own output\n\n")
	for _, r := range runs {
		fmt.Fprintf(&b, "### `make %s`\n\n", r.name)
		if r.err != nil {
			fmt.Fprintf(&b, "Failed: `%s`\n\n", strings.ReplaceAll(r.err.Error(), "\n", " "))
		}
		if r.err == nil && len(r.results) == 0 {
			b.WriteString("This target printed no result lines.\n\n")
		}
		lines := r.output
		if len(lines) > outputTail {
			fmt.Fprintf(&b, "(last %d of %d lines)\n\n", outputTail, len(lines))
			lines = lines[len(lines)-outputTail:]
		}
		b.WriteString("```\n" + strings.Join(lines, "\n") + "\n```\n\n")
	}

	if details := areaDocs(root, o.out); len(details) > 0 {
		b.WriteString("## Method and analysis per area\n\n")
		for _, d := range details {
			fmt.Fprintf(&b, "- [%s](%s)\n", d, d)
		}
		b.WriteString("\n")
	}
	b.WriteString(method)
	b.WriteString(resultLines(runs))

	out := filepath.Join(root, o.out)
	if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	return nil
}

// writeSeries charts each area's latency series against offered load and
// tabulates the points.
func writeSeries(b *strings.Builder, chartDir, rel string, points []benchresult.Result) error {
	b.WriteString("## Latency under rising load\n\n")
	byArea := map[string][]benchresult.Result{}
	var areas []string
	for _, p := range points {
		if _, ok := byArea[p.Area]; !ok {
			areas = append(areas, p.Area)
		}
		byArea[p.Area] = append(byArea[p.Area], p)
	}
	for _, area := range areas {
		ps := byArea[area]
		series := map[string][]benchresult.Result{}
		var names []string
		for _, p := range ps {
			if _, ok := series[p.Series]; !ok {
				names = append(names, p.Series)
			}
			series[p.Series] = append(series[p.Series], p)
		}
		chart := bench.LineChart{Title: ps[0].Name + ": latency against offered load", XLabel: "offered load (per second, open loop)", YLabel: "latency (ms)"}
		if area == "e2e" {
			chart.Limit, chart.LimitLabel, chart.LogY = 50, "p99 target at 200/s", true
			chart.YLabel = "latency (ms, log scale)"
		}
		charted := 0
		for _, name := range names {
			s := series[name]
			if len(s) < 2 {
				continue // a single rate is in the table, not a curve
			}
			slices.SortFunc(s, func(a, b benchresult.Result) int { return cmp.Compare(a.Rate, b.Rate) })
			var p50, p99, pmax []bench.Point
			for _, p := range s {
				p50 = append(p50, bench.Point{X: p.Rate, Y: p.P50})
				p99 = append(p99, bench.Point{X: p.Rate, Y: p.P99})
				pmax = append(pmax, bench.Point{X: p.Rate, Y: p.PMax})
			}
			tag := ""
			if charted > 0 {
				tag = " " + name
			}
			charted++
			chart.Lines = append(chart.Lines, bench.Line{Name: "p50" + tag, Points: p50}, bench.Line{Name: "p99" + tag, Points: p99},
				bench.Line{Name: "max" + tag, Points: pmax})
		}
		if charted == 0 {
			writeTable(b, ps)
			continue
		}
		file := area + "-latency.svg"
		if err := writeChart(chartDir, file, chart.SVG()); err != nil {
			return err
		}
		fmt.Fprintf(b, "### %s\n\n![%s latency against offered load](%s)\n\n", ps[0].Name, area, filepath.ToSlash(filepath.Join(rel, file)))
		writeTable(b, ps)
	}
	return nil
}

// writeTable lists latency points in the order they were measured.
func writeTable(b *strings.Builder, ps []benchresult.Result) {
	b.WriteString("| series | offered /s | p50 ms | p90 ms | p99 ms | max ms | lost |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, p := range ps {
		fmt.Fprintf(b, "| %s | %.0f | %.1f | %.1f | %.1f | %.1f | %d |\n", p.Series, p.Rate, p.P50, p.P90, p.P99, p.PMax, p.Lost)
	}
	b.WriteString("\n")
}

func writeChart(dir, name, svg string) error {
	if err := os.WriteFile(filepath.Join(dir, name), []byte(svg), 0o644); err != nil {
		return fmt.Errorf("write chart %s: %w", name, err)
	}
	return nil
}

// areaDocs lists the per-area benchmark documents next to the report.
func areaDocs(root, out string) []string {
	matches, _ := filepath.Glob(filepath.Join(root, filepath.Dir(out), "benchmarks-*.md"))
	var names []string
	for _, m := range matches {
		names = append(names, filepath.Base(m))
	}
	return names
}

// loaded reports whether the 1-minute load average exceeds the CPUs.
func loaded(load string, cpus int) bool {
	var one float64
	if _, err := fmt.Sscan(load, &one); err != nil {
		return false
	}
	return one > float64(cpus)
}

func fig(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func cell(name, note string) string {
	if note == "" {
		return name
	}
	return name + " <br><sub>" + note + "</sub>"
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

const method = `## How the figures are made

- ` + "`make bench`" + ` runs ` + "`bench-gateway`, `bench-booking`, `bench-mailer`, `bench-export`" + ` and
  ` + "`bench-e2e`" + ` one after another (never at once: they would measure each other), each
  printing its figures as ` + "`benchresult {json}`" + ` lines (` + "`libs/benchresult`" + `, one printer for
  every benchmark) that this report collects. ` + "`make bench BENCH_TARGETS=bench-e2e`" + ` runs a subset;
  every target keeps its own knobs (` + "`BENCH_ROUNDS`" + ` sets the rounds of every comparison).
- **Ratios**: each comparison measures the system and its reference one right after the other,
  in alternating order, over ` + "`BENCH_ROUNDS`" + ` (default 5) rounds, and reports the median of the
  per-round ratios with their min–max. ` + "`make bench BENCH_KEEP=1`" + ` also keeps the report as
  ` + "`docs/benchmarks/run-<date>-<n>.md`" + `; ` + "`make bench-compare`" + ` sets the two newest kept runs
  side by side (every ratio, its difference, and whether it is within ±15 %).
- **booking → email** (` + "`tools/cmd/e2ebench`" + `): the booking and mailer binaries of this
  commit run as child processes (` + "`tools/internal/stack`" + `) against a fresh database, an
  in-process JetStream server and an in-process SMTP sink that timestamps each message when it
  has received all of it, just before its 250 reply. Bookings are offered open loop: booking
  *i* is due at *start + i/rate* and sent then whatever earlier ones are doing, and its latency
  runs from that due time to its email's acceptance, so a stalled system cannot hide its stall
  by slowing the load (no coordinated omission). Each measured run follows a few seconds at its
  own rate that are not counted (` + "`-warmup`" + `): a step in load makes the services open pool
  connections, which costs hundreds of milliseconds once and is not the steady state the target
  is about; e2ebench prints the warm-up's own percentiles. A booking whose email never came, or
  that was refused, counts at least as late as the end of the wait. Emails are matched to bookings by
  the booking id in the body (by recipient when the id is split by the encoding).
- **outbox relay** (benchmarks-relay.md): each side does the same work per round, ` + "`-repeat`" + `
  (default 4) runs of N events, its rate taken over their total time, after one warm-up run that
  is not counted. Before each run the outbox is truncated, refilled with ` + "`outbox.AddAll`" + `
  and vacuumed, both sides get a ` + "`CHECKPOINT`" + ` and a file-backed JetStream stream created
  afresh, all untimed; ` + "`outbox.Relay`" + ` is then timed from its start until the stream holds
  N messages. The reference is ` + "`nats bench js pub async --dedup --batch 500`" + ` with as many
  messages of the same size (or, when the ` + "`nats`" + ` CLI is missing, the same loop written with
  nats.go); the two alternate over the rounds.
- **gateway** (` + "`tools/cmd/gatewaybench`" + `, limiter: ` + "`services/gateway/cmd/limiterbench`" + `): see
  benchmarks-gateway.md. Open-loop load everywhere is one schedule, ` + "`tools/internal/bench.Load`" + `:
  request *i* due at *start + i/rate*, latency from that due time (the gateway's raw HTTP senders run
  it on one event loop, ` + "`Load.RunRawHTTP`" + `).
`

// resultLinesHeading starts the report's last section: every result line
// of the run, as printed, which -compare reads back.
const resultLinesHeading = "## Result lines"

// resultLines renders every result of the run as its result line, grouped
// by target, for `benchreport -compare` and -replay.
func resultLines(runs []targetRun) string {
	var b strings.Builder
	b.WriteString("\n" + resultLinesHeading + "\n\nEvery figure above as its benchmark printed it (read back by `make bench-compare`).\n\n```\n")
	for _, r := range runs {
		fmt.Fprintf(&b, "== make %s\n", r.name)
		for _, res := range r.results {
			_ = benchresult.Print(&b, res) // a strings.Builder does not fail
		}
	}
	b.WriteString("```\n")
	return b.String()
}
