package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/mhfz/mhfz-pipeline/migrations"
)

// Docker is not available where the tests run, so docker-compose.yml and the Dockerfile are
// proven here instead: what can be checked without starting them is checked.

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Networks map[string]any            `yaml:"networks"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image       string                       `yaml:"image"`
	Build       any                          `yaml:"build"`
	Command     []string                     `yaml:"command"`
	Environment map[string]string            `yaml:"environment"`
	Ports       []string                     `yaml:"ports"`
	Volumes     []string                     `yaml:"volumes"`
	Networks    []string                     `yaml:"networks"`
	Restart     string                       `yaml:"restart"`
	DependsOn   map[string]map[string]string `yaml:"depends_on"`
	Healthcheck map[string]any               `yaml:"healthcheck"`
}

const ourImage = "mhfz-pipeline:local"

func readCompose(t *testing.T) composeFile {
	t.Helper()
	data, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return c
}

// helpOf runs `mhfz CMD --help` and returns the flags it lists with their variables.
func helpOf(t *testing.T, cmd string) map[string]string {
	t.Helper()
	var out bytes.Buffer
	_ = run(context.Background(), []string{cmd, "--help"}, &out, &out)
	flags := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^\s+--([a-z0-9-]+) \[([A-Z0-9_]+)\]`).FindAllStringSubmatch(out.String(), -1) {
		flags[m[1]] = m[2]
	}
	if !strings.HasPrefix(out.String(), "usage: mhfz "+cmd) || (len(flags) == 0 && cmd != "version") {
		t.Fatalf("mhfz %s --help lists no flags:\n%s", cmd, out.String())
	}
	return flags
}

func TestComposeCommandsAndVariablesExist(t *testing.T) {
	c := readCompose(t)
	known := map[string]bool{}
	for _, cmd := range commands() {
		known[cmd.name] = true
	}
	migrateActions := []string{"up", "down", "status", "version"}
	for name, svc := range c.Services {
		if svc.Image != ourImage {
			continue
		}
		t.Run(name, func(t *testing.T) {
			if len(svc.Command) == 0 || !known[svc.Command[0]] {
				t.Fatalf("command %q: not a subcommand of mhfz", svc.Command)
			}
			flags := helpOf(t, svc.Command[0])
			vars := map[string]bool{"MHFZ_LOG_LEVEL": true, "MHFZ_LOG_FORMAT": true} // read by main
			for _, v := range flags {
				vars[v] = true
			}
			for i, arg := range svc.Command[1:] {
				switch {
				case strings.HasPrefix(arg, "--"):
					f, _, _ := strings.Cut(strings.TrimPrefix(arg, "--"), "=")
					if _, ok := flags[f]; !ok {
						t.Errorf("command %q: mhfz %s has no flag --%s", svc.Command, svc.Command[0], f)
					}
				case svc.Command[0] == "migrate" && i == 0:
					if !slices.Contains(migrateActions, arg) {
						t.Errorf("command %q: migrate has no action %q", svc.Command, arg)
					}
				case i > 0 && strings.HasPrefix(svc.Command[i], "--"):
					// the value of the flag before
				default:
					t.Errorf("command %q: unexpected argument %q", svc.Command, arg)
				}
			}
			for v := range svc.Environment {
				if !vars[v] {
					t.Errorf("environment %s: mhfz %s does not read it", v, svc.Command[0])
				}
			}
			if !slices.Equal(svc.Networks, []string{"pipeline"}) {
				t.Errorf("networks %v, want the one network [pipeline]", svc.Networks)
			}
			if len(svc.Ports) > 0 && name != "serve" {
				t.Errorf("ports %v: only Kafka, PostgreSQL and serve are published", svc.Ports)
			}
		})
	}
}

func TestComposeDependenciesMatchHealthchecks(t *testing.T) {
	c := readCompose(t)
	for name, svc := range c.Services {
		for dep, cond := range svc.DependsOn {
			target, ok := c.Services[dep]
			if !ok {
				t.Errorf("%s depends on %s, which is not a service", name, dep)
				continue
			}
			switch cond["condition"] {
			case "service_healthy":
				if target.Healthcheck == nil || target.Healthcheck["test"] == nil {
					t.Errorf("%s waits for %s to be healthy, but %s has no healthcheck", name, dep, dep)
				}
			case "service_completed_successfully":
				if target.Restart != "no" {
					t.Errorf("%s waits for %s to complete, but %s restarts (%q)", name, dep, dep, target.Restart)
				}
			default:
				t.Errorf("%s depends on %s with condition %q", name, dep, cond["condition"])
			}
		}
	}
	want := map[string][]string{
		"migrate":   {"postgres"},
		"scraper":   {"kafka"},
		"processor": {"kafka"},
		"sink":      {"kafka", "migrate", "postgres"},
		"reprocess": {"kafka", "migrate", "postgres"},
		"serve":     {"migrate", "postgres"},
		"publish":   {"migrate", "postgres"},
	}
	for name, deps := range want {
		var got []string
		for dep := range c.Services[name].DependsOn {
			got = append(got, dep)
		}
		slices.Sort(got)
		if !slices.Equal(got, deps) {
			t.Errorf("%s depends on %v, want %v", name, got, deps)
		}
	}
	for _, name := range []string{"processor", "sink", "serve", "publish"} {
		if r := c.Services[name].Restart; r != "unless-stopped" {
			t.Errorf("%s: restart %q, want unless-stopped", name, r)
		}
	}
}

// reprocess rebuilds the router's local copy: it must be the processor's, same volume and path.
func TestComposeReprocessSharesTheProcessorsStorage(t *testing.T) {
	c := readCompose(t)
	proc, re := c.Services["processor"], c.Services["reprocess"]
	if re.Environment["MHFZ_PROCESS_STORAGE"] == "" || re.Environment["MHFZ_PROCESS_STORAGE"] != proc.Environment["MHFZ_PROCESS_STORAGE"] {
		t.Errorf("reprocess storage %q, processor storage %q: want the same", re.Environment["MHFZ_PROCESS_STORAGE"],
			proc.Environment["MHFZ_PROCESS_STORAGE"])
	}
	if !slices.Equal(re.Volumes, proc.Volumes) {
		t.Errorf("reprocess volumes %v, processor volumes %v: want the same", re.Volumes, proc.Volumes)
	}
	// The sink's database, as another role (TestComposeServicesConnectAsTheirRoles).
	_, reDB, _ := strings.Cut(re.Environment["MHFZ_DATABASE_URL"], "@")
	_, sinkDB, _ := strings.Cut(c.Services["sink"].Environment["MHFZ_DATABASE_URL"], "@")
	if reDB == "" || reDB != sinkDB {
		t.Errorf("reprocess database %q is not the sink's", re.Environment["MHFZ_DATABASE_URL"])
	}
}

// TestComposeServicesConnectAsTheirRoles: every service that uses PostgreSQL connects as its own
// role, with the password migrate gives that role from the same variable; only migrate connects
// as the owner; the services without a database are given none.
func TestComposeServicesConnectAsTheirRoles(t *testing.T) {
	c := readCompose(t)
	db := "@postgres:5432/${POSTGRES_DB:-mhfz}?sslmode=disable"
	required := func(v string) string { return "${" + v + ":?" }
	want := map[string]struct{ variable, user, password string }{
		"migrate":   {"MHFZ_DATABASE_URL", "${POSTGRES_USER:-mhfz}", "POSTGRES_PASSWORD"},
		"sink":      {"MHFZ_DATABASE_URL", migrations.WriterRole, "MHFZ_WRITER_PASSWORD"},
		"reprocess": {"MHFZ_DATABASE_URL", migrations.RebuilderRole, "MHFZ_REBUILDER_PASSWORD"},
		"serve":     {"MHFZ_SERVE_DATABASE_URL", migrations.ReaderRole, "MHFZ_READER_PASSWORD"},
		"publish":   {"MHFZ_PUBLISH_DATABASE_URL", migrations.ReaderRole, "MHFZ_READER_PASSWORD"},
	}
	for name, svc := range c.Services {
		if svc.Image != ourImage {
			continue
		}
		w, ok := want[name]
		if !ok {
			for v := range svc.Environment {
				if strings.Contains(v, "DATABASE") || strings.Contains(v, "PASSWORD") {
					t.Errorf("%s is given %s: it uses no database", name, v)
				}
			}
			continue
		}
		u := svc.Environment[w.variable]
		prefix := "postgres://" + w.user + ":" + required(w.password)
		if !strings.HasPrefix(u, prefix) || !strings.HasSuffix(u, db) {
			t.Errorf("%s: %s=%q, want %s...}%s", name, w.variable, u, prefix, db)
		}
	}
	migrate := c.Services["migrate"]
	for _, v := range []string{"MHFZ_READER_PASSWORD", "MHFZ_WRITER_PASSWORD", "MHFZ_REBUILDER_PASSWORD"} {
		if !strings.HasPrefix(migrate.Environment[v], required(v)) {
			t.Errorf("migrate: %s=%q, want %s...}: the role would have no password, or another one than its service's",
				v, migrate.Environment[v], required(v))
		}
	}
	cluster := readClusterCompose(t)
	for name, svc := range cluster.Services {
		for v := range svc.Environment {
			if strings.Contains(v, "DATABASE") || strings.Contains(v, "PASSWORD") {
				t.Errorf("docker-compose.cluster.yml: %s sets %s: the roles and passwords are docker-compose.yml's", name, v)
			}
		}
	}
}

func TestComposeKafkaIsTheTestedVersion(t *testing.T) {
	c := readCompose(t)
	script, err := os.ReadFile("../../scripts/testenv")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^KAFKA_VERSION=(\S+)$`).FindSubmatch(script)
	if m == nil {
		t.Fatal("scripts/testenv sets no KAFKA_VERSION")
	}
	if want := "apache/kafka:" + string(m[1]); c.Services["kafka"].Image != want {
		t.Errorf("kafka image %q, want %q (the version the tests run against)", c.Services["kafka"].Image, want)
	}
	env := c.Services["kafka"].Environment
	if env["KAFKA_PROCESS_ROLES"] != "broker,controller" {
		t.Errorf("KAFKA_PROCESS_ROLES %q: want one KRaft node, broker and controller", env["KAFKA_PROCESS_ROLES"])
	}
	if !strings.Contains(env["KAFKA_ADVERTISED_LISTENERS"], "kafka:29092") ||
		!strings.Contains(env["KAFKA_ADVERTISED_LISTENERS"], "localhost:9092") {
		t.Errorf("advertised listeners %q: want an internal one (kafka:29092) and one on localhost", env["KAFKA_ADVERTISED_LISTENERS"])
	}
	for name, svc := range c.Services {
		if svc.Environment["MHFZ_KAFKA_BROKERS"] != "" && svc.Environment["MHFZ_KAFKA_BROKERS"] != "kafka:29092" {
			t.Errorf("%s talks to Kafka at %q, not the internal listener", name, svc.Environment["MHFZ_KAFKA_BROKERS"])
		}
	}
}

func TestComposeVolumesPortsAndNetwork(t *testing.T) {
	c := readCompose(t)
	if len(c.Networks) != 1 {
		t.Errorf("networks %v, want exactly one", c.Networks)
	}
	wantVolume := map[string]string{"kafka": "/var/lib/kafka/data", "postgres": "/var/lib/postgresql/data",
		"processor": "/var/lib/mhfz", "scraper": "/var/lib/mhfz", "reprocess": "/var/lib/mhfz", "publish": "/var/lib/mhfz"}
	for name, path := range wantVolume {
		found := false
		for _, v := range c.Services[name].Volumes {
			vol, mount, _ := strings.Cut(v, ":")
			if mount == path {
				if _, named := c.Volumes[vol]; !named {
					t.Errorf("%s: %s is mounted from %q, not a named volume", name, path, vol)
				}
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no volume at %s", name, path)
		}
	}
	published := map[string]string{"kafka": "127.0.0.1:9092:9092", "postgres": "127.0.0.1:5432:5432",
		"serve": "127.0.0.1:8080:8080"}
	for name, svc := range c.Services {
		want, ok := published[name]
		if !ok {
			continue
		}
		if !slices.Equal(svc.Ports, []string{want}) {
			t.Errorf("%s publishes %v, want only %s (loopback)", name, svc.Ports, want)
		}
	}
}

func TestComposeVariablesHaveDefaultsOrExamples(t *testing.T) {
	compose, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	passwords := 0
	for _, m := range regexp.MustCompile(`(?:^|[^$])\$\{([A-Z0-9_]+)(:-[^}]*|:\?[^}]*)?\}`).FindAllSubmatch(compose, -1) {
		name, def := string(m[1]), string(m[2])
		if !regexp.MustCompile(`(?m)^` + name + `=`).Match(example) {
			t.Errorf("${%s} is used in docker-compose.yml but not set in .env.example", name)
		}
		switch {
		case strings.HasSuffix(name, "PASSWORD"):
			// A password has no default: compose refuses to start, naming it, until .env sets it.
			passwords++
			if !strings.HasPrefix(def, ":?") || !strings.Contains(def, name) {
				t.Errorf("${%s%s}: a password must be required, ${%s:?message naming %s}", name, def, name, name)
			}
			if v := regexp.MustCompile(`(?m)^` + name + `=(.*)$`).FindSubmatch(example); v != nil && len(v[1]) > 0 {
				t.Errorf(".env.example sets %s=%s: leave it empty, so that a copy not edited does not start", name, v[1])
			}
		case !strings.HasPrefix(def, ":-"):
			t.Errorf("${%s%s} has no default in docker-compose.yml", name, def)
		}
	}
	if passwords < 6 { // PostgreSQL's, Grafana's, and each role's
		t.Errorf("found %d uses of passwords in docker-compose.yml", passwords)
	}
}

// TestComposeConfigRequiresPasswords runs `docker compose config` where Compose v2 is installed
// (Docker's own stand-ins, docs/development.md): with an empty .env it stops, naming the missing
// password; with every password set, the files (docker-compose.yml and the cluster override)
// are valid and every service's database URL carries its role.
func TestComposeConfigRequiresPasswords(t *testing.T) {
	if exec.Command("docker", "compose", "version").Run() != nil {
		t.Skip("docker compose is not installed here (the other tests of this file check the file itself)")
	}
	dir := t.TempDir()
	emptyEnv, fullEnv := filepath.Join(dir, "empty.env"), filepath.Join(dir, "full.env")
	full := "POSTGRES_PASSWORD=owner1\nMHFZ_READER_PASSWORD=reader1\nMHFZ_WRITER_PASSWORD=writer1\n" +
		"MHFZ_REBUILDER_PASSWORD=rebuilder1\nGRAFANA_ADMIN_PASSWORD=grafana1\n"
	if os.WriteFile(emptyEnv, nil, 0o600) != nil || os.WriteFile(fullEnv, []byte(full), 0o600) != nil {
		t.Fatal("write the env files")
	}
	config := func(envFile string, files ...string) (string, error) {
		args := []string{"compose"}
		for _, f := range files {
			args = append(args, "-f", f)
		}
		cmd := exec.Command("docker", append(args, "--env-file", envFile, "--profile", "tools", "config")...)
		for _, kv := range os.Environ() { // only the env file's variables, not this process's
			if name, _, _ := strings.Cut(kv, "="); !strings.HasSuffix(name, "PASSWORD") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := config(emptyEnv, "../../docker-compose.yml")
	if err == nil || !regexp.MustCompile(`required variable [A-Z_]*PASSWORD is missing a value: [A-Z_]*PASSWORD is not set`).MatchString(out) {
		t.Errorf("docker compose config with an empty .env: %v, want it to stop naming the password:\n%s", err, out)
	}
	for _, files := range [][]string{{"../../docker-compose.yml"}, {"../../docker-compose.yml", "../../docker-compose.cluster.yml"}} {
		out, err := config(fullEnv, files...)
		if err != nil {
			t.Fatalf("docker compose %v config with every password set: %v\n%s", files, err, out)
		}
		for _, want := range []string{"postgres://mhfz:owner1@postgres", "postgres://mhfz_writer:writer1@postgres",
			"postgres://mhfz_rebuilder:rebuilder1@postgres", "postgres://mhfz_reader:reader1@postgres",
			"GF_SECURITY_ADMIN_PASSWORD: grafana1"} {
			if !strings.Contains(out, want) {
				t.Errorf("docker compose %v config has no %q:\n%s", files, want, out)
			}
		}
	}
}

func TestDockerfileBuildsAStaticNonRootImage(t *testing.T) {
	data, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(data)
	for _, want := range []string{"CGO_ENABLED=0", "FROM gcr.io/distroless/static", "USER 65532", "HEALTHCHECK",
		`"/usr/local/bin/mhfz", "health"`, "./cmd/mhfz"} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile: no %q", want)
		}
	}
	if n := strings.Count(df, "\nFROM "); n < 2 {
		t.Errorf("Dockerfile has %d stages, want a multi-stage build", n)
	}
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goLine := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if goLine == nil || !strings.Contains(df, "FROM golang:"+string(goLine[1])) {
		t.Errorf("Dockerfile's Go image does not match go.mod's go %s", goLine[1])
	}
}

// serve reads as the read-only role, with the password migrate gives it, serves the page on
// :8080 and uses no Kafka (its healthcheck, its /readyz on MHFZ_HTTP_ADDR, is
// TestComposeObservability's).
func TestComposeServeReadsAsTheReader(t *testing.T) {
	c := readCompose(t)
	serve, migrate := c.Services["serve"], c.Services["migrate"]
	if !strings.HasPrefix(serve.Environment["MHFZ_SERVE_DATABASE_URL"], "postgres://mhfz_reader:${MHFZ_READER_PASSWORD") {
		t.Errorf("serve connects as %q, want mhfz_reader with MHFZ_READER_PASSWORD", serve.Environment["MHFZ_SERVE_DATABASE_URL"])
	}
	if migrate.Environment["MHFZ_READER_PASSWORD"] == "" {
		t.Error("migrate does not set MHFZ_READER_PASSWORD: mhfz_reader would have no password")
	}
	if addr := serve.Environment["MHFZ_SERVE_ADDR"]; addr != ":8080" || serve.Environment["MHFZ_HTTP_ADDR"] == addr {
		t.Errorf("serve listens on %q, its metrics on %q: want the page on :8080, the metrics apart", addr, serve.Environment["MHFZ_HTTP_ADDR"])
	}
	if b := serve.Environment["MHFZ_KAFKA_BROKERS"]; b != "" {
		t.Errorf("serve is given Kafka brokers %q: it uses none", b)
	}
}

// clusterCompose is docker-compose.cluster.yml, the override of the three-broker variant.
type clusterCompose struct {
	Services map[string]clusterService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

// clusterService is a service of the override: as composeService, with replicas, and volumes of
// the long syntax (a tmpfs) too.
type clusterService struct {
	Image       string                       `yaml:"image"`
	Environment map[string]string            `yaml:"environment"`
	Ports       []string                     `yaml:"ports"`
	Restart     string                       `yaml:"restart"`
	DependsOn   map[string]map[string]string `yaml:"depends_on"`
	Healthcheck map[string]any               `yaml:"healthcheck"`
	Volumes     []any                        `yaml:"volumes"`
	Deploy      struct {
		Replicas int `yaml:"replicas"`
	} `yaml:"deploy"`
}

func readClusterCompose(t *testing.T) clusterCompose {
	t.Helper()
	data, err := os.ReadFile("../../docker-compose.cluster.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c clusterCompose
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatalf("docker-compose.cluster.yml: %v", err)
	}
	return c
}

// TestComposeClusterQuorum: three KRaft nodes, each broker and controller, of one cluster, a
// quorum of the three, the broker's own topics replicated three times, each node's external
// listener published on its own loopback port.
func TestComposeClusterQuorum(t *testing.T) {
	c := readClusterCompose(t)
	base := readCompose(t)
	nodes := map[string]string{"kafka": "1", "kafka-2": "2", "kafka-3": "3"}
	clusterID, ports := "", map[string]bool{}
	for name, id := range nodes {
		svc, ok := c.Services[name]
		if !ok {
			t.Fatalf("no service %s", name)
		}
		env := svc.Environment
		want := map[string]string{"KAFKA_NODE_ID": id, "KAFKA_PROCESS_ROLES": "broker,controller",
			"KAFKA_CONTROLLER_QUORUM_VOTERS":         "1@kafka:9093,2@kafka-2:9093,3@kafka-3:9093",
			"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "3", "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "3",
			"KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "2"}
		for k, v := range want {
			if env[k] != v {
				t.Errorf("%s: %s=%q, want %q", name, k, env[k], v)
			}
		}
		if clusterID == "" {
			clusterID = env["CLUSTER_ID"]
		} else if env["CLUSTER_ID"] != clusterID {
			t.Errorf("%s: CLUSTER_ID %q, the other nodes' %q", name, env["CLUSTER_ID"], clusterID)
		}
		if !strings.Contains(env["KAFKA_ADVERTISED_LISTENERS"], "INTERNAL://"+name+":29092") {
			t.Errorf("%s: advertised listeners %q: want its internal one", name, env["KAFKA_ADVERTISED_LISTENERS"])
		}
		if name == "kafka" {
			continue // its image, volume, port and healthcheck are docker-compose.yml's
		}
		if svc.Image != base.Services["kafka"].Image || svc.Healthcheck == nil || svc.Restart != "unless-stopped" {
			t.Errorf("%s: image %q, healthcheck %v, restart %q: want kafka's", name, svc.Image, svc.Healthcheck, svc.Restart)
		}
		if len(svc.Ports) != 1 || !strings.HasPrefix(svc.Ports[0], "127.0.0.1:") || ports[svc.Ports[0]] {
			t.Errorf("%s publishes %v: want one port of its own, on loopback", name, svc.Ports)
		}
		ports[svc.Ports[0]] = true
		host := strings.Split(svc.Ports[0], ":")[1]
		if !strings.Contains(env["KAFKA_ADVERTISED_LISTENERS"], "EXTERNAL://localhost:"+host) {
			t.Errorf("%s: advertised listeners %q: want EXTERNAL://localhost:%s", name, env["KAFKA_ADVERTISED_LISTENERS"], host)
		}
	}
	if clusterID != base.Services["kafka"].Environment["CLUSTER_ID"] {
		t.Errorf("CLUSTER_ID %q: want docker-compose.yml's %q (the kafka service and its volume are the same)",
			clusterID, base.Services["kafka"].Environment["CLUSTER_ID"])
	}
}

// TestComposeClusterServices: every service of the image that uses Kafka (serve does not) talks to
// the three brokers and creates
// topics of replication 3, two processors and two sinks run, and no replica shares local state
// with another: the processors' state folder is a tmpfs of each container, the sinks keep none,
// and no replica has a static member id of its own (--scale would give it to all of them).
func TestComposeClusterServices(t *testing.T) {
	c := readClusterCompose(t)
	base := readCompose(t)
	for name, svc := range base.Services {
		if svc.Image != ourImage || svc.Environment["MHFZ_KAFKA_BROKERS"] == "" {
			continue // migrate and serve use PostgreSQL only
		}
		env := c.Services[name].Environment
		if env["MHFZ_KAFKA_BROKERS"] != "kafka:29092,kafka-2:29092,kafka-3:29092" || env["MHFZ_KAFKA_REPLICATION"] != "3" {
			t.Errorf("%s: brokers %q, replication %q: want the three internal listeners and 3", name,
				env["MHFZ_KAFKA_BROKERS"], env["MHFZ_KAFKA_REPLICATION"])
		}
		deps := c.Services[name].DependsOn
		if deps["kafka-2"]["condition"] != "service_healthy" || deps["kafka-3"]["condition"] != "service_healthy" {
			t.Errorf("%s depends on %v: want kafka-2 and kafka-3 healthy too", name, deps)
		}
		if v := base.Services[name].Environment["MHFZ_SINK_INSTANCE_ID"] + env["MHFZ_SINK_INSTANCE_ID"]; v != "" {
			t.Errorf("%s: MHFZ_SINK_INSTANCE_ID=%q would be every replica's", name, v)
		}
	}
	for _, name := range []string{"processor", "sink"} {
		if n := c.Services[name].Deploy.Replicas; n != 2 {
			t.Errorf("%s: %d replicas, want 2", name, n)
		}
	}
	for _, name := range []string{"processor", "reprocess"} {
		// The tmpfs is mounted at the storage itself, writable by the image's user: a tmpfs over a
		// folder of the image takes that folder's mode, root's (found bringing the stack up).
		storage := base.Services[name].Environment["MHFZ_PROCESS_STORAGE"]
		vols := c.Services[name].Volumes
		m, _ := func() (map[string]any, bool) {
			if len(vols) != 1 {
				return nil, false
			}
			m, ok := vols[0].(map[string]any)
			return m, ok
		}()
		mode, _ := m["tmpfs"].(map[string]any)["mode"].(int)
		if m == nil || m["type"] != "tmpfs" || m["target"] != storage || mode&0o002 == 0 {
			t.Errorf("%s: volumes %v: want one tmpfs at its storage %s, writable by all", name, vols, storage)
		}
		if tag := yamlTag(t, "../../docker-compose.cluster.yml", "services", name, "volumes"); tag != "!override" {
			t.Errorf("%s: volumes tagged %q, want !override: docker-compose.yml's shared processor-state volume "+
				"would stay mounted in every replica", name, tag)
		}
	}
	if len(base.Services["sink"].Volumes)+len(c.Services["sink"].Volumes) != 0 {
		t.Errorf("sink: volumes %v %v: a sink keeps no local state", base.Services["sink"].Volumes, c.Services["sink"].Volumes)
	}
	for _, vol := range []string{"kafka-2-data", "kafka-3-data"} {
		if _, ok := c.Volumes[vol]; !ok {
			t.Errorf("no volume %s", vol)
		}
	}
}

// yamlTag is the tag of the node at path (mapping keys) of a YAML file.
func yamlTag(t *testing.T, file string, path ...string) string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	n := doc.Content[0]
	for _, key := range path {
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				next = n.Content[i+1]
			}
		}
		if next == nil {
			t.Fatalf("%s: no %v", file, path)
		}
		n = next
	}
	return n.Tag
}

// TestComposePublishSharesDownloadsWithServe: publish writes the dataset's versions into a named
// volume that serve mounts read-only, at the folder each is told (publish's --out is serve's
// --downloads-dir); the volume is mounted at the image's state folder, which the non-root user
// owns, so that publish may write into it.
func TestComposePublishSharesDownloadsWithServe(t *testing.T) {
	c := readCompose(t)
	publish, serve := c.Services["publish"], c.Services["serve"]
	if !slices.Equal(publish.Command, []string{"publish"}) {
		t.Errorf("publish runs %v, want mhfz publish", publish.Command)
	}
	out, dir := publish.Environment["MHFZ_PUBLISH_OUT"], serve.Environment["MHFZ_SERVE_DOWNLOADS_DIR"]
	if out == "" || out != dir || !strings.HasPrefix(out, "/var/lib/mhfz/") {
		t.Errorf("publish writes into %q, serve serves %q: want the same folder under /var/lib/mhfz", out, dir)
	}
	if every := publish.Environment["MHFZ_PUBLISH_EVERY"]; !strings.HasPrefix(every, "${MHFZ_PUBLISH_EVERY:-") {
		t.Errorf("publish: MHFZ_PUBLISH_EVERY=%q: want it from .env, with a default (0 would publish once and exit)", every)
	}
	if !slices.Equal(publish.Volumes, []string{"downloads:/var/lib/mhfz"}) ||
		!slices.Equal(serve.Volumes, []string{"downloads:/var/lib/mhfz:ro"}) {
		t.Errorf("publish mounts %v, serve %v: want the volume downloads, read-only in serve", publish.Volumes, serve.Volumes)
	}
	if _, ok := c.Volumes["downloads"]; !ok {
		t.Error("no named volume downloads")
	}
}
