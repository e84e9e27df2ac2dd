package apitest

import (
	"bytes"
	"net/http"
)

// Handler wraps h so that every request it serves and the response it
// writes are validated, after h returns. The response is passed on as h
// writes it (flushes included); the validator keeps the first BodyCap
// bytes only.
func (v *Validator) Handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x := exchange{req: r}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body, x.reqBody, x.reqTruncated = peek(r.Body)
		}
		rec := &recorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		x.status, x.header, x.body, x.truncated = rec.status, rec.header, rec.buf.Bytes(), rec.truncated
		if x.status == 0 {
			x.status, x.header = http.StatusOK, w.Header().Clone()
		}
		v.report(v.check(x))
	})
}

// recorder passes a response through and keeps its status, headers as
// sent and the first BodyCap bytes.
type recorder struct {
	http.ResponseWriter
	status    int
	header    http.Header
	buf       bytes.Buffer
	truncated bool
}

func (rec *recorder) WriteHeader(code int) {
	if rec.status == 0 && code >= 200 {
		rec.status, rec.header = code, rec.ResponseWriter.Header().Clone()
	}
	rec.ResponseWriter.WriteHeader(code)
}

func (rec *recorder) Write(p []byte) (int, error) {
	if rec.status == 0 {
		rec.WriteHeader(http.StatusOK)
	}
	if room := BodyCap - rec.buf.Len(); len(p) > room {
		rec.buf.Write(p[:room])
		rec.truncated = true
	} else {
		rec.buf.Write(p)
	}
	return rec.ResponseWriter.Write(p)
}

// Flush keeps streaming handlers streaming.
func (rec *recorder) Flush() {
	if rec.status == 0 {
		rec.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(rec.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the writer underneath.
func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }
