package export

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/acube/platform/libs/csvsafe"
	"github.com/acube/platform/services/exporter/internal/audit"
)

// Counters let a heartbeat read a running export's progress without
// touching the writing loop's state.
type Counters struct {
	Total   atomic.Int64
	Written atomic.Int64
}

// WriteCSV writes the audit records matching f to w as CSV, header first,
// with every cell neutralised against formula injection. Memory stays flat:
// one record is in hand at a time and output goes through a fixed buffer.
// It returns the number of records written; the caller flushes nothing.
func WriteCSV(ctx context.Context, src RecordSource, f audit.Filter, w io.Writer, c *Counters) (int64, error) {
	cw := csvsafe.NewWriter(w)
	if err := cw.Write(audit.Columns()); err != nil {
		return 0, fmt.Errorf("write csv header: %w", err)
	}
	var n int64
	err := src.Stream(ctx, f,
		func(total int64) { c.Total.Store(total) },
		func(cells []string) error {
			if err := cw.Write(cells); err != nil {
				return err
			}
			n++
			if n&1023 == 0 {
				c.Written.Store(n)
			}
			return nil
		})
	if err != nil {
		return n, fmt.Errorf("stream audit records: %w", err)
	}
	if err := cw.Flush(); err != nil {
		return n, err
	}
	c.Written.Store(n)
	return n, nil
}
