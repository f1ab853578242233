package processors

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/bits-and-blooms/bloom/v3"
	"github.com/lovoo/goka/storage"
	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/filter"
	"github.com/syndtr/goleveldb/leveldb/opt"
)

// tableStorage is the group table's local copy: LevelDB, as goka's own storage, with its writes
// gathered into batches. goka's storage writes each value and each table offset with its own
// Put, three LevelDB operations per input (a Get, two Puts): 19% of the processor's CPU in the
// profile of a snapshot (docs/benchmarks.md). Here the writes wait in a batch, visible to reads,
// and reach LevelDB together, in their order, every tableBatchOps values and when the table
// closes, recovers or is iterated; the table offset last set goes at the end of its batch. A
// crash loses the end of the batch, values and offset alike: the folder is then as a crash a
// little earlier would have left it, with an offset never ahead of its values, and goka re-reads
// the rest from the table's topic as it does after any crash. The keys and the offset are stored
// as goka's storage stores them, so a folder written by either reads the same. A Bloom filter of
// every key the folder may hold answers the reads of keys never seen (every key of a first
// scrape) without a lookup in LevelDB.
type tableStorage struct {
	db *leveldb.DB
	// mu guards pending, batch, the offset and keys: goka's callback sets values while the
	// producer's goroutine sets the offset of each acknowledged table write.
	mu      sync.RWMutex
	pending map[string][]byte // written, not yet in db; nil for a deletion
	batch   leveldb.Batch
	// offset is the table offset last set, when hasOffset: not yet in db.
	offset    int64
	hasOffset bool
	// keys holds every key in db or pending (and deleted ones): a key it does not hold is absent.
	keys *bloom.BloomFilter
}

// goka's storage keeps the table's offset under this key, in decimal.
const tableOffsetKey = "__offset"

// tableBatchOps is how many values (and deletions) a batch gathers, the table offset after them.
// Measured when each offset counted as one more write (BenchmarkTableStorage, CPU per 36,500
// keys, 3 runs each): 32: 0.12-0.15 s, 256: 0.10-0.12 s, 1,024: 0.11-0.13 s, 4,096: 0.13-0.14
// s, goka's storage 0.28-0.30 s; a larger batch only holds more in memory, per partition.
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
		keys, err := keysOf(db)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("open table storage %s: %w", dir, err), db.Close())
		}
		return &tableStorage{db: db, pending: map[string][]byte{}, keys: keys}, nil
	}
}

// minFilterKeys is the fewest keys a partition's filter is sized for (both snapshots have
// 224,253 keys: 112,000 a partition over the default 2): 160 kB at 1% false positives. It is
// sized for twice the keys the folder holds when it opens, at least this many; beyond that its
// false positives grow, which only costs the lookups it would have saved.
const minFilterKeys = 1 << 17

// keysOf is a Bloom filter of every key db holds.
func keysOf(db *leveldb.DB) (*bloom.BloomFilter, error) {
	count := func(add func([]byte)) error {
		it := db.NewIterator(nil, nil)
		defer it.Release()
		for it.Next() {
			add(it.Key())
		}
		return it.Error()
	}
	n := uint(0)
	if err := count(func([]byte) { n++ }); err != nil {
		return nil, fmt.Errorf("count the keys: %w", err)
	}
	keys := bloom.NewWithEstimates(max(2*n, minFilterKeys), 0.01)
	if err := count(func(k []byte) { keys.Add(k) }); err != nil {
		return nil, fmt.Errorf("read the keys: %w", err)
	}
	return keys, nil
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
	never := !ok && !s.keys.TestString(key)
	s.mu.RUnlock()
	if ok || never {
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
		s.keys.AddString(key)
	}
	s.pending[key] = value
	if s.batch.Len() < tableBatchOps {
		return nil
	}
	return s.flushLocked()
}

func (s *tableStorage) flushLocked() error {
	if s.hasOffset {
		s.batch.Put([]byte(tableOffsetKey), strconv.AppendInt(nil, s.offset, 10))
	}
	if s.batch.Len() == 0 {
		return nil
	}
	if err := s.db.Write(&s.batch, nil); err != nil {
		return fmt.Errorf("table storage: write %d operations: %w", s.batch.Len(), err)
	}
	s.batch.Reset()
	clear(s.pending)
	s.hasOffset = false
	return nil
}

func (s *tableStorage) flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flushLocked()
}

func (s *tableStorage) GetOffset(def int64) (int64, error) {
	s.mu.RLock()
	offset, pending := s.offset, s.hasOffset
	s.mu.RUnlock()
	if pending {
		return offset, nil
	}
	v, err := s.db.Get([]byte(tableOffsetKey), nil)
	switch {
	case errors.Is(err, leveldb.ErrNotFound):
		return def, nil
	case err != nil:
		return 0, fmt.Errorf("table storage: get the offset: %w", err)
	}
	if offset, err = strconv.ParseInt(string(v), 10, 64); err != nil {
		return 0, fmt.Errorf("table storage: offset %q: %w", v, err)
	}
	return offset, nil
}

// SetOffset keeps the offset for the end of the batch: goka sets it after each acknowledged
// write, and only the last one of a batch is stored.
func (s *tableStorage) SetOffset(offset int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset, s.hasOffset = offset, true
	return nil
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
