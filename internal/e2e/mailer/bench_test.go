package mailer_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/smtp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/invitekit/invites"
	"github.com/invitekit/invites/internal/e2e/smtptest"
	"github.com/invitekit/invites/mailer"
	"github.com/invitekit/invites/store/memstore"
	"github.com/invitekit/invites/token"
)

// BenchmarkDeliver sends 1,000 invitations per op into the in-process
// SMTP server over 4 connections:
//
//   - raw: net/smtp clients sending the messages pre-rendered;
//
//   - ours: SMTP.Send from 4 goroutines, rendering each message;
//
//   - ours_unpipelined: the same without PIPELINING, as net/smtp sends;
//
//   - service: invites.Service.DeliverPending on memstore through SMTP
//     (claims, token minting and outcomes included).
//
//   - paired: a raw and an ours round alternating in each op.
//
// ours and service report their time over raw's as x_raw; paired reports
// its own ratio of the two.
func BenchmarkDeliver(b *testing.B) {
	const emails, conns = 1000, 4
	ctx := context.Background()
	srv := smtptest.New(b, smtptest.Options{})
	m, err := mailer.NewSMTP(mailer.SMTPConfig{Addr: srv.Addr, From: "Acme <invites@acme.test>", TLS: mailer.TLSNone, PoolSize: conns})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	locales := []string{"en-US", "de-AT", "fr", "es"}
	msgs := make([]invites.Message, emails)
	raw := make([][]byte, emails)
	for i := range msgs {
		msgs[i] = invites.Message{
			ID:   uuid.NewString(),
			Kind: invites.KindInvitation,
			Invite: invites.Invite{ID: uuid.New(), TenantID: "acme", Email: fmt.Sprintf("user%04d@example.test", i),
				FirstName: "Ann", LastName: "Lee", Locale: locales[i%len(locales)]},
			AcceptURL: "https://app.test/accept?token=" + uuid.NewString(),
		}
	}
	// raw sends the very bytes ours sent, as the server received them.
	for i := range msgs {
		if err := m.Send(ctx, msgs[i]); err != nil {
			b.Fatal(err)
		}
	}
	byTo := map[string][]byte{}
	for _, got := range srv.Messages() {
		byTo[got.To[0]] = got.Data
	}
	for i := range msgs {
		if raw[i] = byTo[msgs[i].Invite.Email]; raw[i] == nil {
			b.Fatalf("the server got no message for %s", msgs[i].Invite.Email)
		}
	}
	// spread runs send(i) for every message on conns goroutines.
	spread := func(b *testing.B, send func(worker, i int) error) {
		var wg sync.WaitGroup
		for w := range conns {
			wg.Go(func() {
				for i := w; i < emails; i += conns {
					if err := send(w, i); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	rounds := func(b *testing.B) int {
		if strings.HasSuffix(b.Name(), "/paired") {
			return 2
		}
		return 1
	}
	report := func(b *testing.B, srv *smtptest.Server, base float64) float64 {
		ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		b.ReportMetric(ns/float64(emails*rounds(b)), "ns/email")
		if base > 0 {
			b.ReportMetric(ns/base, "x_raw")
		}
		if got, want := srv.Stats().Messages, emails*b.N*rounds(b); got != want {
			b.Fatalf("the server got %d messages, want %d", got, want)
		}
		srv.Reset()
		return ns
	}
	var rawNs float64

	clients := make([]*smtp.Client, conns)
	for i := range clients {
		if clients[i], err = smtp.Dial(srv.Addr); err != nil {
			b.Fatal(err)
		}
		defer clients[i].Close()
	}
	rawRound := func(b *testing.B) {
		spread(b, func(w, i int) error {
			c := clients[w]
			if err := c.Mail("invites@acme.test"); err != nil {
				return err
			}
			if err := c.Rcpt(msgs[i].Invite.Email); err != nil {
				return err
			}
			wc, err := c.Data()
			if err != nil {
				return err
			}
			if _, err := wc.Write(raw[i]); err != nil {
				return err
			}
			return wc.Close()
		})
	}
	oursRound := func(b *testing.B) {
		spread(b, func(_, i int) error { return m.Send(ctx, msgs[i]) })
	}
	oursRound(b) // opens the pool's connections
	srv.Reset()

	b.Run("raw", func(b *testing.B) {
		for range b.N {
			rawRound(b)
		}
		b.StopTimer()
		rawNs = report(b, srv, 0)
	})

	b.Run("ours", func(b *testing.B) {
		for range b.N {
			oursRound(b)
		}
		b.StopTimer()
		report(b, srv, rawNs)
	})

	// unpipelined is ours one command at a time, as net/smtp sends: the
	// cost of rendering and the pool without the protocol's gain.
	b.Run("ours_unpipelined", func(b *testing.B) {
		plain := smtptest.New(b, smtptest.Options{NoPipelining: true})
		m, err := mailer.NewSMTP(mailer.SMTPConfig{Addr: plain.Addr, From: "Acme <invites@acme.test>", TLS: mailer.TLSNone, PoolSize: conns})
		if err != nil {
			b.Fatal(err)
		}
		defer m.Close()
		spread(b, func(_, i int) error { return m.Send(ctx, msgs[i]) })
		plain.Reset()
		b.ResetTimer()
		for range b.N {
			spread(b, func(_, i int) error { return m.Send(ctx, msgs[i]) })
		}
		b.StopTimer()
		report(b, plain, rawNs)
	})

	// paired alternates a raw and an ours round in each op, so a machine
	// whose load changes during the run weighs on both alike.
	b.Run("paired", func(b *testing.B) {
		var rawD, oursD time.Duration
		for range b.N {
			start := time.Now()
			rawRound(b)
			mid := time.Now()
			oursRound(b)
			rawD, oursD = rawD+mid.Sub(start), oursD+time.Since(mid)
		}
		b.StopTimer()
		report(b, srv, 0)
		b.ReportMetric(float64(rawD.Nanoseconds())/float64(b.N*emails), "raw_ns/email")
		b.ReportMetric(float64(oursD.Nanoseconds())/float64(b.N*emails), "ours_ns/email")
		b.ReportMetric(float64(oursD)/float64(rawD), "x_raw")
	})

	b.Run("service", func(b *testing.B) {
		svc, err := invites.New(memstore.New(), m, invites.Config{
			Tokens:          token.Issuer{},
			AcceptURL:       func(t invites.Token) string { return "https://app.test/accept?token=" + t.Reveal() },
			DeliveryWorkers: conns,
			Logger:          slog.New(slog.DiscardHandler),
		})
		if err != nil {
			b.Fatal(err)
		}
		actor := invites.Actor{UserID: "u", TenantID: "acme", Roles: []string{"member"}}
		items := make([]invites.NewInvite, emails)
		b.ResetTimer()
		for n := range b.N {
			b.StopTimer()
			for i := range items {
				items[i] = invites.NewInvite{Email: fmt.Sprintf("user%04d-%d@example.test", i, n), Locale: locales[i%len(locales)]}
			}
			if res, err := svc.Send(ctx, actor, items); err != nil || len(res.Errors) > 0 {
				b.Fatal(err, res.Errors)
			}
			b.StartTimer()
			if sent, err := svc.DeliverPending(ctx); err != nil || sent != emails {
				b.Fatalf("delivered %d: %v", sent, err)
			}
		}
		b.StopTimer()
		report(b, srv, rawNs)
	})
}
