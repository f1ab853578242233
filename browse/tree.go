package browse

import (
	"context"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// Upgrades is the upgrade tree around a weapon: where it comes from (and where that comes
// from, …) and what it leads to (and further), each link resolved to the weapon it names.
type Upgrades struct {
	From      []*Node `json:"from"`
	To        []*Node `json:"to"`
	Truncated bool    `json:"truncated"` // the tree was larger than maxTreeNodes or maxTreeDepth
}

// Node is one link of the upgrade tree, as the site's page has it (page, row id, the name of
// the link), and the weapon it leads to.
type Node struct {
	Page   string      `json:"page"`
	RowID  string      `json:"row_id"`
	Name   string      `json:"name"`
	Key    string      `json:"key"`    // "" when the page is not a weapon page
	Found  bool        `json:"found"`  // the weapon is in the database
	Weapon *NodeWeapon `json:"weapon"` // its latest version, when found
	Next   []*Node     `json:"next"`   // the links of that weapon in the same direction
	Cycle  bool        `json:"cycle,omitempty"`
}

// NodeWeapon is what a tree shows of a weapon.
type NodeWeapon struct {
	Name       string `json:"name"`
	WeaponType string `json:"weapon_type"`
	PageKind   string `json:"page_kind"`
	Rarity     *int32 `json:"rarity"`
	GRank      *int32 `json:"g_rank"`
	Attack     *int32 `json:"attack"`
}

const (
	maxTreeDepth = 30
	maxTreeNodes = 400
)

// upgrades resolves the tree of row in both directions. A walk reads every weapon of both
// trees, whatever their depth, with one statement per table it reaches (walk); the tree is built
// from what it read, and asks the database, one query per depth, only for what it did not read
// (a walk stopped at walkLimit or maxWalkRounds). Before, the tree cost one query per depth and
// direction: the roots of large trees were the slowest weapons (docs/benchmarks.md).
func (s *Server) upgrades(ctx context.Context, row *weaponRecord) (Upgrades, error) {
	pre, err := s.walk(ctx, row)
	if err != nil {
		return Upgrades{}, err
	}
	return s.upgradesVia(ctx, row, pre)
}

// upgradesVia builds the tree of row from what pre read, and the rest (all when pre is nil)
// one query per depth.
func (s *Server) upgradesVia(ctx context.Context, row *weaponRecord, pre *walked) (Upgrades, error) {
	var u Upgrades
	var err error
	budget := maxTreeNodes
	u.From, err = s.tree(ctx, row, true, &budget, &u.Truncated, pre)
	if err != nil {
		return u, err
	}
	u.To, err = s.tree(ctx, row, false, &budget, &u.Truncated, pre)
	return u, err
}

// nodeWeapon is what a tree shows of a weapon.
func nodeWeapon(r *weaponRecord) *NodeWeapon {
	return &NodeWeapon{Name: r.Name, WeaponType: r.WeaponType, PageKind: r.PageKind, Rarity: r.Rarity, GRank: r.GRank,
		Attack: r.Attack}
}

func (s *Server) tree(ctx context.Context, root *weaponRecord, up bool, budget *int, truncated *bool, pre *walked) ([]*Node, error) {
	refs := root.UpgradeTo
	if up {
		refs = root.UpgradeFrom
	}
	seen := map[string]bool{root.Key: true}
	top := s.nodes(root.Page, refs)
	level := top
	for depth := 0; len(level) > 0; depth++ {
		if depth >= maxTreeDepth {
			*truncated = true
			break
		}
		found, err := pre.lookup(ctx, s, level)
		if err != nil {
			return nil, err
		}
		var next []*Node
		for _, n := range level {
			l, ok := found[n.Key]
			if !ok {
				continue
			}
			n.Found, n.Weapon = true, nodeWeapon(l)
			if seen[n.Key] {
				n.Cycle = true
				continue
			}
			seen[n.Key] = true
			links := l.UpgradeTo
			if up {
				links = l.UpgradeFrom
			}
			if *budget -= len(links); *budget < 0 {
				*truncated = true
				continue
			}
			n.Next = s.nodes(l.Page, links)
			next = append(next, n.Next...)
		}
		level = next
	}
	return top, nil
}

// nodes turns the links of a weapon of page into nodes (a link without page is to the same page).
func (s *Server) nodes(page string, refs []codecs.WeaponRef) []*Node {
	out := make([]*Node, 0, len(refs))
	for _, r := range refs {
		p := r.Page
		if p == "" {
			p = page
		}
		n := &Node{Page: p, RowID: r.RowID, Name: r.Name, Next: []*Node{}}
		if t, kind, err := codecs.ParsePageName(p); err == nil && r.RowID != "" {
			n.Key = codecs.RecordKey(t, kind, r.RowID, 1)
		}
		out = append(out, n)
	}
	return out
}

// lookup reads the latest version of the nodes' weapons, one statement for all their tables.
func (s *Server) lookup(ctx context.Context, nodes []*Node) (map[string]*weaponRecord, error) {
	byTable := map[string][]string{}
	for _, n := range nodes {
		if t := tableOfKey(n.Key); t != "" {
			byTable[t] = append(byTable[t], n.Key)
		}
	}
	if len(byTable) == 0 {
		return nil, nil
	}
	var branches []string
	var args []any
	for t, keys := range byTable {
		args = append(args, keys)
		branches = append(branches, `(SELECT DISTINCT ON (w.key) `+treeColumns("w")+` FROM `+
			pgx.Identifier{t}.Sanitize()+` w WHERE w.key = ANY($`+strconv.Itoa(len(args))+`) ORDER BY w.key, w.version DESC)`)
	}
	rows, err := s.db.Query(ctx, strings.Join(branches, " UNION ALL "), args...)
	if err != nil {
		return nil, err
	}
	records, err := pgx.CollectRows(rows, pgx.RowToAddrOfStructByNameLax[weaponRecord])
	if err != nil {
		return nil, err
	}
	out := make(map[string]*weaponRecord, len(records))
	for _, r := range records {
		out[r.Key] = r
	}
	return out, nil
}
