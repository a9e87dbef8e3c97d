package report

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/prism-wait/prism-wait/internal/prism"
)

func TestCaveatsSayWhatOfTheAnswerIsNotUsed(t *testing.T) {
	t.Parallel()
	var ids []string
	for i := range prism.MaxIDs + 1 {
		ids = append(ids, fmt.Sprintf("gen_%d", i+1))
	}
	for _, tc := range []struct {
		name string
		sub  prism.Submission
		want string
	}{
		{"nothing", prism.Submission{IDs: ids[:2]}, ""},
		{"side fields", prism.Submission{IDs: ids[:2], Ignored: []string{`credits_charged is not a number: "twenty"`, "latency_estimate_sec is not an object: 127"}},
			"the submit answer's credits_charged is not a number: \"twenty\"; left empty\nthe submit answer's latency_estimate_sec is not an object: 127; left empty\n"},
		{"unusable entries", prism.Submission{IDs: ids[:2], Unusable: []string{"entry 3: gen_a is listed again"}, UnusableCount: 4},
			"warning: Unusable entries in the submit answer: 4 of the API's entries cannot be waited for: entry 3: gen_a is listed again; and 3 more. " +
				"They may be generations that were created and charged: check the Prism dashboard. The step goes on with the 2 usable generation ID(s).\n"},
		{"more than one step waits for", prism.Submission{IDs: ids}, ""},
	} {
		var b bytes.Buffer
		Caveats(NewLog(&b, false), tc.sub)
		if got := b.String(); !strings.HasPrefix(got, tc.want) || (tc.want == "") != (got == "") {
			t.Errorf("%s: logged\n%s\nwant\n%s", tc.name, got, tc.want)
		}
	}
}

func TestWarnNotWaitedNamesThemBeforeTheWait(t *testing.T) {
	t.Parallel()
	var ids []string
	for i := range prism.MaxIDs + 1 {
		ids = append(ids, fmt.Sprintf("gen_%d", i+1))
	}
	var b bytes.Buffer
	WarnNotWaited(NewLog(&b, false), ids[:prism.MaxIDs], nil)
	if b.Len() != 0 {
		t.Errorf("all waited for, yet: %s", b.String())
	}
	WarnNotWaited(NewLog(&b, false), ids, func(in string) string { return "--" + strings.ReplaceAll(in, "_", "-") })
	if got := b.String(); !strings.HasPrefix(got, "warning: Not waited for: The API created 101 generations, more than the 100 one step waits for: "+
		"this step waits for the first 100 and not for the other 1 (gen_101).") || !strings.Contains(got, "as --generation-id to later steps") {
		t.Errorf("logged %s", got)
	}
}
