package api

import (
	"bufio"
	"context"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/gofiber/fiber/v2"

	"github.com/nextbest/nextbest/api/wire"
	"github.com/nextbest/nextbest/engine"
	"github.com/nextbest/nextbest/export"
)

// exportTimeout bounds one export: about 25 minutes for 20 million decisions at the
// export's measured rate (docs/benchmarks.md), with room.
const exportTimeout = 2 * time.Hour

// exportDecisions streams the decision log with its outcomes, from since to until, as
// Apache Parquet or JSON lines (package export): GET
// /v1/decisions/export?format=parquet|jsonl&since=&until=. The query is checked before
// the first byte is sent: a format it does not know, an unreadable time or a window that
// ends before it begins is 400 invalid_query. An empty window is a valid file with no
// rows. The log is read and written as the client takes it, a Parquet row group at a
// time. An error after the first byte cannot change the status: the Parquet file then
// ends without its footer, which every reader refuses; JSON lines end with a line
// {"error":{"code":...,"message":...}}.
func (s *Server) exportDecisions(c *fiber.Ctx) error {
	now := s.eng.Clock().Now()
	since, err := ParseTime("since", c.Query("since"), now)
	if err != nil {
		return err
	}
	until, err := ParseTime("until", c.Query("until"), now)
	if err != nil {
		return err
	}
	o := export.Options{Format: export.Format(c.Query("format", string(export.Parquet))), Since: since, Until: until}
	if err := o.Check(); err != nil {
		return engine.Invalid("invalid_query", "%v", err)
	}
	if o.Format == export.Parquet {
		c.Set(fiber.HeaderContentType, "application/vnd.apache.parquet")
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="decisions.parquet"`)
	} else {
		c.Set(fiber.HeaderContentType, "application/x-ndjson")
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="decisions.jsonl"`)
	}
	s.streamBody(c, func(w *bufio.Writer) {
		// The stream outlives the handler (and its request context): the server's own,
		// bounded. A client that goes away fails the next write, which ends the export.
		ctx, cancel := context.WithTimeout(s.base, exportTimeout)
		defer cancel()
		s.writeExport(ctx, s.eng, w, o)
	})
	return nil
}

// writeExport writes an export of log to w: on an error, what exportDecisions says.
func (s *Server) writeExport(ctx context.Context, log export.Log, w *bufio.Writer, o export.Options) {
	began := time.Now()
	n, err := export.Write(ctx, log, w, o)
	if err != nil {
		s.log.Warn("decision export ended early", "format", o.Format, "decisions", n, "err", err)
		if o.Format == export.JSONLines {
			_, code, msg := status(err)
			line, _ := gojson.Marshal(wire.ErrorBody{Error: wire.ErrorDetail{Code: code, Message: msg}})
			_, _ = w.Write(append(line, '\n'))
		}
	} else {
		s.log.Info("decision export", "format", o.Format, "decisions", n, "elapsed", time.Since(began).Round(time.Millisecond))
	}
	_ = w.Flush()
}
