// Package config turns the action's inputs (INPUT_*), or the CLI's flags
// and PRISM_* environment, into one validated Config. Each input is
// declared once, in Inputs: its name, default, usage and parser; the
// lookup, the flags and --help come from that table, and a test holds it
// against action.yml. Every bad input is reported at once, before any
// request is sent. Nothing here prints but Help.
package config

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sethvargo/go-envconfig"

	"github.com/prism-wait/prism-wait/internal/prism"
	"github.com/prism-wait/prism-wait/internal/rerun"
	"github.com/prism-wait/prism-wait/internal/untrusted"
)

// MaxIDs bounds how many generations one step waits for.
const MaxIDs = prism.MaxIDs

// MinInterval is the shortest poll_interval and max_interval accepted: a
// shorter one would poll back to back.
const MinInterval = 10 * time.Millisecond

// Config is everything the rest of the program needs, parsed and checked.
type Config struct {
	IDs []string // given IDs, in input order, without duplicates; nil when submitting
	// Submit is the request that creates the generations to wait for, nil
	// when IDs are given.
	Submit       *prism.SubmitRequest
	APIKey       string
	BaseURL      *url.URL
	Timeout      time.Duration
	PollInterval time.Duration
	MaxInterval  time.Duration
	// Workspace is the absolute directory that reported paths are relative
	// to: GITHUB_WORKSPACE, or the working directory outside Actions.
	Workspace string
	// DownloadDir is the download directory relative to Workspace,
	// slash-separated and clean ("." for the workspace itself), or "" for
	// no download.
	DownloadDir string
	// GitHub is true inside GitHub Actions (GITHUB_ACTIONS=true): the
	// report is written as workflow commands, outputs and a summary.
	GitHub bool
	// Action is true when the settings come from the action's inputs:
	// then flags and PRISM_* are not read.
	Action bool
	// RerunGuard is rerun_guard: auto, required or off (see internal/rerun).
	RerunGuard string
	// Wait is false for a submit-only step: submit, write the IDs, stop.
	Wait bool
}

// modeInputs are the inputs of the three modes, in the order errors name
// them: exactly one is given.
var modeInputs = []string{"generation_id", "template_id", "prompt"}

// raw holds the inputs as given, before the checks that need several.
type raw struct {
	generationID                                 []string
	templateID, prompt, model, count             string
	variables                                    map[string]any
	options                                      string // JSON, read with the mode (submit), whose example it shows
	downloadDir                                  string
	timeout, pollInterval, maxInterval, baseURL  string
	apiKey, rerunGuard, wait                     string
	countSet, variablesSet, optionsSet, modelSet bool
	waitSet, waitFlag                            bool            // waitFlag: --wait given
	blank                                        map[string]bool // the inputs given blank, by envName
	blankFlag                                    map[string]bool // the modes' flags given blank, by input name
	fromEnv                                      map[string]bool // the modes given by PRISM_* alone (CLI), by input name
	positional                                   bool            // generation IDs given as arguments (CLI)
}

// shows says whether r is a character that shows: not a space, a control
// or format character (a zero-width space), a mark on nothing, or a
// letter or symbol drawn blank (Hangul fillers, the blank Braille cell).
func shows(r rune) bool {
	switch r {
	case '\u115f', '\u1160', '\u2800', '\u3164', '\uffa0':
		return false
	}
	return !unicode.IsSpace(r) && !unicode.IsControl(r) && !unicode.In(r, unicode.Cf, unicode.Mn, unicode.Me)
}

// holds says whether v, the value of input in, holds anything: a
// character that shows, other than a comma between IDs.
func holds(in, v string) bool {
	return strings.ContainsFunc(v, func(r rune) bool { return shows(r) && (r != ',' || in != "generation_id") })
}

// Input is one setting: the action input Name, INPUT_NAME in the action,
// --name (with hyphens) and PRISM_NAME in the CLI, in that order of
// precedence there.
type Input struct {
	Name     string
	Default  string // "" for none
	Required bool   // required: true in action.yml
	Usage    string // for --help
	set      func(r *raw, v string) error
}

// Inputs is every setting, in the order --help shows them.
var Inputs = []Input{
	{Name: "generation_id", Usage: "generation `IDs` to wait for, separated by whitespace, commas or newlines; the flag can be repeated, and IDs can also be positional arguments",
		set: func(r *raw, v string) error { r.generationID = append(r.generationID, v); return nil }},
	{Name: "template_id", Usage: "submit generations from this template, then wait for them",
		set: func(r *raw, v string) error { r.templateID = strings.TrimSpace(v); return nil }},
	{Name: "variables", Usage: "JSON object of template variables, with --template-id",
		set: func(r *raw, v string) (err error) {
			r.variablesSet = true
			r.variables, err = jsonObject(v, `{"title": "Launch"}`)
			return err
		}},
	{Name: "prompt", Usage: "submit a prompt-to-video generation, then wait for it",
		// Sent trimmed: a YAML block (prompt: |) ends in a newline.
		set: func(r *raw, v string) error { r.prompt = strings.TrimSpace(v); return nil }},
	{Name: "model", Usage: "model for --prompt, e.g. veo-3.1",
		set: func(r *raw, v string) error { r.modelSet, r.model = true, strings.TrimSpace(v); return nil }},
	{Name: "count", Default: "1", Usage: "videos to generate from --prompt, 1 to 4",
		set: func(r *raw, v string) error { r.countSet, r.count = true, strings.TrimSpace(v); return nil }},
	{Name: "options", Usage: "JSON object merged into the submit request's body (e.g. aspectRatio, duration)",
		set: func(r *raw, v string) error { r.optionsSet, r.options = true, v; return nil }},
	{Name: "api_key", Required: true, Usage: "Prism API key, prism_sk_… (prefer PRISM_API_KEY: flags show in process lists)",
		set: func(r *raw, v string) error { r.apiKey = strings.TrimSpace(v); return nil }},
	{Name: "base_url", Default: "https://prismvideos.com/api", Usage: "API root; https, or http to a loopback or private address",
		set: func(r *raw, v string) error { r.baseURL = v; return nil }},
	{Name: "timeout", Default: "10m", Usage: "deadline for the whole run, downloads included, e.g. 10m or 600",
		set: func(r *raw, v string) error { r.timeout = v; return nil }},
	{Name: "poll_interval", Default: "5s", Usage: "cadence of status reads per generation, shorter than --timeout (sparser until 0.8 × the latency a submit estimates)",
		set: func(r *raw, v string) error { r.pollInterval = v; return nil }},
	{Name: "max_interval", Default: "60s", Usage: "cap of the backoff after transient errors; raised to --poll-interval when shorter",
		set: func(r *raw, v string) error { r.maxInterval = v; return nil }},
	{Name: "download_dir", Usage: "download the videos into this directory, inside the workspace (default: no download)",
		set: func(r *raw, v string) error { r.downloadDir = strings.TrimSpace(v); return nil }},
	{Name: "wait", Default: "true", Usage: "false to submit and stop, writing the generation IDs for a later step or job to wait for",
		set: func(r *raw, v string) error { r.waitSet, r.wait = true, strings.TrimSpace(v); return nil }},
	{Name: "rerun_guard", Default: "auto", Usage: "on a re-run of a GitHub Actions job, wait for what an earlier attempt submitted instead of paying again: auto, required or off (required fails a submit, before it is sent, where there is no Actions cache: outside GitHub Actions, in a run: step, and in the binary sub-action)",
		set: func(r *raw, v string) error { r.rerunGuard = strings.ToLower(strings.TrimSpace(v)); return nil }},
}

// Flag is the CLI flag of an input: api_key → api-key.
func Flag(name string) string { return strings.ReplaceAll(name, "_", "-") }

// envName is the variable suffix of an input: api_key → API_KEY.
func envName(name string) string { return strings.ToUpper(name) }

// Term names an input the way the user sets it, for messages that say
// what to do: "api_key" in the action, "--api-key (PRISM_API_KEY)" in the
// CLI. Load's errors, and the advice of every later message, name inputs
// with it.
func (c Config) Term(input string) string {
	if c.Action {
		return input
	}
	return "--" + Flag(input) + " (PRISM_" + envName(input) + ")"
}

// ErrHelp is returned when --help was asked for: print Help.
var ErrHelp = flag.ErrHelp

// ErrVersion is returned when --version was asked for.
var ErrVersion = errors.New("version requested")

// Load reads and validates the settings. lookup reads the environment
// (os.LookupEnv), args are the command-line arguments without the program
// name, and wd is the working directory.
//
// Settings come from the action's inputs when the runner passed any
// (it passes INPUT_* for every declared input, "" for an omitted one),
// else from flags, then PRISM_*: a workflow's PRISM_* variables, meant for
// other steps, must not leak into the action, while the CLI run in a
// `run:` step keeps its flags and PRISM_*.
//
// Its errors name each input the way the user sets it (see Term), one
// problem a line. On error the returned Config still holds the API key,
// when one was given, so that the caller can mask it before printing
// anything.
func Load(ctx context.Context, lookup func(string) (string, bool), args []string, wd string) (Config, error) {
	get := func(k string) string { v, _ := lookup(k); return v }
	c := Config{GitHub: get("GITHUB_ACTIONS") == "true", Action: ActionMode(lookup)}
	r := raw{blank: map[string]bool{}, blankFlag: map[string]bool{}, fromEnv: map[string]bool{}}
	var l envconfig.Lookuper = envconfig.PrefixLookuper("INPUT_", nonEmpty(get, r.blank))
	if c.Action && len(args) > 0 {
		// The actions pass no arguments: these are a CLI user's, beside
		// INPUT_* variables meant for something else.
		if _, _, err := parseFlags(args); errors.Is(err, ErrHelp) || errors.Is(err, ErrVersion) {
			return c, err
		}
		return c, fmt.Errorf("%d command-line argument(s) given, but %s set: prism-wait then reads the action's inputs (INPUT_*) and would ignore the arguments; "+
			"unset the INPUT_* variables to use flags and PRISM_*", len(args), setVars(lookup))
	}
	var fromFlags map[string]string
	if !c.Action {
		var err error
		var given map[string]bool
		if fromFlags, given, err = parseFlags(args); err != nil {
			return c, err
		}
		// A mode's flag given with nothing in it (a shell variable that
		// came out empty) is named as blank, whatever PRISM_* says: it
		// decides what is paid for. Any other flag given empty is unset.
		for _, in := range modeInputs {
			k := envName(in)
			if given[k] && !holds(in, fromFlags[k]) {
				r.blankFlag[in] = true
			}
			r.fromEnv[in] = !given[k]
		}
		r.positional = given[positional]
		l = envconfig.MultiLookuper(nonEmpty(func(k string) string { return fromFlags[k] }, r.blank), envconfig.PrefixLookuper("PRISM_", nonEmpty(get, r.blank)))
	}

	var errs []error
	bad := func(input, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{c.Term(input)}, a...)...))
	}
	r.waitFlag = fromFlags[envName("wait")] != ""
	for _, in := range Inputs {
		v, ok := l.Lookup(envName(in.Name))
		if !ok {
			if in.Default == "" {
				continue
			}
			v = in.Default
		}
		if err := in.set(&r, v); err != nil {
			bad(in.Name, "%v", err)
		}
	}
	c.APIKey = r.apiKey
	c.check(&r, bad)

	c.Workspace = wd
	if ws := get("GITHUB_WORKSPACE"); ws != "" {
		c.Workspace = ws
	}
	var err error
	if c.Workspace, err = filepath.Abs(c.Workspace); err != nil {
		errs = append(errs, fmt.Errorf("cannot resolve the workspace directory: %w", err))
	} else if r.downloadDir != "" {
		dir := r.downloadDir
		if !c.Action && !filepath.IsAbs(dir) && !unexpanded(dir) {
			// A flag's path is the shell's: relative to the working
			// directory, which a run: step's working-directory moves
			// inside the workspace. Outputs stay relative to the
			// workspace, as actions/upload-artifact reads them.
			if sub, ok := below(c.Workspace, wd); ok {
				dir = filepath.Join(sub, dir)
			}
		}
		c.DownloadDir, err = within(c.Workspace, dir, r.downloadDir)
		switch {
		case errors.Is(err, errNotADir):
			bad("download_dir", "%v; choose another %s", err, c.Term("download_dir"))
		case errors.Is(err, errOutside) && c.Action && c.Workspace == dockerWorkspace && filepath.IsAbs(dir):
			// ${{ github.workspace }} expands to the runner's path.
			bad("download_dir", "%v. The action runs in a container, which sees the workspace at %s: if the path came from ${{ github.workspace }} or ${{ runner.temp }}, those are the runner's paths, not the container's; give it relative to the workspace", err, dockerWorkspace)
		case errors.Is(err, errOutside) && get("GITHUB_WORKSPACE") == "":
			bad("download_dir", "%v. Without GITHUB_WORKSPACE, the workspace is the working directory: run prism-wait from a directory that holds the download directory, or set GITHUB_WORKSPACE to one", err)
		case err != nil:
			bad("download_dir", "%v", err)
		}
	}
	if len(errs) > 0 && c.Action && !c.GitHub {
		// Outside GitHub Actions, INPUT_* meant for something else made
		// this the action: messages in its terms would puzzle.
		errs = append(errs, fmt.Errorf("these settings were read as the action's inputs, since %s set outside GitHub Actions; unset the INPUT_* variables to use flags and PRISM_*", setVars(lookup)))
	}
	return c, errors.Join(errs...)
}

// setVars names the INPUT_* variables set, at most three: "INPUT_A and
// INPUT_B are".
func setVars(lookup func(string) (string, bool)) string {
	vars := actionVars(lookup)
	named := strings.Join(vars[:min(len(vars), 3)], ", ")
	if len(vars) > 3 {
		named += fmt.Sprintf(" and %d more", len(vars)-3)
	}
	if len(vars) > 1 {
		return named + " are"
	}
	return named + " is"
}

// check validates r into c, reporting each problem through bad.
func (c *Config) check(r *raw, bad func(input, format string, a ...any)) {
	t := c.Term
	var err error
	switch {
	case c.APIKey == "":
		if c.Action {
			// Empty in the action: a secret misnamed or not set, or one
			// that GitHub withholds from a pull request from a fork.
			bad("api_key", "required: the Prism API key (prism_sk_…), from a secret: api_key: ${{ secrets.PRISM_API_KEY }}. "+
				"If that is what the workflow says, check the secret's name and that it is set for this repository or environment; "+
				"a pull request from a fork gets no secrets")
		} else if c.GitHub {
			bad("api_key", "required: the Prism API key (prism_sk_…), from a secret, in the step's env: PRISM_API_KEY: ${{ secrets.PRISM_API_KEY }}; "+
				"a pull request from a fork gets no secrets")
		} else {
			bad("api_key", "required: the Prism API key (prism_sk_…), from a secret or a masked CI variable")
		}
	case strings.ContainsFunc(c.APIKey, func(r rune) bool { return !shows(r) }):
		bad("api_key", "contains spaces, control or invisible characters (a byte order mark, a zero-width space); check the secret's value (it is not shown here)")
	case strings.ContainsAny(c.APIKey[:1]+c.APIKey[len(c.APIKey)-1:], "\"'`"):
		bad("api_key", "begins or ends with a quote; store the secret's value without quotes (it is not shown here)")
	}

	ids := strings.Join(r.generationID, "\n")
	// A mode's input given with nothing in it to read (spaces, commas
	// between no IDs, a zero-width space) is named, beside another mode
	// too: the runner passes "" for an input the workflow omits, so it
	// was written, and a guess could pay for what was not asked.
	value := map[string]string{"generation_id": ids, "template_id": r.templateID, "prompt": r.prompt}
	var modes, blanks, others []string // the modes' inputs given; given blank; neither
	for _, in := range modeInputs {
		switch {
		case r.blankFlag[in]: // whatever PRISM_* stood in for it
			blanks = append(blanks, in)
		case holds(in, value[in]):
			modes = append(modes, in)
		case value[in] != "" || r.blank[envName(in)]:
			blanks = append(blanks, in)
		default:
			others = append(others, t(in))
		}
	}
	source := "a shell variable"
	if c.Action {
		source = "a ${{ }} expression"
	}
	instead := ""
	switch {
	case len(modes) > 0:
		instead = ", or leave it out to use " + t(modes[0])
	case len(others) > 0:
		instead = ", or give " + strings.Join(others, " or ") + " instead"
	}
	for _, in := range blanks {
		what, where := "spaces or invisible characters", ""
		if in == "generation_id" {
			what = "spaces, commas or invisible characters"
			if !c.Action {
				where = " (a positional argument is a generation ID too)"
			}
		}
		bad(in, "is blank%s (only %s; %s may have come out empty): give it a value%s", where, what, source, instead)
	}
	switch {
	case len(blanks) > 0: // named above
	case len(modes) == 0:
		empty := ""
		if c.Action {
			// The runner passes "" for an omitted input: an expression
			// that came out empty looks the same.
			empty = " (one set from a ${{ }} expression that came out empty counts as not given: check the expression, e.g. the needs.<job>.outputs name it reads)"
		}
		bad("generation_id", "required: give generation IDs to wait for, or %s or %s to submit%s", t("template_id"), t("prompt"), empty)
	case len(modes) > 1:
		others := make([]string, 0, 2)
		for _, in := range modes[1:] {
			others = append(others, t(in))
		}
		ids := ""
		if modes[0] == "generation_id" && r.positional {
			ids = " (positional arguments are generation IDs too)"
		}
		// A flag wins over its own PRISM_* variable only: one left in
		// the environment for another mode is named.
		var env []string
		for _, in := range modes {
			if r.fromEnv[in] {
				env = append(env, "PRISM_"+envName(in))
			}
		}
		unset := ""
		if len(env) > 0 && len(env) < len(modes) {
			verb, it := "comes", "it"
			if len(env) > 1 {
				verb, it = "come", "them"
			}
			unset = fmt.Sprintf(" (%s %s from the environment, and a flag for one mode does not override another's variable: unset %s)", strings.Join(env, " and "), verb, it)
		}
		bad(modes[0], "set together with %s%s; give exactly one of %s, %s and %s%s", strings.Join(others, " and "), ids, t("generation_id"), t("template_id"), t("prompt"), unset)
	case r.templateID == "" && r.prompt == "":
		if c.IDs, err = ParseIDs(ids); err != nil {
			bad("generation_id", "%v", err)
		}
		for _, id := range c.IDs {
			if untrusted.New(c.APIKey).Secret(id) {
				bad("generation_id", "one of the IDs is an API key (not shown); pass the key as %s and the IDs here", t("api_key"))
				c.IDs = nil
				break
			}
		}
	default:
		c.Submit = c.submit(r, bad)
	}
	// What goes with a blank mode is not out of place: the blank is.
	template, prompt := r.templateID != "" || len(blanks) > 0, r.prompt != "" || len(blanks) > 0
	if !template && r.variablesSet {
		bad("variables", "only used with %s", t("template_id"))
	}
	if !prompt {
		if r.modelSet {
			bad("model", "only used with %s", t("prompt"))
		}
		if r.countSet && r.count != "1" {
			bad("count", "only used with %s", t("prompt"))
		}
	}
	if r.optionsSet && !template && !prompt {
		bad("options", "only used with %s or %s", t("template_id"), t("prompt"))
	}

	switch strings.ToLower(r.wait) {
	case "true":
		c.Wait = true
	case "false":
		if c.Submit == nil && c.IDs != nil {
			bad("wait", "false only makes sense with %s or %s: it submits and stops; remove it to wait for the IDs", t("template_id"), t("prompt"))
		}
	default:
		if r.waitFlag && strings.HasPrefix(r.wait, "-") { // `--wait --template-id …`
			bad("wait", "%q is not true or false: the flag takes a value, so the next argument became it; write --wait=true or --wait=false", untrusted.Clip(r.wait, 20))
			break
		}
		bad("wait", "%q is not true or false", untrusted.Clip(r.wait, 20))
	}
	if c.RerunGuard = r.rerunGuard; !slices.Contains(rerun.Modes, c.RerunGuard) {
		bad("rerun_guard", "%q is not one of %s", untrusted.Clip(r.rerunGuard, 20), strings.Join(rerun.Modes, ", "))
	}

	if c.BaseURL, err = ParseBaseURL(r.baseURL); errors.Is(err, errCredentials) {
		bad("base_url", "%v; pass the key as %s", err, t("api_key"))
	} else if err != nil {
		bad("base_url", "%v", err)
	}
	for _, d := range []struct {
		input, raw string
		min        time.Duration
		dst        *time.Duration
	}{
		{"timeout", r.timeout, time.Nanosecond, &c.Timeout},
		{"poll_interval", r.pollInterval, MinInterval, &c.PollInterval},
		{"max_interval", r.maxInterval, MinInterval, &c.MaxInterval},
	} {
		switch *d.dst, err = ParseDuration(d.raw); {
		case err != nil && d.min > time.Nanosecond && errors.Is(err, errNotPositive):
			bad(d.input, "%v; use at least %s", err, d.min)
		case err != nil:
			bad(d.input, "%v", err)
		case *d.dst < d.min:
			bad(d.input, "%s is too short; use at least %s", *d.dst, d.min)
		}
	}
	// The backoff starts at poll_interval: a cap below it (the default
	// 60s under poll_interval: 2m) is raised to it.
	c.MaxInterval = max(c.MaxInterval, c.PollInterval)
	if c.Timeout > 0 && c.PollInterval >= c.Timeout { // an invalid interval is 0
		bad("poll_interval", "%s is not shorter than %s (%s), so no status would be read again before the deadline; make it shorter, e.g. %s",
			c.PollInterval, t("timeout"), c.Timeout, max(MinInterval, (c.Timeout/10).Round(time.Millisecond)))
	}
}

// submit builds the request for template or prompt mode.
func (c *Config) submit(r *raw, bad func(input, format string, a ...any)) *prism.SubmitRequest {
	var options map[string]any
	if r.optionsSet {
		example := `{"character_variables": {"hero": "char_abc123"}}`
		if r.prompt != "" {
			example = `{"aspectRatio": "16:9"}`
		}
		var err error
		if options, err = jsonObject(r.options, example); err != nil {
			bad("options", "%v", err)
		}
	}
	body := map[string]any{}
	for k, v := range options {
		body[k] = v
	}
	// taken refuses the body keys that other inputs set (key → input) and
	// those this mode does not send (key → ""), in any case: a server that
	// matches keys in any case would take them.
	taken := func(mode string, keys map[string]string) {
		for _, name := range slices.Sorted(maps.Keys(keys)) {
			for _, k := range slices.Sorted(maps.Keys(options)) {
				switch in := keys[name]; {
				case !strings.EqualFold(k, name):
				case in != "":
					bad("options", "%q is set by %s; remove it from %s", k, c.Term(in), c.Term("options"))
				default:
					bad("options", "%q does not go with %s; remove it from %s", k, c.Term(mode), c.Term("options"))
				}
			}
		}
	}
	if r.templateID != "" {
		if !prism.ValidID(r.templateID) {
			bad("template_id", "%q is not a template ID (expected at most %d letters, digits, _ and -, like tpl_abc123)", untrusted.Clip(r.templateID, 64), prism.MaxIDLen)
		}
		taken("template_id", map[string]string{"variables": "variables", "prompt": "", "modelName": "", "count": ""})
		body["variables"] = map[string]any{}
		if r.variables != nil {
			body["variables"] = r.variables
		}
		return &prism.SubmitRequest{TemplateID: r.templateID, Body: body}
	}
	taken("prompt", map[string]string{"prompt": "prompt", "modelName": "model", "count": "count", "variables": ""})
	switch {
	case r.model == "":
		bad("model", "required with %s: name the model, e.g. veo-3.1", c.Term("prompt"))
	case !holds("model", r.model):
		bad("model", "is blank (only spaces or invisible characters): name the model, e.g. veo-3.1")
	case strings.ContainsFunc(r.model, func(r rune) bool { return r != ' ' && !shows(r) }):
		// A space is what it looks like; the API judges a model's name.
		bad("model", "%q contains control or invisible characters (a byte order mark, a zero-width space): name the model as Prism spells it, e.g. veo-3.1",
			untrusted.Clip(r.model, 32))
	}
	n, err := strconv.Atoi(r.count)
	if err != nil || n < 1 || n > 4 {
		bad("count", "%q is not a whole number from 1 to 4", untrusted.Clip(r.count, 32))
	}
	body["prompt"], body["modelName"], body["count"] = r.prompt, r.model, n
	return &prism.SubmitRequest{Body: body}
}

// jsonObject parses a JSON object, saying where the JSON breaks and
// showing example, one the input takes. It never quotes more of the
// input than one character or a short plain key: a value may hold a
// secret, and a part of one is masked nowhere.
func jsonObject(s, example string) (map[string]any, error) {
	like := "a JSON object, like " + example
	if strings.HasPrefix(s, "\ufeff") {
		return nil, errors.New("starts with a byte order mark (U+FEFF); remove it and give " + like)
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber() // numbers are sent on exactly as written
	var v any
	err := dec.Decode(&v)
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se) && strings.Contains(se.Error(), "depth"):
		return nil, errors.New("is nested too deeply to read; give " + like)
	case errors.As(err, &se):
		// Go's own text ("invalid character 'i' in literal true") speaks of
		// its parser, not of what was written; where it breaks says more.
		return nil, fmt.Errorf("not valid JSON at %s; give %s (YAML is not read here)", position(s, se.Offset), like)
	case errors.Is(err, io.EOF):
		return nil, errors.New("is empty; give " + like)
	case err != nil: // io.ErrUnexpectedEOF: a string, array or object left open
		return nil, fmt.Errorf("not valid JSON: it ends before a string, array or object is closed; give %s", like)
	}
	if rest := strings.TrimLeftFunc(s[dec.InputOffset():], unicode.IsSpace); rest != "" {
		return nil, fmt.Errorf("must be one JSON object with nothing after it, but more follows at %s; give %s", position(s, int64(len(s)-len(rest)+1)), like)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("must be " + like)
	}
	if k, off, ok := duplicateKey(s); ok {
		return nil, fmt.Errorf("gives the key %s twice in one object (the second ends at %s), and only one would be sent; keep one", shownKey(k), position(s, off))
	}
	return obj, nil
}

// position says where byte off (counted from 1) of s is, and which
// character it is: "line 1, column 7 ('i')".
func position(s string, off int64) string {
	// The byte, from 0: the decoder stops at the first byte of a
	// character it refuses.
	i := min(max(int(off), 1), len(s)) - 1
	before := s[:max(i, 0)]
	line := strings.Count(before, "\n") + 1
	col := utf8.RuneCountInString(before[strings.LastIndexByte(before, '\n')+1:]) + 1
	r, _ := utf8.DecodeRuneInString(s[max(i, 0):])
	return fmt.Sprintf("line %d, column %d (%q)", line, col, r)
}

// shownKey quotes a JSON key in a message when it is short and plain:
// a longer one might be a secret, which a part of would show.
func shownKey(k string) string {
	if len(k) <= 24 && strings.IndexFunc(k, func(r rune) bool { return !(r == '_' || r == '-' || unicode.IsLetter(r) || unicode.IsDigit(r)) }) < 0 {
		return strconv.Quote(k)
	}
	return fmt.Sprintf("of %d characters", utf8.RuneCountInString(k))
}

// duplicateKey finds a key given twice in one object of s, valid JSON,
// and the offset where its second one ends.
func duplicateKey(s string) (string, int64, bool) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	type frame struct {
		keys map[string]bool // nil in an array
		key  bool            // the next token is a key
	}
	var stack []*frame
	done := func() { // a value ended: an object expects a key next
		if n := len(stack); n > 0 && stack[n-1].keys != nil {
			stack[n-1].key = true
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", 0, false
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				stack = append(stack, &frame{keys: map[string]bool{}, key: true})
			case '[':
				stack = append(stack, &frame{})
			default:
				stack = stack[:len(stack)-1]
				done()
			}
			continue
		case string:
			if n := len(stack); n > 0 && stack[n-1].key {
				top := stack[n-1]
				if top.keys[t] {
					return t, dec.InputOffset(), true
				}
				top.keys[t], top.key = true, false
				continue
			}
		}
		done()
	}
}

// ActionMode reports whether the settings come from the action's inputs:
// the runner passes INPUT_* for every input action.yml declares, "" for an
// omitted one. GITHUB_ACTIONS alone cannot tell: the CLI in a workflow's
// run: step sees it too.
func ActionMode(lookup func(string) (string, bool)) bool {
	return len(actionVars(lookup)) > 0
}

// actionVars are the INPUT_* variables set for declared inputs.
func actionVars(lookup func(string) (string, bool)) []string {
	var set []string
	for _, in := range Inputs {
		if _, ok := lookup("INPUT_" + envName(in.Name)); ok {
			set = append(set, "INPUT_"+envName(in.Name))
		}
	}
	return set
}

// nonEmpty makes a blank value count as unset. The runner passes every
// declared input, as "" when the workflow omits it; without this, ""
// would replace the defaults. A value of only spaces is recorded in
// blanks, by its key without the INPUT_ or PRISM_ prefix, so that an
// error can name a blank mode.
func nonEmpty(get func(string) string, blanks map[string]bool) envconfig.Lookuper {
	return envconfig.LookuperFunc(func(key string) (string, bool) {
		v := get(key)
		if v != "" && strings.TrimSpace(v) == "" {
			blanks[strings.TrimPrefix(strings.TrimPrefix(key, "INPUT_"), "PRISM_")] = true
		}
		return v, strings.TrimSpace(v) != ""
	})
}

// flagError is a flag error with -- (as the docs and every other
// message write flags) and what to do about it: the flag meant, for an
// input's name written as in the action (--api_key), the syntax for a
// flag given without its value (--wait), else where the flags are listed.
func flagError(fs *flag.FlagSet, err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		name = strings.TrimLeft(name, "-")
		if f := fs.Lookup(strings.ReplaceAll(name, "_", "-")); f != nil {
			return fmt.Errorf("--%s is not a flag: did you mean --%s?", name, f.Name)
		}
		return fmt.Errorf("--%s is not a flag (run with --help for the list of flags)", name)
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok && fs.Lookup(name) != nil {
		return fmt.Errorf("--%s needs a value: give it as --%s=VALUE", name, name)
	}
	if strings.HasPrefix(msg, "invalid boolean value") { // --version, the one flag without a value
		return errors.New("--version takes no value: give it alone, as --version")
	}
	return fmt.Errorf("%w (run with --help for the list of flags)", err) // bad flag syntax: ---x, -=x
}

// flagSet declares a flag for each input, and --version.
func flagSet() (fs *flag.FlagSet, vals map[string]*string, version *bool) {
	fs = flag.NewFlagSet("prism-wait", flag.ContinueOnError)
	// The flag package prints its errors with the argument as given (a
	// workflow command, a key): it prints nothing here, and the caller
	// reports the returned error through its scrubbing log.
	fs.SetOutput(io.Discard)
	vals = make(map[string]*string, len(Inputs))
	for _, in := range Inputs {
		u := in.Usage
		if in.Default != "" {
			u += " (default " + in.Default + ")"
		}
		if in.Name != "generation_id" {
			vals[in.Name] = fs.String(Flag(in.Name), "", u)
			continue
		}
		// Repeated, it adds IDs: `--generation-id a --generation-id b`
		// keeping only b would drop a's verdict without a word.
		ids := new(idList)
		vals[in.Name] = (*string)(ids)
		fs.Var(ids, Flag(in.Name), u)
	}
	version = fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {} // on an error too: the caller prints Help for --help only
	return fs, vals, version
}

// Help writes --help's text: what prism-wait does, exitCodes (what each
// exit code means), and every flag.
func Help(w io.Writer, exitCodes string) {
	fmt.Fprint(w, `prism-wait waits for Prism video generations to finish, after
submitting them when given a template or a prompt.

Usage: prism-wait [flags] [generation-id ...]

Every flag but --version can also be set as PRISM_<NAME> (PRISM_API_KEY,
PRISM_POLL_INTERVAL, …); a flag wins over its own variable. Give exactly
one of --generation-id (or positional IDs), --template-id and --prompt,
by flag or variable.

`+exitCodes+`
Flags:
`)
	fs, _, _ := flagSet()
	// As flag.PrintDefaults, with the -- that the messages and docs use.
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		fmt.Fprintf(w, "  --%s\n    \t%s\n", strings.TrimSpace(f.Name+" "+arg), usage)
	})
}

// idList is --generation-id's value: the IDs of every time it is given,
// a line each.
type idList string

func (l *idList) String() string { return string(*l) }

func (l *idList) Set(v string) error {
	if *l != "" {
		v = string(*l) + "\n" + v
	}
	*l = idList(v)
	return nil
}

// positional is the key of parseFlags' given that says whether
// generation IDs were given as arguments.
const positional = "(positional)"

// parseFlags returns every flag's value and the flags given, keyed like
// the environment (API_KEY for --api-key), and under positional whether
// there were positional IDs. Positional arguments are
// generation IDs, added to --generation-id's: like every flag, they win
// over PRISM_GENERATION_ID.
func parseFlags(args []string) (map[string]string, map[string]bool, error) {
	fs, vals, version := flagSet()
	positionalGiven := false
	// Positional IDs join --generation-id's where they stand: the IDs
	// keep the order they were given in.
	addIDs := func(ids ...string) {
		for _, id := range ids {
			fs.Set(Flag("generation_id"), id) // idList.Set cannot fail
			positionalGiven = true
		}
	}
	for { // flags may follow positional IDs
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, nil, ErrHelp
			}
			return nil, nil, flagError(fs, err)
		}
		if fs.NArg() == 0 {
			break
		}
		if rest := fs.Args(); len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			addIDs(rest...)
			break
		}
		addIDs(fs.Arg(0))
		args = fs.Args()[1:]
	}
	if *version {
		return nil, nil, ErrVersion
	}
	out := make(map[string]string, len(vals))
	for name, v := range vals {
		out[envName(name)] = *v
	}
	given := map[string]bool{} // the flags given, by envName
	fs.Visit(func(f *flag.Flag) { given[envName(strings.ReplaceAll(f.Name, "-", "_"))] = true })
	given[positional] = positionalGiven
	return out, given, nil
}

// ParseIDs splits a list of generation IDs on whitespace and commas, keeps
// the first occurrence of each, and accepts only plain IDs, so that no ID
// can steer a request to another path.
func ParseIDs(s string) ([]string, error) {
	var ids, bad []string
	seen := map[string]bool{}
	for _, id := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
		if !prism.ValidID(id) {
			bad = append(bad, strconv.Quote(untrusted.Clip(id, 64)))
			continue
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	switch {
	case len(bad) > 0:
		// One message, which the caller prefixes with the input's name.
		what := bad[0] + " is not a generation ID"
		if len(bad) > 1 {
			if len(bad) > 5 {
				bad = append(bad[:5], fmt.Sprintf("%d more", len(bad)-5))
			}
			what = strings.Join(bad, ", ") + " are not generation IDs"
		}
		what += fmt.Sprintf(" (expected at most %d letters, digits, _ and -, like gen_abc123", prism.MaxIDLen)
		if t := strings.TrimSpace(s); strings.HasPrefix(t, "[") || strings.HasPrefix(t, "{") {
			what += "; give the IDs separated by spaces, commas or newlines, not as JSON"
		} else if strings.ContainsAny(s, "\"'`") {
			what += "; without quotes"
		}
		return nil, errors.New(what + ")")
	case len(ids) == 0:
		return nil, errors.New("required: give one or more generation IDs, like gen_abc123")
	case len(ids) > MaxIDs:
		return nil, fmt.Errorf("%d IDs given, at most %d are allowed in one step; split them over several steps or matrix jobs", len(ids), MaxIDs)
	}
	return ids, nil
}

// goDuration is the syntax of a Go duration: time.ParseDuration refuses
// one that matches it only when it overflows.
var goDuration = regexp.MustCompile(`^[-+]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$`)

// maxDuration is about the longest time.Duration.
const maxDuration = "2562047h"

// errNotPositive is ParseDuration's error for zero or less.
var errNotPositive = errors.New("must be longer than zero")

// ParseDuration accepts Go durations (90s, 2m, 500ms) and bare numbers of
// seconds (30, 1.5). The result is positive.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	d, err := time.ParseDuration(s)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		overflow := ferr != nil && goDuration.MatchString(s)
		switch {
		case overflow && strings.HasPrefix(s, "-"):
			return 0, fmt.Errorf("%q %w", untrusted.Clip(s, 64), errNotPositive)
		case overflow:
			return 0, fmt.Errorf("%q is too long; at most %s", untrusted.Clip(s, 64), maxDuration)
		case ferr == nil && f > (1<<62)/float64(time.Second):
			return 0, fmt.Errorf("%q is too long; at most %d seconds", untrusted.Clip(s, 64), int64(1<<62)/int64(time.Second))
		case ferr != nil || f != f:
			return 0, fmt.Errorf("%q is not a duration; use Go syntax like 90s, 2m or 500ms, or a number of seconds", untrusted.Clip(s, 64))
		}
		d = time.Duration(f * float64(time.Second))
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q %w", untrusted.Clip(s, 64), errNotPositive)
	}
	return d, nil
}

// errCredentials is ParseBaseURL's error for a URL that carries a
// secret: Load adds where the key goes instead.
var errCredentials = errors.New("must not carry credentials, a query or a fragment")

// ParseBaseURL accepts an https URL, or http to a host that cannot be on
// the internet: the API key must never cross it in clear text. Loopback
// serves the simulator and tests; a private address is how a Docker action
// reaches a simulator on the runner itself (the bridge gateway, e.g.
// 172.17.0.1), since the action's own loopback is its container's. Its
// messages never repeat a userinfo's password.
func ParseBaseURL(s string) (*url.URL, error) {
	s = strings.TrimSpace(s)
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return nil, fmt.Errorf("%q is not an absolute URL; use e.g. https://prismvideos.com/api", untrusted.Clip(withoutUserinfo(s), 100))
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, errCredentials
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("port %q is not a port number (1 to 65535)", untrusted.Clip(p, 20))
		}
	}
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil && LinkLocal(ip) {
		// The transport refuses it too.
		return nil, fmt.Errorf("%s is a link-local address (where clouds serve instance metadata), never the Prism API's; use https://prismvideos.com/api, or a prism-sim's address", untrusted.Clip(u.Hostname(), 64))
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && LocalHost(u.Hostname()):
	case u.Scheme == "http":
		return nil, fmt.Errorf("http is allowed only to loopback and private addresses; use https://%s%s", u.Host, u.Path)
	default:
		return nil, fmt.Errorf("scheme %q is not supported; use https", untrusted.Clip(u.Scheme, 20))
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// withoutUserinfo drops "user:password@" from a URL-like string that did
// not parse, so that an error message cannot repeat the password.
func withoutUserinfo(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
		rest = "***@" + rest[at+1:]
	}
	return scheme + "://" + rest
}

// LinkLocal reports whether ip is a link-local address, IPv4-mapped too:
// where clouds serve instance metadata, never Prism, its storage or the
// Actions cache. No request connects to one.
func LinkLocal(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast()
}

// LocalHost reports whether plain http may go to host: localhost, or a
// loopback or private address (prism-sim in a rehearsal).
func LocalHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && (ip.IsLoopback() || ip.IsPrivate())
}

// errNotADir is Within's error for a file where a directory must go: Load
// adds what to do.
var errNotADir = errors.New("not a directory")

// errOutside is a download_dir outside the workspace.
var errOutside = errors.New("outside the workspace")

// dockerWorkspace is where the runner mounts the workspace in a Docker
// action's container.
const dockerWorkspace = "/github/workspace"

// Within resolves dir against workspace and returns it relative to the
// workspace, slash-separated. It refuses a path outside the workspace,
// through a symbolic link too, a path with control characters, and one
// where a file stands: the download would fail only once the video is
// ready. The download itself writes through an os.Root of the workspace,
// so a link planted later cannot lead out either.
func Within(workspace, dir string) (string, error) { return within(workspace, dir, dir) }

// within is Within, its messages quoting shown: the path as the user
// gave it, when dir is that path resolved.
func within(workspace, dir, shown string) (string, error) {
	if strings.IndexFunc(dir, unicode.IsControl) >= 0 {
		return "", fmt.Errorf("%q contains control characters", untrusted.Clip(shown, 100))
	}
	if unexpanded(dir) {
		return "", fmt.Errorf("%q: %c is not expanded here (no shell expanded it); use a relative path, e.g. videos", untrusted.Clip(shown, 100), dir[0])
	}
	p := dir
	if !filepath.IsAbs(p) {
		p = filepath.Join(workspace, p)
	}
	rel, ok := inside(workspace, p)
	if !ok {
		return "", fmt.Errorf("%q is %w (%s); use a path inside it, e.g. videos", untrusted.Clip(shown, 100), errOutside, workspace)
	}
	root, err := os.OpenRoot(workspace)
	if errors.Is(err, fs.ErrNotExist) {
		return filepath.ToSlash(rel), nil // no workspace on disk yet: nothing can lead out of it
	} else if err != nil {
		return "", fmt.Errorf("cannot open the workspace %s: %w", workspace, err)
	}
	defer root.Close()
	// Walk the existing part of the path inside the root: a link that leads
	// out, or a file in the way, is found now.
	parts := strings.Split(filepath.ToSlash(rel), "/")
	for i := range parts {
		sub := strings.Join(parts[:i+1], "/")
		fi, err := root.Stat(sub)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return filepath.ToSlash(rel), nil
		case err != nil:
			return "", fmt.Errorf("%q goes through a symbolic link that is absolute or leads outside the workspace, or cannot be read (%v); use a real directory inside it", untrusted.Clip(shown, 100), unwrapPath(err))
		case !fi.IsDir():
			return "", fmt.Errorf("%q: %s is a file, %w", untrusted.Clip(shown, 100), sub, errNotADir)
		}
	}
	return filepath.ToSlash(rel), nil
}

// below is where dir is inside workspace, as a relative path ("." for the
// workspace itself), and whether it is inside: by their names, else by
// where their symbolic links lead (a runner's work directory may be a link
// to another disk, and the working directory is the real path).
func below(workspace, dir string) (string, bool) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", false
	}
	if rel, ok := inside(workspace, dir); ok {
		return rel, true
	}
	ws, err1 := filepath.EvalSymlinks(workspace)
	real, err2 := filepath.EvalSymlinks(dir)
	if err1 != nil || err2 != nil {
		return "", false
	}
	return inside(ws, real)
}

// inside is where path p is inside directory ws, as a relative path ("."
// for ws itself), by their names alone, and whether it is inside.
func inside(ws, p string) (string, bool) {
	rel, err := filepath.Rel(ws, filepath.Clean(p))
	return rel, err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// unexpanded reports whether dir starts with a ~ or a $ that a shell would
// have expanded: the home directory, a variable.
func unexpanded(dir string) bool {
	return dir == "~" || strings.HasPrefix(dir, "~/") || strings.HasPrefix(dir, "$")
}

// unwrapPath drops the path from an *fs.PathError: the message names it.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
