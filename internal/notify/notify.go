// Package notify carries small change notices between the replicas of one Portico: a CI
// delivery stored by one reaches the pipeline panels open on every other, a catalog refresh
// stored by the leader makes the others reload it. One process uses Local; replicas on one
// PostgreSQL use Postgres (LISTEN/NOTIFY). A notice names what changed, never the change:
// the database holds that.
package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Notice is one announced change.
type Notice struct {
	Topic string // what kind of thing changed: "ci", "catalog", "refresh"
	Key   string // which one (a project, a source); empty with Resync
	// Local: this process published it (and already acted on what it changed).
	Local bool
	// Resync: notices may have been missed (the connection to the database was lost and is
	// back); anything kept from them should be read again.
	Resync bool
}

// Local delivers notices to the subscribers of one process. Its zero value is ready.
type Local struct {
	mu   sync.RWMutex
	subs map[string][]func(Notice)
}

// Subscribe calls fn with every notice on topic, from the goroutine that delivers it: fn
// must not block (hand long work to a goroutine of its own).
func (l *Local) Subscribe(topic string, fn func(Notice)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.subs == nil {
		l.subs = map[string][]func(Notice){}
	}
	l.subs[topic] = append(l.subs[topic], fn)
}

// Publish delivers a local notice at once.
func (l *Local) Publish(_ context.Context, topic, key string) error {
	l.deliver(Notice{Topic: topic, Key: key, Local: true})
	return nil
}

func (l *Local) deliver(n Notice) {
	l.mu.RLock()
	subs := l.subs[n.Topic]
	l.mu.RUnlock()
	for _, fn := range subs {
		fn(n)
	}
}

func (l *Local) resync() {
	l.mu.RLock()
	topics := make([]string, 0, len(l.subs))
	for t := range l.subs {
		topics = append(topics, t)
	}
	l.mu.RUnlock()
	for _, t := range topics {
		l.deliver(Notice{Topic: t, Resync: true})
	}
}

// Channel is the PostgreSQL channel the replicas notify on.
const Channel = "portico_changes"

// notifier sends a NOTIFY (the store).
type notifier interface {
	Notify(ctx context.Context, channel, payload string) error
}

// Postgres delivers notices to this process's subscribers at once and to the other replicas'
// through PostgreSQL: Publish sends a NOTIFY over the store's pool, Run listens on a
// connection of its own.
type Postgres struct {
	Local
	dsn    string
	id     string // this process, so it knows its own notices when they come back
	sender notifier
	log    *slog.Logger

	mu        sync.Mutex
	listening bool
}

// NewPostgres returns the bus of the replica named id; call Run to hear the others.
func NewPostgres(dsn, id string, sender notifier, log *slog.Logger) *Postgres {
	return &Postgres{dsn: dsn, id: id, sender: sender, log: log}
}

type wire struct {
	From  string `json:"f"`
	Topic string `json:"t"`
	Key   string `json:"k,omitempty"`
}

// maxPayload is under PostgreSQL's 8,000-byte limit for a notification.
const maxPayload = 7900

// Publish delivers the notice here, then to the other replicas; an error means only they
// missed it (this replica's subscribers have it).
func (p *Postgres) Publish(ctx context.Context, topic, key string) error {
	p.deliver(Notice{Topic: topic, Key: key, Local: true})
	payload, err := json.Marshal(wire{From: p.id, Topic: topic, Key: key})
	if err != nil {
		return err
	}
	if len(payload) > maxPayload {
		return fmt.Errorf("notice %s %q is too long for a notification (%d bytes)", topic, key, len(payload))
	}
	if err := p.sender.Notify(ctx, Channel, string(payload)); err != nil {
		return fmt.Errorf("tell the other replicas (%s %s): %w", topic, key, err)
	}
	return nil
}

// Listening reports whether the bus hears the other replicas now.
func (p *Postgres) Listening() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.listening
}

func (p *Postgres) setListening(v bool) {
	p.mu.Lock()
	p.listening = v
	p.mu.Unlock()
}

// Run listens for the other replicas' notices until ctx ends. When its connection is lost it
// connects again (backing off to 5 s) and, since notices sent meanwhile are gone, tells every
// subscriber to resync.
func (p *Postgres) Run(ctx context.Context) {
	wait := 100 * time.Millisecond
	for connected := false; ; {
		err := p.listen(ctx, func() {
			if connected {
				p.resync()
			}
			connected, wait = true, 100*time.Millisecond
		})
		p.setListening(false)
		if ctx.Err() != nil {
			return
		}
		p.log.Warn("not hearing the other replicas' changes; connecting again", "err", err, "in", wait.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// listen holds one LISTEN connection and delivers what arrives on it; up runs once it listens.
func (p *Postgres) listen(ctx context.Context, up func()) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.Connect(cctx, p.dsn)
	cancel()
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{Channel}.Sanitize()); err != nil {
		return err
	}
	p.setListening(true)
	up()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		var w wire
		if err := json.Unmarshal([]byte(n.Payload), &w); err != nil || w.Topic == "" {
			p.log.Warn("ignoring a notification that is not a Portico notice", "channel", n.Channel, "payload", n.Payload)
			continue
		}
		if w.From == p.id {
			continue // delivered when it was published
		}
		p.deliver(Notice{Topic: w.Topic, Key: w.Key})
	}
}
