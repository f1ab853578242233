package browse_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/mmcdole/gofeed"
	"github.com/mmcdole/gofeed/atom"
)

// storeVersions writes weapon versions straight into the weapon tables (as the sink would, the
// few columns the feed reads): table, key, name, version, hidden, scraped_at.
func storeVersions(t *testing.T, ownerURL string, rows [][]any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, ownerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for i, r := range rows {
		table, key := r[0].(string), r[1].(string)
		parts := strings.Split(key, "/")
		_, err := conn.Exec(ctx, `INSERT INTO `+pgx.Identifier{table}.Sanitize()+` (key, version, content_hash, weapon_type,
			page_kind, layout, page, url, row_id, hidden, scraped_at, kafka_topic, kafka_partition, kafka_offset, name)
			VALUES ($1, $2, $3, $4, $5, 'ken', 'tachi.htm', 'https://example.com/buki/tachi.htm', $6, $7, $8, 't', 0, $9, $10)`,
			key, r[3], fmt.Sprintf("hash%d", i), parts[0], parts[1], parts[2], r[4], r[5], i, r[2])
		if err != nil {
			t.Fatalf("store %v: %v", r, err)
		}
	}
}

// TestChangesFeed: /changes.atom, read by a feed parser, has one entry per scrape that created
// versions, newest first, each listing its weapons (weapons before level rows, linked to their
// pages), with stable ids and the times of the scrapes; the changes page links to it.
func TestChangesFeed(t *testing.T) {
	owner, reader := migratedDB(t)
	t1 := time.Date(2024, 11, 21, 8, 0, 0, 123456000, time.UTC)
	t2, t3 := t1.Add(24*time.Hour), t1.Add(48*time.Hour)
	storeVersions(t, owner, [][]any{
		{"long_sword", "long_sword/base/l0001", "Iron Katana", 1, false, t1},
		{"long_sword", "long_sword/base/l0002", "Iron Katana \"Gospel\" <&>", 1, false, t1},
		{"great_sword", "great_sword/base/l0001", "Buster Sword", 1, false, t1},
		{"long_sword", "long_sword/base/l0001", "Iron Katana", 2, false, t2},
		{"long_sword", "long_sword/g/l219C2", "Ephemerality Nodachi", 1, true, t3},
		{"bow", "bow/base/l0117", "Daora's Cisne I", 1, false, t3},
	})
	base, stop := startServer(t, testConfig(reader))
	serving(t, base, stop)
	resp, err := http.Get(base + "/changes.atom")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || !strings.HasPrefix(ct, "application/atom+xml") {
		t.Fatalf("/changes.atom: %d %s", resp.StatusCode, ct)
	}
	parsed, err := gofeed.NewParser().ParseString(string(body))
	if err != nil || parsed.FeedType != "atom" || parsed.FeedVersion != "1.0" {
		t.Fatalf("/changes.atom is not an Atom 1.0 feed: %v (%s %s)\n%s", err, parsed.FeedType, parsed.FeedVersion, body)
	}
	feed, err := (&atom.Parser{}).Parse(strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	checkFeedHead(t, feed, base, t3)
	want := []struct {
		at    time.Time
		title string
		keys  []string
	}{
		{t3, "Scrape of 2024-11-23 08:00 UTC: 2 new, 0 changed", []string{"bow/base/l0117", "long_sword/g/l219C2"}},
		{t2, "Scrape of 2024-11-22 08:00 UTC: 0 new, 1 changed", []string{"long_sword/base/l0001"}},
		{t1, "Scrape of 2024-11-21 08:00 UTC: 3 new, 0 changed", []string{"great_sword/base/l0001", "long_sword/base/l0001", "long_sword/base/l0002"}},
	}
	if len(feed.Entries) != len(want) {
		t.Fatalf("%d entries, want %d (one per scrape)", len(feed.Entries), len(want))
	}
	ids := map[string]bool{}
	for i, e := range feed.Entries {
		w := want[i]
		if e.UpdatedParsed == nil || !e.UpdatedParsed.Equal(w.at) || e.Title != w.title || ids[e.ID] || !strings.HasPrefix(e.ID, "tag:") {
			t.Errorf("entry %d: %q id %s updated %s, want %q updated %s and a tag URI of its own", i, e.Title, e.ID, e.Updated, w.title, w.at)
		}
		ids[e.ID] = true
		if len(e.Links) != 1 || e.Links[0].Rel != "alternate" || e.Links[0].Href != base+"/changes/"+w.at.Format(time.RFC3339Nano) {
			t.Errorf("entry %d: links %+v, want the scrape's page", i, e.Links)
		}
		if e.Content == nil || e.Content.Type != "html" {
			t.Fatalf("entry %d: content %+v, want HTML", i, e.Content)
		}
		var keys []string
		for _, part := range strings.Split(e.Content.Value, `href="`+base+"/weapons/")[1:] {
			keys = append(keys, part[:strings.IndexByte(part, '"')])
		}
		if fmt.Sprint(keys) != fmt.Sprint(w.keys) {
			t.Errorf("entry %d lists %v, want %v (weapons before levels, by key)", i, keys, w.keys)
		}
	}
	if !strings.Contains(feed.Entries[2].Content.Value, "Iron Katana &#34;Gospel&#34; &lt;&amp;&gt;") {
		t.Errorf("a weapon's name is not escaped in the entry's HTML: %s", feed.Entries[2].Content.Value)
	}
	checkFeedLinked(t, base)
}

func checkFeedHead(t *testing.T, feed *atom.Feed, base string, newest time.Time) {
	t.Helper()
	links := map[string]string{}
	for _, l := range feed.Links {
		links[l.Rel] = l.Href
	}
	if !strings.HasPrefix(feed.ID, "tag:") || feed.Title == "" || feed.UpdatedParsed == nil || !feed.UpdatedParsed.Equal(newest) ||
		links["self"] != base+"/changes.atom" || links["alternate"] != base+"/changes" || len(feed.Authors) == 0 {
		t.Errorf("feed: id %q title %q updated %q links %v authors %d; want a tag URI, a title, the newest scrape's time, "+
			"self and alternate links and an author", feed.ID, feed.Title, feed.Updated, links, len(feed.Authors))
	}
}

// checkFeedLinked: the changes page names the feed for feed readers and browsers.
func checkFeedLinked(t *testing.T, base string) {
	t.Helper()
	resp, err := http.Get(base + "/changes")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), `<link rel="alternate" type="application/atom+xml" title="MHFZ weapons: what changed" href="/changes.atom">`) {
		t.Errorf("/changes has no <link rel=alternate> to the feed")
	}
}
