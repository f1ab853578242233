package scraper

import (
	"fmt"
	"sort"
	"strings"
)

// IssueKind names one kind of problem found in a page.
type IssueKind string

// The problems the parser reports. Those marked fatal make the page count as failed (the
// scrape exits non-zero); the rows read before the problem are emitted all the same.
const (
	IssueNotHTML       IssueKind = "not_html"       // fatal: the body is not an HTML document
	IssueTruncated     IssueKind = "truncated"      // fatal: the document ends inside the table or before </html>
	IssueUnknownLayout IssueKind = "unknown_layout" // fatal: a table whose id is not a known layout
	IssueNoTable       IssueKind = "no_table"       // the page has no weapon table (the site has empty pages)
	IssueShortRow      IssueKind = "short_row"      // a row covers fewer columns than its header
	IssueLongRow       IssueKind = "long_row"       // a row covers more columns than its header
	IssueInvalidUTF8   IssueKind = "invalid_utf8"   // bytes that are not UTF-8 (replaced by U+FFFD)
	IssueBadSharpness  IssueKind = "bad_sharpness"  // a sharpness segment whose class does not parse
	IssueDuplicateID   IssueKind = "duplicate_id"   // a row id seen before on the same page (both kept)
	IssueFetch         IssueKind = "fetch"          // fatal: the page could not be read after its retries
)

// Fatal reports whether an issue of this kind makes its page count as failed.
func (k IssueKind) Fatal() bool {
	switch k {
	case IssueNotHTML, IssueTruncated, IssueUnknownLayout, IssueFetch:
		return true
	}
	return false
}

// Issue is one problem of one page (and row, when it concerns a row).
type Issue struct {
	Kind     IssueKind
	Page     string
	RowID    string // empty for a problem of the whole page
	RowIndex int    // -1 for a problem of the whole page
	Detail   string
}

func (i Issue) String() string {
	if i.RowID == "" && i.RowIndex < 0 {
		return fmt.Sprintf("%s: %s: %s", i.Page, i.Kind, i.Detail)
	}
	return fmt.Sprintf("%s row %d (%s): %s: %s", i.Page, i.RowIndex, i.RowID, i.Kind, i.Detail)
}

// PageResult is what parsing one page found.
type PageResult struct {
	Page       string
	Layout     string // the table's id as served (may be an unknown layout)
	Bytes      int
	Rows       int // records handed to the callback
	HiddenRows int
	Issues     []Issue
	Links      []string // other weapon pages of the same folder this page links to
}

// Failed reports whether the page has a fatal issue.
func (r *PageResult) Failed() bool {
	for _, i := range r.Issues {
		if i.Kind.Fatal() {
			return true
		}
	}
	return false
}

// Summary adds up the results of the pages of one scrape.
type Summary struct {
	Pages       int   // weapon pages read (parsed or failed)
	Rows        int   // records handed to the callback
	HiddenRows  int   // of which hidden level rows
	Bytes       int64 // bytes of the weapon pages read
	Unchanged   int   // pages not downloaded again: unchanged since the last run (conditional GET)
	Absent      int   // guessed pages the site does not have (404)
	Disallowed  int   // pages the site's robots.txt forbids: not fetched
	EmptyPages  []string
	FailedPages []string
	Duplicates  int // rows whose id repeats an earlier row of the same page
	Issues      []Issue
	IssueCounts map[IssueKind]int
}

// Add counts one page's result into the summary.
func (s *Summary) Add(r PageResult) {
	s.Pages++
	s.Rows += r.Rows
	s.HiddenRows += r.HiddenRows
	s.Bytes += int64(r.Bytes)
	if s.IssueCounts == nil {
		s.IssueCounts = map[IssueKind]int{}
	}
	for _, i := range r.Issues {
		s.IssueCounts[i.Kind]++
		if i.Kind == IssueDuplicateID {
			s.Duplicates++
		}
	}
	s.Issues = append(s.Issues, r.Issues...)
	if r.Failed() {
		s.FailedPages = append(s.FailedPages, r.Page)
	} else if r.Rows == 0 {
		s.EmptyPages = append(s.EmptyPages, r.Page)
	}
}

// Failures is the number of pages that failed.
func (s *Summary) Failures() int { return len(s.FailedPages) }

// IssueLine lists the issue counts in a stable order ("duplicate_id=2 short_row=10").
func (s *Summary) IssueLine() string {
	kinds := make([]string, 0, len(s.IssueCounts))
	for k, n := range s.IssueCounts {
		kinds = append(kinds, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(kinds)
	return strings.Join(kinds, " ")
}
