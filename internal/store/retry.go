package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/jackc/pgx/v5/pgconn"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/portico-dev/portico/internal/derrors"
)

// readRetries is how often a read that lost its connection is tried again, waiting 50 ms,
// then three times longer each time (about 2 s in all): long enough to bridge a database
// restart, whose pooled connections all die at once, short enough for a page to answer.
const readRetries = 4

// resilient is the database driver the store gives ent: a read (SELECT) that fails because
// its connection was lost is tried again on another one, and a connection failure that
// remains is the kind users see as "unavailable", with what still works, not an unexpected
// error. Writes are never retried here: one may have reached the database.
type resilient struct{ *entsql.Driver }

var tracer = otel.Tracer("github.com/portico-dev/portico/internal/store")

// span starts a client span for one statement (its text cut at 300 characters; the values
// are arguments, never in it).
func (d resilient) span(ctx context.Context, query string) (context.Context, trace.Span) {
	op, _, _ := strings.Cut(strings.TrimSpace(query), " ")
	if len(query) > 300 {
		query = query[:300]
	}
	return tracer.Start(ctx, "db "+strings.ToUpper(op), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", d.Dialect()), attribute.String("db.query.text", query)))
}

func end(span trace.Span, err error) error {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
	return err
}

func (d resilient) Query(ctx context.Context, query string, args, v any) error {
	ctx, span := d.span(ctx, query)
	return end(span, d.query(ctx, query, args, v))
}

func (d resilient) query(ctx context.Context, query string, args, v any) error {
	err := d.Driver.Query(ctx, query, args, v)
	if !readOnly(query) {
		return unavailable(err)
	}
	wait := 50 * time.Millisecond
	for range readRetries {
		if err == nil || !connectionLost(err) {
			break
		}
		select {
		case <-ctx.Done():
			return unavailable(err)
		case <-time.After(wait):
		}
		wait *= 3
		err = d.Driver.Query(ctx, query, args, v)
	}
	return unavailable(err)
}

func (d resilient) Exec(ctx context.Context, query string, args, v any) error {
	ctx, span := d.span(ctx, query)
	return end(span, unavailable(d.Driver.Exec(ctx, query, args, v)))
}

func readOnly(query string) bool {
	q := strings.TrimSpace(query)
	return len(q) >= 6 && strings.EqualFold(q[:6], "select")
}

// connectionLost says whether err is the connection failing rather than the statement: the
// server gone (refused, reset, closed, shut down by its operator) or not accepting yet.
func connectionLost(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		// Class 08: connection exception; 57P01-57P03: shutdown, crash, cannot connect now.
		return strings.HasPrefix(pg.Code, "08") || strings.HasPrefix(pg.Code, "57P")
	}
	var ne net.Error
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.As(err, &ne) || pgconn.SafeToRetry(err)
}

// unavailable marks a lost connection as the database being unreachable.
func unavailable(err error) error {
	if err == nil || !connectionLost(err) {
		return err
	}
	return derrors.E(derrors.Unavailable, "The database is unreachable; the catalog, live cluster state and dashboards still work. Try again in a moment", err)
}
