package processors

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/lovoo/goka/storage"
	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/filter"
	"github.com/syndtr/goleveldb/leveldb/opt"
)

// tableStorage is the group table's local copy: LevelDB, as goka's own storage, with its writes
// gathered into batches. goka's storage writes each value and each table offset with its own
// Put, three LevelDB operations per input (a Get, two Puts): 19% of the processor's CPU in the
// profile of a snapshot (docs/benchmarks.md). Here the writes wait in a batch, visible to reads,
// and reach LevelDB together, in their order, every tableBatchOps operations and when the table
// closes, recovers or is iterated. A crash loses the end of the batch, values and offset alike: the
// folder is then as a crash a little earlier would have left it, with an offset never ahead of
// its values, and goka re-reads the rest from the table's topic as it does after any crash. The
// keys and the offset are stored as goka's storage stores them, so a folder written by either
// reads the same. A Bloom filter answers most reads of keys never seen (every key of a first
// scrape) without reading the tables.
type tableStorage struct {
	db *leveldb.DB
	// mu guards pending and batch: goka's callback sets values while the producer's goroutine sets
	// the offset of each acknowledged table write.
	mu      sync.RWMutex
	pending map[string][]byte // written, not yet in db; nil for a deletion
	batch   leveldb.Batch
}

// goka's storage keeps the table's offset under this key, in decimal.
const tableOffsetKey = "__offset"

// tableBatchOps is how many writes a batch gathers. Measured (BenchmarkTableStorage, CPU per
// 36,500 keys, 3 runs each): 32: 0.12-0.15 s, 256: 0.10-0.12 s, 1,024: 0.11-0.13 s, 4,096:
// 0.13-0.14 s, goka's storage 0.28-0.30 s; a larger batch only holds more in memory, per
// partition.
const tableBatchOps = 256

// tableStorageBuilder opens the storage of each partition of the table in its own folder under
// path, named as goka's storage.DefaultBuilder names them.
func tableStorageBuilder(path string) storage.Builder {
	return func(topic string, partition int32) (storage.Storage, error) {
		dir := filepath.Join(path, fmt.Sprintf("%s.%d", topic, partition))
		db, err := leveldb.OpenFile(dir, &opt.Options{Filter: filter.NewBloomFilter(10)})
		if err != nil {
			return nil, fmt.Errorf("open table storage %s: %w", dir, err)
		}
		return &tableStorage{db: db, pending: map[string][]byte{}}, nil
	}
}

func (s *tableStorage) Open() error { return nil }

func (s *tableStorage) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.flushLocked(), s.db.Close())
}

func (s *tableStorage) Has(key string) (bool, error) {
	v, err := s.Get(key)
	return v != nil, err
}

func (s *tableStorage) Get(key string) ([]byte, error) {
	s.mu.RLock()
	v, ok := s.pending[key]
	s.mu.RUnlock()
	if ok {
		return v, nil
	}
	v, err := s.db.Get([]byte(key), nil)
	if errors.Is(err, leveldb.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("table storage: get %s: %w", key, err)
	}
	return v, nil
}

func (s *tableStorage) Set(key string, value []byte) error {
	if value == nil {
		return fmt.Errorf("table storage: set %s: nil value", key)
	}
	return s.write(key, value)
}

func (s *tableStorage) Delete(key string) error { return s.write(key, nil) }

func (s *tableStorage) write(key string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if value == nil {
		s.batch.Delete([]byte(key))
	} else {
		s.batch.Put([]byte(key), value)
	}
	s.pending[key] = value
	if s.batch.Len() < tableBatchOps {
		return nil
	}
	return s.flushLocked()
}

func (s *tableStorage) flushLocked() error {
	if s.batch.Len() == 0 {
		return nil
	}
	if err := s.db.Write(&s.batch, nil); err != nil {
		return fmt.Errorf("table storage: write %d operations: %w", s.batch.Len(), err)
	}
	s.batch.Reset()
	clear(s.pending)
	return nil
}

func (s *tableStorage) flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flushLocked()
}

func (s *tableStorage) GetOffset(def int64) (int64, error) {
	v, err := s.Get(tableOffsetKey)
	if err != nil || v == nil {
		return def, err
	}
	offset, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("table storage: offset %q: %w", v, err)
	}
	return offset, nil
}

func (s *tableStorage) SetOffset(offset int64) error {
	return s.write(tableOffsetKey, strconv.AppendInt(nil, offset, 10))
}

func (s *tableStorage) MarkRecovered() error { return s.flush() }

// Iterator and IteratorWithRange flush, then iterate with goka's own iterators over the same
// LevelDB (they skip the offset key).
func (s *tableStorage) Iterator() (storage.Iterator, error) {
	view, err := s.flushedView()
	if err != nil {
		return nil, err
	}
	return view.Iterator()
}

func (s *tableStorage) IteratorWithRange(start, limit []byte) (storage.Iterator, error) {
	view, err := s.flushedView()
	if err != nil {
		return nil, err
	}
	return view.IteratorWithRange(start, limit)
}

func (s *tableStorage) flushedView() (storage.Storage, error) {
	if err := s.flush(); err != nil {
		return nil, err
	}
	return storage.New(s.db)
}
