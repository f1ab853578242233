package bundle_test

import (
	"testing"

	"github.com/mhfz/mhfz-pipeline/internal/testenv"
)

// TestMain fails the package's tests when one of them leaves a goroutine running.
func TestMain(m *testing.M) { testenv.VerifyNoLeaks(m) }
