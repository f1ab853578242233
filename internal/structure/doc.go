// Package structure owns the checks of the module's shape, run with the rest of the suite: which
// package may import which (the layers of structure_test.go, so no stage leans on another and
// nothing points back up), and how large a production function may grow (funcsize_test.go). It
// has no code of its own; its tests read the source tree.
package structure
