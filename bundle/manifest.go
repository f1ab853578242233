package bundle

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/google/renameio/v2"
)

// ManifestName is the name of a version's manifest, in its folder.
const ManifestName = "manifest.json"

// LatestName is the file of the published folder that names the newest version.
const LatestName = "latest"

// filePrefix begins the name of every data file; the version follows.
const filePrefix = "mhfz-weapons-"

// Manifest describes one version of the dataset: what manifest.json holds.
type Manifest struct {
	Version       string    `json:"version"`        // the data version: a content hash of the rows
	CreatedAt     time.Time `json:"created_at"`     // when the files were written
	SchemaVersion int64     `json:"schema_version"` // the database's migration (goose) version
	Files         []File    `json:"files"`          // in a stable order: the SQLite file, then by table
	// Fingerprint is a hash of the keys, versions and content hashes of the tables, which a
	// publication compares before it reads the rows: the same, and the data has not changed.
	Fingerprint string `json:"fingerprint"`
}

// File is one file of a version.
type File struct {
	Name   string `json:"name"`            // its name in the version's folder, with the version in it
	Kind   string `json:"kind"`            // the name without the version: "sqlite", "long_sword.csv", ...
	Format string `json:"format"`          // sqlite, jsonl or csv
	Table  string `json:"table,omitempty"` // the weapon table of a JSON Lines or CSV file
	Size   int64  `json:"size"`            // bytes
	SHA256 string `json:"sha256"`          // hex
	Rows   int64  `json:"rows"`            // the SQLite file: every version of every weapon; the others: current rows
}

// ReadManifest reads the manifest.json of a version's folder.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, fmt.Errorf("read the manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("read the manifest %s: %w", filepath.Join(dir, ManifestName), err)
	}
	return &m, nil
}

// write writes m as dir's manifest.json, durably.
func (m *Manifest) write(dir string) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := renameio.WriteFile(filepath.Join(dir, ManifestName), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write the manifest: %w", err)
	}
	return nil
}

// describe measures the file at path (its size and SHA-256) and syncs it to disk.
func describe(path string) (size int64, sum string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	if size, err = io.Copy(h, f); err != nil {
		return 0, "", fmt.Errorf("hash %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return 0, "", fmt.Errorf("sync %s: %w", path, err)
	}
	return size, hex.EncodeToString(h.Sum(nil)), nil
}

// ReadLatest returns the version the folder's latest pointer names ("" when there is none yet).
func ReadLatest(out string) (string, error) {
	b, err := os.ReadFile(filepath.Join(out, LatestName))
	if os.IsNotExist(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the latest version: %w", err)
	}
	v := string(b)
	for len(v) > 0 && (v[len(v)-1] == '\n' || v[len(v)-1] == '\r') {
		v = v[:len(v)-1]
	}
	return v, nil
}
