package store

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"
	"unsafe"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/acube/platform/libs/postgres"
	"github.com/acube/platform/services/exporter/internal/audit"
)

// AuditTable is the projection's table.
const AuditTable = "audit_log"

const insertAudit = `
INSERT INTO %s (event_id, occurred_at, actor_id, actor_email, action, entity, entity_id, client_ip, changes)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (event_id) DO NOTHING`

// InsertAudit adds a record to the projection within tx (the consumer's
// transaction, which also records the event id). A record already there is
// left as it is.
func InsertAudit(ctx context.Context, tx pgx.Tx, r audit.Record) error {
	return insertInto(ctx, tx, AuditTable, r)
}

func insertInto(ctx context.Context, tx pgx.Tx, table string, r audit.Record) error {
	sql := fmt.Sprintf(insertAudit, pgx.Identifier{table}.Sanitize())
	if _, err := tx.Exec(ctx, sql, r.EventID, r.OccurredAt, r.ActorID, r.ActorEmail, r.Action, r.Entity,
		r.EntityID, r.ClientIP, string(r.Changes)); err != nil {
		return fmt.Errorf("insert audit record %s: %w", r.EventID, err)
	}
	return nil
}

// The projection's columns as an export writes them, in audit.Columns
// order. changes is cast to text on the server, as COPY would print it.
const (
	streamAudit = `
SELECT event_id, occurred_at, actor_id, actor_email, action, entity, entity_id, client_ip, changes::text
FROM audit_log%s
ORDER BY occurred_at, event_id`
	// The planner's row estimate sizes the progress bar: an exact count
	// would read every matching row a second time, about a tenth of the
	// export's time.
	estimateAudit = `EXPLAIN (FORMAT JSON) `
)

// where renders f as a WHERE clause with positional arguments. Only the
// filters that are set appear, so the planner sees plain predicates it can
// match to the indexes.
func where(f audit.Filter) *postgres.Where {
	var w postgres.Where
	if f.AdminID != "" {
		w.Add("actor_id = $1", f.AdminID)
	}
	if f.Admin != "" {
		w.Add("(actor_id = $1 OR lower(actor_email) = lower($1))", f.Admin)
	}
	if f.Action != "" {
		w.Add("action = $1", f.Action)
	}
	if f.Entity != "" {
		w.Add("entity = $1", f.Entity)
	}
	if !f.From.IsZero() {
		w.Add("occurred_at >= $1", f.From)
	}
	if !f.To.IsZero() {
		w.Add("occurred_at < $1", f.To)
	}
	return &w
}

// Stream reports the planner's estimate of the records matching f, then
// streams them oldest first. Rows cost no allocation: each row's cells
// view one reused buffer, valid until emit returns (RecordSource).
func (s *Store) Stream(ctx context.Context, f audit.Filter, total func(int64), emit func([]string) error) error {
	w := where(f)
	query, args := fmt.Sprintf(streamAudit, w), w.Args()
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var plan []struct {
			Plan struct {
				Rows float64 `json:"Plan Rows"`
			} `json:"Plan"`
		}
		if err := tx.QueryRow(ctx, estimateAudit+query, args...).Scan(&plan); err != nil {
			return fmt.Errorf("estimate audit records: %w", err)
		}
		if len(plan) == 1 {
			total(int64(plan[0].Plan.Rows))
		}
		rows, err := tx.Query(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("query audit records: %w", err)
		}
		defer rows.Close()
		var r rowBuilder
		for rows.Next() {
			cells, err := r.build(rows.FieldDescriptions(), rows.RawValues())
			if err != nil {
				return err
			}
			if err := emit(cells); err != nil {
				return err
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read audit records: %w", err)
		}
		return nil
	})
}

// rowBuilder turns one row's raw values into CSV cells without
// allocating: it renders them into a reused buffer and hands out strings
// that view it, valid until the next row is built. Copying each row into
// a string of its own cost about a tenth of the export's client CPU time in
// allocation and garbage collection (docs/benchmarks-export.md).
type rowBuilder struct {
	buf   []byte
	ends  []int
	cells []string
}

// pgEpochUnixMicros is where PostgreSQL's binary timestamps count from.
const pgEpochUnixMicros = 946684800 * 1_000_000

func (r *rowBuilder) build(fields []pgconn.FieldDescription, raw [][]byte) ([]string, error) {
	// No string may view the buffer while it is rewritten (unsafe.String).
	clear(r.cells)
	r.buf, r.ends, r.cells = r.buf[:0], r.ends[:0], r.cells[:0]
	for i, v := range raw {
		if fields[i].Format == pgx.BinaryFormatCode {
			switch fields[i].DataTypeOID {
			case pgtype.UUIDOID:
				if len(v) != 16 {
					return nil, fmt.Errorf("column %s: uuid of %d bytes", fields[i].Name, len(v))
				}
				r.buf = appendUUID(r.buf, v)
				r.ends = append(r.ends, len(r.buf))
				continue
			case pgtype.TimestamptzOID:
				if len(v) != 8 {
					return nil, fmt.Errorf("column %s: timestamptz of %d bytes", fields[i].Name, len(v))
				}
				us := int64(binary.BigEndian.Uint64(v))
				r.buf = time.UnixMicro(us+pgEpochUnixMicros).UTC().AppendFormat(r.buf, time.RFC3339Nano)
				r.ends = append(r.ends, len(r.buf))
				continue
			}
		}
		// Text, and every column in text format, is its bytes.
		r.buf = append(r.buf, v...)
		r.ends = append(r.ends, len(r.buf))
	}
	s := unsafe.String(unsafe.SliceData(r.buf), len(r.buf))
	start := 0
	for _, end := range r.ends {
		r.cells = append(r.cells, s[start:end])
		start = end
	}
	return r.cells, nil
}

// appendUUID renders 16 bytes in the canonical 8-4-4-4-12 form.
func appendUUID(dst, u []byte) []byte {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return append(dst, b[:]...)
}
