// Package weaponrow turns a raw row of the Ferias site (a codecs.RawRecord: cells under their
// column headers, with their HTML as served) into a typed codecs.Weapon.
//
// It owns the interpretation of the site's cells and nothing else (the scraper interprets none: it
// cuts the rows into cells, and the sharpness bars too are read here, from the HTML): which column means what in each
// table layout (ken, gun, yumi, tenrou), how a cell's HTML reads (attack and affinity, elements,
// sharpness bars, recipes, ammo tables, tower upgrade costs, …), and which parsed values look
// wrong (Validate: quality findings) or cannot be stored at all. It knows no Kafka: the router of
// package processors calls it once per record; a better parser re-reads the raw records.
package weaponrow
