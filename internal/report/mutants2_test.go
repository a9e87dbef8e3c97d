package report

import "testing"

// Below one request a second, the interval is rounded to a tenth of a
// second for the log: "every 3.3s", not "every 3.333333333s".
func TestPerSecondRoundsTheInterval(t *testing.T) {
	t.Parallel()
	tests := []struct {
		r    float64
		want string
	}{
		{0.3, "one request every 3.3s"},
		{0.7, "one request every 1.4s"},
		{1.0 / 7, "one request every 7s"},
	}
	for _, tt := range tests {
		if got := PerSecond(tt.r); got != tt.want {
			t.Errorf("PerSecond(%v) = %q, want %q", tt.r, got, tt.want)
		}
	}
}
