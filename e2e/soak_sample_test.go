package e2e

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mhfz/mhfz-pipeline/internal/kafka"
)

// soakSample is one value of one series at one time; life is the lifetime (process) of the
// service it was read from, 0 for the series of the whole deployment.
type soakSample struct {
	at      time.Duration
	series  string
	service string
	life    int
	value   float64
}

// The series. Per service: read from /proc/PID and from its /metrics, and PostgreSQL's view of
// its connections. Of the deployment ("stack"): sizes on disk and what they hold.
const (
	seriesRSS        = "rss_mb"                       // VmRSS of /proc/PID/status
	seriesGoroutines = "goroutines"                   // go_goroutines of /metrics
	seriesFDs        = "open_fds"                     // entries of /proc/PID/fd
	seriesPGConns    = "pg_connections"               // pg_stat_activity rows of the service (by application_name)
	seriesLag        = "lag_records"                  // processor: mhfz_processor_lag_records; sink: mhfz_sink_lag_records; scraper: mhfz_scraper_records_waiting
	seriesTable      = "goka_storage_mb"              // the processor's --storage folder (the group table's local copy)
	seriesKafkaMB    = "kafka_mb"                     // the deployment's topics on the broker's disk (DescribeLogDirs)
	seriesKafkaRecs  = "kafka_records"                // records held by weapon_data and the weapon topics
	seriesKafkaPer   = "kafka_bytes_per_record"       // all the bytes over all the records: lags the size of new ones
	seriesKafkaAdded = "kafka_bytes_per_record_added" // of the records added since the last point (soakAdded)
	seriesPGMB       = "pg_mb"                        // pg_database_size
	seriesPGRows     = "pg_rows"                      // live rows of every table (pg_stat_user_tables)
	seriesPGPer      = "pg_bytes_per_row"
	seriesPGAdded    = "pg_bytes_per_row_added"
	seriesCatchUp    = "catch_up_s" // per completed scrape: its end to the last of its rows stored
)

// perFrom is how many records or rows the sizes per record and per row wait for: the size of an
// almost empty database or topic is its fixed overhead, not a size per row.
const perFrom = 10000

var lagMetric = map[string]string{"processor": "mhfz_processor_lag_records", "sink": "mhfz_sink_lag_records",
	"scraper": "mhfz_scraper_records_waiting"}

// sample records every series once; a service that is not running (killed a moment ago) is
// missing from this sample.
func (r *soakRun) sample(ctx context.Context, at time.Duration) {
	add := func(series, service string, life int, v float64) {
		r.samples = append(r.samples, soakSample{at: at, series: series, service: service, life: life, value: v})
	}
	conns := r.pgConnections(ctx)
	for _, svc := range r.services {
		if exited(svc.cur) {
			continue
		}
		pid, life := svc.cur.cmd.Process.Pid, svc.life()
		if rss, ok := procRSS(pid); ok {
			add(seriesRSS, svc.name, life, rss/1024)
		}
		if fds, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd"); err == nil {
			add(seriesFDs, svc.name, life, float64(len(fds)))
		}
		if m, err := scrapeMetrics(ctx, svc.addr); err == nil {
			add(seriesGoroutines, svc.name, life, m["go_goroutines"])
			add(seriesLag, svc.name, life, m[lagMetric[svc.name]])
		}
		add(seriesPGConns, svc.name, life, float64(conns["mhfz-soak-"+svc.name]))
	}
	add(seriesTable, "stack", 0, float64(dirSize(r.storage))/1e6)
	if mb, recs, ok := r.kafkaSize(); ok {
		add(seriesKafkaMB, "stack", 0, mb)
		add(seriesKafkaRecs, "stack", 0, recs)
		if recs >= perFrom {
			add(seriesKafkaPer, "stack", 0, mb*1e6/recs)
		}
	}
	var size, rows int64
	err := r.monitor.QueryRow(ctx, `SELECT pg_database_size(current_database()),
		(SELECT COALESCE(sum(n_live_tup), 0)::bigint FROM pg_stat_user_tables)`).Scan(&size, &rows)
	if err == nil {
		add(seriesPGMB, "stack", 0, float64(size)/1e6)
		add(seriesPGRows, "stack", 0, float64(rows))
		if rows >= perFrom {
			add(seriesPGPer, "stack", 0, float64(size)/float64(rows))
		}
	} else {
		r.t.Logf("soak: PostgreSQL's sizes: %v", err)
	}
}

// pgConnections counts the deployment database's connections by application_name, the
// sampler's own left out.
func (r *soakRun) pgConnections(ctx context.Context) map[string]int {
	out := map[string]int{}
	rows, err := r.monitor.Query(ctx, `SELECT application_name, count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() GROUP BY 1`)
	if err != nil {
		r.t.Logf("soak: pg_stat_activity: %v", err)
		return out
	}
	defer rows.Close()
	for rows.Next() {
		var app string
		var n int
		if rows.Scan(&app, &n) == nil {
			out[app] = n
		}
	}
	return out
}

// kafkaSize is the size on the broker's disk of the deployment's topics (the table's and the
// dead letters' included), in MB, and the records weapon_data and the weapon topics hold.
func (r *soakRun) kafkaSize() (mb, records float64, ok bool) {
	var ids []int32
	for _, b := range r.client.Brokers() {
		ids = append(ids, b.ID())
	}
	dirs, err := r.admin.DescribeLogDirs(ids)
	if err != nil {
		r.t.Logf("soak: describe log dirs: %v", err)
		return 0, 0, false
	}
	var size int64
	for _, perBroker := range dirs {
		for _, dir := range perBroker {
			for _, tp := range dir.Topics {
				if strings.HasPrefix(tp.Topic, r.stack.names.Prefix) {
					for _, p := range tp.Partitions {
						size += p.Size
					}
				}
			}
		}
	}
	_ = r.client.RefreshMetadata()
	topics := append(weaponTopicNames(r.stack.names), string(r.stack.names.WeaponData()))
	ends, err := kafka.TopicEnds(r.client, topics...)
	if err != nil {
		r.t.Logf("soak: topic ends: %v", err)
		return 0, 0, false
	}
	var n int64
	for _, end := range ends {
		n += end
	}
	return float64(size) / 1e6, float64(n), true
}

// procRSS is the resident memory of a process in kB.
func procRSS(pid int) (float64, bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, false
	}
	for line := range bytes.Lines(data) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			fields := strings.Fields(string(rest))
			if len(fields) > 0 {
				v, err := strconv.ParseFloat(fields[0], 64)
				return v, err == nil
			}
		}
	}
	return 0, false
}

// scrapeMetrics reads a service's /metrics (Prometheus's text format): every metric's value,
// summed over its labels.
func scrapeMetrics(ctx context.Context, addr string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return parseMetrics(resp.Body)
}

func parseMetrics(body io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name := line[:strings.IndexAny(line+" ", "{ ")]
		rest := line[len(name):]
		if i := strings.LastIndexByte(rest, '}'); i >= 0 {
			rest = rest[i+1:]
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		if v, err := strconv.ParseFloat(fields[0], 64); err == nil {
			out[name] += v
		}
	}
	return out, sc.Err()
}

// dirSize is the size of the files under dir.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
