package bundle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mhfz/mhfz-pipeline/internal/observe"
	"github.com/mhfz/mhfz-pipeline/internal/startup"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// The defaults of DefaultConfig that cmd shows too.
const (
	// DefaultDatabaseURL is a local database, as the read-only role.
	DefaultDatabaseURL = "postgres://" + migrations.ReaderRole + "@localhost:5432/mhfz?sslmode=disable"
	// DefaultOut is the folder the versions are published in.
	DefaultOut = "downloads"
	// DefaultKeep is how many versions are kept.
	DefaultKeep = 5
	// DefaultSettle is how long the data must stay still before a version is published: longer
	// than the sink's pauses between the batches of one scrape.
	DefaultSettle = 30 * time.Second
)

// Config configures a Publisher. Start from DefaultConfig.
type Config struct {
	DatabaseURL string        // PostgreSQL, as mhfz_reader
	Out         string        // Run: the folder of the versions and of latest; Export: where the files go
	Every       time.Duration // Run: publish again this long after each publication (0: once, then return)
	// Settle (Run with Every): a version is published only once the data's version
	// (mhfz_data_version()) has not moved for this long. A scrape being stored moves it at every
	// batch of the sink: a version published in between would hold half a scrape. 0: at once.
	Settle  time.Duration
	Keep    int      // Run: versions kept (the newest ones, latest always among them), at least 1
	Formats []Format // Export: the files to write (Run writes every format)
	// Startup is how Run and Export wait at start for PostgreSQL, saying so. Its Log is Logger
	// when nil.
	Startup startup.Waiter
	Logger  *slog.Logger
	// Health, if not nil, gets the publisher's checks: alive while no publication has been
	// running for longer than StallTimeout, ready while PostgreSQL answered the last attempt.
	Health       *observe.Health
	StallTimeout time.Duration
	Now          func() time.Time // the clock of created_at (time.Now when nil)
}

// DefaultConfig is the configuration of `mhfz publish` without flags.
func DefaultConfig() Config {
	return Config{
		DatabaseURL:  DefaultDatabaseURL,
		Out:          DefaultOut,
		Keep:         DefaultKeep,
		Settle:       DefaultSettle,
		Formats:      Formats(),
		Startup:      startup.Waiter{Timeout: startup.DefaultTimeout},
		Logger:       slog.Default(),
		StallTimeout: observe.DefaultStallTimeout,
	}
}

// Summary is what a Publisher has done.
type Summary struct {
	Published int           // versions written
	Unchanged int           // publications that found the data as the latest version has it
	Version   string        // the latest version
	Took      time.Duration // the last publication's time
	Files     int           // files of the latest version
	Bytes     int64         // their size
}

// Publisher writes the dataset's versions. Run and Export may each be called once.
type Publisher struct {
	cfg      Config
	pool     *pgxpool.Config
	target   string
	watchdog *observe.Watchdog
	mu       sync.Mutex
	summary  Summary
	lastErr  error // of the last attempt to reach PostgreSQL or publish: readiness
}

// New validates cfg. It connects to nothing and touches no file: Run and Export do.
func New(cfg Config) (*Publisher, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	if cfg.Startup.Log == nil {
		cfg.Startup.Log = cfg.Logger
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p := &Publisher{cfg: cfg, lastErr: errors.New("PostgreSQL not reached yet")}
	var err error
	if p.pool, err = pgxpool.ParseConfig(cfg.DatabaseURL); err != nil {
		return nil, fmt.Errorf("bundle: DatabaseURL: %w", err)
	}
	if p.target, err = startup.PostgresTarget(cfg.DatabaseURL); err != nil {
		return nil, fmt.Errorf("bundle: DatabaseURL: %w", err)
	}
	rp := p.pool.ConnConfig.RuntimeParams
	rp["default_transaction_read_only"] = "on"
	rp["TimeZone"] = "UTC" // the text of the times, which the data version hashes
	if rp["application_name"] == "" {
		rp["application_name"] = "mhfz-publish"
	}
	p.pool.MaxConns = 2
	if cfg.Health != nil {
		if p.watchdog, err = observe.NewWatchdog(cfg.StallTimeout); err != nil {
			return nil, fmt.Errorf("bundle: %w", err)
		}
		cfg.Health.Live("publish", p.watchdog.Check)
		cfg.Health.Ready("database", p.ready)
	}
	return p, nil
}

func (cfg *Config) validate() error {
	switch {
	case cfg.Logger == nil:
		return errors.New("Logger is nil")
	case cfg.DatabaseURL == "":
		return errors.New("DatabaseURL is empty")
	case cfg.Out == "":
		return errors.New("Out is empty: give the folder of the files")
	case cfg.Every < 0:
		return fmt.Errorf("Every %s must not be negative (0: once)", cfg.Every)
	case cfg.Settle < 0:
		return fmt.Errorf("Settle %s must not be negative (0: publish at once)", cfg.Settle)
	case cfg.Keep < 1:
		return fmt.Errorf("Keep %d must be at least 1", cfg.Keep)
	case len(cfg.Formats) == 0:
		return errors.New("Formats is empty: give sqlite, jsonl or csv")
	case cfg.Startup.Timeout < 0:
		return fmt.Errorf("Startup.Timeout %s must not be negative (0: until stopped)", cfg.Startup.Timeout)
	case cfg.Health != nil && cfg.StallTimeout <= 0:
		return fmt.Errorf("StallTimeout %s must be positive", cfg.StallTimeout)
	}
	for _, f := range cfg.Formats {
		if _, err := ParseFormats([]string{string(f)}); err != nil {
			return fmt.Errorf("Formats: %w", err)
		}
	}
	return nil
}

// Summary returns what the publisher has done so far.
func (p *Publisher) Summary() Summary {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.summary
}

// connect opens the pool and waits until PostgreSQL answers.
func (p *Publisher) connect(ctx context.Context) (*pgxpool.Pool, error) {
	db, err := pgxpool.NewWithConfig(ctx, p.pool)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	probe := func(ctx context.Context) error { err := db.Ping(ctx); p.report(err); return err }
	if err := p.cfg.Startup.Wait(ctx, p.target, probe, startup.PostgresNotReady); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// report notes the outcome of an attempt to reach PostgreSQL or to publish.
func (p *Publisher) report(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lastErr = err
}

// ready is nil while the last attempt succeeded.
func (p *Publisher) ready() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastErr
}
