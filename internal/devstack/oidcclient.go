package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"

	"golang.org/x/oauth2"
)

// OIDCProvider is the stack's OpenID Connect provider as a client of it reaches it: tests,
// and portico-dev's token command.
type OIDCProvider struct {
	Issuer       string
	ClientID     string
	ClientSecret string
}

var loginFormID = regexp.MustCompile(`name="id" value="([^"]+)"`)

// Login answers the provider's login form, as a person would: page is the response that
// showed the form (after redirects to it); the result is the response after submitting, with
// c's redirect policy applied.
func (p *OIDCProvider) Login(c *http.Client, page *http.Response, user, password string) (*http.Response, error) {
	body, err := io.ReadAll(page.Body)
	page.Body.Close()
	if err != nil {
		return nil, err
	}
	m := loginFormID.FindSubmatch(body)
	if m == nil {
		return nil, fmt.Errorf("no provider login form (status %d): %.300s", page.StatusCode, body)
	}
	return c.PostForm(p.Issuer+"/login/username", url.Values{"id": {string(m[1])}, "username": {user}, "password": {password}})
}

// Tokens signs user in at the provider as an OAuth client of its own would (authorization
// code flow with PKCE through the login form) and returns the provider's tokens: the ID
// token in Extra("id_token"), a refresh token when scopes include offline_access.
func (p *OIDCProvider) Tokens(user, password string, scopes ...string) (*oauth2.Token, error) {
	const redirect = "http://127.0.0.1:9/auth/callback" // never contacted: the code is read off the redirect
	d, err := p.discovery()
	if err != nil {
		return nil, err
	}
	cfg := &oauth2.Config{ClientID: p.ClientID, ClientSecret: p.ClientSecret, RedirectURL: redirect,
		Endpoint: oauth2.Endpoint{AuthURL: d.Authorization, TokenURL: d.Token},
		Scopes:   append([]string{"openid", "email", "profile", "groups"}, scopes...)}
	verifier := oauth2.GenerateVerifier()
	jar, _ := cookiejar.New(nil)
	var code string
	c := &http.Client{Jar: jar, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(r.URL.String(), redirect) {
			code = r.URL.Query().Get("code")
			return http.ErrUseLastResponse
		}
		return nil
	}}
	res, err := c.Get(cfg.AuthCodeURL("state-of-the-test", oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		return nil, err
	}
	res, err = p.Login(c, res, user, password)
	if err != nil {
		return nil, err
	}
	res.Body.Close()
	if code == "" {
		return nil, fmt.Errorf("no authorization code after signing in (status %d at %s)", res.StatusCode, res.Request.URL)
	}
	return cfg.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
}

// discovered is the part of the provider's discovery document the helpers use.
type discovered struct {
	Authorization string `json:"authorization_endpoint"`
	Token         string `json:"token_endpoint"`
	Revocation    string `json:"revocation_endpoint"`
	JWKS          string `json:"jwks_uri"`
}

func (p *OIDCProvider) discovery() (discovered, error) {
	var d discovered
	res, err := http.Get(p.Issuer + "/.well-known/openid-configuration")
	if err != nil {
		return d, err
	}
	defer res.Body.Close()
	return d, json.NewDecoder(res.Body).Decode(&d)
}

// JWKS returns the provider's published signing keys (its JWKS document).
func (p *OIDCProvider) JWKS() ([]byte, error) {
	d, err := p.discovery()
	if err != nil {
		return nil, err
	}
	res, err := http.Get(d.JWKS)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	return io.ReadAll(res.Body)
}

// Revoke revokes a token at the provider's revocation endpoint.
func (p *OIDCProvider) Revoke(token, hint string) error {
	d, err := p.discovery()
	if err != nil {
		return err
	}
	req, _ := http.NewRequest(http.MethodPost, d.Revocation, strings.NewReader(url.Values{"token": {token}, "token_type_hint": {hint}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(p.ClientID, p.ClientSecret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		return fmt.Errorf("revoke: %d %s", res.StatusCode, b)
	}
	return nil
}
