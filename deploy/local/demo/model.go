package main

import (
	"math"
	"math/rand/v2"
)

// route is one endpoint of a simulated service: how often it is hit, how fast it usually
// answers, and which services it calls.
type route struct {
	method, path string
	weight       int
	p50          float64 // milliseconds
	calls        []string
}

// services are Acme's microservices as the demo plays them; names match the catalog.
var services = map[string][]route{
	"web-storefront": {{"GET", "/", 40, 35, []string{"gateway"}}, {"GET", "/product/{id}", 40, 45, []string{"gateway"}}, {"GET", "/checkout", 20, 60, []string{"gateway"}}},
	"gateway": {{"GET", "/api/products", 30, 25, []string{"search"}}, {"POST", "/api/checkout", 10, 140, []string{"authentication", "payment"}},
		{"GET", "/api/me", 20, 18, []string{"authentication", "user-profile"}}, {"GET", "/api/quote", 15, 22, []string{"pricing"}},
		{"GET", "/api/maps/tiles", 15, 12, []string{"maps"}}, {"POST", "/api/login", 10, 70, []string{"authentication"}}},
	"authentication": {{"POST", "/v1/login", 20, 60, []string{"user-profile"}}, {"POST", "/v1/introspect", 70, 4, nil}, {"POST", "/v1/refresh", 10, 12, nil}},
	"user-profile":   {{"GET", "/v1/profiles/{id}", 80, 9, nil}, {"PUT", "/v1/profiles/{id}", 20, 25, nil}},
	"payment": {{"POST", "/v1/payments", 60, 180, []string{"pricing", "notification"}}, {"POST", "/v1/refunds", 10, 150, []string{"notification"}},
		{"GET", "/v1/payments/{id}", 30, 15, nil}},
	"pricing":      {{"POST", "/acme.pricing.v1.Pricing/Quote", 100, 8, nil}},
	"notification": {{"POST", "/v1/notify", 100, 35, nil}},
	"maps":         {{"GET", "/tiles/{z}/{x}/{y}", 80, 6, nil}, {"GET", "/geocode", 20, 45, nil}},
	"search":       {{"POST", "/graphql", 70, 55, []string{"analytics"}}, {"GET", "/suggest", 30, 12, nil}},
	"analytics":    {{"POST", "/v1/events", 100, 5, nil}},
}

// baseErrorRate is each service's background 5xx ratio.
const baseErrorRate = 0.002

func pickRoute(svc string) route {
	rs := services[svc]
	total := 0
	for _, r := range rs {
		total += r.weight
	}
	n := rand.IntN(total)
	for _, r := range rs {
		if n < r.weight {
			return r
		}
		n -= r.weight
	}
	return rs[0]
}

// latency draws from a log-normal around the route's median: most requests near it, a long
// tail a few times slower, as real services have.
func latency(p50 float64) float64 {
	return p50 * math.Exp(rand.NormFloat64()*0.45)
}
