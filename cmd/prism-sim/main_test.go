package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo takes a few seconds")
	}
	t.Parallel()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"demo"}, &stdout, &stderr); code != 0 {
		t.Fatalf("demo exited %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	for _, want := range []string{
		"::error title=Generation failed::gen_demo_failed failed: Generation timed out",
		"video_path:\n  videos/gen_demo_ok.mp4\n  \n  videos/gen_demo_flaky.mp4",
		"| `gen_demo_flaky` | completed |",
		"submitted 2 generation(s), 20 credits charged: gen_tpl_demo_1, gen_tpl_demo_2",
		"generation_id:\n  gen_tpl_demo_1\n  gen_tpl_demo_2\ncredits_charged:\n  20\n",
		"video_path:\n  videos/gen_tpl_demo_1.mp4\n  videos/gen_tpl_demo_2.mp4",
		"the template was submitted once: OK",
		// every output, the rest after the telling ones, results last
		"error:\n  \n  Generation timed out\n",
		"resumed:\n  false\nshare_url:\n",
		"template_id:\n  tpl_launch\n  \n  \nresults:\n",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
}

func TestServe(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "s.json")
	os.WriteFile(file, []byte(`{"generations": {"gen_x": {"steps": [{"status": "generating"}]}}, "templates": {"tpl_x": {}}}`), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int)
	go func() {
		done <- serve(ctx, []string{"--addr", "127.0.0.1:0", "--scenarios", file}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	base := regexp.MustCompile(`http://\S+/api`).FindString(line)
	req, _ := http.NewRequest(http.MethodGet, base+"/generations/gen_x", nil)
	req.Header.Set("Authorization", "Bearer prism_sk_x")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"status":"generating"`) {
		t.Errorf("body %s", body)
	}
	req, _ = http.NewRequest(http.MethodPost, base+"/templates/tpl_x/generate", strings.NewReader(`{"variables": {}}`))
	req.Header.Set("Authorization", "Bearer prism_sk_x")
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"generation_id":"gen_tpl_x_1"`) {
		t.Errorf("submit: %s", body)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exited %d", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"nope"}, io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), `valid commands are "serve" and "demo"`) {
		t.Errorf("%d %s", code, stderr.String())
	}
	if code := run(context.Background(), []string{"serve", "--scenarios", "/does/not/exist"}, io.Discard, &stderr); code != 2 {
		t.Errorf("missing scenario file: exit %d", code)
	}
	var stdout bytes.Buffer
	if code := run(context.Background(), []string{"--help"}, &stdout, io.Discard); code != 0 || !strings.HasPrefix(stdout.String(), "usage: prism-sim serve ") {
		t.Errorf("--help: exit %d, %q", code, stdout.String())
	}
	for _, tc := range []struct {
		args     []string
		code     int
		out, err string
	}{
		{[]string{"serve", "--help"}, 0, "usage: prism-sim serve [flags]", ""},
		{[]string{"serve", "-h"}, 0, "\n  --rate-limit int", ""},
		{[]string{"serve", "--bogus"}, 2, "", "prism-sim serve: flag provided but not defined: --bogus (prism-sim serve --help lists the flags)\n"},
		{[]string{"serve", "--rate-limit=x"}, 2, "", `invalid value "x" for flag --rate-limit`},
		{[]string{"serve", "extra"}, 2, "", `unexpected argument "extra"`},
		{[]string{"demo", "--help"}, 0, "usage: prism-sim demo\n", ""},
		{[]string{"demo", "now"}, 2, "", `prism-sim demo takes no arguments, not "now"`},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), tc.args, &stdout, &stderr)
		if code != tc.code || !strings.Contains(stdout.String(), tc.out) || !strings.Contains(stderr.String(), tc.err) || (tc.out == "") != (stdout.Len() == 0) || (tc.err == "") != (stderr.Len() == 0) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit %d, %q on stdout, %q on stderr", tc.args, code, stdout.String(), stderr.String(), tc.code, tc.out, tc.err)
		}
	}
}

func TestServeConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	limited := filepath.Join(dir, "limited.json")
	os.WriteFile(limited, []byte(`{"generations": {}, "rate_limit": {"per_second": 7}}`), 0o644)
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"generations": {}, "rate_limit": {"per_second": -7}}`), 0o644)
	for _, tc := range []struct {
		name      string
		args      []string
		code      int
		perSecond int
		addr      string
		burst     int
	}{
		{"defaults", nil, 0, 0, "127.0.0.1:8787", 0},
		{"flag", []string{"--rate-limit", "3", "--addr", ":9"}, 0, 3, ":9", 0},
		{"the file's limit", []string{"--scenarios", limited}, 0, 7, "127.0.0.1:8787", 0},
		{"the flag overrides the file", []string{"--scenarios", limited, "--rate-limit", "2"}, 0, 2, "127.0.0.1:8787", 0},
		{"0 lifts the file's limit", []string{"--scenarios", limited, "--rate-limit", "0"}, 0, 0, "127.0.0.1:8787", 0},
		{"negative", []string{"--rate-limit", "-1"}, 2, 0, "", 0},
		{"not a number", []string{"--rate-limit", "fast"}, 2, 0, "", 0},
		{"an invalid file", []string{"--scenarios", bad}, 2, 0, "", 0},
		{"a burst", []string{"--rate-limit", "10", "--burst", "3"}, 0, 10, "127.0.0.1:8787", 3},
		{"a negative burst", []string{"--rate-limit", "10", "--burst", "-3"}, 2, 0, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr, sc, code, ok := serveConfig(tc.args, io.Discard, io.Discard)
			if ok != (tc.code == 0) || code != tc.code || sc.RateLimit.PerSecond != tc.perSecond || addr != tc.addr || sc.RateLimit.Burst != tc.burst {
				t.Errorf("got %q, %d per second, burst %d, exit %d; want %q, %d, %d, %d", addr, sc.RateLimit.PerSecond, sc.RateLimit.Burst, code, tc.addr, tc.perSecond, tc.burst, tc.code)
			}
			if tc.code == 0 && len(tc.args) == 0 && len(sc.Templates) == 0 {
				t.Error("the built-in scenario has no templates")
			}
		})
	}
}
