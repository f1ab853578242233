package codecs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
)

// DedupState is the processor's group-table value of one key: what it last forwarded, and the
// versions before it. Source is where the input that produced the last version was read.
type DedupState struct {
	ContentHash string    `json:"content_hash"`
	Version     int64     `json:"version"`
	FirstSeen   time.Time `json:"first_seen"`
	LastSeen    time.Time `json:"last_seen"`
	Source      Source    `json:"source"`
	// Recent are the key's last versions (the last one included), oldest first, each with the
	// input that produced it; the processor keeps a few. An input read again after a crash
	// re-emits exactly the version it produced, even when the table already holds a later one.
	// Empty in states written before it existed: the last version alone is known.
	Recent []VersionSource `json:"recent,omitempty"`
}

// VersionSource is one version of a key and the input that produced it.
type VersionSource struct {
	Version     int64  `json:"version"`
	ContentHash string `json:"content_hash"`
	Source      Source `json:"source"`
}

// DedupStateCodec is the goka codec of the group table's values. It writes a compact binary
// form (dedupBinary, then the fields), since the processor writes a state for every record it
// reads (a new LastSeen for an unchanged one too), and the JSON of a state cost more to write
// and read than the rest of the table's work; it reads that form and the JSON states written
// by the builds before it (a JSON state starts with "{", never with dedupBinary).
type DedupStateCodec struct{}

// dedupBinary is the first byte of a binary DedupState: the version of the binary form.
const dedupBinary = 1

// ErrMalformedState marks a group-table value that is neither a binary state nor JSON.
var ErrMalformedState = errors.New("malformed binary state")

// Encode implements goka.Codec.
func (DedupStateCodec) Encode(value any) ([]byte, error) {
	s, ok := value.(*DedupState)
	if !ok {
		return nil, fmt.Errorf("DedupState codec: cannot encode %T, want *DedupState", value)
	}
	b := make([]byte, 0, 112+len(s.Source.Topic)+len(s.Recent)*56)
	b = append(b, dedupBinary)
	b = appendHash(b, s.ContentHash)
	b = binary.AppendVarint(b, s.Version)
	var err error
	if b, err = appendTime(b, s.FirstSeen); err != nil {
		return nil, err
	}
	if b, err = appendTime(b, s.LastSeen); err != nil {
		return nil, err
	}
	b = appendString(b, s.Source.Topic)
	b = binary.AppendVarint(b, int64(s.Source.Partition))
	b = binary.AppendVarint(b, s.Source.Offset)
	b = binary.AppendUvarint(b, uint64(len(s.Recent)))
	for _, v := range s.Recent {
		b = binary.AppendVarint(b, v.Version)
		b = appendHash(b, v.ContentHash)
		b = appendTopic(b, v.Source.Topic, s.Source.Topic)
		b = binary.AppendVarint(b, int64(v.Source.Partition))
		b = binary.AppendVarint(b, v.Source.Offset)
	}
	return b, nil
}

// Decode implements goka.Codec.
func (DedupStateCodec) Decode(data []byte) (any, error) {
	if len(data) == 0 || data[0] != dedupBinary {
		return decodeJSON[DedupState](data)
	}
	r := stateReader{data: data[1:]}
	s := &DedupState{ContentHash: r.hash(), Version: r.varint()}
	s.FirstSeen, s.LastSeen = r.time(), r.time()
	s.Source = Source{Topic: r.string(), Partition: r.int32(), Offset: r.varint()}
	if n := r.uvarint(); n > 0 && n <= uint64(len(r.data)) {
		s.Recent = make([]VersionSource, n)
		for i := range s.Recent {
			v := &s.Recent[i]
			v.Version, v.ContentHash = r.varint(), r.hash()
			if v.ContentHash == s.ContentHash {
				v.ContentHash = s.ContentHash // one string for both, as the router makes them
			}
			v.Source = Source{Topic: r.topic(s.Source.Topic), Partition: r.int32(), Offset: r.varint()}
		}
	} else if n > 0 {
		r.fail("%d recent versions in %d bytes", n, len(r.data))
	}
	if r.err == nil && len(r.data) > 0 {
		r.fail("%d bytes after the state", len(r.data))
	}
	if r.err != nil {
		return nil, fmt.Errorf("decode DedupState: %w", r.err)
	}
	return s, nil
}

// appendHash writes a content hash: a lower-case hex SHA-256 (all of them) as its 32 bytes
// after a 0, any other string as its length plus one and its bytes.
func appendHash(b []byte, h string) []byte {
	if len(h) == 2*32 {
		at := len(b)
		b = append(b, 0)
		for i := 0; i < len(h); i += 2 {
			hi, lo := unhex[h[i]], unhex[h[i+1]]
			if hi|lo > 0xf {
				return appendOther(b[:at], h)
			}
			b = append(b, hi<<4|lo)
		}
		return b
	}
	return appendOther(b, h)
}

func appendOther(b []byte, h string) []byte {
	b = binary.AppendUvarint(b, uint64(len(h))+1)
	return append(b, h...)
}

const hexDigits = "0123456789abcdef"

// unhex is the value of each lower-case hex digit, 0xff for the other bytes.
var unhex = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i := 0; i < len(hexDigits); i++ {
		t[hexDigits[i]] = byte(i)
	}
	return t
}()

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendTopic writes a recent version's topic: 0 for the state's own topic (nearly always),
// else its length plus one and its bytes.
func appendTopic(b []byte, topic, own string) []byte {
	if topic == own {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(topic))+1)
	return append(b, topic...)
}

// appendTime writes a time as time.Time.AppendBinary does (its instant and its zone's offset:
// what the JSON of the states kept), after its length.
func appendTime(b []byte, t time.Time) ([]byte, error) {
	at := len(b)
	b = append(b, 0)
	b, err := t.AppendBinary(b)
	if err != nil {
		return nil, fmt.Errorf("encode DedupState: %w", err)
	}
	b[at] = byte(len(b) - at - 1)
	return b, nil
}

// stateReader reads the fields of a binary state; after its first error, every read returns
// the zero value and the error stays.
type stateReader struct {
	data []byte
	err  error
}

func (r *stateReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrMalformedState, fmt.Sprintf(format, args...))
	}
	r.data = nil
}

func (r *stateReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.data)
	if n <= 0 {
		r.fail("truncated or overlong number")
		return 0
	}
	r.data = r.data[n:]
	return v
}

func (r *stateReader) varint() int64 {
	v, n := binary.Varint(r.data)
	if n <= 0 {
		r.fail("truncated or overlong number")
		return 0
	}
	r.data = r.data[n:]
	return v
}

func (r *stateReader) int32() int32 {
	v := r.varint()
	if int64(int32(v)) != v {
		r.fail("partition %d out of range", v)
		return 0
	}
	return int32(v)
}

// bytes reads the next n bytes.
func (r *stateReader) bytes(n uint64) []byte {
	if n > uint64(len(r.data)) {
		r.fail("%d bytes wanted, %d left", n, len(r.data))
		return nil
	}
	b := r.data[:n]
	r.data = r.data[n:]
	return b
}

func (r *stateReader) string() string { return string(r.bytes(r.uvarint())) }

func (r *stateReader) hash() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n == 0 {
		var b strings.Builder
		b.Grow(2 * 32)
		for _, c := range r.bytes(32) {
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
		}
		return b.String()
	}
	return string(r.bytes(n - 1))
}

func (r *stateReader) topic(own string) string {
	n := r.uvarint()
	if n == 0 || r.err != nil {
		return own
	}
	return string(r.bytes(n - 1))
}

func (r *stateReader) time() time.Time {
	b := r.bytes(uint64(r.byte()))
	var t time.Time
	if r.err == nil {
		if err := t.UnmarshalBinary(b); err != nil {
			r.fail("time: %v", err)
		}
	}
	return t
}

func (r *stateReader) byte() byte {
	if b := r.bytes(1); len(b) == 1 {
		return b[0]
	}
	return 0
}
