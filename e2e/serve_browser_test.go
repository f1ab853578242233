package e2e

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/mhfz/mhfz-pipeline/bundle"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
)

// browser is one headless Chromium (Debian's); each test opens a tab of its own.
type browser struct {
	ctx  context.Context
	base string
	dir  string // screenshots
}

func newBrowser(t *testing.T, base string) *browser {
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(testenv.Chromium(t)),
		chromedp.NoSandbox, chromedp.WindowSize(1280, 1000))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser, which lives as long as ctx
		t.Fatalf("start Chromium: %v", err)
	}
	return &browser{ctx: ctx, base: base, dir: screenshots(t)}
}

// tab is a tab of the browser, whose every step must succeed within a minute.
type tab struct {
	t   *testing.T
	b   *browser
	ctx context.Context
}

func (b *browser) tab(t *testing.T) *tab {
	ctx, cancel := chromedp.NewContext(b.ctx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return &tab{t: t, b: b, ctx: ctx}
}

func (tb *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.t.Fatal(err)
	}
}

// value runs an action that returns a value.
func value[T any](tb *tab, a chromedp.Action[T]) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, time.Minute)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		tb.t.Fatal(err)
	}
	return v
}

// eval evaluates JavaScript.
func eval[T any](tb *tab, expr string) T { tb.t.Helper(); return value(tb, chromedp.Evaluate[T](expr)) }

// poll waits until the JavaScript expression is truthy and returns its value. It evaluates it
// again and again rather than in one chromedp.Poll, which fails when a navigation replaces the
// page it waits in (a click on a link, Enter on a result).
func poll[T any](tb *tab, expr string) T {
	tb.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var lastErr error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
		v, err := chromedp.Run(ctx, chromedp.Evaluate[*T](`(document.readyState === "complete" && (`+expr+`)) || null`))
		cancel()
		if err == nil && v != nil {
			return *v
		}
		lastErr = err
		select {
		case <-tb.ctx.Done():
			tb.t.Fatal(tb.ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	tb.t.Fatalf("waited 20s for %s (last error: %v)", expr, lastErr)
	panic("unreachable")
}

// shot saves a screenshot of the whole page as NAME.png.
func (tb *tab) shot(name string) { tb.t.Helper(); tb.save(name, chromedp.FullScreenshot(100)) }

// screen saves a screenshot of what the screen shows as NAME.png.
func (tb *tab) screen(name string) { tb.t.Helper(); tb.save(name, chromedp.CaptureScreenshot()) }

func (tb *tab) save(name string, a chromedp.Action[[]byte]) {
	tb.t.Helper()
	png := value(tb, a)
	if err := os.WriteFile(filepath.Join(tb.b.dir, name+".png"), png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

func checkBrowser(t *testing.T, base string) {
	b := newBrowser(t, base)
	t.Run("type a name and see the results", func(t *testing.T) {
		tb := b.tab(t)
		tb.do(chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("q")),
			chromedp.SendKeys(chromedp.ID("q"), "Iron Katana"))
		// The results of the whole name, not of a prefix typed before it ("Iron Katan" finds the
		// same weapons): those would be replaced when the last answer comes, and the focus with them.
		names := poll[[]string](tb, `(() => { const n = [...document.querySelectorAll("a.result")].map(a => a.textContent);
			return n.length > 1 && n.every(x => x.toLowerCase().includes("iron katana")) &&
			new URLSearchParams(location.search).get("q") === "Iron Katana" ? n : null })()`)
		tb.shot("search-as-you-type")
		// The keyboard: ↓ from the search box to the first result, Enter opens it.
		tb.do(chromedp.KeyEvent(kb.ArrowDown))
		if focused := eval[string](tb, `document.activeElement.textContent`); focused != names[0] {
			t.Errorf("↓ from the search box focused %q, want the first result %q", focused, names[0])
		}
		tb.do(chromedp.KeyEvent(kb.Enter))
		path := poll[string](tb, `location.pathname.startsWith("/weapons/") ? location.pathname : null`)
		t.Logf("typed Iron Katana: %d results %v; ↓ Enter opened %s", len(names), names, path)
	})
	t.Run("sharpness bars in the site's colours", func(t *testing.T) { checkSharpness(t, b) })
	t.Run("follow an upgrade link", func(t *testing.T) {
		tb := b.tab(t)
		tb.do(chromedp.Navigate(base+"/weapons/long_sword/base/l000B"), chromedp.WaitVisible(chromedp.CSS(".updown")))
		tb.shot("weapon-tree")
		// The stats are the site's; where the pipeline read the row is in the JSON only.
		stats := eval[[]string](tb, `[...document.querySelectorAll(".stats dt")].map(d => d.textContent)`)
		if !slices.Contains(stats, "Attack") || slices.ContainsFunc(stats, func(s string) bool {
			return s == "url" || strings.HasPrefix(s, "source") || strings.HasPrefix(s, "kafka_")
		}) {
			t.Errorf("the weapon's stats %q: want attack, and not where the pipeline read it", stats)
		}
		tb.do(chromedp.Click(chromedp.CSS(`.updown a[href="/weapons/long_sword/base/l000C"]`)))
		path := poll[string](tb, `location.pathname.endsWith("/l000C") && document.querySelector("h1") ? location.pathname : null`)
		if h1 := value(tb, chromedp.Text(chromedp.CSS("h1"))); h1 != `Iron Katana "Gospel"` {
			t.Errorf("the upgrade link led to %s, titled %q, want Iron Katana \"Gospel\"", path, h1)
		}
	})
	t.Run("stats in the game's order", func(t *testing.T) {
		checkStatsInBrowser(t, b, "/weapons/switch_axe_f/base/l3855", []string{"Attack", "Element", "Affinity", "Slots", "Rarity",
			"G rank", "Requires", "Price", "Phial"})
	})
	t.Run("history timeline", func(t *testing.T) {
		tb := b.tab(t)
		tb.do(chromedp.Navigate(base + "/weapons/long_sword/base/l03E9"))
		entries := poll[[]string](tb, `(() => { const e = [...document.querySelectorAll(".timeline > li")].map(li => li.innerText); return e.length ? e : null })()`)
		tb.do(chromedp.ScrollIntoView(chromedp.CSS(".timeline")))
		tb.shot("weapon-history")
		if len(entries) != 2 || !strings.Contains(entries[0], "first seen") || !strings.Contains(entries[1], "extra.source") ||
			!strings.Contains(entries[1], "Festival") {
			t.Errorf("timeline %q: want version 1 first seen, then version 2 with extra.source → Festival", entries)
		}
	})
	t.Run("what changed", func(t *testing.T) {
		tb := b.tab(t)
		tb.do(chromedp.Navigate(base+"/changes"), chromedp.WaitVisible(chromedp.CSS(".timeline a")))
		tb.shot("changes")
		tb.do(chromedp.Click(chromedp.CSS(".timeline a")))
		rows := poll[int](tb, `document.querySelectorAll(".changes-table tbody tr").length`)
		first := value(tb, chromedp.Text(chromedp.CSS(".changes-table tbody tr")))
		tb.shot("changes-of-a-scrape")
		if rows != 100 || !strings.Contains(first, "→") {
			t.Errorf("the newest scrape's page: %d rows, the first %q; want a page of 100, each saying what changed", rows, first)
		}
	})
	t.Run("readable on a phone", func(t *testing.T) {
		for _, page := range []string{"/?q=nodachi", "/weapons/long_sword/g/l219C", "/changes/latest?type=switch_axe_f"} {
			tb := b.tab(t)
			tb.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile), chromedp.Navigate(base+page),
				chromedp.WaitVisible(chromedp.CSS("main")))
			name := "phone-" + strings.NewReplacer("/", "-", "?", "-", "=", "-").Replace(strings.Trim(page, "/"))
			tb.screen(name)
			if eval[bool](tb, `document.documentElement.scrollWidth > window.innerWidth + 1`) {
				t.Errorf("%s is wider than a phone (390 px): the page scrolls sideways", page)
			}
		}
	})
}

// segmentBox is a segment of a sharpness bar as the browser draws it.
type segmentBox struct {
	Colour string  `json:"c"`
	Width  float64 `json:"w"`
}

// checkSharpness compares the bars of a weapon page with the bars of the weapon's row on the
// Ferias page itself (the newer snapshot, served as the site serves it): the same colours, and
// each segment twice as wide (the weapon page draws 2 px per hit).
func checkSharpness(t *testing.T, b *browser) {
	tb := b.tab(t)
	tb.do(chromedp.Navigate(b.base+"/weapons/long_sword/base/l000B"), chromedp.WaitVisible(chromedp.CSS(".sharpness")))
	ours := eval[[][]segmentBox](tb, `[...document.querySelectorAll(".sharpness .bar")].map(bar => [...bar.querySelectorAll(".seg")].map(s =>
		({c: getComputedStyle(s).backgroundColor, w: s.getBoundingClientRect().width})))`)
	scale := eval[float64](tb, `+document.querySelector(".sharpness .bar").dataset.scale`)
	tb.do(chromedp.ScrollIntoView(chromedp.CSS(".sharpness")))
	tb.shot("weapon-sharpness")
	siteURL := mirror(t, testenv.Snapshot(t, testenv.Newest)) + "tachi.htm"
	tb.do(chromedp.Navigate(siteURL), chromedp.WaitReady(chromedp.ID("l000B")))
	site := eval[[][]segmentBox](tb, `[...document.getElementById("l000B").parentElement.querySelectorAll("ul")].map(ul => [...ul.querySelectorAll("li")].map(li =>
		({c: getComputedStyle(li).backgroundColor, w: li.getBoundingClientRect().width})))`)
	tb.do(chromedp.ScrollIntoView(chromedp.ID("l000B")))
	tb.shot("ferias-sharpness")
	if len(site) != 2 || len(ours) != len(site) {
		t.Fatalf("bars: ours %v, the site's %v", ours, site)
	}
	for i := range site {
		if len(ours[i]) != len(site[i]) {
			t.Errorf("bar %d: our segments %v, the site's %v", i, ours[i], site[i])
			continue
		}
		for j, s := range site[i] {
			o := ours[i][j]
			if o.Colour != s.Colour || math.Abs(o.Width-scale*s.Width) > 0.5 {
				t.Errorf("bar %d segment %d: ours %s %.1f px, the site's %s %.1f px (×%.0f)", i, j, o.Colour, o.Width, s.Colour, s.Width, scale)
			}
		}
	}
	t.Logf("l000B: the site's bars %v; ours at ×%.0f %v", site, scale, ours)
}

// checkStatsInBrowser opens a weapon page: its Stats block lists want in this order (and
// nothing else before the last of them), where the pipeline read the row is in the source line,
// and no text on the page is JSON.
func checkStatsInBrowser(t *testing.T, b *browser, path string, want []string) {
	tb := b.tab(t)
	tb.do(chromedp.Navigate(b.base+path), chromedp.WaitVisible(chromedp.CSS(".stats")))
	tb.shot("weapon-stats" + strings.ReplaceAll(path, "/", "-"))
	stats := eval[[]string](tb, `[...document.querySelectorAll("section[aria-labelledby=h-stats] dl.stats:not(.notes) dt")].map(d => d.textContent)`)
	if len(stats) < len(want) || !slices.Equal(stats[:len(want)], want) {
		t.Errorf("%s: stats %q, want them to start with %q", path, stats, want)
	}
	source := eval[string](tb, `document.querySelector(".source").innerText`)
	row := path[strings.LastIndexByte(path, '/')+1:]
	if !strings.Contains(source, "row "+row) || !strings.Contains(source, "page ") || !strings.Contains(source, "layout ") {
		t.Errorf("%s: source line %q, want the row, the page and the layout", path, source)
	}
	shown := eval[string](tb, `document.body.innerText`)
	if m := jsonText.FindString(shown); m != "" {
		t.Errorf("%s: the page shows JSON text: %q", path, snippet(shown, m))
	}
	t.Logf("%s: stats %q; %s", path, stats, source)
}

// checkDownloadsBrowser: the web page's navigation leads to the downloads, which list the
// version of m with its files and their SHA-256; the version's link opens its own page, and its
// manifest link the manifest.
func checkDownloadsBrowser(t *testing.T, base string, m *bundle.Manifest) {
	b := newBrowser(t, base)
	tb := b.tab(t)
	tb.do(chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("q")))
	tb.do(chromedp.Click(chromedp.CSS(`nav a[href="/downloads/"]`)))
	files := poll[[]string](tb, `location.pathname === "/downloads/" && [...document.querySelectorAll("a.download")].map(a => a.textContent)`)
	tb.shot("downloads")
	for _, f := range m.Files {
		if !slices.Contains(files, f.Name) {
			t.Errorf("the downloads page lacks %s (it lists %v)", f.Name, files)
		}
	}
	if text := eval[string](tb, `document.body.innerText`); !strings.Contains(text, m.Files[0].SHA256) {
		t.Errorf("the downloads page does not show the SHA-256 of %s", m.Files[0].Name)
	}
	tb.do(chromedp.Click(chromedp.CSS(`h2 a[href="/downloads/` + m.Version + `/"]`)))
	poll[bool](tb, `location.pathname === "/downloads/`+m.Version+`/" && document.querySelectorAll("section.download-version").length === 1`)
	tb.do(chromedp.Click(chromedp.CSS(`a[href="/downloads/` + m.Version + `/manifest.json"]`)))
	version := poll[string](tb, `location.pathname.endsWith("/manifest.json") && JSON.parse(document.body.innerText).version`)
	if version != m.Version {
		t.Errorf("the manifest link opened version %q, want %s", version, m.Version)
	}
	t.Logf("the web page's Downloads: %d files of version %s; its manifest opened from the version's page", len(files), m.Version)
}
