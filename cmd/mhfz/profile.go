package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// envCPUProfile names the file where any command writes its CPU profile when it ends: a whole
// run profiled from its first instruction to its shutdown, which --pprof (a window of a running
// service) cannot give. `make profile` sets it for each service of the end-to-end benchmark.
const envCPUProfile = "MHFZ_CPU_PROFILE"

// startCPUProfile starts the CPU profile that MHFZ_CPU_PROFILE asks for, and returns what writes
// it out; with the variable unset, it does nothing.
func startCPUProfile() (stop func() error, err error) {
	path := os.Getenv(envCPUProfile)
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", envCPUProfile, err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: start the CPU profile: %w", envCPUProfile, err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("%s: write %s: %w", envCPUProfile, path, err)
		}
		return nil
	}, nil
}
