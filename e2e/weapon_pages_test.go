package e2e

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/antchfx/htmlquery"
	"github.com/mmcdole/gofeed"

	"github.com/mhfz/mhfz-pipeline/browse"
	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// pagePerTable is a small page of each of the 15 weapon tables, and what the weapon pages of
// its type show of their own (a stat label at least one of them has).
var pagePerTable = []struct{ page, table, own string }{
	{"taiken_n.htm", "great_sword", "Length"}, {"tachi_n.htm", "long_sword", "Affinity"},
	{"katate_n.htm", "sword_and_shield", "Affinity"}, {"souken_n.htm", "dual_swords", "Affinity"},
	{"hammer_n.htm", "hammer", "Affinity"}, {"horn_n.htm", "hunting_horn", "Notes"},
	{"lance_n.htm", "lance", "Affinity"}, {"gunlance_n.htm", "gunlance", "Shelling"},
	{"tonfa_t.htm", "tonfa", "Tower: Element (属性)"}, {"slaxe.htm", "switch_axe_f", "Phial"},
	{"magspike.htm", "magnet_spike", "Affinity"}, {"right_sp.htm", "light_bowgun", "Reload"},
	{"heavy_sp.htm", "heavy_bowgun", "Bullet speed"}, {"yumi_n.htm", "bow", "Charge levels"},
	{"hammer_partnya.htm", "partner_weapon", "Price"},
}

// statOrder is the order of the Stats block: the game's. A page shows some of them, in this
// order; labels after Length are a type's own (tower stats: "Tower: …").
var statOrder = []string{"Attack", "Element", "Status", "Affinity", "Defense", "Slots", "Rarity", "G rank", "Requires",
	"Price", "Price at 60%", "Shelling", "Phial", "Notes", "Reload", "Recoil", "Bullet speed", "Rapid Fire",
	"Super Rapid Fire", "Arc shot", "Charge levels", "Coatings", "Length", "Tower", "Zenith skill"}

// jsonText is what JSON looks like in a page's text: an object's key, an object or a list of them.
var jsonText = regexp.MustCompile(`"\s*:|[{\[]\s*"|[{\[]\s*[{\[]`)

// pagesDB copies the small pages of pagePerTable of both snapshots, scrapes them, older first,
// through the real router and sink, and returns the database as mhfz_reader.
func pagesDB(t *testing.T, ctx context.Context) string {
	d := newDeployment(t, ctx, "pages")
	live := d.start(ctx, nil, "pages")
	for _, snapshot := range []string{testenv.Older, testenv.Newest} {
		src, dir := testenv.Snapshot(t, snapshot), t.TempDir()
		for _, p := range pagePerTable {
			data, err := os.ReadFile(filepath.Join(src, p.page))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, p.page), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		var recs []snapshotRecord
		if _, err := scrapeFolder(ctx, dir, func(r *codecs.RawRecord) error {
			value, err := json.Marshal(r)
			recs = append(recs, snapshotRecord{key: r.Key, value: value})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		d.emit(recs)
		d.waitStored(ctx, live)
		t.Logf("scrape of %s: %d rows of %d pages stored", snapshot, len(recs), len(pagePerTable))
	}
	live.halt(t)
	return d.as(migrations.ReaderRole)
}

// TestWeaponPagesOfEveryTable scrapes a page of each weapon table, of both snapshots, and opens
// the weapon pages of every table: each renders, its stats in the game's order, its own stats
// there, no JSON text anywhere, where the row was read in the source line only.
func TestWeaponPagesOfEveryTable(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short: runs the pipeline")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	base := startServe(t, ctx, pagesDB(t, ctx))
	api := newAPIClient(t, base)
	t.Run("in a browser", func(t *testing.T) {
		b := newBrowser(t, base)
		checkStatsInBrowser(t, b, "/weapons/gunlance/rngcat/l1A0911", []string{"Attack", "Element", "Affinity", "Slots", "Rarity",
			"Requires", "Price", "Shelling"})
		checkStatsInBrowser(t, b, "/weapons/bow/rngcat/l045111", []string{"Attack", "Element", "Affinity", "Slots", "Rarity",
			"Requires", "Price", "Arc shot", "Charge levels", "Coatings"})
		checkStatsInBrowser(t, b, "/weapons/heavy_bowgun/sp/l00DF", []string{"Attack", "Affinity", "Slots", "Rarity",
			"Requires", "Price", "Reload", "Recoil", "Bullet speed"})
	})
	t.Run("changes feed", func(t *testing.T) { checkChangesFeed(t, api, base) })
	for _, p := range pagePerTable {
		t.Run(p.table, func(t *testing.T) {
			var res struct{ Items []struct{ Key string } }
			query := "type=" + p.table
			if p.table == "partner_weapon" {
				query = "kind=partner"
			}
			api.json(t, "/api/weapons?"+query+"&limit=40", &res)
			if len(res.Items) == 0 {
				t.Fatalf("no %s stored", p.table)
			}
			own := false
			for i, it := range res.Items {
				if i == 0 {
					t.Logf("%s: %s", it.Key, statsText(t, base, it.Key))
				}
				own = checkWeaponPage(t, base, it.Key, p.own) || own
			}
			if !own {
				t.Errorf("none of %d %s pages shows %q", len(res.Items), p.table, p.own)
			}
		})
	}
}

// checkWeaponPage opens a weapon page and checks its stats; it says whether it shows label.
func checkWeaponPage(t *testing.T, base, key, label string) bool {
	t.Helper()
	resp, err := http.Get(base + "/weapons/" + key)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d %v", key, resp.StatusCode, err)
	}
	doc, err := htmlquery.Parse(strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, dt := range htmlquery.Find(doc, `//dl[@class="stats"]/div/dt`) {
		labels = append(labels, htmlquery.InnerText(dt))
	}
	if err := inStatOrder(labels); err != "" {
		t.Errorf("%s: stats %q: %s", key, labels, err)
	}
	main := htmlquery.FindOne(doc, "//main")
	text := htmlquery.InnerText(main)
	if m := jsonText.FindString(text); m != "" {
		t.Errorf("%s: the page shows JSON text (%q)", key, snippet(text, m))
	}
	source := htmlquery.FindOne(doc, `//p[contains(@class, "source")]`)
	row := key[strings.LastIndexByte(key, '/')+1:]
	if source == nil || !strings.Contains(htmlquery.InnerText(source), "row "+row) {
		t.Errorf("%s: no source line naming row %s", key, row)
	}
	for _, dt := range htmlquery.Find(doc, `//dl/div/dt`) {
		if l := htmlquery.InnerText(dt); slices.Contains([]string{"row_id", "page", "layout", "hidden", "url"}, l) ||
			strings.Contains(l, "_") || strings.Contains(l, ".") {
			t.Errorf("%s: a stat named as a column: %q", key, l)
		}
	}
	if label == "Reload" && slices.Contains(labels, label) && htmlquery.FindOne(doc, `//table[@class="ammo"]`) == nil {
		t.Errorf("%s: a bowgun without its ammo table", key)
	}
	return slices.Contains(labels, label)
}

// inStatOrder says what is wrong with the order of a page's stat labels ("" if nothing).
func inStatOrder(labels []string) string {
	if len(labels) == 0 || labels[0] != "Attack" && labels[0] != "Price" && labels[0] != "Rarity" {
		return "does not start with Attack"
	}
	last := -1
	for _, l := range labels {
		key := l
		if strings.HasPrefix(l, "Tower: ") {
			key = "Tower"
		}
		i := slices.Index(statOrder, key)
		if i < 0 {
			return "unknown label " + l
		}
		if i < last {
			return l + " out of the game's order"
		}
		last = i
	}
	return ""
}

// checkChangesFeed reads /changes.atom with a feed parser: one entry per scrape, newest first,
// as /api/changes lists them, each linking to weapon pages that open; the newer scrape's entry
// lists weapons it changed.
func checkChangesFeed(t *testing.T, api *apiClient, base string) {
	var scrapes struct{ Scrapes []browse.Scrape }
	api.json(t, "/api/changes", &scrapes)
	feed, err := gofeed.NewParser().ParseURL(base + "/changes.atom")
	if err != nil {
		t.Fatal(err)
	}
	if feed.FeedType != "atom" || len(feed.Items) != len(scrapes.Scrapes) || len(scrapes.Scrapes) != 2 {
		t.Fatalf("feed %s with %d entries; %d scrapes: want an Atom entry for each of the 2", feed.FeedType, len(feed.Items), len(scrapes.Scrapes))
	}
	for i, it := range feed.Items {
		sc := scrapes.Scrapes[i]
		if it.UpdatedParsed == nil || !it.UpdatedParsed.Equal(sc.ScrapedAt) || it.Link != base+"/changes/"+sc.ScrapedAt.Format(time.RFC3339Nano) {
			t.Errorf("entry %d: updated %s link %s, want scrape %s", i, it.Updated, it.Link, sc.ScrapedAt)
		}
		links := regexp.MustCompile(`href="([^"]+/weapons/[^"]+)"`).FindAllStringSubmatch(it.Content, -1)
		if len(links) == 0 || (sc.Changed > 0) != strings.Contains(it.Content, ") changed, version") {
			t.Errorf("entry %d (%d new, %d changed) lists %d weapons: %.300s", i, sc.New, sc.Changed, len(links), it.Content)
			continue
		}
		resp, err := http.Get(html.UnescapeString(links[0][1]))
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("entry %d: its first weapon %s does not open: %v", i, links[0][1], err)
		}
		if resp != nil {
			resp.Body.Close()
		}
	}
	t.Logf("feed: %d entries; newest %q", len(feed.Items), feed.Items[0].Title)
}

// statsText is the text of a weapon page's Stats block, for the log.
func statsText(t *testing.T, base, key string) string {
	doc, err := htmlquery.LoadURL(base + "/weapons/" + key)
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, div := range htmlquery.Find(doc, `//section[@aria-labelledby="h-stats"]//dl/div`) {
		dt, dd := htmlquery.FindOne(div, "dt"), htmlquery.FindOne(div, "dd")
		parts = append(parts, htmlquery.InnerText(dt)+": "+strings.TrimSpace(htmlquery.InnerText(dd)))
	}
	if p := htmlquery.FindOne(doc, `//p[contains(@class, "source")]`); p != nil {
		parts = append(parts, htmlquery.InnerText(p))
	}
	return strings.Join(parts, " | ")
}

func snippet(text, m string) string {
	i := strings.Index(text, m)
	return text[max(0, i-60):min(len(text), i+60)]
}
