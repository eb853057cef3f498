// Package ent holds Portico's database schema (ent/schema) and the code ent generates from it.
package ent

//go:generate go tool ent generate ./schema
