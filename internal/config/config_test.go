package config

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/prism-wait/prism-wait/internal/prism"
)

// runnerEnv is the environment the runner builds from action.yml: every
// input present, "" where the workflow gave none.
func runnerEnv(set map[string]string) func(string) (string, bool) {
	env := map[string]string{"GITHUB_ACTIONS": "true"}
	for _, in := range Inputs {
		env["INPUT_"+strings.ToUpper(in.Name)] = ""
	}
	for k, v := range set {
		env[k] = v
	}
	return mapEnv(env)
}

func mapEnv(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func load(t *testing.T, lookup func(string) (string, bool), args ...string) (Config, error) {
	t.Helper()
	return loadIn(lookup, args, t.TempDir())
}

func loadIn(lookup func(string) (string, bool), args []string, wd string) (Config, error) {
	return Load(context.Background(), lookup, args, wd)
}

func TestEmptyInputsTakeTheDefaults(t *testing.T) {
	t.Parallel()
	c, err := load(t, runnerEnv(map[string]string{"INPUT_GENERATION_ID": "gen_1", "INPUT_API_KEY": "prism_sk_x"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.BaseURL.String() != "https://prismvideos.com/api" || c.Timeout != 10*time.Minute ||
		c.PollInterval != 5*time.Second || c.MaxInterval != time.Minute || c.DownloadDir != "" || !c.GitHub || !c.Action || c.Submit != nil {
		t.Errorf("defaults not applied: %+v", c)
	}
}

func TestTheActionReadsOnlyItsInputs(t *testing.T) {
	t.Parallel()
	// PRISM_* set by the workflow for other steps must not stand in for
	// omitted inputs (arguments: TestArgumentsBesideInputsAreRefused).
	_, err := load(t, runnerEnv(map[string]string{
		"PRISM_API_KEY": "prism_sk_env", "PRISM_GENERATION_ID": "gen_env", "PRISM_DOWNLOAD_DIR": "elsewhere",
	}))
	if err == nil || !strings.Contains(err.Error(), "api_key: required") || !strings.Contains(err.Error(), "generation_id: required") {
		t.Errorf("err = %v, want api_key and generation_id required", err)
	}
	c, err := load(t, runnerEnv(map[string]string{"INPUT_API_KEY": "prism_sk_in", "INPUT_GENERATION_ID": "gen_in", "PRISM_DOWNLOAD_DIR": "v", "PRISM_TIMEOUT": "1s"}))
	if err != nil || c.DownloadDir != "" || c.Timeout != 10*time.Minute || c.IDs[0] != "gen_in" {
		t.Errorf("got %+v, %v; PRISM_* leaked into the action", c, err)
	}
}

func TestTheCLIInAWorkflowKeepsFlagsAndEnvironment(t *testing.T) {
	t.Parallel()
	// A `run:` step sees GITHUB_ACTIONS=true but no INPUT_*.
	c, err := load(t, mapEnv(map[string]string{"GITHUB_ACTIONS": "true", "PRISM_API_KEY": "prism_sk_env", "PRISM_TIMEOUT": "2m"}), "--timeout", "3m", "gen_a")
	if err != nil || c.Action || !c.GitHub || c.APIKey != "prism_sk_env" || c.Timeout != 3*time.Minute || c.IDs[0] != "gen_a" {
		t.Errorf("got %+v, %v", c, err)
	}
}

// TestArgumentsBesideInputsAreRefused: the actions pass no arguments, so
// arguments with INPUT_* set are a CLI run whose flags would be ignored:
// refused, naming the variables, except for --help and --version.
func TestArgumentsBesideInputsAreRefused(t *testing.T) {
	t.Parallel()
	for set, says := range map[string]string{"INPUT_TIMEOUT": "INPUT_TIMEOUT is set", "INPUT_TIMEOUT INPUT_WAIT": "INPUT_TIMEOUT, INPUT_WAIT are set",
		"INPUT_WAIT INPUT_MODEL INPUT_TIMEOUT": "INPUT_MODEL, INPUT_TIMEOUT, INPUT_WAIT are set"} {
		env := map[string]string{"PRISM_API_KEY": "prism_sk_env"}
		for _, k := range strings.Fields(set) {
			env[k] = ""
		}
		_, err := load(t, mapEnv(env), "--generation-id", "gen_a")
		want := "2 command-line argument(s) given, but " + says + ": prism-wait then reads the action's inputs (INPUT_*) and would ignore the arguments; unset the INPUT_* variables to use flags and PRISM_*"
		if err == nil || err.Error() != want {
			t.Errorf("%s: err = %v, want %s", set, err, want)
		}
	}
	// Without arguments too, outside GitHub Actions: the errors say why
	// they are in the action's terms.
	const why = "these settings were read as the action's inputs, since INPUT_TIMEOUT is set outside GitHub Actions; unset the INPUT_* variables to use flags and PRISM_*"
	for ghActions, says := range map[string]bool{"": true, "true": false} {
		_, err := load(t, mapEnv(map[string]string{"INPUT_TIMEOUT": "5m", "PRISM_API_KEY": "prism_sk_env", "GITHUB_ACTIONS": ghActions}))
		if err == nil || !strings.Contains(err.Error(), "api_key: required") || strings.Contains(err.Error(), why) != says {
			t.Errorf("GITHUB_ACTIONS=%q: err = %v; want it to explain the mode: %v", ghActions, err, says)
		}
	}
	if _, err := load(t, mapEnv(map[string]string{"INPUT_TIMEOUT": "5m", "INPUT_API_KEY": "k", "INPUT_GENERATION_ID": "gen_a"})); err != nil {
		t.Errorf("valid inputs outside GitHub Actions: %v", err)
	}
	env := mapEnv(map[string]string{"INPUT_TIMEOUT": "1m"})
	if _, err := load(t, env, "--help"); !errors.Is(err, ErrHelp) {
		t.Errorf("--help: %v", err)
	}
	if _, err := load(t, env, "--version"); !errors.Is(err, ErrVersion) {
		t.Errorf("--version: %v", err)
	}
	if _, err := load(t, env, "--bogus"); err == nil || !strings.Contains(err.Error(), "1 command-line argument(s) given") {
		t.Errorf("--bogus: %v", err)
	}
	// As the runner sets them, all of them: three named.
	if _, err := load(t, runnerEnv(nil), "gen_a"); err == nil || !strings.Contains(err.Error(), "but INPUT_GENERATION_ID, INPUT_TEMPLATE_ID, INPUT_VARIABLES and 12 more are set:") {
		t.Errorf("every input set: %v", err)
	}
}

func TestPrecedence(t *testing.T) {
	t.Parallel()
	c, err := load(t, mapEnv(map[string]string{"PRISM_GENERATION_ID": "gen_env", "PRISM_API_KEY": "prism_sk_env", "PRISM_TIMEOUT": "2m", "PRISM_POLL_INTERVAL": " "}), "--timeout", "4m")
	if err != nil {
		t.Fatal(err)
	}
	if c.IDs[0] != "gen_env" || c.APIKey != "prism_sk_env" || c.Timeout != 4*time.Minute || c.PollInterval != 5*time.Second {
		t.Errorf("got IDs %v key %q timeout %s poll %s", c.IDs, c.APIKey, c.Timeout, c.PollInterval)
	}
	// Positional IDs are flags too: they replace PRISM_GENERATION_ID, not
	// add to it.
	c, err = load(t, mapEnv(map[string]string{"PRISM_GENERATION_ID": "gen_env", "PRISM_API_KEY": "prism_sk_env"}), "gen_arg")
	if err != nil || !slices.Equal(c.IDs, []string{"gen_arg"}) {
		t.Errorf("positional ID beside PRISM_GENERATION_ID: IDs %v, %v; want only gen_arg", c.IDs, err)
	}
}

func TestFlagsAndPositionalIDs(t *testing.T) {
	t.Parallel()
	env := mapEnv(map[string]string{"PRISM_API_KEY": "prism_sk_x"})
	c, err := load(t, env, "--generation-id", "gen_x", "gen_a", "--poll-interval=2", "--generation-id=gen_y,gen_z", "gen_b", "--", "gen_c")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.IDs, []string{"gen_x", "gen_a", "gen_y", "gen_z", "gen_b", "gen_c"}) || c.PollInterval != 2*time.Second || c.GitHub {
		t.Errorf("got %+v", c)
	}
	if _, err := Load(context.Background(), env, []string{"--help"}, t.TempDir()); !errors.Is(err, ErrHelp) {
		t.Errorf("--help: %v", err)
	}
	var help strings.Builder
	Help(&help, "Exit codes: 0 all done.\n")
	if !strings.Contains(help.String(), "\n\nExit codes: 0 all done.\n\nFlags:\n") {
		t.Errorf("--help lacks the exit codes given:\n%s", help.String())
	}
	for _, in := range Inputs {
		if !regexp.MustCompile(`\n  --`+Flag(in.Name)+` (string|IDs)\n`).MatchString(help.String()) || !strings.Contains(help.String(), strings.ReplaceAll(in.Usage, "`", "")) {
			t.Errorf("--help does not document --%s", Flag(in.Name))
		}
		if in.Default != "" && !strings.Contains(help.String(), "(default "+in.Default+")") {
			t.Errorf("--help does not give --%s's default", Flag(in.Name))
		}
	}
	if _, err := load(t, env, "--version"); !errors.Is(err, ErrVersion) {
		t.Errorf("--version: %v", err)
	}
	if _, err := load(t, env, "--nope"); err == nil || !strings.Contains(err.Error(), "--help") {
		t.Errorf("unknown flag: %v", err)
	}
}

func TestAllBadInputsAreReportedAtOnce(t *testing.T) {
	t.Parallel()
	_, err := load(t, runnerEnv(map[string]string{
		"INPUT_GENERATION_ID": "gen_ok ../etc/passwd", "INPUT_TIMEOUT": "soon", "INPUT_POLL_INTERVAL": "0",
		"INPUT_BASE_URL": "http://prism.example.com/api", "INPUT_DOWNLOAD_DIR": "../outside",
	}))
	if err == nil {
		t.Fatal("no error")
	}
	for _, input := range []string{"generation_id:", "api_key:", "timeout:", "poll_interval:", "base_url:", "download_dir:"} {
		if !strings.Contains(err.Error(), input) {
			t.Errorf("error does not name %s:\n%v", input, err)
		}
	}
}

func TestSubmitInputs(t *testing.T) {
	t.Parallel()
	ok := func(set map[string]string) Config {
		t.Helper()
		set["INPUT_API_KEY"] = "prism_sk_x"
		c, err := load(t, runnerEnv(set))
		if err != nil {
			t.Fatalf("%v: %v", set, err)
		}
		return c
	}
	c := ok(map[string]string{"INPUT_TEMPLATE_ID": "tpl_1", "INPUT_VARIABLES": `{"title": "Launch", "n": 1.50}`, "INPUT_OPTIONS": `{"webhook_url": "https://x"}`})
	body, _ := json.Marshal(c.Submit.Body)
	if c.Submit.TemplateID != "tpl_1" || c.IDs != nil || string(body) != `{"variables":{"n":1.50,"title":"Launch"},"webhook_url":"https://x"}` {
		t.Errorf("template mode: %+v %s", c.Submit, body)
	}
	c = ok(map[string]string{"INPUT_TEMPLATE_ID": "tpl_1"})
	if body, _ := json.Marshal(c.Submit.Body); string(body) != `{"variables":{}}` {
		t.Errorf("variables default to {}: %s", body)
	}
	c = ok(map[string]string{"INPUT_PROMPT": "a cat on\na skateboard\n", "INPUT_MODEL": "veo-3.1", "INPUT_COUNT": "3", "INPUT_OPTIONS": `{"aspectRatio": "16:9"}`})
	body, _ = json.Marshal(c.Submit.Body)
	if c.Submit.TemplateID != "" || string(body) != `{"aspectRatio":"16:9","count":3,"modelName":"veo-3.1","prompt":"a cat on\na skateboard"}` {
		t.Errorf("prompt mode (a YAML block's last newline is not sent): %s", body)
	}
	c = ok(map[string]string{"INPUT_PROMPT": "x", "INPUT_MODEL": " veo 3.1 "})
	if c.Submit.Body["modelName"] != "veo 3.1" {
		t.Errorf("a space inside a model's name is the API's to judge: %v", c.Submit.Body)
	}
	c = ok(map[string]string{"INPUT_PROMPT": "x", "INPUT_MODEL": "m", "INPUT_COUNT": "1"})
	if c.Submit.Body["count"] != 1 {
		t.Errorf("count default: %v", c.Submit.Body)
	}
	c = ok(map[string]string{"INPUT_PROMPT": "x", "INPUT_MODEL": "m", "INPUT_COUNT": "4"})
	if c.Submit.Body["count"] != 4 {
		t.Errorf("count 4, the largest: %v", c.Submit.Body)
	}

	for _, tc := range []struct {
		set  map[string]string
		want []string
	}{
		{map[string]string{"INPUT_GENERATION_ID": "gen_1", "INPUT_TEMPLATE_ID": "tpl_1"}, []string{"exactly one of generation_id, template_id and prompt"}},
		{map[string]string{"INPUT_TEMPLATE_ID": "tpl_1", "INPUT_PROMPT": "p", "INPUT_MODEL": "m"}, []string{"exactly one"}},
		{map[string]string{"INPUT_TEMPLATE_ID": "tpl_1", "INPUT_VARIABLES": `{"title": "x",}`}, []string{"variables: not valid JSON at line 1, column 15 ('}')"}},
		{map[string]string{"INPUT_TEMPLATE_ID": "tpl_1", "INPUT_VARIABLES": "title: Launch day"}, []string{`variables: not valid JSON at line 1, column 2 ('i'); give a JSON object, like {"title": "Launch"} (YAML is not read here)`}},
		{map[string]string{"INPUT_TEMPLATE_ID": "tpl_1", "INPUT_VARIABLES": `["x"]`}, []string{"variables: must be a JSON object"}},
		{map[string]string{"INPUT_TEMPLATE_ID": "tpl_1", "INPUT_OPTIONS": `{} {}`}, []string{`options: must be one JSON object with nothing after it, but more follows at line 1, column 4 ('{'); give a JSON object, like {"character_variables": {"hero": "char_abc123"}}`}},
		{map[string]string{"INPUT_PROMPT": "p", "INPUT_OPTIONS": `aspectRatio: 16:9`}, []string{`options: not valid JSON at line 1, column 1 ('a'); give a JSON object, like {"aspectRatio": "16:9"}`}},
		{map[string]string{"INPUT_TEMPLATE_ID": "tpl_1", "INPUT_OPTIONS": `{"aspectRatio": "16:9"}}`}, []string{`options: must be one JSON object with nothing after it, but more follows at line 1, column 24 ('}')`}},
		{map[string]string{"INPUT_TEMPLATE_ID": "tpl_1", "INPUT_VARIABLES": `{"title": "x`}, []string{`variables: not valid JSON: it ends before a string, array or object is closed; give a JSON object, like {"title": "Launch"}`}},
		{map[string]string{"INPUT_TEMPLATE_ID": "../tpl"}, []string{"template_id: \"../tpl\" is not a template ID"}},
		{map[string]string{"INPUT_TEMPLATE_ID": "tpl_" + strings.Repeat("a", 125)}, []string{"is not a template ID (expected at most 128 letters, digits, _ and -, like tpl_abc123)"}},
		{map[string]string{"INPUT_TEMPLATE_ID": "tpl_1", "INPUT_OPTIONS": `{"variables": {}, "prompt": "x"}`}, []string{`options: "variables" is set by variables; remove it from options`, `options: "prompt" does not go with template_id; remove it from options`}},
		{map[string]string{"INPUT_PROMPT": "p"}, []string{"model: required with prompt"}},
		{map[string]string{"INPUT_PROMPT": "p", "INPUT_MODEL": "\u200b"}, []string{"model: is blank (only spaces or invisible characters): name the model, e.g. veo-3.1"}},
		{map[string]string{"INPUT_PROMPT": "p", "INPUT_MODEL": "\ufeffveo-3.1"}, []string{`model: "\ufeffveo-3.1" contains control or invisible characters (a byte order mark, a zero-width space): name the model as Prism spells it, e.g. veo-3.1`}},
		{map[string]string{"INPUT_PROMPT": "p", "INPUT_MODEL": "veo\u00a03.1"}, []string{`model: "veo\u00a03.1" contains control or invisible characters (a byte order mark, a zero-width space): name the model as Prism spells it, e.g. veo-3.1`}},
		{map[string]string{"INPUT_PROMPT": "p", "INPUT_MODEL": "m", "INPUT_COUNT": "5"}, []string{"count: \"5\" is not a whole number from 1 to 4"}},
		{map[string]string{"INPUT_PROMPT": "p", "INPUT_MODEL": "m", "INPUT_COUNT": "0"}, []string{"count:"}},
		{map[string]string{"INPUT_PROMPT": "p", "INPUT_MODEL": "m", "INPUT_OPTIONS": `{"modelName": "x", "count": 2, "variables": {}}`}, []string{`"modelName" is set by model;`, `"count" is set by count;`, `"variables" does not go with prompt;`}},
		// In another case too: a server that matches keys in any case would take them.
		{map[string]string{"INPUT_PROMPT": "p", "INPUT_MODEL": "m", "INPUT_OPTIONS": `{"modelname": "x", "Prompt": "y", "VARIABLES": {}}`}, []string{`"modelname" is set by model;`, `"Prompt" is set by prompt;`, `"VARIABLES" does not go with prompt;`}},
		{map[string]string{"INPUT_TEMPLATE_ID": "t", "INPUT_OPTIONS": `{"Variables": {}}`}, []string{`"Variables" is set by variables;`}},
		{map[string]string{"INPUT_GENERATION_ID": "../bad", "INPUT_OPTIONS": "{}"}, []string{"generation_id: \"../bad\"", "options: only used with template_id or prompt"}},
		{map[string]string{"INPUT_GENERATION_ID": "gen_1", "INPUT_COUNT": "2", "INPUT_MODEL": "m", "INPUT_VARIABLES": "{}", "INPUT_OPTIONS": "{}"},
			[]string{"count: only used with prompt", "model: only used with prompt", "variables: only used with template_id", "options: only used with template_id or prompt"}},
	} {
		tc.set["INPUT_API_KEY"] = "prism_sk_x"
		_, err := load(t, runnerEnv(tc.set))
		for _, want := range tc.want {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%v: err = %v, want %q", tc.set, err, want)
			}
		}
	}
}

// TestJSONErrorsSayWhereNotWhat: a JSON input's error says where it
// breaks, by line, column and the one character there, and never quotes
// more of the input: a value may hold a secret, whose tail no mask hides.
func TestJSONErrorsSayWhereNotWhat(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{`{"title": "Launch", "count": 2,}`, `not valid JSON at line 1, column 32 ('}'); give a JSON object, like {}`},
		{"{\n  \"a\": 1\n  \"b\": 2\n}", `not valid JSON at line 3, column 3 ('"')`},
		{`{"key": "prism_sk_TESTSECRET123456" "title": "Launch"}`, `not valid JSON at line 1, column 37 ('"')`},
		{`{"é": x}`, `not valid JSON at line 1, column 7 ('x')`},
		{`x`, `not valid JSON at line 1, column 1 ('x')`},
		{`{"a": 1} prism_sk_TESTSECRET123456`, `must be one JSON object with nothing after it, but more follows at line 1, column 10 ('p')`},
		{"{\"a\": 1}\n\n  }", `but more follows at line 3, column 3 ('}')`},
		{" \n", "is empty; give a JSON object, like {}"},
		{"\ufeff{}", "starts with a byte order mark (U+FEFF); remove it and give a JSON object, like {}"},
		{strings.Repeat("[", 20000), "is nested too deeply to read"},
		{`{"a": "x", "a": "y"}`, `gives the key "a" twice in one object (the second ends at line 1, column 14 ('"')), and only one would be sent; keep one`},
		{`{"a": {"b": 1, "c": [{"d": 1, "d": 2}]}}`, `gives the key "d" twice in one object (the second ends at line 1, column 33`},
		{`{"ghp_TESTSECRET1234567890abc": 1, "ghp_TESTSECRET1234567890abc": 2}`, `gives the key of 27 characters twice`},
		{`{"a b": 1, "a b": 2}`, `gives the key of 3 characters twice`},
		{`{"a": é}`, `not valid JSON at line 1, column 7 ('é')`},
		{"{\r\n \"a\": 1,\r\n \"b\": x}", `not valid JSON at line 3, column 7 ('x')`},
		{`{} é`, `but more follows at line 1, column 4 ('é')`},
	} {
		_, err := jsonObject(tc.in, `{}`)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "TESTSECRET") || strings.Contains(err.Error(), "123456") {
			t.Errorf("%.40q: err = %v, want %q", tc.in, err, tc.want)
		}
	}
	// Keys are quoted up to 24 bytes.
	for k, want := range map[string]string{strings.Repeat("k", 24): `"` + strings.Repeat("k", 24) + `"`, strings.Repeat("k", 25): "of 25 characters"} {
		if got := shownKey(k); got != want {
			t.Errorf("shownKey(%q) = %s, want %s", k, got, want)
		}
	}
	if k, _, ok := duplicateKey(`"a"`); ok {
		t.Errorf("a string alone has the duplicate key %q", k)
	}
	// The same key in different objects, or as a value, is no duplicate.
	for _, ok := range []string{`{"a": {"a": 1}, "b": {"a": 2}}`, `{"a": "a", "b": ["a", "a"], "c": [{"a": 1}, {"a": 2}]}`} {
		if _, err := jsonObject(ok, `{}`); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}

func TestBadValuesAreFoundBeforeAnyRequest(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	os.WriteFile(filepath.Join(ws, "afile"), nil, 0o644)
	for _, tc := range []struct{ input, value, want string }{
		{"POLL_INTERVAL", "1ns", "poll_interval: 1ns is too short; use at least 10ms"},
		{"MAX_INTERVAL", "5ms", "max_interval: 5ms is too short"},
		{"POLL_INTERVAL", "0", `poll_interval: "0" must be longer than zero; use at least 10ms`},
		{"MAX_INTERVAL", "-1s", `max_interval: "-1s" must be longer than zero; use at least 10ms`},
		{"BASE_URL", "http://127.0.0.1:99999/api", `base_url: port "99999" is not a port number`},
		{"BASE_URL", "https://user:hunter2@[::1/api", "base_url:"},
		{"DOWNLOAD_DIR", "afile", "afile is a file, not a directory"},
		{"DOWNLOAD_DIR", "afile/videos", "afile is a file, not a directory"},
		{"DOWNLOAD_DIR", "videos\x00", "control characters"},
	} {
		_, err := loadIn(runnerEnv(map[string]string{
			"INPUT_GENERATION_ID": "gen_1", "INPUT_API_KEY": "prism_sk_x", "INPUT_" + tc.input: tc.value, "GITHUB_WORKSPACE": ws,
		}), nil, ws)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%q: err = %v, want %q", tc.input, tc.value, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the password is echoed: %v", err)
		}
	}
	c, err := Load(context.Background(), runnerEnv(map[string]string{"INPUT_GENERATION_ID": "gen_1", "INPUT_API_KEY": "prism_sk_x",
		"INPUT_DOWNLOAD_DIR": " my videos \n", "GITHUB_WORKSPACE": ws}), nil, ws)
	if err != nil || c.DownloadDir != "my videos" {
		t.Errorf("download_dir is trimmed, inner spaces kept: %q, %v", c.DownloadDir, err)
	}
}

// TestIntervalsAgainstEachOtherAndTheTimeout: max_interval is never below
// poll_interval (the backoff starts there), and a poll_interval as long
// as the timeout, which would read no status again, is refused.
func TestIntervalsAgainstEachOtherAndTheTimeout(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name               string
		poll, max, timeout string
		wantPoll, wantMax  time.Duration
		want               string // a substring of the error; "" for none
		notWant            string
	}{
		{"equal", "5s", "5s", "", 5 * time.Second, 5 * time.Second, "", ""},
		{"shortest accepted", "10ms", "10ms", "", 10 * time.Millisecond, 10 * time.Millisecond, "", ""},
		{"max under poll is raised", "10s", "5s", "", 10 * time.Second, 10 * time.Second, "", ""},
		{"the default max under poll is raised", "2m", "", "", 2 * time.Minute, 2 * time.Minute, "", ""},
		{"poll just under the timeout", "2999ms", "", "3s", 2999 * time.Millisecond, time.Minute, "", ""},
		{"poll as long as the timeout", "10m", "", "", 0, 0, "poll_interval: 10m0s is not shorter than timeout (10m0s), so no status would be read again before the deadline; make it shorter, e.g. 1m0s", ""},
		{"poll past the timeout", "5s", "", "3s", 0, 0, "poll_interval: 5s is not shorter than timeout (3s), so no status would be read again before the deadline; make it shorter, e.g. 300ms", ""},
		{"a tiny timeout", "5s", "", "20ms", 0, 0, "make it shorter, e.g. 10ms", ""},
		{"bad max is not also too short", "5s", "soon", "", 0, 0, "max_interval: \"soon\" is not a duration", "shorter"},
		{"bad poll is not also too long", "soon", "5s", "", 0, 0, "poll_interval: \"soon\" is not a duration", "shorter"},
		{"bad timeout is not also too short", "5s", "", "soon", 0, 0, "timeout: \"soon\" is not a duration", "shorter"},
	} {
		c, err := load(t, runnerEnv(map[string]string{"INPUT_API_KEY": "prism_sk_x", "INPUT_GENERATION_ID": "gen_1",
			"INPUT_POLL_INTERVAL": tc.poll, "INPUT_MAX_INTERVAL": tc.max, "INPUT_TIMEOUT": tc.timeout}))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want == "" && (c.PollInterval != tc.wantPoll || c.MaxInterval != tc.wantMax):
			t.Errorf("%s: poll %s, max %s, want %s, %s", tc.name, c.PollInterval, c.MaxInterval, tc.wantPoll, tc.wantMax)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		case tc.notWant != "" && err != nil && strings.Contains(err.Error(), tc.notWant):
			t.Errorf("%s: err = %v, want no %q", tc.name, err, tc.notWant)
		}
	}
}

func TestTerm(t *testing.T) {
	t.Parallel()
	msg := func(c Config) string { return "check " + c.Term("api_key") + " and " + c.Term("timeout") }
	if got := msg(Config{Action: true}); got != "check api_key and timeout" {
		t.Errorf("action: %q", got)
	}
	if got := msg(Config{}); got != "check --api-key (PRISM_API_KEY) and --timeout (PRISM_TIMEOUT)" {
		t.Errorf("CLI: %q", got)
	}
}

func TestAPIKey(t *testing.T) {
	t.Parallel()
	c, err := load(t, runnerEnv(map[string]string{"INPUT_GENERATION_ID": "gen_1", "INPUT_API_KEY": " prism_sk_x\n"}))
	if err != nil || c.APIKey != "prism_sk_x" {
		t.Errorf("surrounding whitespace of a secret must be trimmed: %q, %v", c.APIKey, err)
	}
	c, err = load(t, runnerEnv(map[string]string{"INPUT_GENERATION_ID": "gen_1", "INPUT_API_KEY": "prism_sk_a\nprism_sk_b"}))
	if err == nil || strings.Contains(err.Error(), "prism_sk_a") {
		t.Errorf("a key with a line break must be refused without being shown: %v", err)
	}
	if c.APIKey == "" {
		t.Error("the key must come back even on error, so that it can be masked")
	}
	for _, k := range []string{`"prism_sk_x"`, "'prism_sk_x", "prism_sk_x`"} {
		_, err := load(t, runnerEnv(map[string]string{"INPUT_API_KEY": k, "INPUT_GENERATION_ID": "gen_1"}))
		if err == nil || !strings.Contains(err.Error(), "api_key: begins or ends with a quote; store the secret's value without quotes (it is not shown here)") || strings.Contains(err.Error(), "prism_sk_x") {
			t.Errorf("key %q: err = %v", k, err)
		}
	}
	if _, err := load(t, runnerEnv(map[string]string{"INPUT_API_KEY": `prism_sk_"x`, "INPUT_GENERATION_ID": "gen_1"})); err != nil {
		t.Errorf("a quote inside the key: %v", err)
	}
	for _, k := range []string{"\x7fprism_sk_x", "\x01prism_sk_x", "prism_sk_x\x00", "\ufeffprism_sk_x", "prism_sk_x\u200b", "prism sk_x", "prism_sk_\u00a0x"} {
		_, err := load(t, runnerEnv(map[string]string{"INPUT_API_KEY": k, "INPUT_GENERATION_ID": "gen_1"}))
		if err == nil || !strings.Contains(err.Error(), "api_key: contains spaces, control or invisible characters (a byte order mark, a zero-width space); check the secret's value (it is not shown here)") {
			t.Errorf("key %q: err = %v", k, err)
		}
	}
}

func TestParseIDs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []string
		err  string
	}{
		{"gen_1", []string{"gen_1"}, ""},
		{"gen_1,gen_2 gen_3\ngen_4\r\n\tgen-5", []string{"gen_1", "gen_2", "gen_3", "gen_4", "gen-5"}, ""},
		{"gen_b gen_a gen_b", []string{"gen_b", "gen_a"}, ""},
		{"  ,\n ", nil, "required"},
		{"gen_1 ../admin", nil, `"../admin" is not a generation ID (expected at most 128 letters, digits, _ and -, like gen_abc123)`},
		// Said once, so that the input's name prefixes every bad ID.
		{"a/1 gen_1 b/2", nil, `"a/1", "b/2" are not generation IDs (expected`},
		{"a/1 b/2 c/3 d/4 e/5 f/6 g/7", nil, `"a/1", "b/2", "c/3", "d/4", "e/5", 2 more are not generation IDs`},
		{"a/1 b/2 c/3 d/4 e/5", nil, `"a/1", "b/2", "c/3", "d/4", "e/5" are not generation IDs`},
		{`"gen_a" 'gen_b'`, nil, `"\"gen_a\"", "'gen_b'" are not generation IDs (expected at most 128 letters, digits, _ and -, like gen_abc123; without quotes)`},
		{`["gen_a","gen_b"]`, nil, `"[\"gen_a\"", "\"gen_b\"]" are not generation IDs (expected at most 128 letters, digits, _ and -, like gen_abc123; give the IDs separated by spaces, commas or newlines, not as JSON)`},
		{"gen%2F..", nil, "not a generation ID"},
		{"gen?x=1", nil, "not a generation ID"},
		{"gén", nil, "not a generation ID"},
		{strings.Repeat("a", 129), nil, "not a generation ID"},
		{strings.Repeat("g ", 50) + strings.Join(func() []string {
			var s []string
			for i := 0; i < 101; i++ {
				s = append(s, "gen_"+strings.Repeat("x", i+1))
			}
			return s
		}(), " "), nil, "at most 100"},
	} {
		got, err := ParseIDs(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseIDs(%.40q) error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseIDs(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
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
	if _, err := ParseIDs(ids(MaxIDs + 1)); err == nil || err.Error() != "101 IDs given, at most 100 are allowed in one step; split them over several steps or matrix jobs" {
		t.Errorf("%d IDs: err = %v", MaxIDs+1, err)
	}
}

func TestParseDuration(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{
		"90s": 90 * time.Second, "2m": 2 * time.Minute, "500ms": 500 * time.Millisecond,
		"30": 30 * time.Second, "1.5": 1500 * time.Millisecond, " 10m ": 10 * time.Minute,
	} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "0s", "-1s", "-3", "soon", "NaN", "Inf", "1e300", "5 minutes"} {
		if got, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %s, want an error", in, got)
		}
	}
	// Seconds up to the largest duration the code accepts, 1<<62 ns, and
	// none beyond.
	largest := strconv.FormatFloat((1<<62)/float64(time.Second), 'g', -1, 64)
	if d, err := ParseDuration(largest); err != nil || d != 1<<62 {
		t.Errorf("ParseDuration(%s) = %d, %v; want %d", largest, d, err, int64(1<<62))
	}
	for in, most := range map[string]string{"4611686019": "4611686018 seconds", "5000000000": "4611686018 seconds", "9300000000": "4611686018 seconds", "1e19": "4611686018 seconds",
		"100000000h": "2562047h", "2562048h": "2562047h", "1h9223372036s": "2562047h"} {
		if d, err := ParseDuration(in); err == nil || err.Error() != strconv.Quote(in)+" is too long; at most "+most {
			t.Errorf("ParseDuration(%s) = %d, %v; want too long, at most %s", in, d, err, most)
		}
	}
	if d, err := ParseDuration("-99999999999h"); err == nil || err.Error() != `"-99999999999h" must be longer than zero` {
		t.Errorf("ParseDuration(-99999999999h) = %d, %v; want not positive", d, err)
	}
	// Not a duration, though near the syntax.
	for _, in := range []string{"h", "1x", "1h2", ".h", "1..5s"} {
		if d, err := ParseDuration(in); err == nil || !strings.Contains(err.Error(), "is not a duration") {
			t.Errorf("ParseDuration(%s) = %d, %v; want not a duration", in, d, err)
		}
	}
}

func TestParseBaseURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://prismvideos.com/api":      "https://prismvideos.com/api",
		"https://www.prismvideos.com/api/": "https://www.prismvideos.com/api",
		"http://127.0.0.1:8787/api":        "http://127.0.0.1:8787/api",
		"http://localhost:8787/api":        "http://localhost:8787/api",
		"http://[::1]:8787/api":            "http://[::1]:8787/api",
		"http://172.17.0.1:8787/api":       "http://172.17.0.1:8787/api",
	} {
		got, err := ParseBaseURL(in)
		if err != nil || got.String() != want {
			t.Errorf("ParseBaseURL(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{
		"http://prismvideos.com/api", "http://8.8.8.8/api", "ftp://prismvideos.com", "prismvideos.com/api",
		"https://user:pw@prismvideos.com/api", "https://prismvideos.com/api?x=1", "https://prismvideos.com/api#f", "",
	} {
		if got, err := ParseBaseURL(in); err == nil {
			t.Errorf("ParseBaseURL(%q) = %v, want an error", in, got)
		}
	}
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
	for in, want := range map[string]string{
		"http://prismvideos.com/api":   "http is allowed only to loopback and private addresses; use https://prismvideos.com/api",
		"ftp://prismvideos.com/api":    `scheme "ftp" is not supported; use https`,
		"ws://127.0.0.1/api":           `scheme "ws" is not supported; use https`,
		"https://169.254.169.254/api":  "169.254.169.254 is a link-local address (where clouds serve instance metadata), never the Prism API's; use https://prismvideos.com/api, or a prism-sim's address",
		"http://[fe80::1%25eth0]/api":  "fe80::1%eth0 is a link-local address (where clouds serve instance metadata), never the Prism API's; use https://prismvideos.com/api, or a prism-sim's address",
		"https://[::ffff:169.254.1.1]": "::ffff:169.254.1.1 is a link-local address (where clouds serve instance metadata), never the Prism API's; use https://prismvideos.com/api, or a prism-sim's address",
		"https://224.0.0.251/api":      "224.0.0.251 is a link-local address (where clouds serve instance metadata), never the Prism API's; use https://prismvideos.com/api, or a prism-sim's address",
	} {
		if _, err := ParseBaseURL(in); err == nil || err.Error() != want {
			t.Errorf("ParseBaseURL(%q) = %v, want %q", in, err, want)
		}
	}
}

// TestWithoutUserinfo: what base_url's errors show of a URL hides exactly
// its userinfo.
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

func TestDownloadDirStaysInTheWorkspace(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(ws, "link")); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(ws, "exists"), 0o755)
	for dir, want := range map[string]string{
		"videos":                 "videos",
		"./out/videos/":          "out/videos",
		"exists/new":             "exists/new",
		".":                      ".",
		filepath.Join(ws, "abs"): "abs",
		"a/../b":                 "b",
		"with space":             "with space",
	} {
		if got, err := Within(ws, dir); err != nil || got != want {
			t.Errorf("Within(%q) = %q, %v; want %q", dir, got, err, want)
		}
	}
	for _, dir := range []string{"..", "../x", "/tmp", outside, "link", "link/deeper/still"} {
		if got, err := Within(ws, dir); err == nil {
			t.Errorf("Within(%q) = %q, want it refused", dir, got)
		}
	}
	for _, dir := range []string{"\nvideos", "\tvideos", "vid\x00eos", "videos\r"} {
		if _, err := Within(ws, dir); err == nil || !strings.Contains(err.Error(), "control characters") {
			t.Errorf("Within(%q) = %v, want a control-character error", dir, err)
		}
	}
	// No shell expands an input: "~/videos" would be a directory named ~.
	for _, dir := range []string{"~", "~/videos"} {
		if _, err := Within(ws, dir); err == nil || !strings.Contains(err.Error(), "~ is not expanded here") {
			t.Errorf("Within(%q) = %v, want it refused as unexpanded", dir, err)
		}
	}
	for _, dir := range []string{"$HOME/videos", "${RUNNER_TEMP}/v", "$v"} {
		if _, err := Within(ws, dir); err == nil || !strings.Contains(err.Error(), "$ is not expanded here (no shell expanded it)") {
			t.Errorf("Within(%q) = %v, want it refused as unexpanded", dir, err)
		}
	}
	if got, err := Within(ws, "v$/x"); err != nil || got != "v$/x" {
		t.Errorf("Within(%q) = %q, %v: a $ inside a name is a name", "v$/x", got, err)
	}
	if got, err := Within(ws, "~videos"); err != nil || got != "~videos" {
		t.Errorf("Within(%q) = %q, %v: a name that starts with ~ is a name", "~videos", got, err)
	}
	if _, err := Within(ws, "link"); err == nil || !strings.Contains(err.Error(), "goes through a symbolic link that is absolute or leads outside the workspace") {
		t.Errorf("Within(link) = %v, want it to say why", err)
	}
}

// In the Docker action, ${{ github.workspace }} is the runner's path: the
// refusal says so. Elsewhere the same path is refused without the hint.
func TestTheRunnersWorkspacePathInTheContainerIsExplained(t *testing.T) {
	t.Parallel()
	const hint = "if the path came from ${{ github.workspace }} or ${{ runner.temp }}, those are the runner's paths, not the container's"
	for _, tc := range []struct {
		ws, dir string
		hint    bool
	}{
		{"/github/workspace", "/home/runner/work/app/app/videos", true},
		{"/github/workspace", "../videos", false},
		{"/home/runner/work/app/app", "/elsewhere/videos", false}, // the binary sub-action
	} {
		_, err := load(t, runnerEnv(map[string]string{"INPUT_API_KEY": "prism_sk_x", "INPUT_GENERATION_ID": "gen_1", "GITHUB_WORKSPACE": tc.ws, "INPUT_DOWNLOAD_DIR": tc.dir}))
		if err == nil || !strings.Contains(err.Error(), "is outside the workspace") || strings.Contains(err.Error(), hint) != tc.hint {
			t.Errorf("%s in %s: %v; want it refused, with the hint %v", tc.dir, tc.ws, err, tc.hint)
		}
	}
	// The CLI in a run: step sees the runner's paths.
	_, err := load(t, mapEnv(map[string]string{"PRISM_API_KEY": "prism_sk_x", "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": "/github/workspace"}), "--download-dir", "/home/runner/v", "gen_1")
	if err == nil || strings.Contains(err.Error(), hint) {
		t.Errorf("CLI: %v; want it refused without the hint", err)
	}
}

// The CLI takes --download-dir as a shell does, from the working
// directory (a run: step's working-directory) when that is inside the
// workspace, while the paths it reports stay relative to the workspace,
// as upload-artifact reads them.
func TestTheCLIsDownloadDirIsFromTheWorkingDirectory(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	app := filepath.Join(ws, "app")
	if err := os.Mkdir(app, 0o755); err != nil {
		t.Fatal(err)
	}
	// A runner whose work directory is a link to another disk: the
	// workspace is named through the link, the working directory is not.
	link := filepath.Join(t.TempDir(), "work")
	if err := os.Symlink(ws, link); err != nil {
		t.Fatal(err)
	}
	gh := func(ws string) map[string]string {
		return map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": ws}
	}
	for _, tc := range []struct {
		env      map[string]string
		wd, flag string
		dir      string // DownloadDir
	}{
		{gh(ws), app, "videos", "app/videos"},
		{gh(ws), app, "~old", "app/~old"},
		{gh(link), app, "videos", "app/videos"},
		{gh(ws), ws, "videos", "videos"},
		{map[string]string{}, app, "videos", "videos"},
		{gh(app), ws, "videos", "videos"}, // the working directory is outside the workspace: from the workspace
	} {
		tc.env["PRISM_API_KEY"] = "prism_sk_x"
		c, err := loadIn(mapEnv(tc.env), []string{"--download-dir", tc.flag, "gen_1"}, tc.wd)
		if err != nil || c.DownloadDir != tc.dir {
			t.Errorf("in %s with %v, --download-dir %s: DownloadDir %q, %v; want %q", tc.wd, tc.env, tc.flag, c.DownloadDir, err, tc.dir)
		}
	}
	// Outside GitHub Actions, the workspace is the working directory: the
	// refusal says so, and how to move it.
	const cwd = "Without GITHUB_WORKSPACE, the workspace is the working directory: run prism-wait from a directory that holds"
	if _, err := loadIn(mapEnv(map[string]string{"PRISM_API_KEY": "k"}), []string{"--download-dir", "/elsewhere", "gen_1"}, app); err == nil || !strings.Contains(err.Error(), cwd) {
		t.Errorf("/elsewhere without GITHUB_WORKSPACE: %v, want %q", err, cwd)
	}
	if _, err := loadIn(mapEnv(gh(ws)), []string{"--download-dir", "/elsewhere", "gen_1"}, app); err == nil || strings.Contains(err.Error(), cwd) {
		t.Errorf("/elsewhere with GITHUB_WORKSPACE: %v, want it refused without %q", err, cwd)
	}
	// A path that leads out is quoted as given, not as resolved.
	if _, err := loadIn(mapEnv(map[string]string{"PRISM_API_KEY": "k", "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": ws}),
		[]string{"--download-dir", "../../elsewhere", "gen_1"}, app); err == nil || !strings.Contains(err.Error(), `"../../elsewhere" is outside the workspace`) {
		t.Errorf("../../elsewhere from a subdirectory: %v, want it quoted as given", err)
	}
	// From a subdirectory too, ~ is refused: PRISM_DOWNLOAD_DIR in a
	// step's env: is not expanded by any shell.
	for _, dir := range []string{"~", "~/videos"} {
		if _, err := loadIn(mapEnv(map[string]string{"PRISM_API_KEY": "k", "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": ws, "PRISM_DOWNLOAD_DIR": dir}),
			[]string{"gen_1"}, app); err == nil || !strings.Contains(err.Error(), "~ is not expanded here") {
			t.Errorf("%q from a subdirectory: %v, want it refused", dir, err)
		}
	}
}

func TestWorkspaceIsGitHubWorkspace(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	c, err := load(t, runnerEnv(map[string]string{"INPUT_GENERATION_ID": "g", "INPUT_API_KEY": "k", "GITHUB_WORKSPACE": ws, "INPUT_DOWNLOAD_DIR": "v"}))
	if err != nil || c.Workspace != ws || c.DownloadDir != "v" {
		t.Errorf("got %+v, %v", c, err)
	}
}

func FuzzParseIDs(f *testing.F) {
	for _, s := range []string{"gen_1", "a,b\nc", "../x", "a a a", " , ", "gen_\u00e9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ids, err := ParseIDs(s)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, id := range ids {
			if !prism.ValidID(id) || seen[id] || id == "" {
				t.Fatalf("ParseIDs(%q) returned %q", s, id)
			}
			seen[id] = true
		}
	})
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"5s", "30", "1.5", "-1", "1e9", "0x10", "9223372036s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, err := ParseDuration(s); err == nil && d <= 0 {
			t.Fatalf("ParseDuration(%q) = %s without error", s, d)
		}
	})
}

func FuzzLoadArgs(f *testing.F) {
	for _, s := range []string{"gen_a --timeout 1m", "-- --x", "--help", "a -- b --", "--base-url= x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		env := mapEnv(map[string]string{"PRISM_API_KEY": "prism_sk_x"})
		c, err := Load(context.Background(), env, strings.Split(s, " "), "/ws")
		if err == nil && ((len(c.IDs) == 0) == (c.Submit == nil) || c.BaseURL == nil || c.Timeout <= 0 || c.PollInterval < MinInterval || c.MaxInterval < c.PollInterval) {
			t.Fatalf("accepted an invalid config from %q: %+v", s, c)
		}
	})
}

// TestInputsAreActionYML holds the input table against action.yml: the
// same names, defaults and required flags, both ways.
func TestInputsAreActionYML(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("..", "..", "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var a struct {
		Inputs map[string]struct {
			Default     *string `yaml:"default"`
			Required    bool    `yaml:"required"`
			Description string  `yaml:"description"`
		} `yaml:"inputs"`
	}
	if err := yaml.Unmarshal(raw, &a); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, in := range Inputs {
		seen[in.Name] = true
		y, ok := a.Inputs[in.Name]
		switch {
		case !ok:
			t.Errorf("input %s is not declared in action.yml", in.Name)
		case (y.Default == nil && in.Default != "") || (y.Default != nil && *y.Default != in.Default):
			t.Errorf("input %s: action.yml's default %v, the code's %q", in.Name, y.Default, in.Default)
		case y.Required != in.Required:
			t.Errorf("input %s: required %v in action.yml, %v in the code", in.Name, y.Required, in.Required)
		case strings.TrimSpace(y.Description) == "":
			t.Errorf("input %s has no description", in.Name)
		}
	}
	for name := range a.Inputs {
		if !seen[name] {
			t.Errorf("action.yml declares %s, which the code does not read", name)
		}
	}
}

func TestErrorsNameInputsWhereTheUserSetsThem(t *testing.T) {
	t.Parallel()
	_, err := Load(context.Background(), mapEnv(nil), []string{"--template-id", "tpl_1", "--prompt", "p"}, t.TempDir())
	got := err.Error()
	for _, want := range []string{"--api-key (PRISM_API_KEY): required",
		"\n--template-id (PRISM_TEMPLATE_ID): set together with --prompt (PRISM_PROMPT); give exactly one of --generation-id (PRISM_GENERATION_ID), --template-id (PRISM_TEMPLATE_ID) and --prompt (PRISM_PROMPT)"} {
		if !strings.Contains(got, want) {
			t.Errorf("CLI error lacks %q:\n%s", want, got)
		}
	}
	_, err = load(t, mapEnv(map[string]string{"PRISM_API_KEY": "prism_sk_x", "PRISM_MODEL": "m"}), "--prompt", "p", "gen_a")
	if want := "--generation-id (PRISM_GENERATION_ID): set together with --prompt (PRISM_PROMPT) (positional arguments are generation IDs too); give exactly one"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("a positional ID beside --prompt: %v, want %q", err, want)
	}
	// A mode's PRISM_* variable beside another mode's flag or argument
	// is named as what to unset; the note on arguments is for them only.
	_, err = load(t, mapEnv(map[string]string{"PRISM_API_KEY": "prism_sk_x", "PRISM_TEMPLATE_ID": "tpl_1"}), "gen_a")
	if want := "--generation-id (PRISM_GENERATION_ID): set together with --template-id (PRISM_TEMPLATE_ID) (positional arguments are generation IDs too); give exactly one of " +
		"--generation-id (PRISM_GENERATION_ID), --template-id (PRISM_TEMPLATE_ID) and --prompt (PRISM_PROMPT) (PRISM_TEMPLATE_ID comes from the environment, " +
		"and a flag for one mode does not override another's variable: unset it)"; err == nil || err.Error() != want {
		t.Errorf("PRISM_TEMPLATE_ID beside an ID:\n%v\nwant\n%s", err, want)
	}
	_, err = load(t, mapEnv(map[string]string{"PRISM_API_KEY": "prism_sk_x", "PRISM_PROMPT": "p", "PRISM_TEMPLATE_ID": "tpl_1"}), "--generation-id", "gen_a")
	if err == nil || strings.Contains(err.Error(), "positional") || !strings.HasSuffix(err.Error(), "(PRISM_TEMPLATE_ID and PRISM_PROMPT come from the environment, and a flag for one mode does not override another's variable: unset them)") {
		t.Errorf("--generation-id beside two variables: %v", err)
	}
	_, err = load(t, mapEnv(map[string]string{"PRISM_API_KEY": "prism_sk_x", "PRISM_PROMPT": "p", "PRISM_TEMPLATE_ID": "tpl_1"}))
	if err == nil || strings.Contains(err.Error(), "environment") {
		t.Errorf("two variables and no flag: %v", err)
	}
	// Each input given is named, and none that was not.
	_, err = load(t, runnerEnv(map[string]string{"INPUT_API_KEY": "prism_sk_x", "INPUT_GENERATION_ID": "gen_1", "INPUT_TEMPLATE_ID": "tpl_1", "INPUT_PROMPT": "p"}))
	if want := "generation_id: set together with template_id and prompt; give exactly one of generation_id, template_id and prompt"; err == nil || err.Error() != want {
		t.Errorf("all three given: %v, want %q", err, want)
	}
	_, err = load(t, runnerEnv(map[string]string{"INPUT_API_KEY": "prism_sk_x", "INPUT_TEMPLATE_ID": "tpl_1", "INPUT_PROMPT": "p"}))
	if want := "template_id: set together with prompt; give exactly one of generation_id, template_id and prompt"; err == nil || err.Error() != want {
		t.Errorf("template_id and prompt: %v, want %q", err, want)
	}
}

// TestABlankModeIsNamed: a mode's input given only blanks (a ${{ }} that
// came out as a newline) is named as blank, not taken as none given; one
// given beside another mode is not a conflict.
func TestABlankModeIsNamed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{env: map[string]string{"INPUT_PROMPT": " \n "}, want: "prompt: is blank (only spaces or invisible characters; a ${{ }} expression may have come out empty): give it a value, or give generation_id or template_id instead"},
		{env: map[string]string{"INPUT_TEMPLATE_ID": "\t"}, want: "template_id: is blank (only spaces or invisible characters; a ${{ }} expression may have come out empty): give it a value, or give generation_id or prompt instead"},
		// Each blank one is named, and only the others are offered.
		{env: map[string]string{"INPUT_GENERATION_ID": "\n", "INPUT_PROMPT": " "}, want: "generation_id: is blank (only spaces, commas or invisible characters; a ${{ }} expression may have come out empty): give it a value, or give template_id instead\n" +
			"prompt: is blank (only spaces or invisible characters; a ${{ }} expression may have come out empty): give it a value, or give template_id instead"},
		{env: map[string]string{"INPUT_GENERATION_ID": "\n", "INPUT_TEMPLATE_ID": " ", "INPUT_PROMPT": " "}, want: "generation_id: is blank (only spaces, commas or invisible characters; a ${{ }} expression may have come out empty): give it a value\n"},
		// What goes with a blank mode is not called out of place.
		{env: map[string]string{"INPUT_PROMPT": "\n", "INPUT_MODEL": "veo-3.1", "INPUT_COUNT": "2", "INPUT_OPTIONS": "{}"}, want: "prompt: is blank (only spaces or invisible characters; a ${{ }} expression may have come out empty): give it a value, or give generation_id or template_id instead"},
		{env: map[string]string{"INPUT_TEMPLATE_ID": "\n", "INPUT_VARIABLES": "{}"}, want: "template_id: is blank"},
		{env: map[string]string{"INPUT_GENERATION_ID": "", "INPUT_TIMEOUT": " "}, want: "generation_id: required: give generation IDs to wait for, or template_id or prompt to submit (one set from a ${{ }} expression that came out empty counts as not given: check the expression, e.g. the needs.<job>.outputs name it reads)"},
		{args: []string{"--prompt", "  "}, want: "--prompt (PRISM_PROMPT): is blank (only spaces or invisible characters; a shell variable may have come out empty): give it a value, or give --generation-id (PRISM_GENERATION_ID) or --template-id (PRISM_TEMPLATE_ID) instead"},
		{args: []string{" "}, want: "--generation-id (PRISM_GENERATION_ID): is blank"},
		{env: map[string]string{"PRISM_TEMPLATE_ID": "\n"}, args: []string{}, want: "--template-id (PRISM_TEMPLATE_ID): is blank"},
		// A mode's flag given blank is named whatever PRISM_* says.
		{env: map[string]string{"PRISM_PROMPT": "a cat"}, args: []string{"--prompt", "", "--model", "m"}, want: "--prompt (PRISM_PROMPT): is blank"},
		{env: map[string]string{}, args: []string{"--template-id", "tpl_1", ""}, want: "--generation-id (PRISM_GENERATION_ID): is blank (a positional argument is a generation ID too) (only spaces, commas or invisible characters; a shell variable may have come out empty): give it a value, or leave it out to use --template-id (PRISM_TEMPLATE_ID)"},
		{env: map[string]string{"INPUT_PROMPT": "\u3164\u2800\u034f", "INPUT_MODEL": "m"}, want: "prompt: is blank"},
		// Nothing visible is blank too.
		{env: map[string]string{"INPUT_PROMPT": "\u200b\u00a0", "INPUT_MODEL": "m"}, want: "prompt: is blank"},
		{args: []string{"--prompt", "\u200b", "--model", "m"}, want: "--prompt (PRISM_PROMPT): is blank"},
		// A blank flag is named even beside a mode from PRISM_*, which
		// never stands in for it.
		{env: map[string]string{"PRISM_TEMPLATE_ID": "tpl_1"}, args: []string{"--prompt", " ", "--model", "m"}, want: "--prompt (PRISM_PROMPT): is blank (only spaces or invisible characters; a shell variable may have come out empty): give it a value, or leave it out to use --template-id (PRISM_TEMPLATE_ID)"},
		{env: map[string]string{"PRISM_TEMPLATE_ID": "tpl_1"}, args: []string{" "}, want: "--generation-id (PRISM_GENERATION_ID): is blank"},
		{env: map[string]string{"PRISM_TEMPLATE_ID": "tpl_old"}, args: []string{"--template-id", ""}, want: "--template-id (PRISM_TEMPLATE_ID): is blank"},
		{env: map[string]string{"PRISM_GENERATION_ID": "gen_old"}, args: []string{"--generation-id", " "}, want: "--generation-id (PRISM_GENERATION_ID): is blank"},
	} {
		var err error
		if tc.args == nil {
			tc.env["INPUT_API_KEY"] = "prism_sk_x"
			_, err = load(t, runnerEnv(tc.env))
		} else {
			env := map[string]string{"PRISM_API_KEY": "prism_sk_x"}
			maps.Copy(env, tc.env)
			_, err = load(t, mapEnv(env), tc.args...)
		}
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "only used with") {
			t.Errorf("%v %q: err = %v, want %q", tc.env, tc.args, err, tc.want)
		}
	}
	// The CLI tells an unset variable from an empty one: no ${{ }} there.
	if _, err := load(t, mapEnv(map[string]string{"PRISM_API_KEY": "prism_sk_x"})); err == nil || err.Error() !=
		"--generation-id (PRISM_GENERATION_ID): required: give generation IDs to wait for, or --template-id (PRISM_TEMPLATE_ID) or --prompt (PRISM_PROMPT) to submit" {
		t.Errorf("no mode in the CLI: %v", err)
	}
	// Beside another mode too, a blank one is named: it was written, and
	// a guess could pay for what was not asked. Nothing goes through.
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"INPUT_GENERATION_ID": "gen_1", "INPUT_PROMPT": " "}, "prompt: is blank (only spaces or invisible characters; a ${{ }} expression may have come out empty): give it a value, or leave it out to use generation_id"},
		{map[string]string{"INPUT_GENERATION_ID": "gen_1", "INPUT_PROMPT": "\u200b"}, "prompt: is blank"},
		{map[string]string{"INPUT_TEMPLATE_ID": "tpl_1", "INPUT_PROMPT": "\n", "INPUT_MODEL": "veo-3.1", "INPUT_COUNT": "4"}, "prompt: is blank"},
		{map[string]string{"INPUT_TEMPLATE_ID": "tpl_1", "INPUT_GENERATION_ID": " , \n", "INPUT_VARIABLES": "{}"}, "generation_id: is blank"},
		{map[string]string{"INPUT_PROMPT": "a cat", "INPUT_MODEL": "m", "INPUT_TEMPLATE_ID": "\u200b", "INPUT_VARIABLES": "{}"}, "template_id: is blank (only spaces or invisible characters; a ${{ }} expression may have come out empty): give it a value, or leave it out to use prompt"},
	} {
		tc.env["INPUT_API_KEY"] = "prism_sk_x"
		c, err := load(t, runnerEnv(tc.env))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") || c.Submit != nil || c.IDs != nil {
			t.Errorf("%q: %v, %+v %q; want %q alone", tc.env, err, c.Submit, c.IDs, tc.want)
		}
	}
	// Any other flag given empty is unset, as an empty input is: its
	// PRISM_* variable stands in (--base-url "" must not mean the default).
	c, err := load(t, mapEnv(map[string]string{"PRISM_API_KEY": "prism_sk_x", "PRISM_COUNT": "4", "PRISM_BASE_URL": "http://127.0.0.1:9/api"}),
		"--prompt", "a cat", "--model", "m", "--count", "", "--base-url", "", "--api-key", " ")
	if err != nil || c.Submit == nil || c.Submit.Body["count"] != 4 || c.BaseURL.String() != "http://127.0.0.1:9/api" || c.APIKey != "prism_sk_x" {
		t.Errorf("empty flags beside PRISM_*: %v, %+v", err, c)
	}
}

// TestTheFlagPackagePrintsNothing: a bad flag or value is returned as an
// error for the caller's scrubbing log; the flag package's own messages,
// which quote the argument raw (a workflow command, a key), print nothing.
// --help still prints the usage.
func TestTheFlagPackagePrintsNothing(t *testing.T) {
	t.Parallel()
	env := mapEnv(map[string]string{"PRISM_API_KEY": "prism_sk_x"})
	for _, tc := range []struct {
		args []string
		hint string
	}{
		{[]string{"--##[error]x"}, "--##[error]x is not a flag (run with --help for the list of flags)"},
		{[]string{"--version=prism_sk_flagvalue123"}, "--version takes no value: give it alone, as --version"},
		{[]string{"---timeout=1s"}, "bad flag syntax: ---timeout=1s (run with --help for the list of flags)"},
		{[]string{"gen_a", "-::error::x"}, "--::error::x is not a flag (run with --help for the list of flags)"},
		{[]string{"--timeout"}, "--timeout needs a value: give it as --timeout=VALUE"},
		{[]string{"--timeout", "--version"}, ""}, // a value that looks like a flag is a value
		// An input's name as the action spells it.
		{[]string{"--api_key", "k"}, "--api_key is not a flag: did you mean --api-key?"},
		{[]string{"-download_dir=v"}, "--download_dir is not a flag: did you mean --download-dir?"},
	} {
		args := tc.args
		_, err := Load(context.Background(), env, args, t.TempDir())
		if tc.hint == "" {
			if err == nil || strings.Contains(err.Error(), "flag") {
				t.Errorf("%q: error %v, want the value's own", args, err)
			}
		} else if err == nil || err.Error() != tc.hint {
			t.Errorf("%q: error %v, want %q", args, err, tc.hint)
		}
	}
	if fs, _, _ := flagSet(); fs.Output() != io.Discard {
		t.Error("the flag package would print its own messages")
	}
	if _, err := Load(context.Background(), env, []string{"-h"}, t.TempDir()); !errors.Is(err, ErrHelp) {
		t.Errorf("-h: %v", err)
	}
	var help strings.Builder
	Help(&help, "")
	if !strings.HasPrefix(help.String(), "prism-wait waits for Prism video generations") || !strings.Contains(help.String(), "\n  --version\n") {
		t.Errorf("Help wrote %q", help.String())
	}
}

func TestWaitAndRerunGuard(t *testing.T) {
	t.Parallel()
	submit := map[string]string{"INPUT_API_KEY": "prism_sk_x", "INPUT_TEMPLATE_ID": "tpl_a", "INPUT_WAIT": "true", "INPUT_RERUN_GUARD": "auto"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range submit {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name    string
		env     map[string]string
		wait    bool
		guard   string
		wantErr string
	}{
		{name: "defaults", env: with(), wait: true, guard: "auto"},
		{name: "omitted inputs take the defaults", env: with("INPUT_WAIT", "", "INPUT_RERUN_GUARD", ""), wait: true, guard: "auto"},
		{name: "submit only", env: with("INPUT_WAIT", "False"), wait: false, guard: "auto"},
		{name: "required", env: with("INPUT_RERUN_GUARD", " Required "), wait: true, guard: "required"},
		{name: "off", env: with("INPUT_RERUN_GUARD", "off"), wait: true, guard: "off"},
		{name: "not a boolean", env: with("INPUT_WAIT", "no"), wantErr: `wait: "no" is not true or false`},
		{name: "not a mode", env: with("INPUT_RERUN_GUARD", "always"), wantErr: `rerun_guard: "always" is not one of auto, required, off`},
		{name: "no submit to stop after", env: with("INPUT_TEMPLATE_ID", "", "INPUT_GENERATION_ID", "gen_a", "INPUT_WAIT", "false"),
			wantErr: "wait: false only makes sense with template_id or prompt"},
	} {
		c, err := load(t, runnerEnv(tc.env))
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: err = %v, want %q", tc.name, err, tc.wantErr)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case c.Wait != tc.wait || c.RerunGuard != tc.guard:
			t.Errorf("%s: Wait=%v RerunGuard=%q, want %v %q", tc.name, c.Wait, c.RerunGuard, tc.wait, tc.guard)
		}
	}
	// `--wait --template-id tpl_a` gives --wait the value "--template-id":
	// the CLI says so, not only that it is no boolean.
	cli := func(k string) (string, bool) {
		return map[string]string{"PRISM_API_KEY": "prism_sk_x"}[k], k == "PRISM_API_KEY"
	}
	want := `--wait (PRISM_WAIT): "--template-id" is not true or false: the flag takes a value, so the next argument became it; write --wait=true or --wait=false`
	if _, err := load(t, cli, "--wait", "--template-id", "tpl_a"); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want %q", err, want)
	}
	if _, err := load(t, runnerEnv(with("INPUT_WAIT", "-x"))); err == nil || !strings.HasSuffix(err.Error(), `wait: "-x" is not true or false`) {
		t.Errorf("the action names no flag: %v", err)
	}
	// Only a value that came from the flag: not PRISM_WAIT's; in a run: step too.
	env := map[string]string{"PRISM_API_KEY": "prism_sk_x", "PRISM_WAIT": "-1"}
	if _, err := load(t, mapEnv(env), "--template-id", "tpl_a"); err == nil || !strings.HasSuffix(err.Error(), `--wait (PRISM_WAIT): "-1" is not true or false`) {
		t.Errorf("PRISM_WAIT: %v", err)
	}
	env = map[string]string{"PRISM_API_KEY": "prism_sk_x", "GITHUB_ACTIONS": "true"}
	if _, err := load(t, mapEnv(env), "--wait", "--template-id", "tpl_a"); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("in a run: step: %v, want %q", err, want)
	}
}
