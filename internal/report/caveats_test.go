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
		{"more than one step waits for", prism.Submission{IDs: ids},
			"warning: Not waited for: The API created 101 generations, more than the 100 one step waits for: this step waits for the first 100 and not for the other 1 (gen_101)."},
	} {
		var b bytes.Buffer
		Caveats(NewLog(&b, false), tc.sub, nil)
		if got := b.String(); !strings.HasPrefix(got, tc.want) || (tc.want == "") != (got == "") {
			t.Errorf("%s: logged\n%s\nwant\n%s", tc.name, got, tc.want)
		}
	}
	var b bytes.Buffer
	Caveats(NewLog(&b, false), prism.Submission{IDs: ids}, strings.NewReplacer("{generation_id}", "--generation-id"))
	if !strings.Contains(b.String(), "as --generation-id to later steps") {
		t.Errorf("terms not used: %s", b.String())
	}
}
