package config

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestCountBounds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		count string
		ok    bool
	}{
		{"0", false}, {"1", true}, {"4", true}, {"5", false},
	} {
		c, err := load(t, runnerEnv(map[string]string{"INPUT_API_KEY": "prism_sk_x", "INPUT_PROMPT": "p", "INPUT_MODEL": "m", "INPUT_COUNT": tc.count}))
		if tc.ok && (err != nil || strconv.Itoa(c.Submit.Body["count"].(int)) != tc.count) {
			t.Errorf("count %s: %v, %v", tc.count, c.Submit, err)
		}
		if !tc.ok && (err == nil || !strings.Contains(err.Error(), "count:")) {
			t.Errorf("count %s: err = %v, want a count error", tc.count, err)
		}
	}
}

func TestNear(t *testing.T) {
	t.Parallel()
	const s = "0123456789abcdefghij"
	for _, tc := range []struct {
		off  int64
		want string
	}{
		{0, s},
		{10, s},
		{15, "56789abcdefghij"},
		{20, "abcdefghij"},
		{40, ""},
	} {
		if got := near(s, tc.off); got != tc.want {
			t.Errorf("near(%q, %d) = %q, want %q", s, tc.off, got, tc.want)
		}
	}
	// Through jsonObject: the text from ten bytes before the error.
	_, err := jsonObject(`{"title": "Launch", "count": 2,}`)
	if err == nil || !strings.Contains(err.Error(), `at byte 32, near "ount\": 2,}"`) {
		t.Errorf("err = %v", err)
	}
}

func TestParseDurationLargest(t *testing.T) {
	t.Parallel()
	largest := strconv.FormatFloat((1<<62)/float64(time.Second), 'g', -1, 64) // seconds
	if d, err := ParseDuration(largest); err != nil || d != 1<<62 {
		t.Errorf("ParseDuration(%s) = %d, %v; want %d", largest, d, err, int64(1<<62))
	}
	for _, in := range []string{"4611686019", "5000000000", "9300000000", "1e19"} {
		if d, err := ParseDuration(in); err == nil || !strings.Contains(err.Error(), "is not a duration") {
			t.Errorf("ParseDuration(%s) = %d, %v; want not a duration", in, d, err)
		}
	}
}

func TestParseBaseURLPorts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		port string
		ok   bool
	}{
		{"0", false}, {"1", true}, {"443", true}, {"65535", true}, {"65536", false},
	} {
		u, err := ParseBaseURL("https://prismvideos.com:" + tc.port + "/api")
		if tc.ok && (err != nil || u.Port() != tc.port) {
			t.Errorf("port %s: %v, %v", tc.port, u, err)
		}
		if !tc.ok && (err == nil || !strings.Contains(err.Error(), "is not a port number")) {
			t.Errorf("port %s: err = %v, want a port error", tc.port, err)
		}
	}
}

func TestWithoutUserinfo(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://user:pw@h":       "https://***@h",
		"https://user:pw@h/p?q#f": "https://***@h/p?q#f",
		"https://a@b:pw@h/x":      "https://***@h/x",
		"https://@h/x":            "https://***@h/x",
		"https://h/p@q":           "https://h/p@q",
		"https://h?u=a@b":         "https://h?u=a@b",
		"https:///a@b":            "https:///a@b",
		"no scheme user:pw@h":     "no scheme user:pw@h",
		"https://h":               "https://h",
	} {
		if got := withoutUserinfo(in); got != want {
			t.Errorf("withoutUserinfo(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWithinRefusesLeadingControlCharacters(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	for _, dir := range []string{"\nvideos", "\tvideos", "vid\x00eos", "videos\r"} {
		if _, err := Within(ws, dir); err == nil || !strings.Contains(err.Error(), "control characters") {
			t.Errorf("Within(%q) = %v, want a control-character error", dir, err)
		}
	}
}

func TestIntervals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		poll, max   string
		want, want2 string // substrings of the error; "" for none
		notWant     string
	}{
		{"equal", "5s", "5s", "", "", ""},
		{"shortest accepted", "10ms", "10ms", "", "", ""},
		{"max under poll", "10s", "5s", "max_interval: 5s is shorter than poll_interval (10s)", "", ""},
		{"bad max is not also too short", "5s", "soon", "max_interval: \"soon\" is not a duration", "", "shorter than"},
		{"bad poll is not also too long", "soon", "5s", "poll_interval: \"soon\" is not a duration", "", "shorter than"},
	} {
		c, err := load(t, runnerEnv(map[string]string{"INPUT_API_KEY": "prism_sk_x", "INPUT_GENERATION_ID": "gen_1",
			"INPUT_POLL_INTERVAL": tc.poll, "INPUT_MAX_INTERVAL": tc.max}))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want == "" && (c.PollInterval.String() != strings.TrimSpace(tc.poll) || c.MaxInterval.String() != tc.max):
			t.Errorf("%s: poll %s, max %s", tc.name, c.PollInterval, c.MaxInterval)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		case tc.notWant != "" && err != nil && strings.Contains(err.Error(), tc.notWant):
			t.Errorf("%s: err = %v, want no %q", tc.name, err, tc.notWant)
		}
	}
}

func TestAPIKeyStartingWithAControlCharacter(t *testing.T) {
	t.Parallel()
	for _, k := range []string{"\x7fprism_sk_x", "\x01prism_sk_x", "prism_sk_x\x00"} {
		_, err := load(t, runnerEnv(map[string]string{"INPUT_API_KEY": k, "INPUT_GENERATION_ID": "gen_1"}))
		if err == nil || !strings.Contains(err.Error(), "api_key: contains spaces or control characters") {
			t.Errorf("key %q: err = %v", k, err)
		}
	}
}

func TestParseIDsAtMost(t *testing.T) {
	t.Parallel()
	ids := func(n int) string {
		var b strings.Builder
		for i := range n {
			b.WriteString("gen_" + strconv.Itoa(i) + " ")
		}
		return b.String()
	}
	if got, err := ParseIDs(ids(MaxIDs)); err != nil || len(got) != MaxIDs {
		t.Errorf("%d IDs: %d, %v", MaxIDs, len(got), err)
	}
	if _, err := ParseIDs(ids(MaxIDs + 1)); err == nil || !strings.Contains(err.Error(), "101 IDs given, at most 100") {
		t.Errorf("%d IDs: err = %v", MaxIDs+1, err)
	}
}

func TestParseBaseURLSchemeMessages(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"http://prismvideos.com/api": "http is allowed only to loopback and private addresses; use https://prismvideos.com/api",
		"ftp://prismvideos.com/api":  `scheme "ftp" is not supported; use https`,
		"ws://127.0.0.1/api":         `scheme "ws" is not supported; use https`,
	} {
		if _, err := ParseBaseURL(in); err == nil || err.Error() != want {
			t.Errorf("ParseBaseURL(%q) = %v, want %q", in, err, want)
		}
	}
}
