package chaos

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// PoisonSubject is the subject of the poison row: no stream captures it,
// so JetStream can never store it and every publish of it fails.
const PoisonSubject = "nostream.poison"

// PoisonRow writes one unpublishable row straight into booking's outbox
// table (as a bug or a bad migration could) while the load runs. The rest
// of the load must flow past it; the relay must park the row with its
// error (parked_at, last_error) and count it on booking's /metrics
// (outbox_parked_events). metrics is booking's /metrics URL.
func PoisonRow(databaseURL, metrics string, hold time.Duration) Fault {
	var id string // set by Break
	return Fault{
		Name: "poison-row",
		Break: func(ctx context.Context) error {
			var err error
			id, err = insertPoison(ctx, databaseURL)
			return err
		},
		Heal: func(context.Context) error { return nil },
		Hold: hold,
		Check: func(ctx context.Context) []string {
			var problems []string
			if p := checkParked(ctx, databaseURL, id); p != "" {
				problems = append(problems, p)
			}
			if p := checkParkedMetric(ctx, metrics); p != "" {
				problems = append(problems, p)
			}
			return problems
		},
		NoRefusals: true,
	}
}

// outboxColumns lists booking.outbox's columns that are NOT NULL and have
// no default, besides the three the poison row sets: a migration may add
// such a column (key), and the row must still go in.
const outboxColumns = `SELECT column_name, data_type FROM information_schema.columns
WHERE table_schema = 'booking' AND table_name = 'outbox' AND is_nullable = 'NO' AND column_default IS NULL
  AND column_name NOT IN ('id', 'subject', 'payload')`

// insertPoison writes the poison row and returns its id.
func insertPoison(ctx context.Context, databaseURL string) (string, error) {
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return "", fmt.Errorf("poison row: connect: %w", err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, outboxColumns)
	if err != nil {
		return "", fmt.Errorf("poison row: read booking.outbox's columns: %w", err)
	}
	cols, vals := []string{"id", "subject", "payload"}, []string{"gen_random_uuid()", "$1", "$2"}
	args := []any{PoisonSubject, []byte("{}")}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			rows.Close()
			return "", fmt.Errorf("poison row: read booking.outbox's columns: %w", err)
		}
		if typ != "text" && typ != "character varying" {
			rows.Close()
			return "", fmt.Errorf("poison row: booking.outbox.%s (%s) is required and has no default; the run knows no value for it", name, typ)
		}
		args = append(args, "poison")
		cols, vals = append(cols, pgx.Identifier{name}.Sanitize()), append(vals, "$"+strconv.Itoa(len(args)))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("poison row: read booking.outbox's columns: %w", err)
	}
	q := "INSERT INTO booking.outbox (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(vals, ", ") + ") RETURNING id::text"
	var id string
	if err := conn.QueryRow(ctx, q, args...).Scan(&id); err != nil {
		return "", fmt.Errorf("poison row: insert: %w", err)
	}
	return id, nil
}

// checkParked reports what is wrong with the poison row, "" when it is
// parked with an error.
func checkParked(ctx context.Context, databaseURL, id string) string {
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return "poison row: connect: " + err.Error()
	}
	defer conn.Close(context.Background())
	var (
		parked  bool
		lastErr string
	)
	err = conn.QueryRow(ctx, `SELECT parked_at IS NOT NULL, coalesce(last_error, '') FROM booking.outbox WHERE id = $1`, id).
		Scan(&parked, &lastErr)
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "42703": // undefined_column
		return "booking.outbox has no parked_at/last_error column: the relay's parking (libs/outbox migrations) has not landed, so the poison row can neither be parked nor checked"
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Sprintf("poison row %s is gone from booking.outbox: deleted instead of parked", id)
	case err != nil:
		return fmt.Sprintf("poison row %s: %v", id, err)
	case !parked:
		return fmt.Sprintf("poison row %s (%s) is not parked (parked_at is NULL)", id, PoisonSubject)
	case lastErr == "":
		return fmt.Sprintf("poison row %s is parked without last_error", id)
	}
	return ""
}

// checkParkedMetric reports what is wrong with outbox_parked_events on
// booking's /metrics, "" when it counts at least the poison row.
func checkParkedMetric(ctx context.Context, metrics string) string {
	sum, found, err := MetricSum(ctx, metrics, "outbox_parked_events")
	switch {
	case err != nil:
		return "booking " + err.Error()
	case !found:
		return "booking /metrics has no outbox_parked_events"
	case sum < 1:
		return fmt.Sprintf("booking /metrics: outbox_parked_events is %g, want at least 1 (the poison row)", sum)
	}
	return ""
}

// MetricSum reads the Prometheus text exposition at url and sums the
// samples of metric name (any labels); found is false when it has none.
func MetricSum(ctx context.Context, url, name string) (sum float64, found bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, false, fmt.Errorf("/metrics: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, false, fmt.Errorf("/metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, false, fmt.Errorf("/metrics: status %d", resp.StatusCode)
	}
	sum, found = sumMetric(bufio.NewScanner(resp.Body), name)
	return sum, found, nil
}

// sumMetric sums the samples of metric name (any labels) in a Prometheus
// text exposition: "name{labels} value [timestamp]".
func sumMetric(sc *bufio.Scanner, metric string) (float64, bool) {
	sum, found := 0.0, false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, rest, _ := strings.Cut(line, " ")
		if i := strings.IndexByte(line, '{'); i >= 0 {
			name, rest = line[:i], line[strings.LastIndexByte(line, '}')+1:]
		}
		fields := strings.Fields(rest)
		if name != metric || len(fields) == 0 {
			continue
		}
		if v, err := strconv.ParseFloat(fields[0], 64); err == nil {
			sum, found = sum+v, true
		}
	}
	return sum, found
}
