// Package components holds the portal's templ components. Each is a pure function of a view
// model declared next to it (<component>_vm.go beside <component>.templ): plain structs
// shaped like the page, built by the HTTP handlers.
package components

// Page is what the layout needs besides the body.
type Page struct {
	Title     string
	Nav       string // which navigation entry is active: catalog, teams, systems, apis, runbooks, health
	Query     string // the global search box's value
	RequestID string
	Version   string
	Problems  int    // catalog errors, shown as a badge on Catalog health
	User      string // signed-in user's name; empty when anonymous
	SignIn    bool   // sign-in is configured
	CSRF      string // token for the forms on the page
	Alerts    bool   // an alerts backend is configured: "Alerts" is in the navigation
	Pipelines bool   // CI webhooks are enabled: "Pipelines" is in the navigation
	// Assets is the version of the embedded static files, appended to their URLs so a new
	// release is never rendered with a browser's cached stylesheet.
	Assets string
}

// Link is a labelled href; an empty Href renders plain text.
type Link struct {
	Label string
	Href  string
}

// ErrorPage is shown for failed requests.
type ErrorPage struct {
	Status  int
	Title   string
	Message string
	Hint    string
}
