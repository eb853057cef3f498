package components

// Home is a signed-in user's start page: their teams and what those own.
type Home struct {
	User     string
	Teams    []Link
	Services []EntityRow
	Fire     *OnFire // for a user in an on-call group
}
