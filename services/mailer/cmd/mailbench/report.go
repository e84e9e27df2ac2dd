package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/acube/platform/libs/benchresult"
)

// writeReport writes the results as markdown; loadStart is the load
// average when the run began.
func writeReport(o options, outs []outcome, loadStart string) error {
	var b strings.Builder
	b.WriteString("# Mailer benchmark\n\n")
	fmt.Fprintf(&b, "Written by `make bench-mailer` (services/mailer/cmd/mailbench) on %s: %d CPUs (load average at the start %s, at the end %s), %d emails per run, medians of %d rounds per sink.\n\n",
		time.Now().UTC().Format(time.RFC3339), runtime.NumCPU(), loadStart, benchresult.LoadAverage(), o.n, o.rounds)
	fmt.Fprintf(&b, "| sink | bare loop, 1 connection | bare loops, %d connections | mailer | mailer / bare loop (target ≥ %.1f×) | spread over the rounds | mailer / bare loops ×%d |\n",
		o.conns, o.target, o.conns)
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|\n")
	for _, out := range outs {
		fmt.Fprintf(&b, "| %s | %.0f/s | %.0f/s | %.0f/s | %.2f× %s | %.2f–%.2f× | %.2f× |\n",
			out.sink, out.median.bare1, out.median.bareN, out.median.mailer, out.ratio1, out.verdict(o.target), out.lo1, out.hi1, out.ratioN)
	}
	b.WriteString("\nResend window: for every email of the timed mailer runs, the time from the SMTP server's 250 reply to the commit of its delivery record (`consumer_effect_unrecorded_seconds`); a crash inside it sends that email again. Bucket bounds, so upper bounds:\n\n| sink | window |\n|---|---|\n")
	for _, out := range outs {
		fmt.Fprintf(&b, "| %s | %s |\n", out.sink, out.window)
	}
	b.WriteString("\nEvery round, in order:\n\n| sink | round | bare loop | bare loops | mailer | mailer / bare loop |\n|---|---:|---:|---:|---:|---:|\n")
	for _, out := range outs {
		for i, r := range out.rounds {
			fmt.Fprintf(&b, "| %s | %d | %.0f/s | %.0f/s | %.0f/s | %.2f× |\n", out.sink, i+1, r.bare1, r.bareN, r.mailer, r.mailer/r.bare1)
		}
	}
	fmt.Fprintf(&b, "\nSettings (the mailer's production defaults unless flags said otherwise): %s.\n\n", o.settings())
	b.WriteString(`How it is measured: one process holds an SMTP sink (emersion/go-smtp) and an embedded NATS
server; PostgreSQL is the local server. The *bare loop* sends the same rendered
session-confirmation email with go-mail over an already open connection and does nothing else:
go-mail builds the message anew for every send, as the mailer did before, and runs MAIL, RCPT,
DATA and the content one after the other, four round trips (*bare loops*: the same on as many
parallel connections as the mailer keeps). The *mailer* run is the real consumer path over
events already waiting in a JetStream stream, with the mailer's production settings: fetch,
decode, render; per batch of waiting events (up to MAILER_BATCH_SIZE, one per aggregate) look
the event ids up in one query; format each message into a reused buffer and hand it to a
connection's worker, which runs the SMTP transaction itself; as each email is accepted, its
delivery row and event id go into the next group commit (one transaction for the records that
arrived meanwhile); ack each message once its record committed. Sinks: *discard* counts and
keeps nothing, so the ratio shows the mailer's whole overhead; *spool* writes and fsyncs each
message before its 250 reply, as a real MTA does (RFC 5321 §6.1), which is what the mailer
talks to in production. The load, the sink and the system under test share the CPUs, and
PostgreSQL and the disk are shared with whatever else runs on the machine, so compare the
ratios of one run, not absolute numbers across machines or runs. To keep each round's ratio
steady: a whole run each way first, not counted (connections, the database pool, prepared
statements and their plans); runs long enough to outlast a noisy moment (-n, 10000 emails:
seconds per run on either sink); the bare loop and the mailer one right after the other, which
of them goes first alternating from round to round; a PostgreSQL CHECKPOINT, untimed, before
every run, so a checkpoint's writes never land in one run by chance (on the spool sink every
message is an fsync that would queue behind them); and before each mailer run, untimed, the
stream emptied of earlier runs' events and the mailer's tables analyzed as autovacuum would. The
tables keep growing, 10000 rows a run, as a production inbox holds days of events: that growth
is what showed the mailer falling round after round (8.4k to 5.3k emails/s over four rounds)
while the duplicate lookup read the whole inbox under a plan made before any statistics; the
lookup now probes the inbox's key per event (libs/consume, lookupEvents) and the rounds hold
steady.

Where the difference goes: per email the mailer adds what makes it safe, a JetStream delivery
and ack, rendering the email, and its share of a PostgreSQL lookup and group commit. It wins it
back on the wire. With a server that offers PIPELINING (RFC 2920), a connection's worker writes
the next email's MAIL, RCPT and DATA in the same write as the current email's content, so the
server answers both together and an email costs one round trip instead of go-mail's four; the
message is formatted once into a reused buffer, its parts as they are (7bit) when they are ASCII
with short lines, as the templates make them, instead of through go-mail's quoted-printable
writer and dot-stuffer byte by byte. And the emails of a batch are rendered one per CPU at a
time: rendered all at once they queued on the CPUs ahead of the connections' workers, whose
every reply from the server waits for a CPU (two runs of 12 rounds alternating with and without
the limit, load average 5–6: median 0.72× and 0.75× with it, 0.54× and 0.55× without). Before, against the discard sink, the
mailer reached 0.60–0.92× (0.66× in the committed run): each of its four round trips waited
behind the rendering of the up to 256 messages in flight (600 µs per send against the bare
loop's 213 µs). Tried and left out: BDAT (CHUNKING), one round trip fewer still, but the go-smtp
sink spends more CPU on a BDAT message (a goroutine and a pipe each) than on pipelined DATA, and
it shares the CPUs with the mailer; more SMTP connections (4) or batches looked up at once (8)
gained nothing measurable. What is left is the machine: the mailer keeps both CPUs busy, the bare
loop is one connection waiting on the sink, and when other work loads the machine the scheduler
serves the waiting loop first, while the mailer also waits for PostgreSQL (lookups and commits
take 3–5 ms on a quiet machine, 20 ms and more under load; the bare loop does not touch the
database). So the ratio is highest on a quiet machine and falls with the load average; the load
at the start and end of the run is in the first line. Against an MTA-like sink the SMTP
server's own fsync dominates and the mailer's parallel connections more than make up for its
overhead.
`)
	if err := os.WriteFile(o.out, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", o.out, err)
	}
	return nil
}
