package main

import (
	"bytes"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHelpExitsZero: -h prints the flags and is no error.
func TestHelpExitsZero(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), []string{"-h"}, &out); err != nil {
		t.Fatalf("run -h = %v, want nil", err)
	}
	if !strings.Contains(out.String(), "-db") || !strings.Contains(out.String(), "-addr") {
		t.Errorf("-h printed %q, want the flags", out.String())
	}
}

// TestUnwritableDB: a -db the demo cannot create is told in the system's
// words, naming the flag, not as SQLite's "out of memory".
func TestUnwritableDB(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ path, want string }{
		{filepath.Join(dir, "missing", "demo.db"), "no such file or directory"},
		{dir, "is a directory"},
	} {
		err := run(t.Context(), []string{"-addr", "127.0.0.1:0", "-db", c.path}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), "-db "+c.path) || !strings.Contains(err.Error(), c.want) ||
			strings.Contains(err.Error(), "out of memory") {
			t.Errorf("-db %s: %v, want an error naming -db and saying %q", c.path, err, c.want)
		}
	}
}

// TestPortInUse: a port already taken is reported before the -db file is
// created.
func TestPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	db := filepath.Join(t.TempDir(), "demo.db")
	err = run(t.Context(), []string{"-addr", ln.Addr().String(), "-db", db}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "-addr "+ln.Addr().String()) || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("run on a taken port = %v, want an error naming -addr", err)
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Errorf("the -db file was created before the port was checked (%v)", err)
	}
}

// TestDefaultDBIsIgnored: the file the demo makes by default, and its
// journal files, are ignored by git, run from the root or from here.
func TestDefaultDBIsIgnored(t *testing.T) {
	o, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{o.db, o.db + "-wal", o.db + "-shm", filepath.Join("internal", "demo", o.db)} {
		cmd := exec.Command("git", "check-ignore", "-q", "--no-index", p)
		cmd.Dir = filepath.Join("..", "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s is not ignored by git: %v %s", p, err, out)
		}
	}
}

// TestRetentionFlag: -retention reaches the options, off by default.
func TestRetentionFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		want time.Duration
	}{{nil, 0}, {[]string{"-retention", "720h"}, 720 * time.Hour}, {[]string{"-retention", "24h"}, 24 * time.Hour}} {
		o, err := parseFlags(c.args, io.Discard)
		if err != nil || o.retention != c.want {
			t.Errorf("parseFlags(%q) = %v, %v, want retention %v", c.args, o.retention, err, c.want)
		}
	}
}
