package mailer

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/smtp"
	"net/textproto"
	"strings"
	"sync"
	"testing"
)

// scripted is an SMTP server over net.Pipe answering each command by its
// verb from a script, for replies a well-behaved server never gives.
type scripted struct {
	mu   sync.Mutex
	seen []string // the verbs received, in order
}

// session starts the server and returns a client session set up with it.
// replies maps a verb to its reply; "." is the reply after the message.
func (sc *scripted) session(t *testing.T, pipelining bool, replies map[string]string) *session {
	t.Helper()
	client, server := net.Pipe()
	t.Cleanup(func() { client.Close(); server.Close() })
	go func() {
		defer server.Close()
		r := bufio.NewReader(server)
		reply := func(s string) bool { _, err := server.Write([]byte(s + "\r\n")); return err == nil }
		if !reply("220 scripted") {
			return
		}
		inData := false
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			verb, _, _ := strings.Cut(strings.TrimSpace(line), " ")
			if inData {
				if verb != "." {
					continue
				}
				inData = false
			}
			sc.mu.Lock()
			sc.seen = append(sc.seen, verb)
			sc.mu.Unlock()
			out, ok := replies[verb]
			switch {
			case verb == "EHLO":
				out = "250-scripted\r\n250 PIPELINING"
			case !ok && verb == "DATA":
				out = "354 go ahead"
			case !ok:
				out = "250 ok"
			case out == "close":
				return
			}
			inData = strings.HasPrefix(out, "354")
			if !reply(out) {
				return
			}
		}
	}()
	c, err := smtp.NewClient(client, "scripted")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Hello("localhost"); err != nil {
		t.Fatal(err)
	}
	return &session{nc: client, c: c, pipelining: pipelining}
}

func (sc *scripted) verbs() string {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return strings.Join(sc.seen, " ")
}

func TestTransactionReplies(t *testing.T) {
	for _, c := range []struct {
		name       string
		pipelining bool
		replies    map[string]string
		step       string
		code       int  // 0: success
		spent      bool // the session may not serve another message
		verbs      string
	}{
		{"pipelined", true, nil, stepData, 0, false, "EHLO MAIL RCPT DATA ."},
		{"one by one", false, nil, stepData, 0, false, "EHLO MAIL RCPT DATA ."},
		{"MAIL refused", true, map[string]string{"MAIL": "550 no", "RCPT": "503 need MAIL", "DATA": "503 need RCPT"},
			stepMail, 550, false, "EHLO MAIL RCPT DATA RSET"},
		{"RCPT refused, DATA opened anyway", true, map[string]string{"RCPT": "550 no such user", "DATA": "354 go on"},
			stepRcpt, 550, true, "EHLO MAIL RCPT DATA"},
		{"message refused", true, map[string]string{".": "451 try later"}, stepData, 451, false, "EHLO MAIL RCPT DATA . RSET"},
		{"server closing", true, map[string]string{"MAIL": "421 bye", "RCPT": "close"}, stepMail, 421, true, "EHLO MAIL RCPT"},
		{"dropped", true, map[string]string{"MAIL": "close"}, stepMail, -1, true, "EHLO MAIL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var sc scripted
			s := sc.session(t, c.pipelining, c.replies)
			step, err := s.transact(context.Background(), "a@acme.test", "b@example.test", false, []byte("Subject: x\r\n\r\nhi\r\n"))
			var reply *textproto.Error
			switch {
			case c.code == 0 && err != nil, c.code > 0 && (!errors.As(err, &reply) || reply.Code != c.code), c.code < 0 && err == nil:
				t.Fatalf("err = %v, want code %d", err, c.code)
			}
			if err != nil && step != c.step || s.spent != c.spent {
				t.Fatalf("step %s spent %v, want %s %v", step, s.spent, c.step, c.spent)
			}
			if !s.spent { // the server answered RSET, if any, before transact returned
				if got := sc.verbs(); got != c.verbs {
					t.Fatalf("server saw %q, want %q", got, c.verbs)
				}
			}
		})
	}
}
