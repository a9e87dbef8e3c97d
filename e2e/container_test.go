package e2e

// The action in a real container, started as GitHub's runner starts a
// Docker action (docs/runner.md): `docker run --workdir /github/workspace
// --rm`, -e for every input action.yml declares (the workflow's value,
// else its default, else ""), the GITHUB_* variables and the file-command
// files, the runner's mounts and the Docker socket. The simulator runs on
// the host and listens only on the default bridge's gateway, the one
// address of the host a container on that bridge can reach (never
// 127.0.0.1).
//
// The image is the Dockerfile's, built with BuildKit by
// scripts/container-test, which names it in PRISM_WAIT_IMAGE. Without that
// variable these tests skip, so that `go test ./...` passes on a machine
// without Docker; with it, an engine that does not answer fails them.

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prism-wait/prism-wait/internal/prismsim"
)

// engine is the Docker client, the image under test, and the host's
// address on the default bridge.
type engine struct {
	docker, image, gateway string
}

// theEngine is found once per test process.
var theEngine = sync.OnceValues(func() (engine, error) {
	image := os.Getenv("PRISM_WAIT_IMAGE")
	docker := os.Getenv("PRISM_WAIT_DOCKER")
	if docker == "" {
		docker = "docker"
	}
	if out, err := exec.Command(docker, "image", "inspect", "--format", "{{.Id}}", image).CombinedOutput(); err != nil {
		return engine{}, fmt.Errorf("PRISM_WAIT_IMAGE is %s, but the engine does not give it (%v: %s); run scripts/container-test", image, err, bytes.TrimSpace(out))
	}
	gw, err := bridgeGateway(docker)
	if err != nil {
		return engine{}, err
	}
	return engine{docker: docker, image: image, gateway: gw}, nil
})

// needImage returns the engine and the image, skips when there is no
// image to run, and fails when PRISM_WAIT_IMAGE names one the engine
// cannot give.
func needImage(t testing.TB) engine {
	t.Helper()
	if os.Getenv("PRISM_WAIT_IMAGE") == "" {
		t.Skip("no image to run the action in: scripts/container-test builds the Dockerfile and runs this test in real containers (PRISM_WAIT_IMAGE names the image)")
	}
	e, err := theEngine()
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// bridgeGateway is the host's address on Docker's default bridge: the
// network's gateway, or docker0's address when a freshly started engine
// does not report one yet (the same fallback as the rehearsal recipe).
func bridgeGateway(docker string) (string, error) {
	out, err := exec.Command(docker, "network", "inspect", "bridge", "--format", "{{(index .IPAM.Config 0).Gateway}}").Output()
	if ip := net.ParseIP(strings.TrimSpace(string(out))); err == nil && ip != nil {
		return ip.String(), nil
	}
	if ifc, err := net.InterfaceByName("docker0"); err == nil {
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
				return n.IP.String(), nil
			}
		}
	}
	return "", errors.New("Docker's bridge network reports no gateway and docker0 has no IPv4 address: a container cannot reach the simulator on this host; check `docker network inspect bridge` and the engine's log")
}

// listenGateway serves h on a free port of the bridge's gateway address
// only: reachable from containers on the bridge and from this host, from
// nowhere else. It returns the server's URL.
func listenGateway(t testing.TB, e engine, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(e.gateway, "0"))
	if err != nil {
		t.Fatalf("listen on the bridge's gateway %s: %v", e.gateway, err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

// simOnGateway serves the scenario file at file, a path from the module
// root, on the gateway.
func simOnGateway(t testing.TB, e engine, file string) simulator {
	t.Helper()
	sc, err := prismsim.LoadScenario(repoPath(t, file))
	if err != nil {
		t.Fatal(err)
	}
	s := prismsim.New(sc)
	t.Cleanup(s.Close)
	return simulator{s, listenGateway(t, e, s) + "/api"}
}

// dockerRun is the launcher of a real container: `docker run` as the
// runner writes it, each variable as `-e NAME` with its value in the
// client's environment (so the key is not in the process list either).
type dockerRun struct{ engine }

// newDockerContainer is a container that dockerRun runs.
func newDockerContainer(t testing.TB, e engine) *container {
	t.Helper()
	c := newContainerWith(t, dockerRun{e})
	for _, d := range []string{"github/workflow", "github/runner_temp"} {
		if err := os.MkdirAll(filepath.Join(c.root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(c.root, "github/workflow/event.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	name := containerName(c)
	t.Cleanup(func() { exec.Command(e.docker, "rm", "-f", name).Run() })
	return c
}

// containerName is the name of c's container, unique per container root.
func containerName(c *container) string {
	sum := sha256.Sum256([]byte(c.root))
	return "prism-wait-e2e-" + hex.EncodeToString(sum[:8])
}

// runnerVars are what the runner also passes every Docker action, beside
// what the harness sets.
var runnerVars = []string{
	"GITHUB_EVENT_PATH=/github/workflow/event.json", "GITHUB_EVENT_NAME=push",
	"GITHUB_ENV=/github/file_commands/set_env_e2e", "GITHUB_PATH=/github/file_commands/add_path_e2e",
	"GITHUB_STATE=/github/file_commands/save_state_e2e",
	"GITHUB_REPOSITORY=octo/pipeline", "GITHUB_SHA=0123456789abcdef0123456789abcdef01234567", "GITHUB_REF=refs/heads/main",
	"RUNNER_OS=Linux", "RUNNER_ARCH=X64", "RUNNER_TEMP=/github/runner_temp",
}

func (d dockerRun) command(c *container, env, args []string) *exec.Cmd {
	run := []string{"run", "--name", containerName(c), "--label", "prism-wait-e2e", "--workdir", "/github/workspace", "--rm"}
	clientEnv := []string{"PATH=" + os.Getenv("PATH")}
	if h, ok := os.LookupEnv("DOCKER_HOST"); ok {
		clientEnv = append(clientEnv, "DOCKER_HOST="+h)
	}
	seen := map[string]bool{}
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		seen[k] = true
	}
	for _, kv := range runnerVars {
		if k, _, _ := strings.Cut(kv, "="); !seen[k] {
			env = append(env, kv)
		}
	}
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		run = append(run, "-e", k)
		clientEnv = append(clientEnv, kv)
	}
	host := func(p string) string { return filepath.Join(c.root, p) }
	run = append(run,
		"-v", "/var/run/docker.sock:/var/run/docker.sock",
		"-v", host("github/home")+":/github/home",
		"-v", host("github/workflow")+":/github/workflow",
		"-v", host("github/file_commands")+":/github/file_commands",
		"-v", host("github/runner_temp")+":/github/runner_temp",
		"-v", c.workspace+":/github/workspace",
		d.image)
	cmd := exec.Command(d.docker, append(run, args...)...)
	cmd.Env = clientEnv
	return cmd
}

func (dockerRun) path(c *container, p string) string { return p }

// signal sends sig to the container's PID 1 through the engine, as
// `docker kill --signal` does.
func (d dockerRun) signal(c *container, cmd *exec.Cmd, sig syscall.Signal) error {
	if out, err := exec.Command(d.docker, "kill", "--signal", strconv.Itoa(int(sig)), containerName(c)).CombinedOutput(); err != nil {
		return fmt.Errorf("docker kill --signal %d: %v: %s", sig, err, bytes.TrimSpace(out))
	}
	return nil
}

func TestDockerRunAsTheRunnerDoes(t *testing.T) {
	e := needImage(t)
	t.Parallel()
	for _, tc := range []struct {
		name   string
		with   map[string]string
		code   int
		checks []check
	}{
		{"completed, downloaded and verified", fast(map[string]string{"generation_id": "gen_ok gen_flaky", "download_dir": "videos"}), 0, []check{
			outputsAre(map[string]string{"status": "completed", "template_id": "tpl_e2e\n", "video_path": "videos/gen_ok.mp4\nvideos/gen_flaky.mp4"}),
			logSays("gen_ok: completed", "; exit code 0"),
			func(t *testing.T, c *container, r run, sim simulator) {
				sums := strings.Split(r.outputs["video_sha256"], "\n")
				for i, rel := range strings.Split(r.outputs["video_path"], "\n") {
					p := filepath.Join(c.workspace, filepath.FromSlash(rel))
					if got := sha256File(t, p); i >= len(sums) || got != sums[i] {
						t.Errorf("%s: SHA-256 %s, the output says %q", rel, got, sums)
					}
					var st syscall.Stat_t
					if err := syscall.Stat(p, &st); err != nil {
						t.Fatal(err)
					}
					if os.Geteuid() == 0 && (st.Uid != 1001 || st.Gid != 1002) {
						t.Errorf("%s is owned by %d:%d, want the workspace's 1001:1002", rel, st.Uid, st.Gid)
					}
				}
				var results []struct {
					ID        string
					VideoPath string `json:"video_path"`
					Bytes     int    `json:"video_bytes"`
				}
				if err := json.Unmarshal([]byte(r.outputs["results"]), &results); err != nil || len(results) != 2 || results[0].Bytes != 200000 || results[1].Bytes != 300000 {
					t.Errorf("results %s: %v", r.outputs["results"], err)
				}
				if sim.Stats("gen_ok").VideoAuthz+sim.Stats("gen_flaky").VideoAuthz != 0 {
					t.Error("the API key reached the storage host")
				}
				if strings.Contains(r.stdout+r.summary, "X-Amz-Signature") {
					t.Error("the URL's signature reached the log or the summary")
				}
				if ua := sim.Stats("gen_ok").UserAgent; ua != "prism-wait/v0.0.0-container" {
					t.Errorf("User-Agent %q, want the version the image was built with", ua)
				}
			},
		}},
		{"failed", fast(map[string]string{"generation_id": "gen_failed"}), 1, []check{
			outputsAre(map[string]string{"status": "failed", "error": "Generation timed out", "video_url": ""}),
			logSays("::error title=Generation failed::gen_failed failed: Generation timed out"),
		}},
		{"timeout", fast(map[string]string{"generation_id": "gen_slow", "timeout": "5s"}), 3, []check{
			outputsAre(map[string]string{"status": "generating", "generation_id": "gen_slow", "video_url": ""}),
			logSays("::error title=No verdict in time::gen_slow: timeout reached while the generation was \"generating\". Raise timeout (now 5s)"),
		}},
		{"injection from the API", fast(map[string]string{"generation_id": "gen_injection"}), 1, []check{
			func(t *testing.T, c *container, r run, sim simulator) {
				if len(r.outputs) != len(readActionYML(t).Outputs) || r.outputs["status"] != "failed" {
					t.Errorf("outputs were injected: %q", r.outputs)
				}
			},
		}},
		{"submit from a template", fast(map[string]string{"template_id": "tpl_e2e", "variables": `{"title": "Launch"}`, "timeout": "30s"}), 0, []check{
			outputsAre(map[string]string{"status": "completed", "generation_id": "gen_tpl_e2e_1\ngen_tpl_e2e_2", "credits_charged": "10"}),
			func(t *testing.T, c *container, r run, sim simulator) {
				if n := sim.Submits(prismsim.TemplatePath("tpl_e2e")).Posts; n != 1 {
					t.Errorf("%d POSTs, want exactly 1", n)
				}
			},
		}},
		{"bad inputs", fast(map[string]string{"generation_id": "gen_ok", "download_dir": "../../etc"}), 2, []check{
			logSays("::error title=Invalid input::download_dir:"),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sim := simOnGateway(t, e, e2eScenarios)
			tc.with["base_url"] = sim.base
			c := newDockerContainer(t, e)
			if os.Geteuid() == 0 {
				os.Chown(c.workspace, 1001, 1002) // like a runner's workspace
			}
			r := c.act(t, tc.with)
			checkActionRun(t, r, tc.code)
			for _, ch := range tc.checks {
				ch(t, c, r, sim)
			}
		})
	}
}

// TestDockerRunHostileText: a status body full of workflow commands, the
// key, a heredoc delimiter and terminal escapes reaches no command, no
// output and no log line as it is.
func TestDockerRunHostileText(t *testing.T) {
	e := needImage(t)
	t.Parallel()
	const hostile = "render failed ##[set-output name=status;]completed ##[add-mask]x\n::stop-commands::tok\n" +
		"_GitHubActionsFileCommandDelimeter_\nstatus<<EOF\ncompleted\nEOF\n\x1b[2J key " + e2eKey
	base := listenGateway(t, e, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"id": "gen_x", "status": "failed", "error": hostile, "template_id": "tpl ##[error]x", "share_url": "javascript:alert(1)"})
	}))
	c := newDockerContainer(t, e)
	r := c.act(t, fast(map[string]string{"generation_id": "gen_x", "base_url": base + "/api", "rerun_guard": "off"}))
	if r.code != 1 || r.outputs["status"] != "failed" || len(r.outputs) != len(readActionYML(t).Outputs) {
		t.Errorf("exit %d, outputs %q\n%s", r.code, r.outputs, r.stdout)
	}
	if strings.Count(r.stdout+r.stderr+r.summary, e2eKey) != 1 || strings.Contains(r.stdout+r.summary, "\x1b") {
		t.Errorf("the key or an escape reached the log or the summary:\n%s\n%s", r.stdout, r.summary)
	}
}

// TestDockerRunCancelled: the runner cancels a step with SIGINT to
// `docker run` (which hands it on to the container); `docker stop` sends
// SIGTERM to PID 1. Either way the action writes its outputs and summary,
// leaves no partial file and exits 3 well before the runner's SIGKILL.
func TestDockerRunCancelled(t *testing.T) {
	e := needImage(t)
	t.Parallel()
	for _, how := range []string{"docker stop", "SIGINT to docker run"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			sim := simOnGateway(t, e, e2eScenarios)
			c := newDockerContainer(t, e)
			p := c.start(t, c.env(t, map[string]string{"generation_id": "gen_slow gen_hang gen_dl_stall", "api_key": e2eKey, "base_url": sim.base, "download_dir": "videos"}))
			for i := 0; sim.Stats("gen_slow").Requests == 0 || sim.Stats("gen_hang").Requests == 0 || !partial(c); i++ {
				if i > 1200 {
					p.signal(syscall.SIGKILL)
					p.wait(t)
					t.Fatal("not every request under way within 60s")
				}
				time.Sleep(50 * time.Millisecond)
			}
			sent := time.Now()
			if how == "docker stop" {
				// Ten seconds before the engine's SIGKILL, as the runner's 7.5 + 2.5.
				go exec.Command(e.docker, "stop", "--time", "10", containerName(c)).Run()
			} else if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
				t.Fatal(err)
			}
			guard := time.AfterFunc(30*time.Second, func() { p.signal(syscall.SIGKILL) }) // never hang the suite
			defer guard.Stop()
			r := p.wait(t)
			took := time.Since(sent)
			t.Logf("%s: exit %d after %s", how, r.code, took.Round(time.Millisecond))
			// A generous bound for a loaded machine; the runner kills after 10 s.
			if r.code != 3 || took > 8*time.Second {
				t.Errorf("exit %d after %s, want 3 well within the runner's 10 s\n%s", r.code, took, r.stdout)
			}
			if r.outputs["status"] != "generating" || r.outputs["generation_id"] != "gen_slow\ngen_hang\ngen_dl_stall" ||
				!strings.Contains(r.summary, "the job was cancelled") || !strings.Contains(r.stdout, "::error title=Cancelled::") {
				t.Errorf("outputs %q\nsummary %s\nlog %s", r.outputs, r.summary, r.stdout)
			}
			if entries, _ := os.ReadDir(filepath.Join(c.workspace, "videos")); len(entries) != 0 {
				t.Errorf("the cancelled download left %d entries behind", len(entries))
			}
		})
	}
}

// TestDockerImageIsTheStaticBinaryOnScratch: what the Dockerfile builds is
// what the runner needs: nothing but the static binary and the CA bundle,
// an absolute entrypoint, and no USER or WORKDIR (docs/runner.md).
func TestDockerImageIsTheStaticBinaryOnScratch(t *testing.T) {
	e := needImage(t)
	t.Parallel()
	out, err := exec.Command(e.docker, "image", "inspect", e.image).Output()
	if err != nil {
		t.Fatal(err)
	}
	var info []struct {
		Size   int64
		Config struct {
			Entrypoint, Cmd  []string
			User, WorkingDir string
		}
	}
	if err := json.Unmarshal(out, &info); err != nil || len(info) != 1 {
		t.Fatalf("docker image inspect: %v\n%s", err, out)
	}
	c := info[0].Config
	if len(c.Entrypoint) != 1 || c.Entrypoint[0] != "/prism-wait" || len(c.Cmd) != 0 {
		t.Errorf("entrypoint %q, cmd %q: want the absolute [/prism-wait] and no cmd", c.Entrypoint, c.Cmd)
	}
	// BuildKit records "/" for a stage without WORKDIR.
	if c.User != "" || (c.WorkingDir != "" && c.WorkingDir != "/") {
		t.Errorf("USER %q, WORKDIR %q: the runner needs root and sets the working directory itself", c.User, c.WorkingDir)
	}
	t.Logf("image size %d bytes (%.1f MiB)", info[0].Size, float64(info[0].Size)/(1<<20))

	files := imageFiles(t, e)
	var names []string
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	if want := []string{"etc/ssl/certs/ca-certificates.crt", "prism-wait"}; !slices.Equal(names, want) {
		t.Fatalf("the image holds %q, want only %q (a scratch stage)", names, want)
	}
	bin, err := elf.NewFile(bytes.NewReader(files["prism-wait"]))
	if err != nil {
		t.Fatalf("/prism-wait: %v", err)
	}
	for _, p := range bin.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("/prism-wait asks for a dynamic loader; on scratch it cannot start")
		}
	}
	if pool := x509.NewCertPool(); !pool.AppendCertsFromPEM(files["etc/ssl/certs/ca-certificates.crt"]) {
		t.Error("the CA bundle holds no certificate")
	}
}

// imageFiles reads every regular file of the image from `docker save`.
func imageFiles(t *testing.T, e engine) map[string][]byte {
	t.Helper()
	raw, err := exec.Command(e.docker, "save", e.image).Output()
	if err != nil {
		t.Fatalf("docker save: %v", err)
	}
	entries := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(raw))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		entries[h.Name] = b
	}
	var manifest []struct{ Layers []string }
	if err := json.Unmarshal(entries["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
		t.Fatalf("manifest.json: %v", err)
	}
	files := map[string][]byte{}
	for _, layer := range manifest[0].Layers {
		lr := tar.NewReader(bytes.NewReader(entries[layer]))
		for {
			h, err := lr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("layer %s: %v", layer, err)
			}
			if h.Typeflag == tar.TypeReg {
				b, _ := io.ReadAll(lr)
				files[strings.TrimPrefix(h.Name, "./")] = b
			}
		}
	}
	return files
}
