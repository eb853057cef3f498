package server

import "strings"

// sseEscaper turns line breaks into character references: the event-stream format ends a
// field at LF, CR or CRLF alike, so any of them left in a line of HTML (a log line with a
// progress bar's carriage returns) would cut the data or be read as another field.
var sseEscaper = strings.NewReplacer("\r\n", "&#13;&#10;", "\r", "&#13;", "\n", "&#10;")

// sseEvent is one server-sent event carrying html as its data.
func sseEvent(event, html string) string {
	return "event: " + event + "\ndata: " + sseEscaper.Replace(html) + "\n\n"
}
