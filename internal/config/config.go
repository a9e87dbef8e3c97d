// Package config turns the action's inputs (INPUT_*), the CLI's environment
// (PRISM_*) and flags into one validated Config. Every bad input is reported
// at once, before any request is sent.
package config

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/sethvargo/go-envconfig"
)

// MaxIDs bounds how many generations one step waits for; outputs hold a
// line per ID and GitHub caps a job's outputs at 1 MB.
const MaxIDs = 100

// Config is everything the rest of the program needs, parsed and checked.
type Config struct {
	IDs          []string // in input order, without duplicates
	APIKey       string
	BaseURL      *url.URL
	Timeout      time.Duration
	PollInterval time.Duration
	MaxInterval  time.Duration
	// Workspace is the absolute directory that reported paths are relative
	// to: GITHUB_WORKSPACE, or the working directory outside Actions.
	Workspace string
	// DownloadDir is absolute and inside Workspace, or "" for no download.
	DownloadDir string
	// GitHub is true inside GitHub Actions (GITHUB_ACTIONS=true).
	GitHub bool
}

// inputs are the raw settings. Each field is the input `name` in
// action.yml, INPUT_NAME in the action, PRISM_NAME in the environment and
// --name (with hyphens) on the command line, in that order of precedence.
type inputs struct {
	GenerationID string `env:"GENERATION_ID"`
	APIKey       string `env:"API_KEY"`
	BaseURL      string `env:"BASE_URL, default=https://prismvideos.com/api"`
	Timeout      string `env:"TIMEOUT, default=10m"`
	PollInterval string `env:"POLL_INTERVAL, default=5s"`
	MaxInterval  string `env:"MAX_INTERVAL, default=60s"`
	DownloadDir  string `env:"DOWNLOAD_DIR"`
}

// Flags documents each setting for --help, in the order shown.
var flags = []struct{ name, usage string }{
	{"generation-id", "generation IDs, separated by whitespace, commas or newlines (also positional arguments)"},
	{"api-key", "Prism API key, prism_sk_… (prefer PRISM_API_KEY: flags show in process lists)"},
	{"base-url", "API root; https, or http to a loopback host (default https://prismvideos.com/api)"},
	{"timeout", "deadline for the whole run, e.g. 10m or 600 (default 10m)"},
	{"poll-interval", "cadence of status polls per generation (default 5s)"},
	{"max-interval", "cap of the backoff after transient errors (default 60s)"},
	{"download-dir", "download the videos into this directory, inside the workspace (default: no download)"},
}

// ErrHelp is returned when --help was asked for; the usage has been printed.
var ErrHelp = flag.ErrHelp

// ErrVersion is returned when --version was asked for.
var ErrVersion = errors.New("version requested")

// Load reads and validates the settings. getenv reads the environment, args
// are the command-line arguments without the program name, wd is the
// working directory, and usage receives --help's text. On error the
// returned Config still holds the API key, when one was given, so that the
// caller can mask it before printing anything.
func Load(ctx context.Context, getenv func(string) string, args []string, wd string, usage io.Writer) (Config, error) {
	fromFlags, positional, err := parseFlags(args, usage)
	if err != nil {
		return Config{}, err
	}
	var in inputs
	err = envconfig.ProcessWith(ctx, &envconfig.Config{
		Target: &in,
		Lookuper: envconfig.MultiLookuper(
			nonEmpty(func(k string) string { return fromFlags[k] }),
			envconfig.PrefixLookuper("INPUT_", nonEmpty(getenv)),
			envconfig.PrefixLookuper("PRISM_", nonEmpty(getenv)),
		),
	})
	if err != nil {
		return Config{}, fmt.Errorf("failed to read settings: %w", err)
	}

	c := Config{APIKey: strings.TrimSpace(in.APIKey), GitHub: getenv("GITHUB_ACTIONS") == "true"}
	var errs []error
	bad := func(input, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{input}, a...)...))
	}

	if c.IDs, err = ParseIDs(strings.Join(append([]string{in.GenerationID}, positional...), "\n")); err != nil {
		bad("generation_id", "%v", err)
	}
	switch {
	case c.APIKey == "":
		bad("api_key", "required: pass the Prism API key from a secret, e.g. api_key: ${{ secrets.PRISM_API_KEY }}")
	case strings.IndexFunc(c.APIKey, unicode.IsControl) >= 0 || strings.ContainsRune(c.APIKey, ' '):
		bad("api_key", "contains spaces or control characters; check the secret's value (it is not shown here)")
	}
	if c.BaseURL, err = ParseBaseURL(in.BaseURL); err != nil {
		bad("base_url", "%v", err)
	}
	for _, d := range []struct {
		input string
		raw   string
		dst   *time.Duration
	}{
		{"timeout", in.Timeout, &c.Timeout},
		{"poll_interval", in.PollInterval, &c.PollInterval},
		{"max_interval", in.MaxInterval, &c.MaxInterval},
	} {
		if *d.dst, err = ParseDuration(d.raw); err != nil {
			bad(d.input, "%v", err)
		}
	}
	if c.PollInterval > 0 && c.MaxInterval > 0 && c.MaxInterval < c.PollInterval {
		bad("max_interval", "%s is shorter than poll_interval (%s); make it at least as long", c.MaxInterval, c.PollInterval)
	}

	c.Workspace = wd
	if ws := getenv("GITHUB_WORKSPACE"); ws != "" {
		c.Workspace = ws
	}
	if c.Workspace, err = filepath.Abs(c.Workspace); err != nil {
		errs = append(errs, fmt.Errorf("cannot resolve the workspace directory: %w", err))
	} else if in.DownloadDir != "" {
		if c.DownloadDir, err = Within(c.Workspace, in.DownloadDir); err != nil {
			bad("download_dir", "%v", err)
		}
	}
	return c, errors.Join(errs...)
}

// nonEmpty makes a blank value count as unset. The runner passes every
// declared input, as "" when the workflow omits it; without this, "" would
// replace the defaults.
func nonEmpty(get func(string) string) envconfig.Lookuper {
	return envconfig.LookuperFunc(func(key string) (string, bool) {
		v := get(key)
		return v, strings.TrimSpace(v) != ""
	})
}

// parseFlags returns the flags given, keyed like the environment (API_KEY
// for --api-key), and the positional arguments.
func parseFlags(args []string, usage io.Writer) (map[string]string, []string, error) {
	fs := flag.NewFlagSet("prism-wait", flag.ContinueOnError)
	fs.SetOutput(usage)
	vals := make(map[string]*string, len(flags))
	for _, f := range flags {
		vals[f.name] = fs.String(f.name, "", f.usage)
	}
	version := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprint(usage, `prism-wait waits for Prism video generations to finish.

Usage: prism-wait [flags] [generation-id ...]

Every flag can also be set as PRISM_<NAME> (PRISM_API_KEY, PRISM_TIMEOUT, …)
or, in GitHub Actions, as the action input of the same name.

Exit codes: 0 all completed, 1 a generation failed, 2 invalid input,
3 timeout or cancelled, 4 the API refused, 5 a download failed.

Flags:
`)
		fs.PrintDefaults()
	}
	var positional []string
	for { // flags may follow positional IDs
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, nil, ErrHelp
			}
			return nil, nil, fmt.Errorf("%w (run with --help for the list of flags)", err)
		}
		if fs.NArg() == 0 {
			break
		}
		if rest := fs.Args(); len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		positional, args = append(positional, fs.Arg(0)), fs.Args()[1:]
	}
	if *version {
		return nil, nil, ErrVersion
	}
	out := make(map[string]string, len(vals))
	for name, v := range vals {
		out[strings.ToUpper(strings.ReplaceAll(name, "-", "_"))] = *v
	}
	return out, positional, nil
}

// ParseIDs splits a list of generation IDs on whitespace and commas, keeps
// the first occurrence of each, and accepts only plain IDs, so that no ID
// can steer a request to another path.
func ParseIDs(s string) ([]string, error) {
	var ids []string
	seen := map[string]bool{}
	var errs []error
	for _, id := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
		if !validID(id) {
			errs = append(errs, fmt.Errorf("%q is not a generation ID (expected letters, digits, _ and -, like gen_abc123)", truncate(id, 64)))
			continue
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	switch {
	case len(errs) > 0:
		return nil, errors.Join(errs...)
	case len(ids) == 0:
		return nil, errors.New("required: give one or more generation IDs, e.g. generation_id: ${{ steps.submit.outputs.generation_id }}")
	case len(ids) > MaxIDs:
		return nil, fmt.Errorf("%d IDs given, at most %d are allowed in one step", len(ids), MaxIDs)
	}
	return ids, nil
}

func validID(id string) bool {
	if len(id) > 128 {
		return false
	}
	for _, r := range id {
		if !(r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// ParseDuration accepts Go durations (90s, 2m, 500ms) and bare numbers of
// seconds (30, 1.5). The result is positive.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	d, err := time.ParseDuration(s)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != f || f > (1<<62)/float64(time.Second) {
			return 0, fmt.Errorf("%q is not a duration; use Go syntax like 90s, 2m or 500ms, or a number of seconds", truncate(s, 64))
		}
		d = time.Duration(f * float64(time.Second))
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q must be longer than zero", truncate(s, 64))
	}
	return d, nil
}

// ParseBaseURL accepts an https URL, or http to a host that cannot be on
// the internet: the API key must never cross it in clear text. Loopback
// serves the simulator and tests; a private address is how a Docker action
// reaches a simulator on the runner itself (the bridge gateway, e.g.
// 172.17.0.1), since the action's own loopback is its container's.
func ParseBaseURL(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || u.Host == "" || u.Opaque != "" {
		return nil, fmt.Errorf("%q is not an absolute URL; use e.g. https://prismvideos.com/api", truncate(s, 100))
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && local(u.Hostname()):
	case u.Scheme == "http":
		return nil, fmt.Errorf("http is allowed only to loopback and private addresses; use https://%s%s", u.Host, u.Path)
	default:
		return nil, fmt.Errorf("scheme %q is not supported; use https", u.Scheme)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("must not carry credentials, a query or a fragment; pass the key as api_key")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

func local(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && (ip.IsLoopback() || ip.IsPrivate())
}

// Within resolves dir against workspace and refuses a result outside it,
// symbolic links included, so that nothing is written outside the
// workspace.
func Within(workspace, dir string) (string, error) {
	p := dir
	if !filepath.IsAbs(p) {
		p = filepath.Join(workspace, p)
	}
	p = filepath.Clean(p)
	if !inside(workspace, p) {
		return "", fmt.Errorf("%q is outside the workspace (%s); use a path inside it, e.g. videos", truncate(dir, 100), workspace)
	}
	// A symbolic link in the existing part of the path could still lead out.
	realWS, err := filepath.EvalSymlinks(workspace)
	if err != nil {
		return p, nil // no workspace on disk yet: nothing can lead out of it
	}
	existing := p
	for {
		if _, err := os.Lstat(existing); err == nil {
			break
		}
		existing = filepath.Dir(existing)
	}
	real, err := filepath.EvalSymlinks(existing)
	if err != nil {
		return "", fmt.Errorf("cannot resolve %q: %w", dir, err)
	}
	if !inside(realWS, real) {
		return "", fmt.Errorf("%q leads outside the workspace through a symbolic link; use a real directory inside it", truncate(dir, 100))
	}
	return p, nil
}

func inside(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
