package processors

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lovoo/goka/storage"
)

// TestTableStorage: reads see the writes still in the batch; a folder closed by the storage, by
// goka's own, or abandoned mid-batch (a crash) reopens with an offset whose values are all there.
func TestTableStorage(t *testing.T) {
	builders := map[string]storage.Builder{}
	for name, build := range map[string]func(string) storage.Builder{
		"batched": tableStorageBuilder, "goka": storage.DefaultBuilder,
	} {
		builders[name] = build(t.TempDir())
	}
	for name, build := range builders {
		t.Run(name, func(t *testing.T) {
			st := openStorage(t, build)
			n := tableBatchOps + tableBatchOps/2 // one flushed batch and one pending
			for i := range n {
				key := fmt.Sprintf("k%05d", i)
				if err := st.Set(key, []byte("v"+key)); err != nil {
					t.Fatal(err)
				}
				if err := st.SetOffset(int64(i)); err != nil {
					t.Fatal(err)
				}
				if v, _ := st.Get(key); string(v) != "v"+key {
					t.Fatalf("Get(%s) right after Set: %q", key, v)
				}
			}
			if err := st.Delete("k00000"); err != nil {
				t.Fatal(err)
			}
			if ok, _ := st.Has("k00000"); ok {
				t.Error("a deleted key is still there")
			}
			if off, _ := st.GetOffset(-1); off != int64(n-1) {
				t.Errorf("offset %d, want %d", off, n-1)
			}
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			st = openStorage(t, build)
			defer st.Close()
			if off, _ := st.GetOffset(-1); off != int64(n-1) {
				t.Errorf("after reopening: offset %d, want %d", off, n-1)
			}
			if keys := countKeys(t, st); keys != n-1 {
				t.Errorf("after reopening: %d keys, want %d", keys, n-1)
			}
		})
	}
}

// TestTableStorageReadsEveryKeyOfItsFolder: a folder written by goka's storage or by this one,
// reopened, answers every key it holds, and nil for a key never written, through the filter of
// its keys built when it opens; keys written after that are found too.
func TestTableStorageReadsEveryKeyOfItsFolder(t *testing.T) {
	for name, build := range map[string]func(string) storage.Builder{
		"batched": tableStorageBuilder, "goka": storage.DefaultBuilder,
	} {
		t.Run("written by "+name, func(t *testing.T) {
			dir := t.TempDir()
			st := openStorage(t, build(dir))
			n := 3*tableBatchOps + 7
			for i := range n {
				_ = st.Set(fmt.Sprintf("k%05d", i), []byte(fmt.Sprint(i)))
				_ = st.SetOffset(int64(100 + i))
			}
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			st = openStorage(t, tableStorageBuilder(dir))
			defer st.Close()
			if off, _ := st.GetOffset(-1); off != int64(100+n-1) {
				t.Errorf("offset %d, want %d", off, 100+n-1)
			}
			for i := range n {
				if v, err := st.Get(fmt.Sprintf("k%05d", i)); err != nil || string(v) != fmt.Sprint(i) {
					t.Fatalf("Get(k%05d) after reopening: %q, %v", i, v, err)
				}
			}
			for i := n; i < 2*n; i++ {
				if v, _ := st.Get(fmt.Sprintf("k%05d", i)); v != nil {
					t.Fatalf("Get(k%05d), never written: %q", i, v)
				}
			}
			_ = st.Set("later", []byte("x"))
			_ = st.(*tableStorage).flush()
			if v, _ := st.Get("later"); string(v) != "x" {
				t.Errorf("a key written after opening, flushed: %q", v)
			}
		})
	}
}

func TestTableStorageCrashKeepsTheOffsetBehindItsValues(t *testing.T) {
	build := tableStorageBuilder(t.TempDir())
	st := openStorage(t, build)
	n := 2*tableBatchOps + 100
	for i := range n {
		key := fmt.Sprintf("k%05d", i)
		_ = st.Set(key, []byte(key))
		_ = st.SetOffset(int64(i))
	}
	// A crash: the pending batch is never written.
	if err := st.(*tableStorage).db.Close(); err != nil {
		t.Fatal(err)
	}
	st = openStorage(t, build)
	defer st.Close()
	off, err := st.GetOffset(-1)
	if err != nil || off < 0 || off >= int64(n-1) {
		t.Fatalf("offset after a crash %d (%v): want one of an earlier flush", off, err)
	}
	for i := range off + 1 {
		if ok, _ := st.Has(fmt.Sprintf("k%05d", i)); !ok {
			t.Fatalf("offset %d stored, but the value written before offset %d is missing", off, i)
		}
	}
}

func openStorage(t *testing.T, build storage.Builder) storage.Storage {
	t.Helper()
	st, err := build("table", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Open(); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkRecovered(); err != nil {
		t.Fatal(err)
	}
	return st
}

func countKeys(t *testing.T, st storage.Storage) int {
	it, err := st.Iterator()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Release()
	n := 0
	for it.Next() {
		n++
	}
	return n
}

// BenchmarkTableStorage writes a quarter of a snapshot's keys as the router does (a Get, a Set,
// the table offset), with goka's storage and the batched one; cpu-s/op is the process's CPU
// time (user + system), less at the mercy of a loaded machine than the wall time.
//
//	go test -run '^$' -bench TableStorage -benchtime 3x -count 5 ./processors/
func BenchmarkTableStorage(b *testing.B) {
	value := []byte(strings.Repeat("x", 400))
	for name, build := range map[string]func(string) storage.Builder{
		"goka": storage.DefaultBuilder, "batched": tableStorageBuilder,
	} {
		b.Run(name, func(b *testing.B) {
			start := processCPU()
			for range b.N {
				st, err := build(b.TempDir())("table", 0)
				if err != nil {
					b.Fatal(err)
				}
				_ = st.MarkRecovered()
				for i := range 36500 {
					key := fmt.Sprintf("great_sword/base/l%06d/1", i)
					if _, err := st.Get(key); err != nil {
						b.Fatal(err)
					}
					_ = st.Set(key, value)
					_ = st.SetOffset(int64(i))
				}
				_ = st.Close()
			}
			b.ReportMetric((processCPU()-start).Seconds()/float64(b.N), "cpu-s/op")
		})
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
