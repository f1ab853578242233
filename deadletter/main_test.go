package deadletter

import (
	"testing"

	"github.com/mhfz/mhfz-pipeline/internal/testenv"
)

func TestMain(m *testing.M) { testenv.VerifyNoLeaks(m) }
