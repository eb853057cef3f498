package server

import (
	"context"
	"strings"

	"github.com/labstack/echo/v4"
)

// streaming wraps a live stream's handler so that the stream also ends when the server shuts
// down. http.Server.Shutdown waits for requests in flight, and a stream is one until its
// browser leaves: without this a stopping replica would wait out its whole shutdown timeout
// (and report it as an error). Browsers reconnect by themselves, to a replica still serving.
func (s *Server) streaming(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, cancel := context.WithCancel(c.Request().Context())
		defer cancel()
		stop := context.AfterFunc(s.draining, cancel)
		defer stop()
		c.SetRequest(c.Request().WithContext(ctx))
		return next(c)
	}
}

// EndStreams ends every live stream, now and from now on; http.Server.RegisterOnShutdown
// calls it when the shutdown begins.
func (s *Server) EndStreams() { s.endStreams() }

// sseEscaper turns line breaks into character references: the event-stream format ends a
// field at LF, CR or CRLF alike, so any of them left in a line of HTML (a log line with a
// progress bar's carriage returns) would cut the data or be read as another field.
var sseEscaper = strings.NewReplacer("\r\n", "&#13;&#10;", "\r", "&#13;", "\n", "&#10;")

// sseEvent is one server-sent event carrying html as its data.
func sseEvent(event, html string) string {
	return "event: " + event + "\ndata: " + sseEscaper.Replace(html) + "\n\n"
}
