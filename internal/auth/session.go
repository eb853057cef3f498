// Package auth signs people in with OpenID Connect (authorization code flow with PKCE, state
// and nonce, ID token verified by go-oidc) and keeps their session in a sealed cookie, so any
// number of portal replicas share it without a session store.
package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// User is the signed-in person, from the ID token's claims.
type User struct {
	Subject string   `json:"sub"`
	Email   string   `json:"email,omitempty"`
	Name    string   `json:"name,omitempty"`
	Groups  []string `json:"groups,omitempty"`
	// Expiry is when the bearer token that named the user expires (zero for sessions).
	Expiry time.Time `json:"-"`
}

// Session is what the cookie carries.
type Session struct {
	User User `json:"user"`
	// Created bounds the session's absolute lifetime; Seen its idle time.
	Created time.Time `json:"created"`
	Seen    time.Time `json:"seen"`
	// Refresh renews the session with the provider when it offers refresh tokens.
	RefreshToken string    `json:"rt,omitempty"`
	TokenExpiry  time.Time `json:"exp"`
	IDToken      string    `json:"idt,omitempty"` // for the provider's end-session endpoint
}

// ErrInvalidSession means a cookie was forged, tampered with, sealed with another key, or
// expired.
var ErrInvalidSession = errors.New("invalid or expired session")

// sealer encrypts and authenticates cookie values with AES-GCM under a key derived from the
// configured secret; every replica configured with the same secret can open them.
type sealer struct {
	aead cipher.AEAD
}

func newSealer(secret []byte) (*sealer, error) {
	if len(secret) < 32 {
		return nil, fmt.Errorf("the session key must be at least 32 bytes")
	}
	key := sha256.Sum256(secret)
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

// seal encrypts v for the cookie named purpose (the name is authenticated, so a value sealed
// for one cookie cannot be replayed as another).
func (s *sealer) seal(purpose string, v any) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plain, []byte(purpose))), nil
}

func (s *sealer) open(purpose, value string, v any) error {
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(raw) < s.aead.NonceSize() {
		return ErrInvalidSession
	}
	plain, err := s.aead.Open(nil, raw[:s.aead.NonceSize()], raw[s.aead.NonceSize():], []byte(purpose))
	if err != nil {
		return ErrInvalidSession
	}
	if json.Unmarshal(plain, v) != nil {
		return ErrInvalidSession
	}
	return nil
}
